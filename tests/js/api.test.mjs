// One API suite for every backend (lightningcss-style): STEPUP_BACKEND=napi|wasm-node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadBackend } from './backends.mjs';

const backend = process.env.STEPUP_BACKEND ?? 'wasm-node';
const api = await loadBackend(backend);
const { Policy, StepupError } = api;
const SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const req = (over = {}) => ({
  now: 1780315200,
  action: { kind: 'package.publish', package: 'left-pad' },
  account: { id: 'alice', tfa: { mode: 'auth-and-writes', factors: ['totp'] } },
  credential: { kind: 'session' },
  ...over,
});

test(`${backend}: evaluate returns the SPEC decision as a plain object`, () => {
  const d = new Policy().evaluate(req());
  assert.equal(api.backend, backend);
  assert.deepEqual(d, {
    outcome: 'challenge', reason: 'otp-required', rule: 'account-mode.auth-and-writes',
    message: 'This operation requires a one-time password from your authenticator.',
    challenge: { factors: ['totp', 'recovery-code'] }, effects: [],
    npm: { status: 401, www_authenticate: 'OTP', error: 'You must provide a one-time pass. Upgrade your client to npm@latest in order to use 2FA.' },
  });
});

test(`${backend}: bad input throws StepupError with code and path`, () => {
  const p = new Policy();
  assert.throws(() => p.evaluate(req({ credential: { kind: 'granular-token', expires_at: 'soon' } })), (e) => {
    assert.ok(e instanceof StepupError && e instanceof Error);
    assert.equal(e.code, 'invalid-input');
    assert.equal(e.path, 'credential.expires_at');
    assert.match(e.message, /expected unix seconds/);
    return true;
  });
  assert.throws(() => new Policy({ totp: { digits: 12 } }), (e) => e.code === 'invalid-input' && e.path === 'totp.digits');
  assert.throws(() => new Policy('{not json'), (e) => e.code === 'invalid-input');
  // The string API answers with the error document instead of throwing.
  assert.equal(JSON.parse(p.evaluateJson('{"now":-1}')).error.path, 'now');
});

test(`${backend}: now defaults to the clock`, () => {
  const r = req();
  delete r.now;
  r.account.safeguard_until = Math.floor(Date.now() / 1000) + 60;
  assert.equal(new Policy().evaluate(r).reason, 'safeguard-read-only');
  r.account.safeguard_until = Math.floor(Date.now() / 1000) - 60;
  assert.equal(new Policy().evaluate(r).reason, 'otp-required');
});

test(`${backend}: authorize verifies and consumes a TOTP step`, () => {
  const p = new Policy();
  const d = p.authorize(req({ now: 59 }), { totp_secret: SEED, last_totp_step: 0 }, { factor: 'totp', code: '287082' });
  assert.equal(d.reason, 'allowed-with-proof');
  assert.deepEqual(d.effects, [{ kind: 'consume-totp-step', step: 1 }, { kind: 'clear-failures' }]);
  const again = p.authorize(req({ now: 59 }), { totp_secret: SEED, last_totp_step: 1 }, { code: '287082' });
  assert.equal(again.reason, 'otp-replayed');
  assert.throws(() => p.authorize(req(), { totp_secret: 'not base32!' }, { code: '123456' }), (e) => e.path === 'secrets.totp_secret');
});

test(`${backend}: enrolment, codes and their verification agree`, () => {
  const p = new Policy();
  const fixed = new Uint8Array(32).fill(7);
  const a = p.enrollTotp({ account: 'alice', issuer: 'Acme', entropy: fixed });
  const b = p.enrollTotp({ account: 'alice', issuer: 'Acme', entropy: fixed });
  assert.deepEqual(a, b, 'same entropy, same secret');
  assert.match(a.otpauth_uri, /^otpauth:\/\/totp\/Acme:alice\?secret=[A-Z2-7]{32}&issuer=Acme/);
  assert.match(a.qr_svg, /^<svg /);
  const fresh = p.enrollTotp({ account: 'alice' });
  assert.notEqual(fresh.secret, a.secret, 'default entropy comes from crypto.getRandomValues');
  const code = p.totpCode(a.secret, 1780315200);
  assert.deepEqual(p.verifyTotp({ secret: a.secret, code, now: 1780315200 }), { result: 'accepted', step: 1780315200 / 30, message: 'Code accepted.' });
  const drift = p.verifyTotp({ secret: a.secret, code: p.totpCode(a.secret, 1780315200 + 240), now: 1780315200 });
  assert.equal(drift.result, 'clock-drift');
  assert.equal(drift.drift_seconds, 240);
  assert.equal(p.verifyTotp({ secret: a.secret, code: '12', now: 1 }).result, 'malformed');
  const rc = p.issueRecoveryCodes();
  assert.equal(rc.codes.length, 10);
  assert.ok(rc.codes.every((c) => /^\d{25}$/.test(c)));
  const d = p.authorize(req(), { recovery_codes: rc.records }, { code: rc.codes[3] });
  assert.deepEqual(d.effects[0], { kind: 'burn-recovery-code', index: 3 });
  const em = p.issueEmailCode({ now: 1000 });
  assert.equal(em.record.expires_at, 1600);
  assert.equal(p.classifyCode(em.code), 'email-otp');
  assert.equal(p.classifyCode('287 082'), 'totp');
  assert.equal(p.classifyCode('x'), null);
});

