// Copies the JS layer shared by every stepup JS package into lib/ (a published package must be
// self-contained; the source of truth stays in bindings/js).
import { copyFileSync, mkdirSync } from 'node:fs';

const from = new URL('../../js/', import.meta.url);
const to = new URL('../lib/', import.meta.url);
mkdirSync(to, { recursive: true });
for (const f of ['api.js', 'packed.js', 'conformance.js', 'index.d.ts']) copyFileSync(new URL(f, from), new URL(f, to));
