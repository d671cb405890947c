import type { StepupApi } from './pkg/index.d.ts';
export type * from './pkg/index.d.ts';
declare const api: StepupApi;
export default api;
export declare const Policy: StepupApi['Policy'];
export declare const StepupError: StepupApi['StepupError'];
export declare const planOrgEnforcement: StepupApi['planOrgEnforcement'];
export declare const compareExpectation: StepupApi['compareExpectation'];
export declare const schema: StepupApi['schema'];
/** The API (already loaded under Node; kept for code shared with browsers). */
export declare function load(moduleOrPath?: unknown): Promise<StepupApi>;
