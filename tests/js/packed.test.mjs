// The packed fast path of `evaluate` (bindings/js/packed.js + stepup-core `packed`), per
// backend: STEPUP_BACKEND=napi|wasm-node. It must be taken for ordinary requests, give exactly
// the decision the JSON path gives, and step aside (to the JSON path) for anything unusual.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { loadBackend } from './backends.mjs';
import { createPacker } from '../../bindings/js/packed.js';

const backend = process.env.STEPUP_BACKEND ?? 'wasm-node';
const api = await loadBackend(backend);
const require = createRequire(import.meta.url);
const raw = backend === 'napi' ? require('../../bindings/node/binding.cjs') : require('../../bindings/web/raw-node.js').default;
const packer = createPacker(raw.packedTables());
const rawPolicy = new raw.Policy('{}');
const policy = new api.Policy();
const bench = JSON.parse(readFileSync(new URL('../fixtures/bench-publish.json', import.meta.url), 'utf8'));
const peers = JSON.parse(readFileSync(new URL('../../benches/requests.json', import.meta.url), 'utf8'));

/** The decision through the packed form, or null when it steps aside. */
function viaPacked(request, now) {
  const bytes = packer.encode(request, now);
  if (bytes === null) return null;
  return rawPolicy.evaluatePacked(bytes, packer.out) > 0 ? packer.decode() : null;
}

test(`${backend}: ordinary requests take the packed path and decide exactly as JSON`, () => {
  for (const { name, request } of [{ name: 'bench', request: bench }, ...peers]) {
    const packed = viaPacked(request);
    assert.notEqual(packed, null, `${name}: the packed path stepped aside`);
    assert.equal(JSON.stringify(packed), policy.evaluateJson(JSON.stringify(request)), name);
    assert.equal(JSON.stringify(policy.evaluate(request)), JSON.stringify(packed), name);
  }
});

if (backend === 'napi') {
  test('napi: evaluate\'s call on the policy handle decides exactly as the method does', () => {
    const handle = rawPolicy.handle();
    for (const { name, request } of [{ name: 'bench', request: bench }, ...peers]) {
      const bytes = packer.encode(request).slice();
      const n = raw.evaluatePackedWith(handle, bytes, packer.out);
      assert.ok(n > 0, `${name}: the handle call stepped aside`);
      const viaHandle = JSON.stringify(packer.decode());
      assert.equal(rawPolicy.evaluatePacked(bytes, packer.out), n, name);
      assert.equal(viaHandle, JSON.stringify(packer.decode()), name);
    }
    // A handle outlives nothing it needs: the policy it came from may be collected first.
    assert.equal(raw.evaluatePackedWith(new raw.Policy('{}').handle(), packer.encode(bench).slice(), packer.out) > 0, true);
  });
}

test(`${backend}: unusual input steps aside, and evaluate still answers as JSON does`, () => {
  const cases = {
    'unknown key': { ...bench, surprise: 1 },
    'unknown key, null value': { ...bench, surprise: null },
    'non-ASCII package name': { ...bench, action: { ...bench.action, package: 'léft-pad' } },
    'fractional time': { ...bench, now: 1.5 },
    'negative count': { ...bench, package: { ...bench.package, weekly_downloads: -1 } },
    'string where a number goes': { ...bench, now: '1780315200' },
    'unknown action': { ...bench, action: { kind: 'package.steal' } },
    'a Date object': { ...bench, now: new Date(0) },
    'session with an allow-list': { ...bench, credential: { kind: 'session', cidr_whitelist: [] } },
    'missing account': { now: bench.now, action: bench.action, credential: bench.credential },
    'a 60,000-byte package name (past the first buffer)': { ...bench, action: { ...bench.action, package: 'x'.repeat(60_000) } },
  };
  for (const [name, request] of Object.entries(cases)) {
    assert.equal(viaPacked(request), null, `${name}: should step aside`);
    const json = JSON.parse(policy.evaluateJson(JSON.stringify(request)));
    let viaApi;
    try {
      viaApi = policy.evaluate(request);
    } catch (e) {
      assert.equal(e.code, 'invalid-input', name);
      assert.equal(json.outcome, 'error', `${name}: JSON decided, evaluate threw`);
      assert.equal(e.path, json.error.path, name);
      continue;
    }
    assert.deepEqual(viaApi, json, name);
  }
});

