// The wasm-bindgen build in real headless Chromium: the whole corpus inside the page, and a UI
// walk through the demo with screenshots under test-output/web/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { collect } from './conformance.mjs';
import nodeApi from '../../bindings/web/node.js';

const OUT = new URL('../../test-output/web/', import.meta.url).pathname;
let server;
let browser;
let base;

before(async () => {
  mkdirSync(OUT, { recursive: true });
  server = await serve(0);
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('the whole conformance corpus decides identically inside Chromium', async () => {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${base}/bindings/web/test/harness.html`);
  await page.waitForFunction(() => window.harnessReady === true);
  let passed = 0;
  let failed = 0;
  for (const file of collect([new URL('../../tests/conformance', import.meta.url).pathname])) {
    const cases = JSON.parse(readFileSync(file, 'utf8'));
    const r = await page.evaluate((cs) => window.runCases(window.stepup, cs), cases);
    for (const f of r.failures) console.log(`FAIL ${file}: ${f.name}\n    ${f.diffs.join('\n    ')}`);
    passed += r.passed;
    failed += r.failed;
  }
  console.log(`chromium: ${passed} passed, ${failed} failed`);
  assert.equal(failed, 0);
  assert.ok(passed >= 300);
  assert.equal(await page.evaluate(() => window.stepup.backend), 'wasm-web');
  await page.close();
});

test('the default browser build answers as the full build, unverifiable where a signature decides, and refuses server-side entry points', async () => {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${base}/bindings/web/test/harness.html`);
  await page.waitForFunction(() => window.harnessReady === true);
  let same = 0;
  let unverifiable = 0;
  let leftOut = 0;
  for (const file of collect([new URL('../../tests/conformance', import.meta.url).pathname])) {
    const cases = JSON.parse(readFileSync(file, 'utf8'));
    const r = await page.evaluate((cs) => window.compareBuilds(window.stepup, window.stepupDefault, cs), cases);
    for (const d of r.differences) console.log(`DIFFERS ${file}: ${d.name}\n    full:    ${d.full}\n    default: ${d.partial}`);
    assert.deepEqual(r.differences, []);
    same += r.same;
    unverifiable += r.unverifiable;
    leftOut += r.leftOut;
  }
  console.log(`chromium default build: ${same} cases as the full build, ${unverifiable} unverifiable (a signature decides them), ${leftOut} server-side calls refused`);
  // The corpus has signed WebAuthn ceremonies, and they must have reached the signature.
  assert.ok(unverifiable >= 5, `only ${unverifiable} cases reached a signature`);
  assert.ok(leftOut >= 10, `only ${leftOut} server-side calls`);
  assert.ok(same >= 300);
  await page.close();
});

test('demo: enrol, check the first code, ask what actions need, validate a token', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(`${base}/bindings/web/demo/`);
  await page.waitForFunction(() => window.demoReady === true);
  await page.screenshot({ path: `${OUT}01-loaded.png`, fullPage: true });

  await page.click('#enroll');
  await page.waitForSelector('#qr svg');
  const secret = (await page.textContent('#secret')).trim();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.equal(await page.locator('#recovery li').count(), 10);
  // A wrong code first: the page explains it.
  await page.fill('#first-code', '12345');
  await page.click('#verify-first');
  assert.match(await page.textContent('#first-result'), /6 digits/);
  // Then the right one, computed by the engine in Node from the secret the page shows.
  const code = new nodeApi.Policy().totpCode(secret);
  await page.fill('#first-code', `${code.slice(0, 3)} ${code.slice(3)}`);
  await page.click('#verify-first');
  assert.match(await page.textContent('#first-result'), /Code accepted/);
  await page.screenshot({ path: `${OUT}02-enrolled.png`, fullPage: true });

  // The action panel answers live.
  await page.selectOption('#kind', 'package.publish');
  await page.selectOption('#mode', 'auth-and-writes');
  assert.equal(await page.textContent('#reason'), 'otp-required');
  assert.match(await page.textContent('#npm'), /^401 www-authenticate: OTP/);
  await page.selectOption('#cred', 'granular-bypass');
  assert.equal(await page.textContent('#reason'), 'allowed-bypass-token');
  await page.selectOption('#kind', 'token.create');
  assert.equal(await page.textContent('#reason'), 'bypass-token-forbidden');
  await page.selectOption('#preset', 'npmjs-2022');
  assert.equal(await page.textContent('#reason'), 'allowed-bypass-token');
  await page.selectOption('#preset', 'npmjs-2026');
  await page.selectOption('#cred', 'session');
  await page.selectOption('#kind', 'package.publish');
  await page.selectOption('#mode', 'none');
  assert.equal(await page.textContent('#reason'), 'tfa-required-to-publish');
  await page.selectOption('#mode', 'auth-and-writes');
  await page.selectOption('#proof', '60');
  assert.equal(await page.textContent('#reason'), 'allowed-with-proof');
  await page.fill('#failures', '5');
  await page.selectOption('#proof', '');
  assert.equal(await page.textContent('#reason'), 'throttled');
  await page.screenshot({ path: `${OUT}03-action-panel.png`, fullPage: true });

  // Explaining a code that is four minutes ahead.
  await page.fill('#x-secret', secret);
  await page.fill('#x-offset', '-240');
  await page.fill('#x-code', code);
  assert.match(await page.textContent('#x-result'), /about 4 minutes (ahead|behind)/);

  // The token form: a bad CIDR and a too-long expiry, then fixed.
  await page.fill('#t-cidrs', '10.20.0.0/16\n2001:db8::/129');
  await page.fill('#t-expires', '120');
  const problems = await page.locator('#t-problems li').allTextContents();
  assert.ok(problems.some((t) => t.startsWith('cidr_whitelist[1]')), problems.join('|'));
  assert.ok(problems.some((t) => t.startsWith('expires') && t.includes('90 days')), problems.join('|'));
  await page.fill('#t-cidrs', '10.20.0.0/16\n2001:db8::/32');
  await page.fill('#t-expires', '30');
  await page.check('#t-bypass');
  assert.match((await page.locator('#t-notes').textContent()), /can be created[\s\S]*never perform/);
  await page.screenshot({ path: `${OUT}04-token-form.png`, fullPage: true });

  // The rollout simulator over the example population: npm's 2022 timeline.
  await page.click('#r-run');
  await page.waitForSelector('#r-chart svg');
  assert.match(await page.textContent('#r-summary'), /14 accounts, .* 6 blocked from publishing; 5 packages without an able maintainer/);
  assert.equal(await page.locator('#r-chart polyline').count(), 7);
  assert.ok((await page.locator('#r-orphaned li').allTextContents()).some((t) => t.startsWith('left-pad from 2022-02-01: cohort')));
  // A population naming an org it does not list: the engine's error, with its path.
  await page.fill('#r-population', '{"accounts":[{"id":"a","orgs":["ghost"]}]}');
  await page.click('#r-run');
  assert.match(await page.textContent('#r-summary'), /population\.accounts\[0\]\.orgs\[0\]/);
  await page.screenshot({ path: `${OUT}05-rollout.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('demo: a security key registered and used through the DevTools virtual authenticator', async () => {
  // WebAuthn needs a domain as RP ID, so the page is opened as localhost, not 127.0.0.1.
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  await page.goto(`${base.replace('127.0.0.1', 'localhost')}/bindings/web/demo/`);
  await page.waitForFunction(() => window.demoReady === true);

  await page.click('#wa-register');
  await page.waitForFunction(() => document.querySelector('#wa-result').textContent !== '');
  assert.match(await page.textContent('#wa-result'), /^Security key registered \(ES256, attestation none\)/);
  const stored = JSON.parse(await page.textContent('#wa-credential'));
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1);
  // The engine read the same credential ID the authenticator holds.
  assert.equal(stored.id, credentials[0].credentialId.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));

  for (let round = 1; round <= 2; round += 1) {
    await page.evaluate(() => { document.querySelector('#wa-result').textContent = ''; });
    await page.click('#wa-use');
    await page.waitForFunction(() => document.querySelector('#wa-result').textContent !== '');
    assert.equal(await page.getAttribute('#wa-result', 'data-reason'), 'allowed-with-proof', await page.textContent('#wa-result'));
    const after = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0];
    // The counter the engine told the host to store is the authenticator's own.
    assert.equal(JSON.parse(await page.textContent('#wa-credential')).sign_count, after.signCount);
    assert.ok(after.signCount >= round);
  }
  await page.screenshot({ path: `${OUT}05-security-key.png`, fullPage: true });

  assert.deepEqual(errors, []);
  await page.close();
});

test('hostile documents inside Chromium: refused with a clear error, the page keeps deciding', async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/bindings/web/test/harness.html`);
  await page.waitForFunction(() => window.harnessReady === true);
  const r = await page.evaluate(() => {
    const p = new window.stepup.Policy();
    const ok = { now: 1780315200, action: { kind: 'package.read' }, account: { id: 'a' }, credential: { kind: 'session' } };
    const deep = JSON.parse(p.evaluateJson(`${'['.repeat(100000)}${']'.repeat(100000)}`));
    const huge = JSON.parse(p.evaluateJson(JSON.stringify({ ...ok, pad: 'x'.repeat(2 << 20) })));
    let abyss = {};
    for (let i = 0; i < 1000000; i += 1) abyss = { a: abyss };
    let thrown = null;
    try { p.evaluate({ ...ok, action: abyss }); } catch (e) { thrown = { name: e.name, path: e.path }; }
    return { deep: deep.outcome, huge: huge.error.message, thrown, after: p.evaluate(ok).outcome };
  });
  assert.equal(r.deep, 'error');
  assert.match(r.huge, /limit is 1048576/);
  assert.deepEqual(r.thrown, { name: 'StepupError', path: '.' });
  assert.equal(r.after, 'allow');
  await page.close();
});
