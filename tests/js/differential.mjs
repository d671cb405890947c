#!/usr/bin/env node
// Differential testing across every host (issue: reliability). One file of random requests
// (`stepup differential generate`), decided by: the native engine and the wasmtime component
// (`stepup differential decide`), the napi addon and wasm-bindgen in Node, and wasm-bindgen in
// headless Chromium. JS hosts answer through `evaluateJson` (the text) and through `evaluate`
// (objects, the packed fast path), and the two must agree. Every answer must be byte-identical
// to the native one. A disagreement is minimised (fields removed while it persists) and written
// to target/differential/disagreements.json as conformance cases (SPEC §7) to commit.
//
// usage: node tests/js/differential.mjs [--count N] [--seed S]
//   env: STEPUP_BIN (default target/debug/stepup), CHROMIUM (default /usr/bin/chromium)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { sameThroughObjects } from '../../bindings/js/conformance.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const count = arg('count', 5000);
const seed = arg('seed', 1);
const root = new URL('../../', import.meta.url);
const out = new URL('target/differential/', root);
mkdirSync(out, { recursive: true });
const bin = process.env.STEPUP_BIN ?? new URL('target/debug/stepup', root).pathname;
const napi = (await import('../../bindings/node/index.js')).default;
const wasm = (await import('../../bindings/web/node.js')).default;
const napiPolicy = new napi.Policy();
const wasmPolicy = new wasm.Policy();

/** Decides `lines` with the CLI (native or component), or gives them to the entry point `call`. */
function cli(engine, lines, call) {
  const file = new URL(`batch-${engine}.jsonl`, out).pathname;
  writeFileSync(file, `${lines.join('\n')}\n`);
  const text = execFileSync(bin, ['differential', 'decide', '--engine', engine, ...(call ? ['--call', call] : []), file], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    env: { ...process.env, STEPUP_CWASM_CACHE: new URL('target/cwasm', root).pathname },
  });
  return text.split('\n').slice(0, lines.length);
}

// STEPUP_DIFF_INJECT=1 makes the napi host misanswer requests with a basic credential, to show
// that a disagreement is found, minimised and reported (the harness's own test).
const INJECT = process.env.STEPUP_DIFF_INJECT === '1';

/** A JS host's answer: evaluateJson's text, checked against evaluate() through objects. */
function jsAnswer(policy, line) {
  if (INJECT && policy === napiPolicy && line.includes('"basic"')) return `${policy.evaluateJson(line)} `;
  const text = policy.evaluateJson(line);
  const diff = sameThroughObjects(policy, JSON.parse(line), text);
  return diff === null ? text : `evaluate and evaluateJson differ: ${diff}`;
}

// Chromium: the page decides batches with the same two entry points.
const server = await serve(0);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const page = await browser.newPage();
await page.goto(`http://127.0.0.1:${server.address().port}/bindings/web/test/harness.html`);
await page.waitForFunction(() => window.harnessReady === true);
async function chromiumAnswers(lines) {
  const answers = [];
  for (let i = 0; i < lines.length; i += 2000) {
    answers.push(...(await page.evaluate((batch) => {
      const policy = (window.diffPolicy ??= new window.stepup.Policy());
      return batch.map((line) => {
        const text = policy.evaluateJson(line);
        const diff = window.sameThroughObjects(policy, JSON.parse(line), text);
        return diff === null ? text : `evaluate and evaluateJson differ: ${diff}`;
      });
    }, lines.slice(i, i + 2000))));
  }
  return answers;
}

/** Every host's answers for `lines`, keyed by host. */
async function decideEverywhere(lines) {
  return {
    native: cli('native', lines),
    component: cli('component', lines),
    napi: lines.map((l) => jsAnswer(napiPolicy, l)),
    'wasm-node': lines.map((l) => jsAnswer(wasmPolicy, l)),
    chromium: await chromiumAnswers(lines),
  };
}

/** Hosts whose answer for line `i` differs from native's. */
const disagreeing = (answers, i) => Object.keys(answers).filter((h) => answers[h][i] !== answers.native[i]);

/** Removes fields one at a time while the disagreement persists (greedy, batch per round). */
async function minimise(doc) {
  let current = doc;
  for (let round = 0; round < 50; round += 1) {
    const variants = [];
    const walk = (v, path) => {
      if (v && typeof v === 'object') {
        for (const k of Object.keys(v)) {
          variants.push(without(current, [...path, k]));
          walk(v[k], [...path, k]);
        }
      }
    };
    walk(current, []);
    if (variants.length === 0) break;
    const lines = variants.map((v) => JSON.stringify(v));
    const answers = await decideEverywhere(lines);
    const i = lines.findIndex((_, j) => disagreeing(answers, j).length > 0);
    if (i < 0) break;
    current = variants[i];
  }
  return current;
}

