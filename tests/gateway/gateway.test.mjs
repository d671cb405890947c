// `stepup serve --upstream` in front of a real Verdaccio 6.8.0 (no plugin), driven by the real npm
// CLI (a pty where npm prompts). Verdaccio keeps passwords and packages; every decision comes from
// the policy component inside the stepup server; state lives in the server's SQLite file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ctx, work, procs, HERE, DRIVE, STEPUP, KEY, launch, waitFor, startVerdaccio, startGateway, stop, idToken,
  freshCode, lastSteps, npmrc, pkg, base, npm, npmBackground, npmTty, mailedCode, couchLogin,
} from './harness.mjs';

const state = {};

before(async () => {
  const upstream = await startVerdaccio();
  state.upstream = upstream;
  await startGateway(upstream);
});

after(async () => {
  await stop('stepup');
  await stop('verdaccio');
  if (process.env.STEPUP_E2E_LOG) writeFileSync(process.env.STEPUP_E2E_LOG, `${procs.stepup?.log}\n--- verdaccio ---\n${procs.verdaccio?.log}`);
});

test('first login without 2FA: an emailed code is required, a wrong password never says OTP', async () => {
  // A login never signs anyone up upstream (G12): an unknown name is a wrong password.
  const ghost = await couchLogin('ghost', 'ghost-pass-1');
  assert.equal(ghost.status, 401);
  assert.notEqual(ghost.headers.get('www-authenticate'), 'OTP');
  const ghostUp = await fetch(`${state.upstream}/-/whoami`, { headers: { authorization: `Basic ${Buffer.from('ghost:ghost-pass-1').toString('base64')}` } });
  assert.notEqual((await ghostUp.json().catch(() => ({}))).username, 'ghost', 'the login must not have created the upstream account');
  // `npm adduser` creates alice upstream and records her address; the gateway then asks for the emailed code.
  const first = await couchLogin('alice', 'alice-pass-1', undefined, { email: 'alice@example.test' });
  assert.equal(first.status, 401, await first.clone().text());
  assert.equal(first.headers.get('www-authenticate'), 'OTP');
  assert.match((await first.json()).error, /Check your email/);
  const bad = await couchLogin('alice', 'alice-pass-2');
  assert.equal(bad.status, 401);
  assert.notEqual(bad.headers.get('www-authenticate'), 'OTP', 'a wrong password must not be answered with an OTP challenge');
  const ok = await couchLogin('alice', 'alice-pass-1', mailedCode('alice'));
  const body = await ok.json();
  assert.equal(ok.status, 201, JSON.stringify(body));
  assert.match(body.token, /^npm_[A-Za-z0-9]{36}$/);
  state.alice = npmrc('alice', body.token);
  state.aliceToken = body.token;
  const who = npm(state.alice, ['whoami']);
  assert.equal(who.code, 0, who.out);
  assert.match(who.out, /^alice$/m);
});

test('enable 2FA with `npm profile enable-2fa` (pty: password, QR, first code)', () => {
  const r = npmTty(state.alice, ['profile', 'enable-2fa', 'auth-and-writes'], ['npm password:=>alice-pass-1', 'OTP code from your authenticator:=>{totp}'], 'enter code:\\s*([A-Z2-7]{32})');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /2FA successfully enabled/);
  state.secret = /enter code:\s*([A-Z2-7]{32})/.exec(r.out)[1];
  state.recovery = [...r.out.matchAll(/\t(\d{25})\b/g)].map((m) => m[1]);
  assert.equal(state.recovery.length, 10, r.out);
  lastSteps.set(state.secret, Math.floor(Date.now() / 30000));
  // Sealed at rest: neither the secret nor a recovery code is in the database file.
  const db = readFileSync(join(work, 'stepup.sqlite3')).toString('latin1') + readFileSync(join(work, 'stepup.sqlite3-wal'), { flag: 'a+' }).toString('latin1');
  assert.ok(!db.includes(state.secret), 'TOTP secret stored in clear');
  assert.ok(!state.recovery.some((c) => db.includes(c)), 'recovery code stored in clear');
});

