// A real Verdaccio 6.8.0 with verdaccio-stepup, driven by the real npm CLI (a pty where npm
// prompts). Every decision comes from the stepup napi addon inside the plugin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID, sign as rsaSign } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import stepup from 'stepup-node';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PLUGIN = join(HERE, '..');
const DRIVE = join(HERE, 'drive.py');
const work = mkdtempSync(join(tmpdir(), 'stepup-verdaccio-'));
const policy = new stepup.Policy();
let server;
let registry;
let port;

// A stand-in for GitHub's OIDC issuer: an RSA key whose public half the plugin trusts.
const ci = generateKeyPairSync('rsa', { modulusLength: 2048 });
const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
function idToken(claims) {
  const signing = `${b64u({ alg: 'RS256', typ: 'JWT', kid: 'ci-1' })}.${b64u(claims)}`;
  return `${signing}.${rsaSign('sha256', Buffer.from(signing), ci.privateKey).toString('base64url')}`;
}

function config() {
  writeFileSync(join(work, 'ci-jwks.json'), JSON.stringify({ keys: [{ ...ci.publicKey.export({ format: 'jwk' }), kid: 'ci-1', alg: 'RS256', use: 'sig' }] }));
  mkdirSync(join(work, 'plugins'), { recursive: true });
  symlinkSync(PLUGIN, join(work, 'plugins', 'verdaccio-stepup'));
  writeFileSync(join(work, 'config.yaml'), `
storage: ./storage
plugins: ./plugins
auth:
  htpasswd:
    file: ./htpasswd
    max_users: 100
middlewares:
  stepup:
    secret_key: test-key-0123456789abcdef
    issuer: Verdaccio Test
    oidc_jwks:
      github: ./ci-jwks.json
    # Every test client is 127.0.0.1: the per-IP code throttle would join unrelated tests'
    # failures (the per-account one, which a test exercises, keeps its default).
    policy:
      throttle:
        ip: [{ limit: 100, window_seconds: 300 }]
uplinks: {}
packages:
  '**':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
log: { type: stdout, format: json, level: info }
`);
}

