import type { StepupApi } from './pkg/index.d.ts';
export type * from './pkg/index.d.ts';
/** Loads the WebAssembly module (once) and returns the stepup API. */
export declare function load(moduleOrPath?: string | URL | Request | Response | BufferSource | WebAssembly.Module): Promise<StepupApi>;