test(`${backend}: after the encoder's buffer grows, requests still decide from their own bytes`, () => {
  // encode() hands out views of its buffer cached per length; growing the buffer must drop them.
  const before = packer.encode(bench).length;
  assert.equal(viaPacked({ ...bench, action: { ...bench.action, tag: 'y'.repeat(30_000) } }), null);
  for (const { name, request } of [{ name: 'bench', request: bench }, ...peers]) {
    assert.equal(JSON.stringify(viaPacked(request)), policy.evaluateJson(JSON.stringify(request)), name);
  }
  assert.equal(packer.encode(bench).length, before);
});

test(`${backend}: null and undefined mean absent, as in JSON`, () => {
  const request = { ...bench, client: null, proofs: undefined, account: { ...bench.account, impact: null, safeguard_until: null } };
  const packed = viaPacked(request);
  assert.notEqual(packed, null);
  assert.equal(JSON.stringify(packed), policy.evaluateJson(JSON.stringify(request)));
});

test(`${backend}: a polluted prototype cannot add a field`, () => {
  const request = { ...bench, credential: Object.create({ bypass_2fa: true, kind: 'granular-token' }) };
  request.credential.kind = 'session';
  const d = policy.evaluate(request);
  assert.equal(d.reason, 'otp-required');
  assert.equal(JSON.stringify(d), policy.evaluateJson(JSON.stringify(request)));
});

test(`${backend}: a polluted Object.prototype steps aside and changes nothing`, () => {
  const request = { ...bench, credential: { kind: 'granular-token', packages: { names: ['left-pad'], permission: 'read-write' } } };
  const before = JSON.stringify(policy.evaluate(request));
  // eslint-disable-next-line no-extend-native
  Object.prototype.bypass_2fa = true;
  try {
    assert.equal(viaPacked(request), null);
    assert.equal(JSON.stringify(policy.evaluate(request)), before);
  } finally {
    delete Object.prototype.bypass_2fa;
  }
  assert.notEqual(viaPacked(request), null);
});

test(`${backend}: a missing now is filled in, a given one is kept`, () => {
  const { now: _drop, ...noNow } = bench;
  const withClock = viaPacked(noNow, bench.now);
  assert.equal(JSON.stringify(withClock), policy.evaluateJson(JSON.stringify(bench)));
  // `now` given twice (request and clock) is decided with the clock's.
  const later = viaPacked(bench, bench.now + 10_000);
  assert.equal(JSON.stringify(later), policy.evaluateJson(JSON.stringify({ ...bench, now: bench.now + 10_000 })));
});

test(`${backend}: corrupt packed bytes are refused, never misread`, () => {
  const bytes = packer.encode(bench).slice();
  const out = new Uint8Array(2048);
  for (let n = 0; n < bytes.length; n += 1) assert.equal(rawPolicy.evaluatePacked(bytes.subarray(0, n), out), 0, `prefix ${n}`);
  assert.equal(rawPolicy.evaluatePacked(new Uint8Array([9, 0]), out), 0, 'unknown version');
  assert.equal(rawPolicy.evaluatePacked(bytes, new Uint8Array(16)), 0, 'output too small');
});

test(`${backend}: a kept decision text is reused only for its own key and length`, () => {
  // Decisions written by hand into the decoder's buffer: texts whose keys share a cache slot
  // (equal low 32 bits) or whose key returns with another length must be read, not reused.
  const own = createPacker(raw.packedTables());
  const decide = (texts) => {
    const b = own.out;
    const v = new DataView(b.buffer);
    let p = 0;
    b[p++] = 0; // outcome
    b[p++] = 0; // reason
    for (const [key, s] of texts) {
      v.setUint16(p, s.length, true);
      v.setFloat64(p + 2, key, true);
      p += 10;
      for (let i = 0; i < s.length; i += 1) b[p++] = s.charCodeAt(i);
    }
    b[p++] = 0; // no flags
    b[p++] = 0; // no effects
    v.setUint16(p, 200, true);
    p += 2;
    b[p++] = 0; // neither npm text
    const d = own.decode();
    return [d.rule, d.message];
  };
  const k = 0x12345678;
  const twin = k + 2 ** 32;
  assert.deepEqual(decide([[k, 'rule-a'], [k + 8, 'message a']]), ['rule-a', 'message a']);
  assert.deepEqual(decide([[twin, 'rule-b'], [k + 8, 'message a']]), ['rule-b', 'message a']);
  assert.deepEqual(decide([[k, 'rule-a'], [k + 8, 'message a!']]), ['rule-a', 'message a!']);
  assert.deepEqual(decide([[k, 'rule-a'], [0, 'made now']]), ['rule-a', 'made now']);
  assert.deepEqual(decide([[0, 'rule-c'], [k + 8, 'message a!']]), ['rule-c', 'message a!']);
});