test('`npm login` (legacy, pty) with a TOTP code', async () => {
  const code = await freshCode(state.secret);
  const rc = npmrc('alice-login', null);
  const r = npmTty(rc, ['login', '--auth-type=legacy'], ['Username:=>alice', 'Password:=>alice-pass-1', 'Enter OTP:=>' + code]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Logged in/);
  assert.match(readFileSync(rc, 'utf8'), /_authToken=npm_/);
  state.aliceLogin = rc;
});

test('web login: the CLI polls doneUrl while the browser form takes password and code', async () => {
  const rc = npmrc('alice-web', null);
  const login = npmBackground(rc, ['login']);
  const url = await login.url(/(http:\/\/\S+\/-\/stepup\/login\/[0-9a-f]+)/);
  const page = await (await fetch(url)).text();
  assert.match(page, /<form method="post">/);
  const form = (fields) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
  const asked = await (await form({ name: 'alice', password: 'alice-pass-1', otp: '' })).text();
  assert.match(asked, /name="otp"/, 'the form asks for the second factor');
  const done = await (await form({ name: 'alice', password: 'alice-pass-1', otp: await freshCode(state.secret) })).text();
  assert.match(done, /Logged in as <b>alice<\/b>/, done);
  assert.equal(await login.exited, 0, login.out);
  assert.match(readFileSync(rc, 'utf8'), /_authToken=npm_/);
});

test('publish without a code is refused with EOTP; with a code it reaches Verdaccio', async () => {
  const r = npm(state.alice, ['publish'], pkg('demo-gw', '1.0.0'));
  assert.notEqual(r.code, 0);
  assert.match(r.out, /EOTP/, r.out);
  state.code = await freshCode(state.secret);
  const ok = npm(state.alice, ['publish', `--otp=${state.code}`], pkg('demo-gw', '1.0.0'));
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /\+ demo-gw@1\.0\.0/);
  // Verdaccio has it, published by alice's own upstream account.
  const doc = await (await fetch(`${state.upstream}/demo-gw`)).json();
  assert.equal(doc['dist-tags'].latest, '1.0.0');
});

test('the same code again is refused (replay)', () => {
  const replay = npm(state.alice, ['publish', `--otp=${state.code}`], pkg('demo-gw', '1.0.1'));
  assert.notEqual(replay.code, 0);
  assert.match(replay.out, /EOTP/, replay.out);
});

test('a recovery code works once', () => {
  const ok = npm(state.alice, ['publish', `--otp=${state.recovery[0]}`], pkg('demo-gw', '1.0.2'));
  assert.equal(ok.code, 0, ok.out);
  const again = npm(state.alice, ['publish', `--otp=${state.recovery[0]}`], pkg('demo-gw', '1.0.3'));
  assert.notEqual(again.code, 0);
  assert.match(again.out, /EOTP/, again.out);
});

test('`npm token create --cidr`: the token is refused from outside its range, then revoked', async () => {
  const created = npm(state.alice, ['token', 'create', '--password=alice-pass-1', '--cidr=10.0.0.0/8', `--otp=${await freshCode(state.secret)}`]);
  assert.equal(created.code, 0, created.out);
  const token = /Created token (\S+)/.exec(created.out)?.[1] ?? /token\s+(npm_\S+)/i.exec(created.out)?.[1];
  assert.ok(token, created.out);
  assert.match(created.out, /10\.0\.0\.0\/8/);
  const rc = npmrc('alice-cidr', token);
  // 127.0.0.1 is outside 10.0.0.0/8: reads and writes are refused with npm's EAUTHIP.
  const view = npm(rc, ['view', 'demo-gw', 'version']);
  assert.notEqual(view.code, 0);
  assert.match(view.out, /EAUTHIP|not allowed from your IP/, view.out);
  const list = npm(state.alice, ['token', 'list', '--json']);
  assert.equal(list.code, 0, list.out);
  const tokens = JSON.parse(list.out.slice(list.out.indexOf('['), list.out.lastIndexOf(']') + 1));
  const mine = tokens.find((t) => token.startsWith(t.token) && t.cidr_whitelist?.includes('10.0.0.0/8'));
  assert.ok(mine, list.out);
  const revoke = npm(state.alice, ['token', 'revoke', mine.key.slice(0, 12), `--otp=${await freshCode(state.secret)}`]);
  assert.equal(revoke.code, 0, revoke.out);
  assert.match(revoke.out, /Removed 1 token/);
  const after = npm(rc, ['whoami']);
  assert.notEqual(after.code, 0);
  assert.match(after.out, /E401/, after.out);
});

