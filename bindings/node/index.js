// stepup for Node, native addon: `import { Policy } from 'stepup-node'`.
import { createRequire } from 'node:module';
import { createApi } from './lib/api.js';

const raw = createRequire(import.meta.url)('./binding.cjs');
const api = createApi(raw, 'napi');
export default api;
export const { Policy, StepupError, planOrgEnforcement, compareExpectation, schema } = api;
