// Node entry (wasm): the same API as the napi addon, from the nodejs wasm-bindgen build.
import { createRequire } from 'node:module';
import { createApi } from './pkg/api.js';

const raw = createRequire(import.meta.url)('./pkg/node/stepup_web.js');
const api = createApi(raw, 'wasm-node');
export default api;
export const { Policy, StepupError, planOrgEnforcement, compareExpectation, schema } = api;
