// Browser entry: `const stepup = await load();` then `new stepup.Policy(config)`.
import init, * as raw from './pkg/web/stepup_web.js';
import { createApi } from './pkg/api.js';

let api;

/** Loads the WebAssembly module once and returns the stepup API. */
export async function load(moduleOrPath) {
  if (!api) {
    await init(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath });
    api = createApi(raw, 'wasm-web');
  }
  return api;
}
