// Browser entry: `const stepup = await load();` then `new stepup.Policy(config)`. This build
// leaves out the server-side parts: WebAuthn and OIDC ceremonies run every other check and end
// with the problem `unverifiable` where the server would verify a signature, and `classify` and
// `oidc-exchange` throw. `stepup-web/full` has everything.
import init, * as raw from './pkg/web/stepup_web.js';
import { loader } from './loader.js';

/** Loads the WebAssembly module once and returns the stepup API. */
export const load = loader(init, raw);
