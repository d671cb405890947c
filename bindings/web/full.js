// Browser entry with everything, the signature verifiers (ES256, EdDSA, RS256) included, for
// pages that verify themselves: `import { load } from 'stepup-web/full'`. The default entry
// leaves the server-side parts out and is much smaller.
import init, * as raw from './pkg/full/stepup_web.js';
import { loader } from './loader.js';

/** Loads the WebAssembly module once and returns the stepup API. */
export const load = loader(init, raw);
