import type { StepupApi } from './lib/index.d.ts';
export type * from './lib/index.d.ts';
declare const api: StepupApi;
export default api;
export declare const Policy: StepupApi['Policy'];
export declare const StepupError: StepupApi['StepupError'];
export declare const planOrgEnforcement: StepupApi['planOrgEnforcement'];
export declare const compareExpectation: StepupApi['compareExpectation'];
export declare const schema: StepupApi['schema'];