function without(doc, path) {
  const copy = structuredClone(doc);
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k];
  if (Array.isArray(at)) at.splice(Number(path.at(-1)), 1);
  else delete at[path.at(-1)];
  return copy;
}

/**
 * Random npm HTTP requests for the classifier (SPEC §9), deterministic per seed: catalogue
 * routes with names in every encoding a path can take, junk segments, override headers, and
 * the bodies that decide among writes.
 */
function httpRequests(n, s) {
  let x = (s >>> 0) || 1;
  const rnd = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; };
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const enc = (text) => [...text].map((ch) => {
    const r = rnd();
    const hex = ch.codePointAt(0) < 128 ? ch.charCodeAt(0).toString(16).padStart(2, '0') : null;
    if (hex && r < 0.06) return `%${hex}`;
    if (hex && r < 0.1) return `%${hex.toUpperCase()}`;
    if (hex && r < 0.105) return `%25${hex}`;
    return ch;
  }).join('');
  const names = ['left-pad', '@acme/widget', 'JSONStream', '@x', '.hidden', 'a b', 'lodash.merge', '@acme/.x', 'ü'];
  const pkgPath = () => {
    const name = pick(names);
    if (!name.startsWith('@') || !name.includes('/')) return enc(name);
    const [scope, rest] = name.split('/');
    return pick([`${enc(scope)}%2f${enc(rest)}`, `${enc(scope)}/${enc(rest)}`, `%40${enc(scope.slice(1))}%2F${enc(rest)}`]);
  };
  const templates = [
    () => `/${pkgPath()}`, () => `/${pkgPath()}/-rev/3-abc`, () => `/${pkgPath()}/${pick(['latest', 'beta', '-', '-rev'])}`,
    () => `/${pkgPath()}/-/${pick(['x-1.0.0.tgz', 'y.tgz'])}/-rev/2-b`, () => `/-/package/${pkgPath()}/dist-tags/${pick(['latest', 'next'])}`,
    () => `/-/package/${pkgPath()}/dist-tags`, () => `/-/package/${pkgPath()}/${pick(['access', 'trust', 'visibility', 'collaborators'])}`,
    () => `/-/user/org.couchdb.user${pick([':', '%3A', '%3a'])}${enc('alice')}`, () => '/-/npm/v1/tokens', () => `/-/npm/v1/tokens/token/${enc('abc/def')}`,
    () => '/-/npm/v1/user', () => `/-/org/${enc('acme')}/${pick(['user', 'team', 'package'])}`, () => `/-/team/acme/${enc('devs')}/${pick(['package', 'user'])}`,
    () => `/-/stage/package/${pkgPath()}`, () => '/-/whoami', () => '/-/v1/done?authId=1', () => '/-/v1/login', () => '/-/npm/v1/security/advisories/bulk',
    () => `/${pick(['.', '..', '%2e', '', ';x', '%00', '%zz', 'ok'])}/${pkgPath()}`, () => '/',
  ];
  const bodies = [null, {}, '1.0.0', { users: { bob: true } }, { maintainers: [{ name: 'bob' }] }, { versions: { '1.0.0': {} } },
    { versions: { '1.0.0': {} }, 'dist-tags': { latest: '1.0.0' }, _attachments: { 'x-1.0.0.tgz': { length: 3 } } },
    { tfa: { mode: pick(['disable', 'auth-only']), password: 'p' } }, { tfa: ['123456'] }, { email: 'a@b.c', password: { old: 'a', new: 'b' } },
    { user: 'bob' }, { package: 'left-pad', permissions: 'read-only' }, { beta: '1.0.0', latest: '2.0.0' }, { publish_requires_tfa: true }, [1, 2]];
  const out = [];
  for (let i = 0; i < n; i += 1) {
    let path = pick(templates)();
    if (rnd() < 0.1) path += '/';
    if (rnd() < 0.08) path += '?write=true';
    const doc = { method: pick(['GET', 'HEAD', 'OPTIONS', 'PUT', 'PUT', 'POST', 'DELETE', 'PATCH', 'get']), path, headers: { 'npm-command': pick(['publish', 'dist-tag', 'owner', 'token']) }, body: pick(bodies) };
    if (rnd() < 0.05) doc.headers['x-http-method-override'] = 'GET';
    if (rnd() < 0.2) doc.current = { versions: { '1.0.0': {}, '0.9.0': { deprecated: 'old' } }, maintainers: [{ name: 'alice' }], 'dist-tags': { latest: '1.0.0' }, email: 'a@b.c' };
    if (rnd() < 0.05) doc.routes = [{ prefix: '/-/custom/', methods: ['POST'], kind: 'org.team.change' }];
    out.push(JSON.stringify(doc));
  }
  return out;
}

