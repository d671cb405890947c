// The wasm-bindgen module, instantiated synchronously from the full build's wasm file (the one
// `stepup-web/full` serves browsers): Node reads it from disk, so there is no Node-only copy.
// Node gets the verifiers: servers verify what browsers only pre-check.
import { readFileSync } from 'node:fs';
import * as raw from './pkg/full/stepup_web.js';

raw.initSync({ module: readFileSync(new URL('./pkg/full/stepup_web_bg.wasm', import.meta.url)) });

export default raw;
