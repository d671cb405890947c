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

/** Decides `lines` with the CLI (native or component). */
function cli(engine, lines) {
  const file = new URL(`batch-${engine}.jsonl`, out).pathname;
  writeFileSync(file, `${lines.join('\n')}\n`);
  const text = execFileSync(bin, ['differential', 'decide', '--engine', engine, file], {
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

try {
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