if (backend !== 'napi') {
  // The wasm builds decide packed requests in scratch buffers inside wasm memory (api.js
  // `scratchEvaluator`); a request larger than any before grows that memory under the views.
  test(`${backend}: the scratch buffers survive memory growth and refuse what is too large`, () => {
    const memory = raw.wasmMemory();
    const before = memory.buffer.byteLength;
    let grown = false;
    for (const n of [10, 200, 600, 1024]) {
      const names = Array.from({ length: n }, (_, i) => `${'p'.repeat(200)}-${i}`);
      const request = {
        ...bench,
        action: { kind: 'package.publish', package: names[n - 1] },
        credential: { kind: 'granular-token', bypass_2fa: true, packages: { names, permission: 'read-write' } },
      };
      const bytes = packer.encode(request);
      assert.notEqual(bytes, null);
      const at = raw.packedInput(bytes.length);
      assert.notEqual(at, 0);
      new Uint8Array(memory.buffer).set(bytes, at);
      assert.ok(rawPolicy.evaluatePackedScratch(bytes.length) > 0, `${n} names: the scratch path decided`);
      assert.equal(JSON.stringify(policy.evaluate(request)), policy.evaluateJson(JSON.stringify(request)), `${n} names`);
      grown ||= memory.buffer.byteLength > before;
    }
    assert.ok(grown, 'the memory grew during the test');
    assert.equal(JSON.stringify(policy.evaluate(bench)), policy.evaluateJson(JSON.stringify(bench)));
    assert.equal(raw.packedInput(256 * 1024 + 1), 0, 'more than a packed request may be');
    assert.equal(rawPolicy.evaluatePackedScratch(256 * 1024 + 1), 0);
  });
}

// `authorize` with a TOTP account state and `verifyTotp` take the fast paths too (the packed
// request plus typed arguments; one number back): each must answer exactly as the JSON path.
const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const handle = backend === 'napi' ? rawPolicy.handle() : null;

/** `authorize` through the raw fast path (one buffer: the request, then the TOTP state), or
 * null when it steps aside. */
function viaAuthorizePacked(request, secrets, present) {
  const bytes = packer.encodeAuthorize(request, undefined, secrets, present);
  if (bytes === null) return null;
  let n;
  if (backend === 'napi') {
    n = raw.authorizePackedWith(handle, bytes, packer.split(), packer.out);
  } else {
    const at = raw.packedInput(bytes.length);
    new Uint8Array(raw.wasmMemory().buffer).set(bytes, at);
    n = rawPolicy.authorizePackedScratch(bytes.length, packer.split());
    const [outAt] = raw.packedOutput();
    if (n > 0) packer.out.set(new Uint8Array(raw.wasmMemory().buffer).subarray(outAt, outAt + n));
  }
  packer.forget();
  return n > 0 ? packer.decode() : null;
}

/** The JSON path's answer: the decision, or the error document. */
const authorizeJson = (request, secrets, present) => {
  const doc = { request, secrets };
  if (present !== undefined) doc.present = present;
  return JSON.parse(policy.authorizeJson(JSON.stringify(doc)));
};

