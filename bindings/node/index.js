// stepup for Node: `import { Policy } from 'stepup-node'`. The native addon where a prebuilt
// binary exists for this platform (the matching `stepup-node-<platform>` optional dependency, or
// a local build); elsewhere the same API on the WebAssembly build (`stepup-web`), said once.
// `STEPUP_NODE_BACKEND=wasm` takes the WebAssembly build on purpose (tests, comparisons).
// Loaded synchronously (no top-level await), so CommonJS hosts can `require` it.
import { createRequire } from 'node:module';
import { createApi } from './lib/api.js';

const require = createRequire(import.meta.url);

function load() {
  let why = 'STEPUP_NODE_BACKEND=wasm';
  if (process.env.STEPUP_NODE_BACKEND !== 'wasm') {
    try {
      return createApi(require('./binding.cjs'), 'napi');
    } catch (err) {
      why = `no prebuilt native binary for ${process.platform}-${process.arch} (${err.message})`;
    }
  }
  let wasm;
  try {
    wasm = require('stepup-web/node');
  } catch (err) {
    throw new Error(`stepup-node: ${why}, and the WebAssembly build (stepup-web) did not load: ${err.message}`);
  }
  process.emitWarning(`${why}; using the WebAssembly build (stepup-web), which decides the same, somewhat slower`, { code: 'STEPUP_WASM_FALLBACK' });
  return wasm.default ?? wasm;
}

const api = load();
export default api;
export const { Policy, StepupError, planOrgEnforcement, compareExpectation, schema, backend } = api;
