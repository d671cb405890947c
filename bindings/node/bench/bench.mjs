#!/usr/bin/env node
// node bindings/node/bench/bench.mjs — stepup through the napi addon (and the wasm build) next to
// otpauth, otplib and speakeasy, in one process, same inputs. Prints per-call medians and ratios
// as a markdown table. Every contender is first checked to accept the same valid code.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as OTPAuth from 'otpauth';
import { verifySync } from 'otplib';
import napi from '../index.js';
import { createPacker } from '../lib/packed.js';
import wasm from '../../web/node.js';

const require = createRequire(import.meta.url);
const speakeasy = require('speakeasy');

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const NOW = 1780315200;
const napiPolicy = new napi.Policy();
const wasmPolicy = new wasm.Policy();
const CODE = napiPolicy.totpCode(SECRET, NOW);
const otpauthTotp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(SECRET), digits: 6, period: 30, algorithm: 'SHA1' });

const contenders = {
  'stepup napi verifyTotp': () => napiPolicy.verifyTotp({ secret: SECRET, code: CODE, now: NOW }).result === 'accepted',
  'stepup wasm verifyTotp': () => wasmPolicy.verifyTotp({ secret: SECRET, code: CODE, now: NOW }).result === 'accepted',
  'otpauth validate (prebuilt TOTP)': () => otpauthTotp.validate({ token: CODE, timestamp: NOW * 1000, window: 1 }) !== null,
  'otplib verifySync': () => verifySync({ secret: SECRET, token: CODE, epoch: NOW, epochTolerance: 30 }).valid,
  'speakeasy totp.verify': () => speakeasy.totp.verify({ secret: SECRET, encoding: 'base32', token: CODE, window: 1, time: NOW }),
};
for (const [name, f] of Object.entries(contenders)) assert.equal(f(), true, `${name} must accept the valid code`);

// The benchmark request every host measures (the Rust benches read the same file).
const request = JSON.parse(readFileSync(new URL('../../../tests/fixtures/bench-publish.json', import.meta.url), 'utf8'));
const requestText = JSON.stringify(request);
const evaluators = {
  'stepup napi evaluate (object)': () => napiPolicy.evaluate(request),
  'stepup napi evaluate through JSON text (stringify, evaluateJson, parse)': () => JSON.parse(napiPolicy.evaluateJson(JSON.stringify(request))),
  'stepup napi evaluateJson (text)': () => napiPolicy.evaluateJson(requestText),
  'stepup wasm evaluate (object)': () => wasmPolicy.evaluate(request),
  'stepup wasm evaluate through JSON text (stringify, evaluateJson, parse)': () => JSON.parse(wasmPolicy.evaluateJson(JSON.stringify(request))),
  'stepup napi authorize (TOTP)': () => napiPolicy.authorize(request, { totp_secret: SECRET }, { factor: 'totp', code: CODE }),
  'stepup napi authorize through JSON text (authorizeJson, parse)': () => JSON.parse(napiPolicy.authorizeJson(JSON.stringify({ request, secrets: { totp_secret: SECRET }, present: { factor: 'totp', code: CODE } }))),
  'stepup wasm authorize (TOTP)': () => wasmPolicy.authorize(request, { totp_secret: SECRET }, { factor: 'totp', code: CODE }),
};
assert.equal(napiPolicy.evaluate(request).reason, 'otp-required');
for (const name of Object.keys(evaluators).filter((n) => n.includes('authorize'))) assert.equal(evaluators[name]().reason, 'allowed-with-proof', name);

/** Median ns per call over `rounds` rounds of `iters` calls, after a warm-up. */
const QUICK = process.env.BENCH_QUICK === '1';
function measure(f, { rounds = QUICK ? 3 : 15, iters = QUICK ? 200 : 20000 } = {}) {
  for (let i = 0; i < iters; i += 1) f();
  const per = [];
  for (let r = 0; r < rounds; r += 1) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < iters; i += 1) f();
    per.push(Number(process.hrtime.bigint() - t) / iters);
  }
  per.sort((a, b) => a - b);
  return per[Math.floor(per.length / 2)];
}

const fmt = (ns) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
const results = {};
console.log(`Node ${process.version}; ${QUICK ? 'QUICK smoke run (3 x 200 calls), figures not meaningful' : '15 rounds of 20,000 calls each'}; median per call.\n`);
console.log('| TOTP verify (valid code, ±1 step) | median | × otpauth |\n|---|---|---|');
for (const [name, f] of Object.entries(contenders)) results[name] = measure(f);
const base = results['otpauth validate (prebuilt TOTP)'];
for (const name of Object.keys(contenders)) console.log(`| ${name} | ${fmt(results[name])} | ${(results[name] / base).toFixed(2)} |`);
console.log('\n| decision | median |\n|---|---|');
for (const [name, f] of Object.entries(evaluators)) {
  results[name] = measure(f);
  console.log(`| ${name} | ${fmt(results[name])} |`);
}

// Where napi `authorize`'s time goes: each stage of the packed path alone, on the same request
// and state (the JS encoder, the native call on bytes encoded once, the decoder), next to the
// same stages of `evaluate`. The stages are the addon's own exports and the API's own packer.
const raw = require('../binding.cjs');
const packer = createPacker(raw.packedTables());
const handle = new raw.Policy('{}').handle();
const secrets = { totp_secret: SECRET };
const present = { factor: 'totp', code: CODE };
const evaluateBytes = packer.encode(request).slice();
const authorizeBytes = packer.encodeAuthorize(request, undefined, secrets, present).slice();
const split = packer.split();
packer.forget();
assert.ok(raw.authorizePackedWith(handle, authorizeBytes, split, packer.out) > 0);
assert.equal(packer.decode().reason, 'allowed-with-proof');
const stages = {
  'JS: encode the request (evaluate)': () => packer.encode(request),
  'JS: encode the request and TOTP state, then zero the state (authorize)': () => {
    packer.encodeAuthorize(request, undefined, secrets, present);
    packer.forget();
  },
  'native call: evaluatePackedWith on encoded bytes': () => raw.evaluatePackedWith(handle, evaluateBytes, packer.out),
  'native call: authorizePackedWith on encoded bytes': () => raw.authorizePackedWith(handle, authorizeBytes, split, packer.out),
  'native call: verifyTotpWith (the TOTP check alone, two strings in)': () => raw.verifyTotpWith(handle, SECRET, CODE, NOW, undefined),
  'JS: decode the decision': () => packer.decode(),
};
const parts = {};
console.log('\n| napi stage, alone | median |\n|---|---|');
for (const [name, f] of Object.entries(stages)) {
  parts[name] = measure(f);
  console.log(`| ${name} | ${fmt(parts[name])} |`);
}

// Medians (ns) for scripts/bench-report.py, which puts every host in one table and chart.
if (!QUICK) {
  const dir = new URL('../../../target/bench/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('node.json', dir), `${JSON.stringify({ node: process.version, median_ns: results, stages_ns: parts }, null, 1)}\n`);
}
