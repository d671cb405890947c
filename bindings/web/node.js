// Node entry (SSR, test runners, servers): the same API as the napi addon, from the same wasm
// the browser entry loads, instantiated synchronously at import. `load()` is here too, so code
// written for the browser entry runs unchanged under Node.
import raw from './raw-node.js';
import { createApi } from './pkg/api.js';

const api = createApi(raw, 'wasm-node');
export default api;
export const { Policy, StepupError, planOrgEnforcement, compareExpectation, schema } = api;

/** The API (already loaded under Node; kept for code shared with browsers). */
export async function load() {
  return api;
}
