#!/usr/bin/env node
// Writes seed corpora for the fuzz targets from the conformance corpus (SPEC §7): requests,
// configurations, authorize documents, the CIDRs and base32 secrets they contain, and each
// request in the packed form (bindings/js/packed.js, tables from the wasm build for Node).
// usage: node fuzz/seed.mjs   (after bindings/web/build.sh)
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createPacker } from '../bindings/js/packed.js';

const root = new URL('../', import.meta.url);
const corpus = new URL('corpus/', import.meta.url);
const raw = createRequire(import.meta.url)('../bindings/web/raw-node.js').default;
const packer = createPacker(raw.packedTables());
const counts = {};

function put(target, data) {
  const dir = new URL(`${target}/`, corpus);
  mkdirSync(dir, { recursive: true });
  const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  writeFileSync(new URL(createHash('sha1').update(bytes).digest('hex'), dir), bytes);
  counts[target] = (counts[target] ?? 0) + 1;
}

const dir = new URL('tests/conformance/', root);
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  for (const c of JSON.parse(readFileSync(new URL(file, dir), 'utf8'))) {
    if (c.request !== undefined) {
      put('request_json', JSON.stringify(c.request));
      const bytes = c.request && typeof c.request === 'object' ? packer.encode(c.request) : null;
      if (bytes !== null) put('packed', bytes);
    }
    if (c.config !== undefined) put('config_json', JSON.stringify(c.config));
    if (c.call === 'classify') put('classify', JSON.stringify(c.input));
    // The CBOR and JWS readers: attestation objects and CI ID tokens as their senders wrote them.
    const att = c.input?.credential?.response?.attestationObject;
    if (typeof att === 'string') put('verify_readers', Buffer.from(att, 'base64url'));
    if (typeof c.input?.token === 'string') put('verify_readers', c.input.token);
    if (c.secrets !== undefined || c.present !== undefined) {
      put('authorize_json', JSON.stringify({ request: c.request, secrets: c.secrets ?? {}, present: c.present }));
    }
    const cred = c.request?.credential;
    for (const cidr of Array.isArray(cred?.cidr_whitelist) ? cred.cidr_whitelist : []) if (typeof cidr === 'string') put('parsers', cidr);
    if (typeof c.secrets?.totp_secret === 'string') put('parsers', c.secrets.totp_secret);
  }
}
console.log(Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(', '));
