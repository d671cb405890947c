// The wasm-bindgen module, instantiated synchronously from the one wasm file the package ships
// (the browser build's): Node reads it from disk, so there is no second, Node-only copy.
import { readFileSync } from 'node:fs';
import * as raw from './pkg/web/stepup_web.js';

raw.initSync({ module: readFileSync(new URL('./pkg/web/stepup_web_bg.wasm', import.meta.url)) });

export default raw;