test(`${backend}: token forms, org tools, config and schemas`, () => {
  const p = new Policy();
  const bad = p.checkTokenForm({ packages_all: true, packages_and_scopes_permission: 'read-write', expires: 120, cidr_whitelist: ['10.0.0.0/8', 'nope'] }, { now: 0 });
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.problems.map((x) => x.path), ['cidr_whitelist[1]', 'expires']);
  const ok = p.checkTokenForm({ scopes: ['@acme'], packages_and_scopes_permission: 'read-write', expires: 30, bypass_2fa: true }, { now: 0 });
  assert.equal(ok.ok, true);
  assert.equal(ok.credential.expires_at, 30 * 86400);
  assert.ok(ok.notes.some((n) => n.includes('never perform')));
  assert.equal(new Policy({ preset: 'npmjs-2022' }).checkTokenForm({ packages_all: true, packages_and_scopes_permission: 'read-write', expires: 120 }).ok, true);
  const plan = api.planOrgEnforcement({ org: 'acme', actor: 'o', members: [{ id: 'o', role: 'owner', tfa: { mode: 'auth-only', factors: ['totp'] } }, { id: 'n' }] });
  assert.deepEqual([plan.allowed, plan.remove], [true, ['n']]);
  assert.equal(p.auditOrg([{ id: 'a' }, { id: 'b', tfa: { mode: 'auth-only', factors: ['webauthn'] } }]).adoption_basis_points, 5000);
  assert.equal(p.config.preset, 'npmjs-2026');
  assert.equal(new Policy({ preset: 'npmjs-2022' }).config.publish_floor, false);
  assert.equal(api.schema('request').type, 'object');
  assert.deepEqual(api.compareExpectation({ outcome: 'allow' }, { outcome: 'deny' }), ['outcome: expected "allow", got "deny"']);
});

