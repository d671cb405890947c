#!/usr/bin/env node
// node tests/js/conformance.mjs --backend wasm-node|napi PATH...
// Runs vector files (or folders of them) through a JS backend; ends with `N passed, N failed`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCases, report } from '../../bindings/js/conformance.js';
import { loadBackend } from './backends.mjs';

export function collect(paths) {
  const files = [];
  const walk = (p) => {
    if (statSync(p).isDirectory()) {
      for (const e of readdirSync(p).sort()) {
        const q = join(p, e);
        if (statSync(q).isDirectory() || q.endsWith('.json')) walk(q);
      }
    } else files.push(p);
  };
  paths.forEach(walk);
  return files;
}

/** Runs the corpus; `given` is an API object to run instead of a backend of this repository. */
export async function main(argv, backendName, given) {
  const args = [...argv];
  let backend = backendName;
  const i = args.indexOf('--backend');
  if (i >= 0) [, backend] = args.splice(i, 2);
  if (!backend || args.length === 0) {
    console.error('usage: conformance.mjs --backend wasm-node|napi PATH...');
    return 2;
  }
  const api = given ?? (await loadBackend(backend));
  let passed = 0;
  let failed = 0;
  for (const file of collect(args)) {
    let cases;
    try {
      cases = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      console.log(`FAIL ${file}: not a vector file: ${e.message}`);
      failed += 1;
      continue;
    }
    const r = runCases(api, cases);
    for (const line of report(file, r)) console.log(line);
    passed += r.passed;
    failed += r.failed;
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