test('2FA mode change answers npm 10 and npm 11 the way each expects', async () => {
  const npm10 = ['python3', DRIVE, 'npm password:=>alice-pass-1', '--', process.execPath, join(HERE, 'node_modules/npm10/bin/npm-cli.js'),
    ...base(state.alice), 'profile', 'enable-2fa', 'auth-only', `--otp=${await freshCode(state.secret)}`];
  const r10 = spawnSync(npm10[0], npm10.slice(1), { cwd: work, encoding: 'utf8' });
  assert.equal(r10.status, 0, r10.stdout + r10.stderr);
  assert.match(r10.stdout, /Two factor authentication mode changed to: auth-only/);
  const r11 = npmTty(state.alice, ['profile', 'enable-2fa', 'auth-and-writes', `--otp=${await freshCode(state.secret)}`], ['npm password:=>alice-pass-1']);
  assert.equal(r11.code, 0, r11.out);
  assert.match(r11.out, /Two factor authentication mode changed to: auth-and-writes/);
});

test('trusted publishing: npm in a GitHub Actions job exchanges its ID token and publishes', async () => {
  // Trusted publishing configures existing packages: publish once by hand.
  const first = npm(state.alice, ['publish', `--otp=${await freshCode(state.secret)}`], pkg('demo-oidc', '1.0.0'));
  assert.equal(first.code, 0, first.out);
  // Trust is package governance: a second factor is required to set it.
  const trust = [{ type: 'github', claims: { repository: 'acme/demo-oidc', workflow_ref: { file: 'release.yml' } }, permissions: ['createPackage'] }];
  const post = (otp, pkgName = 'demo-oidc') => fetch(`${ctx.registry}-/package/${pkgName}/trust`, {
    method: 'POST',
    headers: { authorization: `Bearer ${state.aliceToken}`, 'content-type': 'application/json', 'npm-command': 'trust', ...(otp ? { 'npm-otp': otp } : {}) },
    body: JSON.stringify(trust),
  });
  const challenged = await post();
  assert.equal(challenged.status, 401);
  assert.equal(challenged.headers.get('www-authenticate'), 'OTP');
  const missing = await post(await freshCode(state.secret), 'demo-never-published');
  assert.equal(missing.status, 404, await missing.clone().text());
  const set = await post(await freshCode(state.secret));
  assert.equal(set.status, 201, await set.clone().text());
  const listed = await (await fetch(`${ctx.registry}-/package/demo-oidc/trust`, { headers: { authorization: `Bearer ${state.aliceToken}` } })).json();
  assert.deepEqual(listed.map((t) => [t.type, t.claims.repository]), [['github', 'acme/demo-oidc']]);

  // The CI job: npm asks the (fake) GitHub token service for an ID token with its audience.
  const issued = [];
  let reuse;
  const tokens = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    assert.equal(req.headers.authorization, 'Bearer runner-request-token');
    const now = Math.floor(Date.now() / 1000);
    const jwt = reuse ?? idToken({
      iss: 'https://token.actions.githubusercontent.com', aud: url.searchParams.get('audience'), jti: randomUUID(),
      sub: 'repo:acme/demo-oidc:ref:refs/tags/v2.0.0', iat: now, nbf: now, exp: now + 300,
      repository: 'acme/demo-oidc', workflow_ref: 'acme/demo-oidc/.github/workflows/release.yml@refs/tags/v2.0.0',
      event_name: 'push', runner_environment: 'github-hosted',
    });
    issued.push(jwt);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: jwt }));
  });
  await new Promise((r) => tokens.listen(0, '127.0.0.1', r));
  const env = {
    ...process.env, NO_COLOR: '1', GITHUB_ACTIONS: 'true', CI: 'true',
    ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${tokens.address().port}/token?api-version=2.0`,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token',
  };
  // Asynchronous: the token service above runs on this process's event loop.
  const ciNpm = (version) => new Promise((resolve) => {
    const child = spawn('npm', [...base(npmrc('ci', null)), '--loglevel=verbose', '--provenance=false', 'publish'], { cwd: pkg('demo-oidc', version), env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  try {
    // No npm token at all in the job: only the ID token.
    const r = await ciNpm('2.0.0');
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, out);
    assert.match(out, /oidc Successfully retrieved and set token/);
    assert.match(out, /\+ demo-oidc@2\.0\.0/);
    assert.equal(issued.length, 1);
    const [, payload] = issued[0].split('.');
    assert.equal(JSON.parse(Buffer.from(payload, 'base64url')).aud, 'npm:127.0.0.1');
    const doc = await (await fetch(`${state.upstream}/demo-oidc`)).json();
    assert.equal(doc['dist-tags'].latest, '2.0.0');

    // The same ID token again (a leaked log): the exchange refuses it, so npm has no credential.
    reuse = issued[0];
    const replay = await fetch(`${ctx.registry}-/npm/v1/oidc/token/exchange/package/demo-oidc`, { method: 'POST', headers: { authorization: `Bearer ${reuse}` } });
    assert.equal(replay.status, 401);
    assert.match((await replay.json()).message, /OIDC token exchange error/);
    const again = await ciNpm('2.0.1');
    assert.notEqual(again.status, 0);
    assert.match(`${again.stdout}\n${again.stderr}`, /Failed token exchange request|ENEEDAUTH/);

    // A workflow the trust does not name gets npm's 404.
    reuse = undefined;
    const now = Math.floor(Date.now() / 1000);
    const other = idToken({ iss: 'https://token.actions.githubusercontent.com', aud: 'npm:127.0.0.1', jti: randomUUID(), iat: now, exp: now + 300,
      repository: 'acme/demo-oidc', workflow_ref: 'acme/demo-oidc/.github/workflows/ci.yml@refs/heads/main', event_name: 'push', runner_environment: 'github-hosted' });
    const wrong = await fetch(`${ctx.registry}-/npm/v1/oidc/token/exchange/package/demo-oidc`, { method: 'POST', headers: { authorization: `Bearer ${other}` } });
    assert.equal(wrong.status, 404);
    assert.equal((await wrong.json()).message, 'OIDC token exchange error - package not found');
  } finally {
    tokens.close();
  }
});

test('security key: registered on the gateway page, then `npm login` completes with it in Chromium', async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    const origin = `http://localhost:${ctx.gport}`;
    // Adding a key is a 2FA change: alice (TOTP on) must give a code as well as her password.
    await page.goto(`${origin}/-/stepup/security-keys`);
    await page.fill('#name', 'alice');
    await page.fill('#password', 'alice-pass-1');
    await page.click('#use-key');
    await page.waitForFunction(() => !/^(|Waiting for your security key\.\.\.)$/.test(document.querySelector('#key-note').textContent));
    assert.match(await page.textContent('#key-note'), /one-time password|authenticator/i);
    await page.fill('#otp', await freshCode(state.secret));
    await page.click('#use-key');
    await page.waitForSelector('#done');
    assert.match(await page.textContent('#done'), /Security key registered for alice \(ES256\)/);
    assert.equal((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials.length, 1);

    // npm login (web): the CLI polls while the browser signs in with password + key, no code.
    const rc = npmrc('alice-key', null);
    const login = npmBackground(rc, ['login']);
    const url = await login.url(/(http:\/\/\S+\/-\/stepup\/login\/[0-9a-f]+)/);
    await page.goto(url.replace('127.0.0.1', 'localhost'));
    await page.fill('#name', 'alice');
    await page.fill('#password', 'alice-pass-1');
    await page.click('#use-key');
    await page.waitForSelector('#done');
    assert.match(await page.textContent('#done'), /Logged in as alice with a security key/);
    assert.equal(await login.exited, 0, login.out);
    assert.match(readFileSync(rc, 'utf8'), /_authToken=npm_/);
    assert.match(npm(rc, ['whoami']).out, /alice/);
    const [key] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    assert.ok(key.signCount >= 1);

    // Publishing with the key: the 401 carries authUrl/doneUrl (npm's web OTP flow), the
    // browser approves the operation with the key, npm retries with the one-time token.
    // Without a terminal (CI), npm prints the approval URL and fails: nothing waits forever.
    const ci = npm(rc, ['publish'], pkg('demo-key', '1.0.0'));
    assert.notEqual(ci.code, 0);
    assert.match(ci.out, /EOTP[\s\S]*Open this URL in your browser to authenticate:\s+npm error\s+http:\/\/\S+\/-\/stepup\/approve\//, ci.out);
    const pub = npmBackground(rc, ['--loglevel=http', 'publish'], pkg('demo-key', '1.0.0'), { tty: true });
    const authUrl = await pub.url(/(http:\/\/\S+\/-\/stepup\/approve\/[0-9a-f]+)/);
    assert.match(pub.out, /Authenticate your account at/);
    await page.goto(authUrl.replace('127.0.0.1', 'localhost'));
    assert.match(await page.textContent('body'), /package\.publish of demo-key/);
    await page.click('#use-key');
    await page.waitForSelector('#done');
    assert.match(await page.textContent('#done'), /Approved/);
    assert.equal(await pub.exited, 0, pub.out);
    assert.match(pub.out, /\+ demo-key@1\.0\.0/);
    const doc = await (await fetch(`${state.upstream}/demo-key`)).json();
    assert.equal(doc['dist-tags'].latest, '1.0.0');

    // An account whose only second factor is a key: the first key turns 2FA on and comes with
    // recovery codes; `npm token create` is then approved in the browser like a publish.
    const kimFirst = await couchLogin('kim', 'kim-pass-1', undefined, { email: 'kim@example.test' });
    assert.equal(kimFirst.status, 401);
    const kimLogin = await couchLogin('kim', 'kim-pass-1', mailedCode('kim'));
    const kimRc = npmrc('kim', (await kimLogin.json()).token);
    await page.goto(`${origin}/-/stepup/security-keys`);
    await page.fill('#name', 'kim');
    await page.fill('#password', 'kim-pass-1');
    await page.click('#use-key');
    // The form sends kim's password: without 2FA yet, that is a login, verified by the emailed code.
    await page.waitForFunction(() => !/^(|Waiting for your security key\.\.\.)$/.test(document.querySelector('#key-note').textContent));
    assert.match(await page.textContent('#key-note'), /email/i);
    await page.fill('#otp', mailedCode('kim'));
    await page.click('#use-key');
    await page.waitForSelector('#done');
    assert.equal(await page.locator('#recovery li').count(), 10);
    assert.match(npm(kimRc, ['profile', 'get']).out, /auth-and-writes/);
    const tok = npmBackground(kimRc, ['token', 'create'], work, { tty: true, rules: ['npm password:=>kim-pass-1'] });
    const tokUrl = await tok.url(/(http:\/\/\S+\/-\/stepup\/approve\/[0-9a-f]+)/);
    await page.goto(tokUrl.replace('127.0.0.1', 'localhost'));
    assert.match(await page.textContent('body'), /token\.create/);
    await page.click('#use-key');
    await page.waitForSelector('#done');
    assert.equal(await tok.exited, 0, tok.out);
    assert.match(tok.out, /npm_[A-Za-z0-9]{36}/);

    // A second login attempt replaying nothing but a stale page: the challenge was consumed.
    const stale = await fetch(`${url}/key`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'alice', password: 'alice-pass-1', assertion: {} }) });
    assert.equal(stale.status, 410);

    // Managing keys: listing and removing each need the password and a second factor.
    const manage = (path, body) => fetch(`${ctx.registry}-/stepup/security-keys/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bare = await manage('list', { name: 'alice', password: 'alice-pass-1' });
    assert.equal(bare.status, 401);
    assert.match((await bare.json()).error, /one-time password|authenticator/i);
    assert.equal((await manage('list', { name: 'alice', password: 'wrong', otp: '123456' })).status, 401);
    // kim's key is her only second factor: listed with the key itself, and not removable.
    await page.goto(`${origin}/-/stepup/security-keys`);
    await page.fill('#name', 'kim');
    await page.fill('#password', 'kim-pass-1');
    await page.click('#list-keys');
    await page.waitForSelector('#keys li button');
    assert.equal(await page.locator('#keys li').count(), 1);
    assert.match(await page.textContent('#keys li'), /ES256 key added \d{4}-\d\d-\d\d/);
    await page.click('#keys li button');
    await page.waitForFunction(() => /only second factor/.test(document.querySelector('#key-note').textContent));
    assert.equal(await page.locator('#keys li').count(), 1);
    // alice has TOTP too: listed with a code, her key removed with the key's own signature.
    await page.goto(`${origin}/-/stepup/security-keys`);
    await page.fill('#name', 'alice');
    await page.fill('#password', 'alice-pass-1');
    await page.fill('#otp', await freshCode(state.secret));
    await page.click('#list-keys');
    await page.waitForSelector('#keys li button');
    assert.equal(await page.locator('#keys li').count(), 1);
    await page.click('#keys li button');
    await page.waitForFunction(() => document.querySelector('#key-note').textContent === 'Security key removed.');
    assert.match(await page.textContent('#keys'), /No security keys/);
    const after = await manage('list', { name: 'alice', password: 'alice-pass-1', otp: await freshCode(state.secret) });
    assert.equal(after.status, 200);
    assert.deepEqual(await after.json(), { keys: [], totp: true });
    assert.match(npm(state.alice, ['profile', 'get']).out, /auth-and-writes/);
    // A removal that cannot happen is refused before the code is looked at: the same code
    // still lists the keys (a code spent once would be refused as a replay).
    const unspent = await freshCode(state.secret);
    const twice = await manage('remove', { name: 'alice', password: 'alice-pass-1', otp: unspent, id: 'no-such-key' });
    assert.equal(twice.status, 404);
    assert.equal((await manage('list', { name: 'alice', password: 'alice-pass-1', otp: unspent })).status, 200);
    // The removed key no longer signs anything in: its assertion challenge finds no key.
    const gone = await manage('sign-in', { name: 'alice', password: 'alice-pass-1' });
    assert.equal(gone.status, 400);
  } finally {
    await browser.close();
  }
});

test('state survives a gateway restart (SQLite), and the key is required', async () => {
  await stop('stepup');
  const env = { ...process.env };
  delete env.STEPUP_SECRET_KEY;
  const nokey = spawnSync(STEPUP, ['serve', '--listen', '127.0.0.1:0', '--db', join(work, 'stepup.sqlite3')], { encoding: 'utf8', env });
  assert.equal(nokey.status, 2, nokey.stderr);
  assert.match(nokey.stderr, /STEPUP_SECRET_KEY/);
  await startGateway(state.upstream);
  // --auth-type=legacy: a code prompt, whatever factors alice has.
  const r = npm(state.alice, ['publish', '--auth-type=legacy'], pkg('demo-gw', '1.0.4'));
  assert.match(r.out, /EOTP/, r.out);
  assert.match(npm(state.alice, ['profile', 'get']).out, /auth-and-writes/);
});

// ---------- the gate, attacked (issue 18: every finding is a regression test) ----------

/** One HTTP request with its path sent byte for byte (fetch's URL parser would normalise it). */
function raw(method, path, { headers = {}, body } = {}) {
  const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: ctx.gport, method, path, headers: { ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

const bearer = () => ({ authorization: `Bearer ${state.aliceToken}` });

/** A publish document as libnpmpublish sends it (the tarball is opaque to the gate). */
function publishDoc(name, version, tag = 'latest') {
  const bytes = Buffer.from(`stepup gate test ${name}@${version}`);
  const data = bytes.toString('base64');
  const file = `${name}-${version}.tgz`;
  // The registry checks the attachment against the version's shasum.
  const shasum = createHash('sha1').update(bytes).digest('hex');
  return {
    _id: name, name, 'dist-tags': { [tag]: version },
    versions: { [version]: { name, version, _id: `${name}@${version}`, dist: { tarball: `${ctx.registry}${name}/-/${file}`, shasum } } },
    _attachments: { [file]: { content_type: 'application/octet-stream', data, length: data.length } },
  };
}

async function upstreamHas(name) {
  const r = await fetch(`${state.upstream}/${name.replace('/', '%2f')}`);
  return r.status === 200;
}

test('G1: PUT /%40scope/name is a publish of @scope/name: challenged, nothing reaches upstream', async () => {
  const r = await raw('PUT', '/%40acme/g1', { headers: bearer(), body: publishDoc('@acme/g1', '1.0.0') });
  assert.equal(r.status, 401, r.text);
  assert.equal(r.headers['www-authenticate'], 'OTP');
  assert.equal(await upstreamHas('@acme/g1'), false);
});

test('G2: a lone @name segment is not a package: a write to it is refused 400', async () => {
  const r = await raw('PUT', '/@g2', { headers: bearer(), body: publishDoc('@g2', '1.0.0') });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /scope, not a package/);
});

test('P1 on the gateway: unrecognised writes are refused 405; tag routes and override headers are not a way around', async () => {
  const post = await raw('POST', '/demo-gw', { headers: bearer(), body: {} });
  assert.equal(post.status, 405, post.text);
  assert.match(post.json.error, /not a write this registry recognises/);
  const legacyTag = await raw('PUT', '/demo-gw/latest', { headers: bearer(), body: '"1.0.0"' });
  assert.equal(legacyTag.status, 401, legacyTag.text);
  assert.equal(legacyTag.headers['www-authenticate'], 'OTP');
  const mergeTags = await raw('POST', '/-/package/demo-gw/dist-tags', { headers: bearer(), body: { latest: '1.0.0' } });
  assert.equal(mergeTags.status, 401, mergeTags.text);
  const override = await raw('POST', '/-/npm/v1/tokens', { headers: { ...bearer(), 'x-http-method-override': 'GET' }, body: {} });
  assert.equal(override.status, 400, override.text);
  const dots = await raw('PUT', '/demo-gw/%2e%2e/other', { headers: bearer(), body: {} });
  assert.equal(dots.status, 400, dots.text);
  const twice = await raw('PUT', '/%2540acme%252fg1', { headers: bearer(), body: {} });
  assert.equal(twice.status, 400, twice.text);
  assert.match(twice.json.error, /encoded twice/);
  const doc = await (await fetch(`${state.upstream}/demo-gw`)).json();
  assert.equal(doc['dist-tags'].latest, '1.0.2', 'no tag moved');
});

test('G3: one code, one operation: not the same request in another encoding, not another kind', async () => {
  const code = await freshCode(state.secret);
  const first = await raw('PUT', '/@acme%2Fg3', { headers: { ...bearer(), 'npm-otp': code }, body: publishDoc('@acme/g3', '1.0.0') });
  assert.ok(first.status < 300, first.text);
  const again = await raw('PUT', '/%40acme/g3', { headers: { ...bearer(), 'npm-otp': code }, body: publishDoc('@acme/g3', '1.0.1') });
  assert.equal(again.status, 401, again.text);
  const doc = await (await fetch(`${state.upstream}/@acme%2fg3`)).json();
  assert.deepEqual(Object.keys(doc.versions), ['1.0.0']);
  // A code spent creating a token cannot then disable 2FA, whatever npm-command says.
  const tokenCode = await freshCode(state.secret);
  const created = await raw('POST', '/-/npm/v1/tokens', { headers: { ...bearer(), 'npm-otp': tokenCode, 'npm-command': 'profile' }, body: { password: 'alice-pass-1', readonly: false, cidr_whitelist: [] } });
  assert.equal(created.status, 200, created.text);
  const disable = await raw('POST', '/-/npm/v1/user', { headers: { ...bearer(), 'npm-otp': tokenCode, 'npm-command': 'profile' }, body: { tfa: { password: 'alice-pass-1', mode: 'disable' } } });
  assert.equal(disable.status, 401, disable.text);
  const profile = await raw('GET', '/-/npm/v1/user', { headers: bearer() });
  assert.equal(profile.json.tfa.mode, 'auth-and-writes');
});

test('G4: HTTP Basic is a login on every request: no read without the emailed code', async () => {
  const signup = await couchLogin('bob', 'bob-pass-1', undefined, { email: 'bob@example.test' });
  assert.equal(signup.status, 401, await signup.clone().text());
  const basic = { authorization: `Basic ${Buffer.from('bob:bob-pass-1').toString('base64')}` };
  const read = await raw('GET', '/demo-gw', { headers: basic });
  assert.equal(read.status, 401, read.text);
  assert.equal(read.headers['www-authenticate'], 'OTP');
  assert.equal(read.json.reason, 'login-verification-required');
  const ok = await raw('GET', '/demo-gw', { headers: { ...basic, 'npm-otp': mailedCode('bob') } });
  assert.equal(ok.status, 200, ok.text);
  const mail = readdirSync(join(work, 'mail')).map((f) => readFileSync(join(work, 'mail', f), 'utf8')).find((m) => m.includes('X-Stepup-Account: bob'));
  assert.match(mail, /^To: bob@example\.test\r$/m, 'the code goes to the address, not the user name');
});

test('G5: trusted publishing audience comes from configuration, never from the Host header', async () => {
  const now = Math.floor(Date.now() / 1000);
  const token = idToken({ iss: 'https://token.actions.githubusercontent.com', aud: 'npm:evil.example', jti: randomUUID(), iat: now, exp: now + 300,
    repository: 'acme/demo-oidc', workflow_ref: 'acme/demo-oidc/.github/workflows/release.yml@refs/tags/v9', event_name: 'push', runner_environment: 'github-hosted' });
  const r = await raw('POST', '/-/npm/v1/oidc/token/exchange/package/demo-oidc', { headers: { host: 'evil.example', authorization: `Bearer ${token}` } });
  assert.equal(r.status, 401, r.text);
});

test('G6, G11: X-Forwarded-For from an untrusted peer is ignored; whoami and profile honour the allow-list', async () => {
  const made = await raw('POST', '/-/npm/v1/tokens', { headers: { ...bearer(), 'npm-otp': await freshCode(state.secret) }, body: { password: 'alice-pass-1', readonly: false, cidr_whitelist: ['10.0.0.0/8'] } });
  assert.equal(made.status, 200, made.text);
  const cidr = { authorization: `Bearer ${made.json.token}`, 'x-forwarded-for': '10.1.2.3' };
  for (const path of ['/-/whoami', '/-/npm/v1/user', '/demo-gw']) {
    const r = await raw('GET', path, { headers: cidr });
    assert.equal(r.status, 401, `${path}: ${r.text}`);
    assert.equal(r.headers['www-authenticate'], 'ipaddress', path);
  }
});

/**
 * Declares a body of `declared` bytes, sends only its first kilobyte, and resolves with the
 * answer: a gate that answers has decided without reading (or waiting for) the rest.
 */
function declaredBody(method, path, declared, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: ctx.gport, method, path, headers: { 'content-type': 'application/json', 'content-length': declared, ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => { resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }); req.destroy(); });
    });
    req.on('error', (e) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    req.write(`{"name":"g7","pad":"${'x'.repeat(1000)}`);
    setTimeout(() => reject(new Error('no answer: the gate waited for the body')), 10_000).unref();
  });
}