test(`${backend}: the rollout simulator replays npm's 2022 timeline over a population`, () => {
  const population = JSON.parse(readFileSync(new URL('../../examples/population.json', import.meta.url), 'utf8'));
  const sim = new Policy({ preset: 'npmjs-2022' }).simulateRollout({ population, from: '2022-01-25', to: '2022-02-05', formats: ['csv', 'svg'] });
  assert.equal(sim.days.length, 12);
  const day = (d) => sim.days.find((x) => x.date === d);
  // The top-100 cohort starts on February 1: six publishers without 2FA, five packages orphaned.
  assert.deepEqual([day('2022-01-31').blocked_cohort, day('2022-02-01').blocked_cohort], [0, 6]);
  assert.deepEqual(day('2022-02-01').cohorts, { 'top-100': 6 });
  assert.equal(day('2022-02-01').orphaned_packages, 5);
  assert.deepEqual(sim.orphaned.map((c) => c.name), ['@tools/lint', 'fast-json', 'is-even', 'left-pad', 'tiny-glob']);
  assert.equal(sim.csv.trim().split('\n').length, 13);
  assert.ok(sim.svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.throws(() => new Policy().simulateRollout({ population: { accounts: [{ id: 'a', orgs: ['x'] }] }, from: '2027-01-01', to: '2027-01-01' }),
    (e) => e instanceof StepupError && e.path === 'population.accounts[0].orgs[0]');
});

test(`${backend}: hostile input is an error, not a crash`, () => {
  const p = new Policy();
  const deep = '['.repeat(100000) + ']'.repeat(100000);
  assert.equal(JSON.parse(p.evaluateJson(deep)).outcome, 'error');
  const huge = JSON.stringify({ now: 1, pad: 'x'.repeat(2 << 20) });
  assert.match(p.evaluateJson(huge), /limit/);
  for (const junk of ['', 'null', '"x"', '{', '{"now":1e400}']) assert.equal(JSON.parse(p.evaluateJson(junk)).outcome, 'error');
  assert.throws(() => p.evaluate(null), (e) => e.code === 'invalid-input');
  // Still healthy afterwards.
  assert.equal(p.evaluate(req()).reason, 'otp-required');
});

test(`${backend}: WebAuthn and trusted publishing entry points`, async () => {
  const { generateKeyPairSync, sign } = await import('node:crypto');
  const p = new Policy({ webauthn: { rp_id: 'registry.example' }, trusted_publishing: { audience: 'npm:registry.example' } });
  const ch = p.webauthnChallenge({ ceremony: 'registration', now: 100, entropy: 'ab'.repeat(32), user: { id: 'alice', name: 'alice' } });
  assert.equal(ch.expires_at, 400);
  assert.equal(ch.options.rp.id, 'registry.example');
  assert.equal(ch.options.challenge, ch.challenge);
  assert.throws(() => p.webauthnChallenge({ ceremony: 'registration', now: 100, entropy: 'ab' }), (e) => e.path === 'entropy');
  const bad = p.webauthnRegister({ now: 500, challenge: ch, credential: { id: 'AAAA', type: 'public-key', response: { clientDataJSON: 'e30', attestationObject: 'oA' } } });
  assert.equal(bad.result, 'rejected');
  assert.equal(bad.problem, 'malformed');

  // An ID token signed here (node:crypto), verified by the engine.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = 1780315200;
  const signing = `${b64u({ alg: 'RS256', kid: 'k' })}.${b64u({ iss: 'https://token.actions.githubusercontent.com', aud: 'npm:registry.example', jti: 'j1', exp: now + 60,
    repository: 'acme/left-pad', workflow_ref: 'acme/left-pad/.github/workflows/release.yml@refs/heads/main', runner_environment: 'github-hosted' })}`;
  const token = `${signing}.${sign('sha256', Buffer.from(signing), privateKey).toString('base64url')}`;
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k' }] };
  const trust = [{ type: 'github', claims: { repository: 'acme/left-pad', workflow_ref: { file: 'release.yml' } } }];
  const ok = p.oidcExchange({ now, token, jwks, package: 'left-pad', trust });
  assert.equal(ok.result, 'accepted');
  assert.deepEqual(ok.credential, { kind: 'oidc', package: 'left-pad', permissions: ['createPackage'], expires_at: now + 900 });
  assert.deepEqual(ok.effects, [{ kind: 'consume-oidc-jti', jti: 'j1', until: now + 120 }]);
  assert.equal(p.evaluate({ now, action: { kind: 'package.publish', package: 'left-pad' }, account: { id: 'ci' }, credential: ok.credential }).reason, 'allowed-trusted-publisher');
  assert.equal(p.oidcExchange({ now, token, jwks, package: 'left-pad', trust, usedJtis: ['j1'] }).problem, 'replayed');
  assert.throws(() => p.oidcExchange({ now, token, jwks, package: 'left-pad', trust: [{ type: 'jenkins', claims: {} }] }), (e) => e.path === 'trust[0].type');
  assert.equal(JSON.parse(p.callJson('no-such', '{}')).error.path, 'function');
});

test(`${backend}: oversized, deeply nested and unwritable documents are refused with a clear error`, () => {
  const p = new Policy();
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  const deepDoc = JSON.parse(p.evaluateJson(deep));
  assert.equal(deepDoc.outcome, 'error');
  assert.ok(deepDoc.error.path && deepDoc.error.message, JSON.stringify(deepDoc));
  const huge = JSON.parse(p.evaluateJson(JSON.stringify({ ...req(), pad: 'x'.repeat(2 << 20) })));
  assert.equal(huge.outcome, 'error');
  assert.match(huge.error.message, /limit is 1048576/);
  // Through objects: nesting deeper than the engine's limit, then deeper than JSON.stringify can
  // go, then a cycle. Each is a StepupError, never a crash or a RangeError.
  let nested = {};
  for (let i = 0; i < 200; i += 1) nested = { inner: nested };
  assert.throws(() => p.evaluate({ ...req(), action: nested }), (e) => e instanceof StepupError && e.path.startsWith('action'));
  let abyss = {};
  for (let i = 0; i < 1_000_000; i += 1) abyss = { a: abyss };
  assert.throws(() => p.evaluate({ ...req(), action: abyss }), (e) => e instanceof StepupError && e.path === '.');
  const cyclic = req();
  cyclic.account.self = cyclic;
  assert.throws(() => p.evaluate(cyclic), (e) => e instanceof StepupError && /not a JSON document/.test(e.detail));
});

test(`${backend}: classify reads an npm request as the registry would, or refuses it`, () => {
  const p = new Policy();
  const publish = { versions: { '1.0.0': {} }, 'dist-tags': { latest: '1.0.0' }, _attachments: { 'w-1.0.0.tgz': { length: 9 } } };
  for (const path of ['/@acme%2fwidget', '/%40acme/widget', '/@acme%2Fwidget/']) {
    const c = p.classify({ method: 'PUT', path, headers: { 'npm-command': 'publish' }, body: publish });
    assert.equal(c.result, 'classified', path);
    assert.deepEqual(c.action, { kind: 'package.publish', package: '@acme/widget', tag: 'latest' });
    assert.equal(c.key, 'PUT /@acme%2fwidget');
  }
  const scope = p.classify({ method: 'PUT', path: '/@acme', body: publish });
  assert.deepEqual([scope.result, scope.status, scope.problem], ['refused', 400, 'scope-without-name']);
  const unknown = p.classify({ method: 'POST', path: '/left-pad', body: {} });
  assert.deepEqual([unknown.status, unknown.problem], [405, 'unknown-write']);
  assert.match(unknown.error, /not a write this registry recognises/);
  assert.throws(() => p.classify({ method: 'GET' }), (e) => e.code === 'invalid-input' && /path/.test(e.message));
});
