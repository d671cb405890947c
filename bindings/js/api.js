// The stepup JavaScript API, shared by every backend (napi addon, wasm-bindgen for Node and
// for browsers). A backend ("raw") exposes JSON-text functions straight from stepup-core's ffi
// module; this layer turns them into plain-object calls, fills in the clock and entropy the
// engine never reads itself, and throws StepupError for bad input. It holds no rules.

import { createPacker } from './packed.js';

/** Bad input, with the path of the offending field (SPEC §8.17). */
export class StepupError extends Error {
  constructor(doc, prefix) {
    const path = prefix ? (doc.error.path === '.' ? prefix : `${prefix}.${doc.error.path}`) : doc.error.path;
    super(`${path}: ${doc.error.message}`);
    this.name = 'StepupError';
    this.code = 'invalid-input';
    this.path = path;
    this.detail = doc.error.message;
    this.npm = doc.npm;
  }
}

const isErrorDoc = (v) => v !== null && typeof v === 'object' && v.outcome === 'error' && v.reason === 'invalid-input' && v.error;

function parseResult(text, prefix) {
  const v = JSON.parse(text);
  if (isErrorDoc(v)) throw new StepupError(v, prefix);
  return v;
}


const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
/**
 * JSON text of a document. What JSON.stringify cannot write (a cycle, nesting deeper than the
 * JS stack, a BigInt) is bad input like any other: a StepupError at the document's root.
 */
const toText = (v) => {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v);
  } catch (e) {
    const message = `not a JSON document: ${e.message}`;
    throw new StepupError({ error: { path: '.', message }, npm: { status: 400, www_authenticate: null, error: `.: ${message}` } });
  }
};

/**
 * The packed calls of a wasm build: the request is copied into the module's scratch buffer and
 * only the decision's bytes are copied out. `run(len)` makes the call on the request's length
 * and returns the decision's (0 = use the JSON path), which this returns too.
 */
function scratchRunner(raw) {
  const memory = raw.wasmMemory();
  const [outAt, outLen] = raw.packedOutput();
  let heap = new Uint8Array(memory.buffer);
  return (bytes, out, run) => {
    const at = raw.packedInput(bytes.length);
    if (at === 0) return 0;
    // A view goes stale (length 0) when the memory grows.
    if (heap.byteLength === 0) heap = new Uint8Array(memory.buffer);
    heap.set(bytes, at);
    const n = run(bytes.length);
    if (n === 0 || n > outLen || n > out.length) return 0;
    if (heap.byteLength === 0) heap = new Uint8Array(memory.buffer);
    out.set(heap.subarray(outAt, outAt + n));
    return n;
  };
}

/** A string the fast paths pass on as JSON would: no lone surrogate (JSON text cannot carry it). */
const wellFormed = (s) => typeof s === 'string' && (typeof s.isWellFormed === 'function' ? s.isWellFormed() : /^[\x00-\x7f]*$/.test(s));

/**
 * Writes `text` into `heap` from `from` as ASCII bytes: where it ends, or -1 when `text` is not
 * ASCII, in which case everything from `at` (the first of the strings written) is zeroed again.
 */
function writeAscii(heap, at, from, text) {
  let p = from;
  for (let i = 0; i < text.length; i += 1) {
    const b = text.charCodeAt(i);
    if (b > 0x7f) {
      heap.fill(0, at, p);
      return -1;
    }
    heap[p++] = b;
  }
  return p;
}

/**
 * `verifyTotp`'s fast call in a wasm build: the secret and the code are written into the
 * module's scratch buffer (ASCII, as base32 secrets and codes are; anything else takes the
 * string call), and the number comes back. `(secret, code, now, lastStep) => number`.
 */
function totpScratch(raw, policy) {
  const memory = raw.wasmMemory();
  let heap = new Uint8Array(memory.buffer);
  return (secret, code, now, lastStep) => {
    const s = secret.length;
    const c = code.length;
    const at = raw.packedInput(s + c);
    if (at === 0) return -1;
    if (heap.byteLength === 0) heap = new Uint8Array(memory.buffer);
    const end = writeAscii(heap, at, at, secret);
    if (end < 0 || writeAscii(heap, at, end, code) < 0) return policy.verifyTotpNumber(secret, code, now, lastStep);
    return policy.verifyTotpScratch(s, c, now, lastStep);
  };
}

/** The names `verifyTotp`'s number codes its kinds by (stepup-core `ffi::verify_totp_number`). */
const TOTP_KINDS = ['accepted', 'replayed', undefined, 'invalid', 'malformed'];

/**
 * Builds the API over a backend.
 * @param raw     `{ Policy, orgPlanJson, compareJson, schema, configError }` with JSON-text methods
 * @param backend a name for diagnostics: 'napi', 'wasm-node', 'wasm-web'
 */