test('G7: a publish-sized body is read only from a known caller; other bodies stop at 1 MiB', async () => {
  const anonymous = await declaredBody('PUT', '/g7-big', 60 << 20);
  assert.equal(anonymous.status, 401, anonymous.text);
  const tooBig = await declaredBody('POST', '/-/npm/v1/tokens', 2 << 20, bearer());
  assert.equal(tooBig.status, 413, tooBig.text);
});

test('G9: an email with CR/LF is refused before it is stored', async () => {
  const r = await raw('POST', '/-/npm/v1/user', { headers: { ...bearer(), 'npm-otp': await freshCode(state.secret) }, body: { email: 'alice@example.test\r\nBcc: mallory@example.test' } });
  assert.equal(r.status, 400, r.text);
  const profile = await raw('GET', '/-/npm/v1/user', { headers: bearer() });
  assert.equal(profile.json.email, 'alice@example.test');
});

test('G13: the store is readable by its owner only, and holds no code hash in the clear', () => {
  const mode = statSync(join(work, 'stepup.sqlite3')).mode;
  assert.equal(mode & 0o077, 0, `mode ${(mode & 0o777).toString(8)}`);
  // bob's pending emailed code (G4) is stored sealed: its record's members never appear.
  const files = ['stepup.sqlite3', 'stepup.sqlite3-wal'].map((f) => join(work, f)).filter((f) => { try { statSync(f); return true; } catch { return false; } });
  for (const f of files) assert.equal(readFileSync(f).includes('"attempts"'), false, `${f} holds an email-code record in the clear`);
});