/** The classifier's answers for `lines` on every host. */
async function classifyEverywhere(lines) {
  return {
    native: cli('native', lines, 'classify'),
    component: cli('component', lines, 'classify'),
    napi: lines.map((l) => napiPolicy.callJson('classify', l)),
    'wasm-node': lines.map((l) => wasmPolicy.callJson('classify', l)),
    chromium: await page.evaluate((batch) => {
      const policy = (window.diffPolicy ??= new window.stepup.Policy());
      return batch.map((line) => policy.callJson('classify', line));
    }, lines),
  };
}

try {
  {
    // The classifier: random HTTP requests, byte-identical answers on every host.
    const started = Date.now();
    const lines = httpRequests(Math.min(count, 3000), seed);
    const answers = await classifyEverywhere(lines);
    const results = {};
    for (const a of answers.native) {
      const r = JSON.parse(a).result ?? 'error';
      results[r] = (results[r] ?? 0) + 1;
    }
    const bad = lines.map((_, i) => i).filter((i) => disagreeing(answers, i).length > 0);
    console.log(`differential classify: ${lines.length} HTTP requests × 5 hosts; ${Object.entries(results).map(([k, v]) => `${k} ${v}`).join(', ')}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const i of bad.slice(0, 3)) {
      console.log(`DISAGREE classify ${lines[i]}`);
      for (const h of ['native', ...disagreeing(answers, i)]) console.log(`    ${h}: ${answers[h][i]}`);
    }
    if (bad.length > 0) {
      console.log(`differential classify: ${bad.length} disagreements`);
      process.exitCode = 1;
    } else {
      console.log('differential classify: 0 disagreements');
    }
  }
  const started = Date.now();
  const file = new URL(`requests-${seed}-${count}.jsonl`, out).pathname;
  writeFileSync(file, execFileSync(bin, ['differential', 'generate', '--count', String(count), '--seed', String(seed)], { maxBuffer: 1 << 30 }));
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const answers = await decideEverywhere(lines);
  const found = [];
  for (let i = 0; i < lines.length; i += 1) {
    const hosts = disagreeing(answers, i);
    if (hosts.length > 0) found.push({ i, hosts });
  }
  const outcomes = {};
  for (const a of answers.native) {
    const o = JSON.parse(a).outcome;
    outcomes[o] = (outcomes[o] ?? 0) + 1;
  }
  console.log(`differential: ${lines.length} requests (seed ${seed}) × 5 hosts (native, component, napi, wasm-node, chromium), JS hosts through evaluate and evaluateJson`);
  console.log(`outcomes: ${Object.entries(outcomes).map(([k, v]) => `${k} ${v}`).join(', ')}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (found.length > 0) {
    const cases = [];
    for (const { i, hosts } of found.slice(0, 3)) {
      console.log(`DISAGREE line ${i + 1} (${hosts.join(', ')}): ${lines[i]}`);
      for (const h of ['native', ...hosts]) console.log(`    ${h}: ${answers[h][i]}`);
      const small = await minimise(JSON.parse(lines[i]));
      const d = JSON.parse(cli('native', [JSON.stringify(small)])[0]);
      const expect = d.outcome === 'error'
        ? { outcome: 'error', error_path: d.error.path }
        : { outcome: d.outcome, reason: d.reason, rule: d.rule, npm_status: d.npm.status, effects_exact: d.effects };
      cases.push({ name: `differential seed ${seed} line ${i + 1} (${hosts.join(', ')}), minimised`, request: small, expect });
    }
    writeFileSync(new URL('disagreements.json', out), `${JSON.stringify(cases, null, 1)}\n`);
    console.log(`differential: ${found.length} disagreements; minimised cases in target/differential/disagreements.json`);
    process.exitCode = 1;
  } else {
    console.log('differential: 0 disagreements');
  }
} finally {
  await browser.close();
  server.close();
}
