#!/usr/bin/env node
// node tests/js/browser-bench.mjs — the wasm-bindgen build deciding inside real headless
// Chromium: the benchmark request (tests/fixtures/bench-publish.json) through `evaluate`
// (object in, object out) and `evaluateJson` (text in, text out), median ns per call over
// rounds of calls timed in the page. Writes target/bench/chromium.json for
// scripts/bench-report.py. BENCH_QUICK=1 runs a smoke pass (figures not meaningful).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const request = JSON.parse(readFileSync(new URL('../fixtures/bench-publish.json', import.meta.url), 'utf8'));
const server = await serve(0);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/bindings/web/test/harness.html`);
  await page.waitForFunction(() => window.harnessReady === true);
  const result = await page.evaluate(({ request, rounds, iters }) => {
    const policy = new window.stepup.Policy();
    const text = JSON.stringify(request);
    const check = policy.evaluate(request);
    const measure = (f) => {
      for (let i = 0; i < iters; i += 1) f();
      const per = [];
      for (let r = 0; r < rounds; r += 1) {
        const t = performance.now();
        for (let i = 0; i < iters; i += 1) f();
        per.push(((performance.now() - t) * 1e6) / iters);
      }
      per.sort((a, b) => a - b);
      return per[Math.floor(per.length / 2)];
    };
    return {
      reason: check.reason,
      userAgent: navigator.userAgent,
      median_ns: {
        'chromium evaluate (object)': measure(() => policy.evaluate(request)),
        'chromium evaluate through JSON text (stringify, evaluateJson, parse)': measure(() => JSON.parse(policy.evaluateJson(JSON.stringify(request)))),
        'chromium evaluateJson (text)': measure(() => policy.evaluateJson(text)),
      },
    };
  }, { request, rounds: QUICK ? 3 : 15, iters: QUICK ? 200 : 20000 });
  assert.equal(result.reason, 'otp-required');
  for (const [k, v] of Object.entries(result.median_ns)) console.log(`${k}: ${(v / 1000).toFixed(2)} µs`);
  if (!QUICK) {
    const dir = new URL('../../target/bench/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    writeFileSync(new URL('chromium.json', dir), `${JSON.stringify(result, null, 1)}\n`);
  }
} finally {
  await browser.close();
  server.close();
}