export function createApi(raw, backend) {
  // The packed fast paths (`evaluate`, `authorize` with a TOTP state) and `verifyTotp` as one
  // number, where the backend has them (every current one does).
  const packer = typeof raw.packedTables === 'function' ? createPacker(raw.packedTables()) : null;
  // The wasm builds keep request and decision buffers in their memory (no per-call copies);
  // the napi addon calls free functions on the policy's handle (a method call on the class
  // costs napi-rs a borrow registration of the receiver).
  const scratch = packer !== null && typeof raw.packedInput === 'function' ? scratchRunner(raw) : null;
  const fastPaths = (policy) => {
    const none = { evaluate: null, authorize: null, verifyTotp: null };
    if (packer === null) return none;
    if (scratch !== null) {
      const run = (len) => policy.evaluatePackedScratch(len);
      return {
        evaluate: (bytes, out) => scratch(bytes, out, run),
        authorize: typeof policy.authorizePackedScratch === 'function'
          ? (bytes, split, out) => scratch(bytes, out, (len) => policy.authorizePackedScratch(len, split))
          : null,
        verifyTotp: typeof policy.verifyTotpScratch === 'function' ? totpScratch(raw, policy) : null,
      };
    }
    if (typeof raw.evaluatePackedWith === 'function') {
      const handle = policy.handle();
      return {
        evaluate: (bytes, out) => raw.evaluatePackedWith(handle, bytes, out),
        authorize: typeof raw.authorizePackedWith === 'function'
          ? (bytes, split, out) => raw.authorizePackedWith(handle, bytes, split, out)
          : null,
        verifyTotp: typeof raw.verifyTotpWith === 'function' ? (s, c, n, l) => raw.verifyTotpWith(handle, s, c, n, l) : null,
      };
    }
    return { ...none, evaluate: (bytes, out) => policy.evaluatePacked(bytes, out) };
  };
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const entropy = (n = 64) => {
    const buf = new Uint8Array(n);
    globalThis.crypto.getRandomValues(buf);
    return hex(buf);
  };
  const entropyHex = (e) => (e === undefined ? entropy() : typeof e === 'string' ? e : hex(e));

  class Policy {
    #raw;
    #fast;
    // `verifyTotp`'s answers by kind, as the JSON path first gave them (their texts are fixed).
    #totpAnswers = [];
    /** @param config a configuration object, its JSON text, or nothing (npmjs-2026). */
    constructor(config = {}) {
      const text = toText(config);
      const refused = raw.configError(text);
      if (typeof refused === 'string') throw new StepupError(JSON.parse(refused));
      this.#raw = new raw.Policy(text);
      this.#fast = fastPaths(this.#raw);
    }
    /** Decides a request; `now` defaults to the current time. Throws StepupError on bad input. */
    evaluate(request) {
      const packed = this.#fast.evaluate;
      if (packed !== null && request !== null && typeof request === 'object') {
        const bytes = packer.encode(request, request.now === undefined ? nowSeconds() : undefined);
        if (bytes !== null && packed(bytes, packer.out) > 0) return packer.decode();
      }
      const r = request && typeof request === 'object' && request.now === undefined ? { ...request, now: nowSeconds() } : request;
      return parseResult(this.#raw.evaluateJson(toText(r)));
    }
    /** Verifies a presented code when one is needed, then decides. */
    authorize(request, secrets = {}, present = undefined) {
      const packed = this.#fast.authorize;
      if (packed !== null && request !== null && typeof request === 'object') {
        const bytes = packer.encodeAuthorize(request, request.now === undefined ? nowSeconds() : undefined, secrets, present);
        if (bytes !== null) {
          const n = packed(bytes, packer.split(), packer.out);
          packer.forget();
          if (n > 0) return packer.decode();
        }
      }
      const r = request && typeof request === 'object' && request.now === undefined ? { ...request, now: nowSeconds() } : request;
      const doc = { request: r, secrets };
      if (present !== undefined && present !== null) doc.present = present;
      return parseResult(this.#raw.authorizeJson(toText(doc)));
    }
    /** JSON text in, decision or error document text out (byte-identical in every host). */
    evaluateJson(text) { return this.#raw.evaluateJson(text); }
    /** `{request, secrets, present}` JSON text in, decision or error document text out. */
    authorizeJson(text) { return this.#raw.authorizeJson(text); }
    /** A new TOTP secret, its otpauth URI and QR code (SVG). */
    enrollTotp({ account, issuer = 'stepup', entropy: e } = {}) {
      return parseResult(this.#raw.enrollTotpJson(JSON.stringify({ issuer, account, entropy: entropyHex(e) })));
    }
    /** Fresh recovery codes (show once) and the hashed records to store. */
    issueRecoveryCodes({ entropy: e } = {}) {
      return parseResult(this.#raw.issueRecoveryCodesJson(JSON.stringify({ entropy: entropyHex(e) })));
    }
    /** A fresh emailed login code and the hashed record to store. */
    issueEmailCode({ now = nowSeconds(), entropy: e } = {}) {
      return parseResult(this.#raw.issueEmailCodeJson(JSON.stringify({ entropy: entropyHex(e), now })));
    }
    /** The code an authenticator shows for a base32 secret. */
    totpCode(secret, now = nowSeconds()) {
      return parseResult(this.#raw.totpCodeJson(JSON.stringify({ secret, now })));
    }
    /** Checks one TOTP code on its own: accepted, replayed, clock-drift, invalid or malformed. */
    verifyTotp({ secret, code, now = nowSeconds(), lastStep }) {
      const fast = this.#fast.verifyTotp;
      let kind = -1;
      let step = 0;
      if (fast !== null && wellFormed(secret) && wellFormed(code) && typeof now === 'number'
        && (lastStep === undefined || lastStep === null || typeof lastStep === 'number')) {
        const n = fast(secret, code, now, lastStep ?? null);
        if (n >= 0) {
          kind = n % 8;
          step = (n - kind) / 8;
          const known = this.#totpAnswers[kind];
          if (known !== undefined) {
            const answer = { ...known };
            if (kind === 0) answer.step = step;
            return answer;
          }
        }
      }
      const doc = { secret, code, now };
      if (lastStep !== undefined && lastStep !== null) doc.last_step = lastStep;
      const answer = parseResult(this.#raw.verifyTotpJson(JSON.stringify(doc)));
      if (kind >= 0 && answer.result === TOTP_KINDS[kind] && (kind !== 0 || answer.step === step)) this.#totpAnswers[kind] = { ...answer };
      return answer;
    }
    /** Checks a token-creation form (npm 11 body) against the preset's limits. */
    checkTokenForm(token, { now = nowSeconds() } = {}) {
      return parseResult(this.#raw.tokenFormJson(JSON.stringify({ now, token })), 'token');
    }
    /** Any JSON entry point by name; JSON text in, result or error document text out. */
    callJson(fn, text) { return this.#raw.callJson(fn, text); }
    /** A WebAuthn challenge and the options to pass to `navigator.credentials.create/get`. */
    webauthnChallenge({ ceremony, now = nowSeconds(), entropy: e, user, credentials } = {}) {
      const doc = { ceremony, entropy: entropyHex(e), now };
      if (user !== undefined) doc.user = user;
      if (credentials !== undefined) doc.credentials = credentials;
      return parseResult(this.#raw.callJson('webauthn-challenge', JSON.stringify(doc)));
    }
    /** Verifies a registration (`PublicKeyCredential.toJSON()`); the credential to store or a refusal. */
    webauthnRegister({ now = nowSeconds(), challenge, credential, existing } = {}) {
      // Accepts what webauthnChallenge returned (options included) or the stored record.
      const record = challenge && typeof challenge === 'object' ? { challenge: challenge.challenge, expires_at: challenge.expires_at } : challenge;
      const doc = { now, challenge: record, credential };
      if (existing !== undefined) doc.existing = existing;
      return parseResult(this.#raw.callJson('webauthn-register', JSON.stringify(doc)));
    }
    /** Verifies a CI provider's OIDC ID token for trusted publishing; the `oidc` credential or a refusal. */
    oidcExchange({ now = nowSeconds(), token, jwks, package: pkg, trust = [], usedJtis, audience } = {}) {
      const doc = { now, token, jwks, package: pkg, trust };
      if (usedJtis !== undefined) doc.used_jtis = usedJtis;
      if (audience !== undefined) doc.audience = audience;
      return parseResult(this.#raw.callJson('oidc-exchange', JSON.stringify(doc)));
    }
    /**
     * What an npm request is (SPEC §9): its action, canonical package, path and key, or a
     * refusal with the status and text to answer. `headers` must leave out credentials and codes.
     */
    classify({ method, path, headers = {}, body = null, current, routes } = {}) {
      const doc = { method, path, headers, body };
      if (current !== undefined) doc.current = current;
      if (routes !== undefined) doc.routes = routes;
      return parseResult(this.#raw.callJson('classify', JSON.stringify(doc)));
    }
    /** 2FA adoption figures for an org's members. */
    auditOrg(members) { return parseResult(this.#raw.orgAuditJson(JSON.stringify({ members }))); }
    /** The policy replayed over a population day by day (the rollout simulator). */
    simulateRollout(input) { return parseResult(this.#raw.callJson('rollout-simulate', toText(input))); }
    /** Which factor a typed code looks like. */
    classifyCode(code) { return JSON.parse(this.#raw.classifyCodeJson(String(code))); }
    /** The resolved configuration. */
    get config() { return JSON.parse(this.#raw.configJson()); }
  }

  return Object.freeze({
    backend,
    Policy,
    StepupError,
    /** Who loses access if an org turns 2FA enforcement on. */
    planOrgEnforcement: (input) => parseResult(raw.orgPlanJson(JSON.stringify(input))),
    /** Differences between a decision and a conformance expectation (empty = match). */
    compareExpectation: (expect, decision) => parseResult(raw.compareJson(toText(expect), toText(decision))),
    /** The JSON Schema of `config` or `request`. */
    schema: (which) => {
      const text = raw.schema(which);
      if (typeof text !== 'string') throw new RangeError(`no schema ${JSON.stringify(which)}: config, request or decision`);
      return JSON.parse(text);
    },
  });
}
