#!/usr/bin/env node
// Packs every JS package (each builds itself first: `prepack`) into PACKS_DIR and checks what
// each tarball holds: the addon or the wasm, the JS and its types, README and LICENSE, and
// nothing from the build tree. Prints each tarball's size.
// usage: node tests/packaging/pack.mjs PACKS_DIR
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const out = resolve(process.argv[2] ?? join(repo, 'target/packs'));
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// The order matters: stepup-node's prepack builds the addon its platform package then ships.
const packages = [
  { dir: 'bindings/web', name: 'stepup-web', needs: ['index.js', 'index.d.ts', 'node.js', 'node.d.ts', 'raw-node.js', 'pkg/api.js', 'pkg/packed.js', 'pkg/index.d.ts', 'pkg/web/stepup_web.js', 'pkg/web/stepup_web_bg.wasm'] },
  { dir: 'bindings/node', name: 'stepup-node', needs: ['index.js', 'index.d.ts', 'binding.cjs', 'binding.d.ts', 'lib/api.js', 'lib/packed.js', 'lib/index.d.ts'], never: /\.node$/ },
  { dir: 'bindings/node/npm/linux-x64-gnu', name: 'stepup-node-linux-x64-gnu', needs: ['stepup.linux-x64-gnu.node'] },
  { dir: 'hosts/verdaccio', name: 'verdaccio-stepup', needs: ['index.js', 'index.d.ts', 'lib/middleware.js', 'lib/store.js'] },
];
for (const p of packages) {
  const r = spawnSync('npm', ['pack', '--json', '--loglevel=error', '--pack-destination', out], { cwd: join(repo, p.dir), encoding: 'utf8' });
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
  const wasm = info.files.filter((f) => f.path.endsWith('.wasm'));
  assert.ok(wasm.length <= 1, `${p.name}: the wasm ships ${wasm.length} times`);
  console.log(`pack: ${info.filename}: ${info.files.length} files, ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked`);
}