test(`${backend}: authorize with a TOTP state takes the packed path and decides exactly as JSON`, () => {
  const code = (dt) => policy.totpCode(SECRET, bench.now + dt);
  const step = Math.floor(bench.now / 30);
  const sessions = [bench, { ...bench, credential: { kind: 'basic' }, action: { kind: 'login' } }, ...peers.map((p) => p.request)];
  const states = [
    [{ totp_secret: SECRET }, { code: code(0) }],
    [{ totp_secret: SECRET }, { code: code(30), factor: 'totp' }],
    [{ totp_secret: SECRET, last_totp_step: step }, { code: code(0) }],
    [{ totp_secret: SECRET }, { code: '000000' }],
    [{ totp_secret: SECRET }, { code: 'not a code' }],
    [{ totp_secret: SECRET }, { code: '' }],
    [{ totp_secret: SECRET }, { code: code(0), factor: 'recovery-code' }],
    [{ totp_secret: SECRET }, undefined],
    [{}, { code: code(0) }],
    [{}, undefined],
    // null is absent for the known keys, and undefined is no key at all (as JSON.stringify).
    [{ totp_secret: SECRET, last_totp_step: null }, { code: code(0), factor: null }],
    [{ totp_secret: SECRET, surprise: undefined }, { code: code(0), other: undefined }],
  ];
  let accepted = 0;
  for (const request of sessions) {
    for (const [secrets, present] of states) {
      const name = `${request.action.kind} ${JSON.stringify(secrets)} ${JSON.stringify(present)}`;
      const json = authorizeJson(request, secrets, present);
      if (json.outcome === 'error') {
        assert.equal(viaAuthorizePacked(request, secrets, present), null, `${name}: errors are JSON's to give`);
        continue;
      }
      const packed = viaAuthorizePacked(request, secrets, present);
      assert.notEqual(packed, null, `${name}: the packed path stepped aside`);
      assert.deepEqual(packed, json, name);
      assert.deepEqual(policy.authorize(request, secrets, present), json, name);
      if (json.reason === 'allowed-with-proof') accepted += 1;
    }
  }
  assert.ok(accepted >= 2, `some codes were accepted (${accepted})`);
});

