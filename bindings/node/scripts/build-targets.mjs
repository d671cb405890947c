// Builds the addon for every target in package.json's `napi.targets` other than this machine's
// own (`npm run build` makes that one), with Debian's cross toolchains, so the platform packages
// under npm/ can all be packed from one Linux x64 machine. A missing toolchain is an error that
// names the Debian package to install: packing must not quietly ship fewer platforms.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const toolchains = {
  // A cdylib for musl links musl dynamically (the Node process owns the C library there), and
  // libgcc_s for unwinding, which musl-gcc's search path lacks: it links against the build
  // machine's copy (same GCC symbol versions) and loads the musl system's at run time.
  'x86_64-unknown-linux-musl': { linker: 'musl-gcc', debian: 'musl-tools', rustflags: () => `-C target-feature=-crt-static -C link-arg=-L${gccLinkDir()}` },
  'aarch64-unknown-linux-gnu': { linker: 'aarch64-linux-gnu-gcc', debian: 'gcc-aarch64-linux-gnu' },
  'x86_64-unknown-linux-gnu': { linker: 'x86_64-linux-gnu-gcc', debian: 'gcc-x86-64-linux-gnu' },
};

/** A folder holding only libgcc_s.so.1 (musl-gcc must not see the rest of glibc's folder). */
function gccLinkDir() {
  const dir = fileURLToPath(new URL('../../../target/musl-link/', import.meta.url));
  const lib = spawnSync('gcc', ['-print-file-name=libgcc_s.so.1'], { encoding: 'utf8' }).stdout.trim();
  if (!lib.startsWith('/') || !existsSync(lib)) throw new Error(`stepup-node: gcc does not know where libgcc_s.so.1 is (${lib || 'no answer'})`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  symlinkSync(lib, `${dir}libgcc_s.so.1`);
  return dir;
}

const run = (cmd, args, env = {}) => spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
const host = /^host: (.+)$/m.exec(spawnSync('rustc', ['-vV'], { encoding: 'utf8' }).stdout)?.[1];
const { napi } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
for (const target of napi.targets.filter((t) => t !== host)) {
  const tc = toolchains[target];
  if (!tc) throw new Error(`stepup-node: no cross toolchain is known here for ${target}`);
  if (spawnSync('sh', ['-c', `command -v ${tc.linker}`]).status !== 0) {
    throw new Error(`stepup-node: building for ${target} needs ${tc.linker} (Debian: apt-get install ${tc.debian})`);
  }
  if (run('rustup', ['target', 'add', target]).status !== 0) throw new Error(`stepup-node: rustup target add ${target} failed`);
  const key = target.toUpperCase().replaceAll('-', '_');
  const env = { [`CARGO_TARGET_${key}_LINKER`]: tc.linker, [`CC_${target.replaceAll('-', '_')}`]: tc.linker };
  // napi's CLI builds its own RUSTFLAGS (adding -crt-static for musl), which would hide a
  // target-specific setting: the flags go through RUSTFLAGS, which with --target reach only
  // the target's artifacts, never build scripts.
  if (tc.rustflags) env.RUSTFLAGS = tc.rustflags();
  const r = run('npx', ['napi', 'build', '--platform', '--profile', 'napi', '--target', target, '--no-js', '--dts', 'binding.d.ts'], env);
  if (r.status !== 0) throw new Error(`stepup-node: the build for ${target} failed`);
}