async function start(configFile = join(work, 'config.yaml')) {
  port ??= 40000 + Math.floor(Math.random() * 10000);
  registry = `http://127.0.0.1:${port}/`;
  server = spawn(process.execPath, [join(HERE, 'node_modules/verdaccio/bin/verdaccio'), '--config', configFile, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.log = '';
  server.stdout.on('data', (d) => { server.log += d; });
  server.stderr.on('data', (d) => { server.log += d; });
  for (let i = 0; i < 100; i += 1) {
    try {
      if ((await fetch(`${registry}-/ping`)).ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`verdaccio did not start:\n${server.log}`);
}

async function stop() {
  if (!server) return;
  server.kill();
  await new Promise((r) => server.once('exit', r));
}

/**
 * fetch, retried once when the connection itself failed: undici may reuse a keep-alive socket
 * the server has just closed (idle during a long npm command), and it never retries a PUT.
 */
async function http(url, init) {
  try {
    return await fetch(url, init);
  } catch (e) {
    if (e instanceof TypeError && e.message === 'fetch failed') return fetch(url, init);
    throw e;
  }
}

/** Creates a user, returns an npm userconfig carrying its token. */
async function addUser(name, password) {
  const r = await http(`${registry}-/user/org.couchdb.user:${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password, type: 'user', roles: [], date: new Date().toISOString() }),
  });
  const text = await r.text();
  assert.equal(r.status, 201, text);
  const { token } = JSON.parse(text);
  return npmrc(name, token);
}

function npmrc(label, token) {
  const file = join(work, `${label}.npmrc`);
  writeFileSync(file, `registry=${registry}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
  return file;
}

function pkg(name, version) {
  const dir = join(work, `pkg-${name}-${version}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version, description: 'stepup e2e' }));
  writeFileSync(join(dir, 'index.js'), 'module.exports = 1;\n');
  return dir;
}

/** Runs npm without a TTY (as CI would). */
function npm(rc, args, cwd = work) {
  const r = spawnSync('npm', ['--userconfig', rc, '--cache', join(work, 'cache'), '--registry', registry, '--loglevel=http', '--update-notifier=false', ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** Runs npm under a pty, answering prompts. */
function npmTty(rc, args, rules, secretFrom) {
  const drive = ['python3', DRIVE, ...(secretFrom ? ['--secret-from', secretFrom] : []), ...rules, '--', 'npm', '--userconfig', rc, '--cache', join(work, 'cache'), '--registry', registry, ...args];
  const r = spawnSync(drive[0], drive.slice(1), { cwd: work, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

const lastSteps = new Map();
/** A TOTP code of a step not yet used for this secret (RFC 6238 allows each step once). */
async function freshCode(secret) {
  while (Math.floor(Date.now() / 1000 / 30) <= (lastSteps.get(secret) ?? -1)) await new Promise((r) => setTimeout(r, 500));
  const now = Math.floor(Date.now() / 1000);
  lastSteps.set(secret, Math.floor(now / 30));
  return policy.totpCode(secret, now);
}

/** Enables 2FA for a user over HTTP (what `npm profile enable-2fa` sends), returns the secret. */
async function enableOverHttp(rc, password) {
  const token = /_authToken=(.+)$/m.exec(readFileSync(rc, 'utf8'))[1];
  const post = (body) => http(`${registry}-/npm/v1/user`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  const enrol = await (await post({ tfa: { password, mode: 'auth-and-writes' } })).json();
  const secret = new URL(enrol.tfa).searchParams.get('secret');
  const code = await freshCode(secret);
  assert.equal((await post({ tfa: [code] })).status, 200);
  return secret;
}

before(async () => {
  config();
  await start();
});

after(async () => {
  await stop();
  if (process.env.STEPUP_E2E_LOG) writeFileSync(process.env.STEPUP_E2E_LOG, server?.log ?? '');
});

const state = {};

test('enable 2FA with `npm profile enable-2fa` (pty: password, QR, first code)', async () => {
  state.alice = await addUser('alice', 'alice-pass-1');
  const r = npmTty(state.alice, ['profile', 'enable-2fa', 'auth-and-writes'], ['npm password:=>alice-pass-1', 'OTP code from your authenticator:=>{totp}'], 'enter code:\\s*([A-Z2-7]{32})');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /2FA successfully enabled/);
  state.secret = /enter code:\s*([A-Z2-7]{32})/.exec(r.out)[1];
  state.recovery = [...r.out.matchAll(/\t(\d{25})\b/g)].map((m) => m[1]);
  assert.equal(state.recovery.length, 10, r.out);
  lastSteps.set(state.secret, Math.floor(Date.now() / 1000 / 30));
  const profile = npm(state.alice, ['profile', 'get', '--json']);
  assert.equal(JSON.parse(profile.out.slice(profile.out.indexOf('{'), profile.out.lastIndexOf('}') + 1)).tfa.mode, 'auth-and-writes');
  // The secret is encrypted at rest.
  const stored = readFileSync(join(work, 'storage/.stepup/state.json'), 'utf8');
  assert.ok(!stored.includes(state.secret), 'TOTP secret must not be stored in clear');
  assert.ok(!stored.includes(state.recovery[0]), 'recovery codes are stored hashed');
});

test('publish without a code is refused with EOTP', () => {
  const r = npm(state.alice, ['publish'], pkg('demo-2fa', '1.0.0'));
  assert.notEqual(r.code, 0);
  assert.match(r.out, /EOTP/, r.out);
});

test('publish with a valid code succeeds; the same code again is refused', async () => {
  state.code = await freshCode(state.secret);
  const ok = npm(state.alice, ['publish', `--otp=${state.code}`], pkg('demo-2fa', '1.0.0'));
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /\+ demo-2fa@1\.0\.0/);
  const replay = npm(state.alice, ['publish', `--otp=${state.code}`], pkg('demo-2fa', '1.0.1'));
  assert.notEqual(replay.code, 0);
  assert.match(replay.out, /EOTP/, replay.out);
});

test('a recovery code works once', () => {
  const code = state.recovery[0];
  const ok = npm(state.alice, ['publish', `--otp=${code}`], pkg('demo-2fa', '1.0.2'));
  assert.equal(ok.code, 0, ok.out);
  const again = npm(state.alice, ['publish', `--otp=${code}`], pkg('demo-2fa', '1.0.3'));
  assert.notEqual(again.code, 0);
  assert.match(again.out, /EOTP/, again.out);
});

test('`npm access set mfa=publish` makes the package refuse token publishes', () => {
  const set = npm(state.alice, ['access', 'set', 'mfa=publish', 'demo-2fa', `--otp=${state.recovery[1]}`]);
  assert.equal(set.code, 0, set.out);
  const created = npm(state.alice, ['token', 'create', '--password=alice-pass-1', `--otp=${state.recovery[2]}`]);
  assert.equal(created.code, 0, created.out);
  const token = /Created token (\S+)/.exec(created.out)?.[1] ?? /token\s+(\S{20,})/i.exec(created.out)?.[1];
  assert.ok(token, created.out);
  const rc = npmrc('alice-token', token);
  const r = npm(rc, ['publish'], pkg('demo-2fa', '1.0.4'));
  assert.notEqual(r.code, 0);
  assert.match(r.out, /E403/, r.out);
  assert.match(r.out, /disallows tokens/, r.out);
});

test('five wrong codes, then the account is throttled (429)', async () => {
  const rc = await addUser('bob', 'bob-pass-1');
  const secret = await enableOverHttp(rc, 'bob-pass-1');
  for (let i = 0; i < 5; i += 1) {
    const r = npm(rc, ['publish', '--otp=000000'], pkg('bob-pkg', '1.0.0'));
    assert.match(r.out, /EOTP/, `attempt ${i + 1}: ${r.out}`);
  }
  const r = npm(rc, ['publish', `--otp=${await freshCode(secret)}`], pkg('bob-pkg', '1.0.0'));
  assert.notEqual(r.code, 0);
  assert.match(r.out, /E429/, r.out);
  assert.match(r.out, /Too many failed one-time passwords/, r.out);
});

test('2FA mode change answers npm 10 and npm 11 the way each expects', async () => {
  const rc = await addUser('carol', 'carol-pass-1');
  const secret = await enableOverHttp(rc, 'carol-pass-1');
  // npm 10 asks for the password, sends the code with the POST, and wants {tfa: null} back.
  const npm10 = ['python3', DRIVE, 'npm password:=>carol-pass-1', '--', process.execPath, join(HERE, 'node_modules/npm10/bin/npm-cli.js'),
    '--userconfig', rc, '--cache', join(work, 'cache10'), '--registry', registry, 'profile', 'enable-2fa', 'auth-only', `--otp=${await freshCode(secret)}`];
  const r10 = spawnSync(npm10[0], npm10.slice(1), { cwd: work, encoding: 'utf8' });
  assert.equal(r10.status, 0, r10.stdout + r10.stderr);
  assert.match(r10.stdout, /Two factor authentication mode changed to: auth-only/);
  // npm 11 wants {tfa: {mode}} back.
  const r11 = npmTty(rc, ['profile', 'enable-2fa', 'auth-and-writes', `--otp=${await freshCode(secret)}`], ['npm password:=>carol-pass-1']);
  assert.equal(r11.code, 0, r11.out);
  assert.match(r11.out, /Two factor authentication mode changed to: auth-and-writes/);
  // Without a code the change is challenged.
  const r = npmTty(rc, ['profile', 'enable-2fa', 'auth-only'], ['npm password:=>carol-pass-1', 'Enter OTP:=>000000']);
  assert.notEqual(r.code, 0);
  assert.match(r.out, /EOTP|one-time pass/, r.out);
});

test('state survives a restart', async () => {
  await stop();
  await start();
  const r = npm(state.alice, ['publish'], pkg('demo-2fa', '1.0.5'));
  assert.match(r.out, /EOTP/, r.out);
  const profile = npm(state.alice, ['profile', 'get']);
  assert.match(profile.out, /auth-and-writes/, profile.out);
});

test('trusted publishing: npm in a GitHub Actions job exchanges its ID token and publishes', async () => {
  const first = npm(state.alice, ['publish', `--otp=${await freshCode(state.secret)}`], pkg('demo-oidc', '1.0.0'));
  assert.equal(first.code, 0, first.out);
  const token = /_authToken=(.+)$/m.exec(readFileSync(state.alice, 'utf8'))[1];
  const trust = [{ type: 'github', claims: { repository: 'acme/demo-oidc', workflow_ref: { file: 'release.yml' } } }];
  const post = (otp) => http(`${registry}-/package/demo-oidc/trust`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(otp ? { 'npm-otp': otp } : {}) },
    body: JSON.stringify(trust),
  });
  const challenged = await post();
  assert.equal(challenged.status, 401, 'trust is package governance: a second factor is needed');
  const set = await post(await freshCode(state.secret));
  assert.equal(set.status, 201, await set.clone().text());

  const issued = [];
  const tokens = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const t = Math.floor(Date.now() / 1000);
    const jwt = idToken({
      iss: 'https://token.actions.githubusercontent.com', aud: url.searchParams.get('audience'), jti: randomUUID(), iat: t, exp: t + 300,
      repository: 'acme/demo-oidc', workflow_ref: 'acme/demo-oidc/.github/workflows/release.yml@refs/tags/v2.0.0', event_name: 'push', runner_environment: 'github-hosted',
    });
    issued.push(jwt);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: jwt }));
  });
  await new Promise((r) => tokens.listen(0, '127.0.0.1', r));
  try {
    const env = { ...process.env, NO_COLOR: '1', GITHUB_ACTIONS: 'true', CI: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${tokens.address().port}/token`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner' };
    const rc = join(work, 'ci.npmrc');
    writeFileSync(rc, `registry=${registry}\n`);
    // Asynchronous: the token service runs on this process's event loop.
    const r = await new Promise((resolve) => {
      const child = spawn('npm', ['--userconfig', rc, '--cache', join(work, 'cache'), '--registry', registry, '--loglevel=verbose', '--provenance=false', 'publish'],
        { cwd: pkg('demo-oidc', '2.0.0'), env });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      child.on('close', (code) => resolve({ code, out }));
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /oidc Successfully retrieved and set token/);
    assert.match(r.out, /\+ demo-oidc@2\.0\.0/);
    // The exchanged token publishes that package only, and the ID token is single-use.
    const minted = JSON.parse(readFileSync(join(work, 'storage/.stepup/state.json'), 'utf8')).oidcTokens;
    assert.equal(Object.keys(minted).length, 1);
    const replay = await http(`${registry}-/npm/v1/oidc/token/exchange/package/demo-oidc`, { method: 'POST', headers: { authorization: `Bearer ${issued[0]}` } });
    assert.equal(replay.status, 401);
  } finally {
    tokens.close();
  }
});

test('disable 2FA with `npm profile disable-2fa` (pty: password, code)', async () => {
  const code = await freshCode(state.secret);
  const r = npmTty(state.alice, ['profile', 'disable-2fa', `--otp=${code}`], ['npm password:=>alice-pass-1']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Two factor authentication disabled/);
  assert.match(npm(state.alice, ['profile', 'get']).out, /two-factor auth:?\s+disabled/);
});

// ---------- the gate, attacked (issue 18's P rows, against this real Verdaccio) ----------

/** One HTTP request with its path sent byte for byte (fetch's URL parser would normalise it). */
function raw(method, path, { headers = {}, body } = {}) {
  const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}), ...headers } }, (res) => {
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

function publishDoc(name, version, tag = 'latest') {
  const bytes = Buffer.from(`stepup gate test ${name}@${version}`);
  const data = bytes.toString('base64');
  const file = `${name}-${version}.tgz`;
  // The registry checks the attachment against the version's shasum.
  const shasum = createHash('sha1').update(bytes).digest('hex');
  return {
    _id: name, name, 'dist-tags': { [tag]: version },
    versions: { [version]: { name, version, _id: `${name}@${version}`, dist: { tarball: `${registry}${name}/-/${file}`, shasum } } },
    _attachments: { [file]: { content_type: 'application/octet-stream', data, length: data.length } },
  };
}

const tokenOf = (rc) => /_authToken=(.+)$/m.exec(readFileSync(rc, 'utf8'))[1];

test('P1: writes the plugin does not recognise are refused, and every tag or publish route asks for the code', async () => {
  state.erin = await addUser('erin', 'erin-pass-1');
  state.erinSecret = await enableOverHttp(state.erin, 'erin-pass-1');
  const auth = { authorization: `Bearer ${tokenOf(state.erin)}` };
  const code = await freshCode(state.erinSecret);
  const first = await raw('PUT', '/erin-pkg', { headers: { ...auth, 'npm-otp': code }, body: publishDoc('erin-pkg', '1.0.0') });
  assert.ok(first.status < 300, first.text);
  for (const [method, path, body] of [
    ['PUT', '/erin-pkg/latest', '"1.0.0"'],
    ['POST', '/-/package/erin-pkg/dist-tags', { beta: '1.0.0' }],
    ['PUT', '/-/package/erin-pkg/dist-tags/next', '"1.0.0"'],
    ['PUT', '/erin-pkg/', publishDoc('erin-pkg', '1.0.1')],
    ['PUT', '/%40erin/pkg', publishDoc('@erin/pkg', '1.0.0')],
    ['POST', '/-/npm/v1/tokens/', { password: 'erin-pass-1', readonly: false, cidr_whitelist: [] }],
  ]) {
    const r = await raw(method, path, { headers: auth, body });
    assert.equal(r.status, 401, `${method} ${path}: ${r.text}`);
    assert.equal(r.headers['www-authenticate'], 'OTP', `${method} ${path}`);
  }
  const scope = await raw('PUT', '/@x', { headers: auth, body: publishDoc('@x', '1.0.0') });
  assert.equal(scope.status, 400, scope.text);
  const unknown = await raw('POST', '/erin-pkg', { headers: auth, body: {} });
  assert.equal(unknown.status, 405, unknown.text);
  const doc = await (await http(`${registry}erin-pkg`)).json();
  assert.deepEqual(doc['dist-tags'], { latest: '1.0.0' });
  assert.deepEqual(Object.keys(doc.versions), ['1.0.0']);
});

test('P2: a couch login with an encoded colon still asks for the code', async () => {
  const r = await raw('PUT', '/-/user/org.couchdb.user%3Aerin', { body: { _id: 'org.couchdb.user:erin', name: 'erin', password: 'erin-pass-1', type: 'user', roles: [] } });
  assert.equal(r.status, 401, r.text);
  assert.equal(r.headers['www-authenticate'], 'OTP');
});

test('P3: one code covers one request of one operation, in any encoding', async () => {
  const auth = { authorization: `Bearer ${tokenOf(state.erin)}` };
  const code = await freshCode(state.erinSecret);
  const ok = await raw('PUT', '/@erin%2Fp3', { headers: { ...auth, 'npm-otp': code }, body: publishDoc('@erin/p3', '1.0.0') });
  assert.ok(ok.status < 300, ok.text);
  for (const path of ['/%40erin/p3', '/@erin/p3', '/%40erin%2fp3']) {
    const again = await raw('PUT', path, { headers: { ...auth, 'npm-otp': code }, body: publishDoc('@erin/p3', `1.0.${path.length}`) });
    assert.equal(again.status, 401, `${path}: ${again.text}`);
  }
  const tag = await raw('PUT', '/-/package/@erin%2fp3/dist-tags/latest', { headers: { ...auth, 'npm-otp': code }, body: '"1.0.0"' });
  assert.equal(tag.status, 401, 'a publish code does not move tags');
});

test('P4: the sealing key comes from the environment; a literal placeholder refuses to start', () => {
  const make = (cfg, env = {}) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const { StepupMiddleware } = createRequire(import.meta.url)(join(PLUGIN, 'lib/middleware.js'));
      return new StepupMiddleware(cfg, { logger: console, config: { storage: mkdtempSync(join(tmpdir(), 'stepup-key-')), self_path: join(work, 'config.yaml') } });
    } finally {
      for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
    }
  };
  delete process.env.STEPUP_SECRET_KEY;
  assert.throws(() => make({ secret_key: '${STEPUP_SECRET_KEY}' }), /literal placeholder/);
  assert.throws(() => make({ secret_key: 'short' }), /at least 16 characters/);
  assert.throws(() => make({}), /STEPUP_SECRET_KEY/);
  assert.ok(make({}, { STEPUP_SECRET_KEY: 'ab'.repeat(32) }));
  assert.ok(make({ secret_key_env: 'MY_KEY' }, { MY_KEY: 'a long passphrase for scrypt' }));
});

test('P6: a read-only token is refused before any code is asked for or spent', async () => {
  const auth = { authorization: `Bearer ${tokenOf(state.erin)}` };
  const made = await raw('POST', '/-/npm/v1/tokens', { headers: { ...auth, 'npm-otp': await freshCode(state.erinSecret) }, body: { password: 'erin-pass-1', readonly: true, cidr_whitelist: [] } });
  assert.equal(made.status, 200, made.text);
  const code = await freshCode(state.erinSecret);
  const refused = await raw('PUT', '/erin-pkg', { headers: { authorization: `Bearer ${made.json.token}`, 'npm-otp': code }, body: publishDoc('erin-pkg', '2.0.0') });
  assert.equal(refused.status, 403, refused.text);
  // The code was not spent: it still publishes with the session.
  const ok = await raw('PUT', '/erin-pkg', { headers: { ...auth, 'npm-otp': code }, body: publishDoc('erin-pkg', '2.0.0') });
  assert.ok(ok.status < 300, ok.text);
});

test('P7: `npm logout` revokes the token', async () => {
  const rc = await addUser('frank', 'frank-pass-1');
  const token = tokenOf(rc);
  assert.equal(npm(rc, ['whoami']).code, 0);
  const out = npm(rc, ['logout']);
  assert.equal(out.code, 0, out.out);
  const stale = await raw('GET', '/-/whoami', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(stale.status, 401, stale.text);
});

test('P5: an npm 11 granular token keeps its options: one package, bypass, nothing else', async () => {
  const auth = { authorization: `Bearer ${tokenOf(state.erin)}` };
  const made = await raw('POST', '/-/npm/v1/tokens', {
    headers: { ...auth, 'npm-otp': await freshCode(state.erinSecret), 'npm-command': 'token' },
    body: { name: 'ci', password: 'erin-pass-1', packages: ['erin-pkg'], packages_and_scopes_permission: 'read-write', bypass_2fa: true, expires: 7 },
  });
  assert.equal(made.status, 200, made.text);
  const granular = { authorization: `Bearer ${made.json.token}` };
  // Its own package: published without a code (bypass).
  const own = await raw('PUT', '/erin-pkg', { headers: granular, body: publishDoc('erin-pkg', '3.0.0') });
  assert.ok(own.status < 300, own.text);
  // Any other package, existing or new: outside the token's packages.
  for (const other of ['carol-other', 'erin-new']) {
    const r = await raw('PUT', `/${other}`, { headers: granular, body: publishDoc(other, '1.0.0') });
    assert.equal(r.status, 403, `${other}: ${r.text}`);
    assert.equal(r.json.reason, 'token-scope', other);
  }
  assert.equal((await http(`${registry}erin-new`)).status, 404, 'no package was created');
});

/** Starts a real Verdaccio on `yaml` and waits for it to exit: its exit code and output. */
async function startRefused(yaml, env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'stepup-refused-'));
  mkdirSync(join(dir, 'plugins'), { recursive: true });
  symlinkSync(PLUGIN, join(dir, 'plugins', 'verdaccio-stepup'));
  writeFileSync(join(dir, 'config.yaml'), yaml);
  const child = spawn(process.execPath, [join(HERE, 'node_modules/verdaccio/bin/verdaccio'), '--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${50000 + Math.floor(Math.random() * 10000)}`],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'STEPUP_SECRET_KEY')), ...env } });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const timer = setTimeout(() => child.kill(), 20000);
  const code = await new Promise((r) => child.once('exit', (c, signal) => r(signal ? signal : c)));
  clearTimeout(timer);
  return { code, log };
}

test('P8: Verdaccio does not start on a policy the engine refuses, without a key, or with a missing JWKS file, and says which field', async () => {
  const base = (stepup) => `storage: ./storage
plugins: ./plugins
auth:
  htpasswd:
    file: ./htpasswd
middlewares:
  stepup:
${stepup}
uplinks: {}
packages:
  '**': { access: $all, publish: $authenticated }
log: { type: stdout, format: json, level: info }
`;
  const bad = await startRefused(base(`    secret_key: test-key-0123456789abcdef
    policy:
      throttle:
        ip: [{ limit: 0, window_seconds: 300 }]`));
  assert.equal(bad.code, 78, `expected to stop (78):\n${bad.log}`);
  assert.match(bad.log, /middlewares\.stepup\.policy\.throttle\.ip\[0\]\.limit/, bad.log);
  const keyless = await startRefused(base('    issuer: Verdaccio Test'));
  assert.equal(keyless.code, 78, `expected to stop (78):\n${keyless.log}`);
  assert.match(keyless.log, /STEPUP_SECRET_KEY/, keyless.log);
  const jwksless = await startRefused(base(`    secret_key: test-key-0123456789abcdef
    oidc_jwks: { github: ./missing-github-jwks.json }`));
  assert.equal(jwksless.code, 78, `expected to stop (78):\n${jwksless.log}`);
  assert.match(jwksless.log, /oidc_jwks\.github: cannot read the key set \/\S*\/missing-github-jwks\.json: no such file/, jwksless.log);
});

test('P9: package impact from Verdaccio\'s storage and the plugin\'s download counts puts a maintainer in the cohort; `npm owner ls|add|rm` decides who may publish', async () => {
  // A second registry whose policy lets accounts without 2FA publish until their impact puts
  // them in the (low-threshold) high-impact cohort.
  await stop();
  const dir = join(work, 'p9');
  mkdirSync(join(dir, 'plugins'), { recursive: true });
  symlinkSync(PLUGIN, join(dir, 'plugins', 'verdaccio-stepup'));
  writeFileSync(join(dir, 'config.yaml'), `storage: ./storage
plugins: ./plugins
auth:
  htpasswd:
    file: ./htpasswd
    max_users: 100
middlewares:
  stepup:
    secret_key: test-key-0123456789abcdef
    impact_period: 1
    impact_file: ./impact.csv
    policy:
      publish_floor: false
      default_publishing_access: none
      high_impact: { weekly_downloads_over: 1000000, dependents_at_least: 2 }
      cohorts: [{ name: high-impact, from: 1667260800, high_impact: true }]
      login_verification: { stages: [], brown_outs: [] }
uplinks: {}
packages:
  '**': { access: $all, publish: $authenticated, unpublish: $authenticated }
log: { type: stdout, format: json, level: info }
`);
  writeFileSync(join(dir, 'impact.csv'), 'name,weekly_downloads,dependents\n');
  port += 1;
  await start(join(dir, 'config.yaml'));
  const carol = await addUser('carol', 'carol-pass-1');
  const dave = await addUser('dave', 'dave-pass-1');
  const publish = (rc, name, version, dependencies = {}) => {
    const d = join(dir, `pkg-${name}-${version}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'package.json'), JSON.stringify({ name, version, description: 'p9', dependencies }));
    writeFileSync(join(d, 'index.js'), 'module.exports = 1;\n');
    return npm(rc, ['publish'], d);
  };
  const first = publish(carol, 'hi-core', '1.0.0');
  assert.equal(first.code, 0, first.out);
  for (const dep of ['dep-a', 'dep-b']) {
    const r = publish(dave, dep, '1.0.0', { 'hi-core': '^1.0.0' });
    assert.equal(r.code, 0, r.out);
  }
  // The index is rebuilt once Verdaccio has stored the publish.
  let refused;
  for (let i = 0; i < 20; i += 1) {
    refused = publish(carol, 'hi-core', `1.0.${i + 1}`);
    if (refused.code !== 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.notEqual(refused.code, 0, 'carol stayed outside the cohort');
  assert.match(refused.out, /Two-factor authentication is required for this account/, refused.out);
  // An install downloads tarballs: counted, and written when Verdaccio stops (SIGTERM).
  const project = join(dir, 'consumer');
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // A cache of its own: the publishes above left these tarballs in the shared one.
  const install = npm(dave, ['install', 'dep-a', '--cache', join(dir, 'install-cache')], project);
  assert.equal(install.code, 0, install.out);
  await stop();
  const statePath = join(dir, 'storage', '.stepup', 'state.json');
  const saved = JSON.parse(readFileSync(statePath, 'utf8'));
  const today = Math.floor(Date.now() / 1000 / 86400);
  assert.equal(saved.downloads?.['dep-a']?.[today], 1, `${JSON.stringify(saved.downloads)}\n${install.out}\n${server.log.slice(-3000)}`);
  assert.equal(saved.downloads?.['hi-core']?.[today], 1, JSON.stringify(saved.downloads));
  // The dependents index comes from Verdaccio's storage: dropped from the state, it is rebuilt.
  delete saved.dependencies;
  writeFileSync(statePath, JSON.stringify(saved));
  await start(join(dir, 'config.yaml'));
  let again;
  for (let i = 0; i < 20; i += 1) {
    again = publish(carol, 'hi-core', '2.0.0');
    if (again.code !== 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.notEqual(again.code, 0, 'the rebuilt index lost the dependents');
  assert.match(again.out, /Two-factor authentication is required for this account/, again.out);

  // Owners: Verdaccio refuses owner documents; the plugin keeps the list and enforces it.
  const gina = await addUser('gina', 'gina-pass-1');
  const henry = await addUser('henry', 'henry-pass-1');
  const ivan = await addUser('ivan', 'ivan-pass-1');
  assert.equal(npm(henry, ['whoami']).code, 0);
  const own = publish(gina, 'own-me', '1.0.0');
  assert.equal(own.code, 0, own.out);
  const ls = npm(gina, ['owner', 'ls', 'own-me']);
  assert.equal(ls.code, 0, ls.out);
  assert.match(ls.out, /^gina </m);
  const grab = npm(ivan, ['owner', 'add', 'ivan', 'own-me']);
  assert.notEqual(grab.code, 0);
  assert.match(grab.out, /not a maintainer of own-me/, grab.out);
  const add = npm(gina, ['owner', 'add', 'henry', 'own-me']);
  assert.equal(add.code, 0, add.out);
  assert.match(npm(ivan, ['owner', 'ls', 'own-me']).out, /^henry </m);
  const byHenry = publish(henry, 'own-me', '1.0.1');
  assert.equal(byHenry.code, 0, byHenry.out);
  const byIvan = publish(ivan, 'own-me', '1.0.2');
  assert.notEqual(byIvan.code, 0);
  assert.match(byIvan.out, /not a maintainer of own-me/, byIvan.out);
  const rm = npm(gina, ['owner', 'rm', 'henry', 'own-me']);
  assert.equal(rm.code, 0, rm.out);
  const afterRm = publish(henry, 'own-me', '1.0.2');
  assert.notEqual(afterRm.code, 0);
  assert.match(afterRm.out, /not a maintainer of own-me/, afterRm.out);
  const dep = npm(gina, ['deprecate', 'own-me@1.0.0', 'use 1.0.1']);
  assert.equal(dep.code, 0, dep.out);

  // The operator's figures: own-me over the download threshold in impact_file, re-read while
  // Verdaccio runs, puts gina in the cohort; a broken edit keeps the figures in force.
  writeFileSync(join(dir, 'impact.csv'), 'name,weekly_downloads,dependents\nown-me,5000000,0\n');
  let imported;
  for (let i = 0; i < 20; i += 1) {
    imported = publish(gina, 'own-me', `1.1.${i}`);
    if (imported.code !== 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.notEqual(imported.code, 0, 'the imported figures were not read');
  assert.match(imported.out, /Two-factor authentication is required for this account/, imported.out);
  writeFileSync(join(dir, 'impact.csv'), 'name,weekly_downloads\nown-me,5000000\n');
  await new Promise((r) => setTimeout(r, 2500));
  assert.match(server.log, /impact\.csv:1: the header names no `dependents` column/);
  const still = publish(gina, 'own-me', '1.2.0');
  assert.notEqual(still.code, 0, still.out);
});

test('P10: an address and an account with more failures in a day than the engine takes are still decided', async () => {
  // The plugin's bound is the request schema's.
  const { MAX_FAILURES } = createRequire(import.meta.url)(join(PLUGIN, 'lib', 'store.js'));
  const schema = JSON.parse(readFileSync(join(PLUGIN, '..', '..', 'core', 'schema', 'request.schema.json'), 'utf8'));
  assert.equal(schema.$defs.Failures.properties.ip.maxItems, MAX_FAILURES);
  assert.equal(schema.$defs.Failures.properties.account.maxItems, MAX_FAILURES);
  // On the suite's own configuration and storage (P9 runs another).
  await stop();
  await start();
  const kate = await addUser('kate', 'kate-pass-1');
  const secret = await enableOverHttp(kate, 'kate-pass-1');
  const leo = await addUser('leo', 'leo-pass-1');
  await enableOverHttp(leo, 'leo-pass-1');
  // Failures written into the plugin's state while Verdaccio is down: older than the per-IP
  // window these tests configure (300 s), younger than a day, more than a request may carry.
  await stop();
  const file = join(work, 'storage', '.stepup', 'state.json');
  const data = JSON.parse(readFileSync(file, 'utf8'));
  const t = Math.floor(Date.now() / 1000);
  const many = Array.from({ length: MAX_FAILURES + 4 }, (_, i) => t - 400 - i);
  data.ipFailures['127.0.0.1'] = [...many, ...(data.ipFailures['127.0.0.1'] ?? [])];
  data.users.leo.failures = many;
  // And addresses whose failures are all over a day old: nothing throttles on them any more.
  const quiet = Array.from({ length: 500 }, (_, i) => `2001:db8::${i.toString(16)}`);
  for (const ip of quiet) data.ipFailures[ip] = [t - 86400 - 5, t - 90000];
  writeFileSync(file, JSON.stringify(data));
  await start();
  // From the crowded address: a wrong code is a wrong code, a right one publishes.
  const wrong = npm(kate, ['publish', '--otp=000000'], pkg('kate-pkg', '1.0.0'));
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.out, /EOTP/, wrong.out);
  // The failure it recorded left the state file without the quiet addresses, and the crowded
  // one with no more than a request may carry.
  const after = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(quiet.filter((ip) => ip in after.ipFailures), [], 'addresses quiet for a day are forgotten');
  assert.ok(after.ipFailures['127.0.0.1'].length <= MAX_FAILURES);
  assert.ok(Math.max(...after.ipFailures['127.0.0.1']) >= t, 'the new failure is kept');
  const right = npm(kate, ['publish', `--otp=${await freshCode(secret)}`], pkg('kate-pkg', '1.0.0'));
  assert.equal(right.code, 0, right.out);
  // The account guessed at: throttled by its day window, a decision, not an error.
  const guessed = npm(leo, ['publish', '--otp=000000'], pkg('leo-pkg', '1.0.0'));
  assert.notEqual(guessed.code, 0);
  assert.match(guessed.out, /E429/, guessed.out);
});