test(`${backend}: authorize steps aside for other account states and gives JSON's errors`, () => {
  const present = { code: policy.totpCode(SECRET, bench.now) };
  const cases = {
    'recovery codes': [{ totp_secret: SECRET, recovery_codes: [] }, present],
    'an unknown secrets key': [{ totp_secret: SECRET, surprise: 1 }, present],
    'a bad secret': [{ totp_secret: 'not base32!' }, present],
    'a fractional last step': [{ totp_secret: SECRET, last_totp_step: 1.5 }, present],
    'an unknown factor': [{ totp_secret: SECRET }, { code: '123456', factor: 'carrier-pigeon' }],
    'a factor without a code': [{ totp_secret: SECRET }, { factor: 'totp' }],
    'a code of 300 bytes': [{ totp_secret: SECRET }, { code: '1'.repeat(300) }],
    // What JSON.stringify would not send is not sent: JSON sees an empty presentation here.
    'an inherited code': [{ totp_secret: SECRET }, Object.create({ code: present.code })],
    'a code behind toJSON': [{ totp_secret: SECRET }, { code: present.code, toJSON: () => ({}) }],
    'an inherited secret': [Object.create({ totp_secret: SECRET }), present],
    'a non-enumerable code': [{ totp_secret: SECRET }, Object.defineProperty({}, 'code', { value: present.code })],
    'a non-enumerable secret': [Object.defineProperty({}, 'totp_secret', { value: SECRET }), present],
    'a lone surrogate': [{ totp_secret: SECRET }, { code: '12\ud80034' }],
    // null is a value to JSON: an unknown key holding it is still an unknown key.
    'an unknown secrets key set to null': [{ totp_secret: SECRET, surprise: null }, present],
    'an unknown present key set to null': [{ totp_secret: SECRET }, { ...present, surprise: null }],
    'a null code': [{ totp_secret: SECRET }, { code: null }],
    'a non-ASCII secret': [{ totp_secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ\u00e9' }, present],
  };
  for (const [name, [secrets, p]] of Object.entries(cases)) {
    const json = authorizeJson(bench, secrets, p);
    let viaApi;
    try {
      viaApi = policy.authorize(bench, secrets, p);
    } catch (e) {
      assert.equal(json.outcome, 'error', `${name}: JSON decided, authorize threw`);
      assert.equal(e.path, json.error.path, name);
      continue;
    }
    assert.deepEqual(viaApi, json, name);
  }
});

test(`${backend}: a secret or code passed on the fast paths does not stay in a kept buffer`, () => {
  const ascii = (text) => [...text].map((c) => c.charCodeAt(0));
  const holds = (bytes, text) => {
    const needle = ascii(text);
    for (let i = 0; i + needle.length <= bytes.length; i += 1) {
      if (needle.every((b, j) => bytes[i + j] === b)) return true;
    }
    return false;
  };
  const code = policy.totpCode(SECRET, bench.now);
  const bytes = packer.encodeAuthorize(bench, undefined, { totp_secret: SECRET }, { code });
  assert.ok(holds(bytes, SECRET), 'the encoder wrote the secret');
  const split = packer.split();
  packer.forget();
  assert.ok(!holds(bytes, SECRET) && bytes.subarray(split).every((b) => b === 0), 'forget() zeroes the state');
  assert.equal(policy.authorize(bench, { totp_secret: SECRET }, { code }).reason, 'allowed-with-proof');
  assert.equal(policy.verifyTotp({ secret: SECRET, code, now: bench.now }).result, 'accepted');
  if (backend !== 'napi') {
    // The module's scratch input, where both calls wrote their secrets.
    const at = raw.packedInput(4096);
    const scratch = new Uint8Array(raw.wasmMemory().buffer).subarray(at, at + 4096);
    assert.ok(!holds(scratch, SECRET), 'the TOTP secret was zeroed in wasm memory');
    assert.ok(!holds(scratch, code), 'the code was zeroed in wasm memory');
  }
});

test(`${backend}: verifyTotp answers as its JSON form, before and after it knows each kind`, () => {
  const now = bench.now;
  const step = Math.floor(now / 30);
  const json = (args) => {
    const doc = { secret: args.secret, code: args.code, now: args.now };
    if (args.lastStep !== undefined) doc.last_step = args.lastStep;
    return JSON.parse(policy.callJson('verify-totp', JSON.stringify(doc)));
  };
  const cases = [
    { secret: SECRET, code: policy.totpCode(SECRET, now), now },
    { secret: SECRET, code: policy.totpCode(SECRET, now + 30), now },
    { secret: SECRET, code: policy.totpCode(SECRET, now), now, lastStep: step },
    { secret: SECRET, code: '000000', now },
    { secret: SECRET, code: '12', now },
    { secret: SECRET, code: policy.totpCode(SECRET, now + 300), now },
    { secret: SECRET, code: policy.totpCode(SECRET, now - 300), now },
  ];
  const fast = backend === 'napi'
    ? (a) => raw.verifyTotpWith(handle, a.secret, a.code, a.now, a.lastStep ?? null)
    : (a) => rawPolicy.verifyTotpNumber(a.secret, a.code, a.now, a.lastStep ?? null);
  for (let round = 0; round < 2; round += 1) {
    for (const a of cases) {
      const want = json(a);
      assert.deepEqual(policy.verifyTotp(a), want, `${JSON.stringify(a)} round ${round}`);
      // Every kind but clock drift (whose text is made for its offset) comes back as a number.
      assert.equal(fast(a) >= 0, want.result !== 'clock-drift', JSON.stringify(a));
    }
  }
  assert.equal(policy.verifyTotp(cases[0]).step, step);
  assert.equal(policy.verifyTotp({ ...cases[0], now: now + 30 }).step, step, 'the step is the matched one, not a cached one');
  // Bad input is JSON's to refuse, with its path.
  assert.equal(fast({ secret: 'x', code: '123456', now }), -1);
  assert.equal(fast({ secret: SECRET, code: '1'.repeat(300), now }), -1, 'longer than any code');
  assert.throws(() => policy.verifyTotp({ secret: SECRET, code: '12\ud80034', now }), (e) => e.code === 'invalid-input');
  assert.throws(() => policy.verifyTotp({ secret: 'x', code: '123456', now }), (e) => e.path === 'secret');
  assert.throws(() => policy.verifyTotp({ secret: SECRET, code: '123456', now: 1.5 }), (e) => e.code === 'invalid-input');
});
