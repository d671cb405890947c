#!/usr/bin/env node
// Packs every JS package (each builds itself first: `prepack`) into PACKS_DIR and checks what
// each tarball holds: the addon or the wasm, the JS and its types, README and LICENSE, and
// nothing from the build tree. Prints each tarball's size.
// usage: node tests/packaging/pack.mjs PACKS_DIR
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const out = resolve(process.argv[2] ?? join(repo, 'target/packs'));
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// The order matters: stepup-node's prepack builds the addons its platform packages then ship.
// Platform packages go to PACKS_DIR/platforms: each installs only where it runs.
const packages = [
  { dir: 'bindings/web', name: 'stepup-web', needs: ['index.js', 'full.js', 'loader.js', 'index.d.ts', 'node.js', 'node.d.ts', 'raw-node.js', 'pkg/api.js', 'pkg/packed.js', 'pkg/index.d.ts', 'pkg/web/stepup_web.js', 'pkg/web/stepup_web_bg.wasm', 'pkg/full/stepup_web.js', 'pkg/full/stepup_web_bg.wasm'] },
  { dir: 'bindings/node', name: 'stepup-node', needs: ['index.js', 'index.d.ts', 'binding.cjs', 'binding.d.ts', 'lib/api.js', 'lib/packed.js', 'lib/index.d.ts'], never: /\.node$/ },
  ...['linux-x64-gnu', 'linux-x64-musl', 'linux-arm64-gnu'].map((platform) => ({ dir: `bindings/node/npm/${platform}`, name: `stepup-node-${platform}`, needs: [`stepup.${platform}.node`], platform })),
  { dir: 'hosts/verdaccio', name: 'verdaccio-stepup', needs: ['index.js', 'index.d.ts', 'lib/middleware.js', 'lib/store.js'] },
];
mkdirSync(join(out, 'platforms'));
for (const p of packages) {
  const dest = p.platform ? join(out, 'platforms') : out;
  const r = spawnSync('npm', ['pack', '--json', '--loglevel=error', '--pack-destination', dest], { cwd: join(repo, p.dir), encoding: 'utf8' });
  assert.equal(r.status, 0, `npm pack ${p.dir}:\n${r.stderr}`);
  // prepack scripts may print before npm's JSON: the document is the last array in the output.
  const [info] = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n[') + 1));
  const files = info.files.map((f) => f.path);
  assert.equal(info.name, p.name);
  for (const f of [...p.needs, 'package.json', 'README.md', 'LICENSE']) assert.ok(files.includes(f), `${p.name}: ${f} missing from the tarball (has ${files.join(', ')})`);
  for (const f of files) {
    assert.ok(!/(^|\/)(node_modules|target|src|test|bench)\//.test(f), `${p.name}: ${f} does not belong in the tarball`);
    if (p.never) assert.ok(!p.never.test(f), `${p.name}: ${f} belongs in a platform package`);
  }
  // Each build's wasm ships once (stepup-web has two builds: pkg/web and pkg/full).
  const wasm = info.files.filter((f) => f.path.endsWith('.wasm'));
  const builds = new Set(wasm.map((f) => f.path.replace(/\/[^/]*$/, '')));
  assert.equal(wasm.length, builds.size, `${p.name}: a wasm ships twice (${wasm.map((f) => f.path).join(', ')})`);
  for (const f of wasm) console.log(`pack: ${p.name}: ${f.path} ${f.size} B, gzip -9 ${gzipSync(readFileSync(join(repo, p.dir, f.path)), { level: 9 }).length} B`);
  if (p.platform) checkAddon(join(repo, p.dir, `stepup.${p.platform}.node`), p.platform);
  console.log(`pack: ${info.filename}: ${info.files.length} files, ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked`);
}

/** The addon is a shared object for the platform's machine, linked against its C library. */
function checkAddon(file, platform) {
  const elf = readFileSync(file);
  assert.equal(elf.subarray(0, 4).toString('latin1'), '\x7fELF', `${file} is not an ELF object`);
  const machine = elf.readUInt16LE(18);
  assert.equal(machine, { x64: 62, arm64: 183 }[platform.split('-')[1]], `${file}: e_machine ${machine}`);
  const dynamic = spawnSync('readelf', ['-d', file], { encoding: 'utf8' }).stdout;
  const libc = [...dynamic.matchAll(/NEEDED.*\[(libc[.][^\]]*)\]/g)].map((m) => m[1]);
  const expected = platform.endsWith('-musl') ? /^libc\.(musl-x86_64\.so\.1|so)$/ : /^libc\.so\.6$/;
  assert.ok(libc.length === 1 && expected.test(libc[0]), `${file} links ${libc.join(', ') || 'no C library'}`);
}
