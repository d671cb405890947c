// The `load()` of both browser builds: instantiates the build's wasm-bindgen module once, on
// first use, and gives the shared JS API over it.
import { createApi } from './pkg/api.js';

export function loader(init, raw) {
  let api;
  return async function load(moduleOrPath) {
    if (!api) {
      await init(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath });
      api = createApi(raw, 'wasm-web');
    }
    return api;
  };
}
