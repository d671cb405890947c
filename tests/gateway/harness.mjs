// The gateway e2e harness: a real Verdaccio 6.8.0 (no plugin), `stepup serve --upstream` in front
// of it, and the real npm CLI (a pty where npm prompts). Each test file gets its own work folder,
// Verdaccio and gateway.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac, generateKeyPairSync, randomUUID, sign as rsaSign } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = fileURLToPath(new URL('.', import.meta.url));
export const ROOT = join(HERE, '../..');
export const DRIVE = join(ROOT, 'hosts/verdaccio/test/drive.py');
export const STEPUP = process.env.STEPUP_BIN ?? join(ROOT, 'target/debug/stepup');
export const work = mkdtempSync(join(tmpdir(), 'stepup-gateway-'));
export const KEY = '5f0e4d3c2b1a09f8e7d6c5b4a3928170'.repeat(2);
export const procs = {};
/** The gateway under test: its URL (with a trailing slash) and port. */
export const ctx = { registry: null, gport: null };

export function port() {
  return 20000 + Math.floor(Math.random() * 20000);
}

export async function waitFor(url, proc) {
  for (let i = 0; i < 600; i += 1) {
    try {
      if ((await fetch(url)).ok) return;
    } catch { /* not up yet */ }
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up:\n${proc.log}`);
}

export function launch(name, cmd, args, env = {}) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  p.log = '';
  p.stdout.on('data', (d) => { p.log += d; });
  p.stderr.on('data', (d) => { p.log += d; });
  procs[name] = p;
  return p;
}

export async function startVerdaccio() {
  const vport = port();
  writeFileSync(join(work, 'config.yaml'), `
storage: ./storage
auth:
  htpasswd:
    file: ./htpasswd
    max_users: 100
uplinks: {}
packages:
  '**':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
log: { type: stdout, format: json, level: warn }
`);
  const p = launch('verdaccio', process.execPath, [join(HERE, 'node_modules/verdaccio/bin/verdaccio'), '--config', join(work, 'config.yaml'), '--listen', `127.0.0.1:${vport}`]);
  await waitFor(`http://127.0.0.1:${vport}/-/ping`, p);
  return `http://127.0.0.1:${vport}`;
}

// A stand-in for GitHub's OIDC issuer: an RSA key whose public half the gateway trusts.
export const ci = generateKeyPairSync('rsa', { modulusLength: 2048 });
export const JWKS_FILE = join(work, 'ci-jwks.json');
writeFileSync(JWKS_FILE, JSON.stringify({ keys: [{ ...ci.publicKey.export({ format: 'jwk' }), kid: 'ci-1', alg: 'RS256', use: 'sig' }] }));
export const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
export function idToken(claims) {
  const signing = `${b64u({ alg: 'RS256', typ: 'JWT', kid: 'ci-1' })}.${b64u(claims)}`;
  return `${signing}.${rsaSign('sha256', Buffer.from(signing), ci.privateKey).toString('base64url')}`;
}

/**
 * Starts `stepup serve` in front of `upstream`. `policy` is merged over the security-key
 * settings every file needs; `args` are more flags.
 */
export async function startGateway(upstream, { policy = {}, args = [] } = {}) {
  ctx.gport ??= port();
  // Security keys: the relying party is this gateway as the browser sees it (a domain, not an IP).
  const config = join(work, 'policy.json');
  writeFileSync(config, JSON.stringify({ webauthn: { rp_id: 'localhost', rp_name: 'gateway test', origins: [`http://localhost:${ctx.gport}`] }, ...policy }));
  const p = launch('stepup', STEPUP, ['serve', '--init-store', '--config', config, '--listen', `127.0.0.1:${ctx.gport}`, '--db', join(work, 'stepup.sqlite3'), '--upstream', upstream, '--mail-dir', join(work, 'mail'), '--issuer', 'Gateway Test', '--oidc-jwks', `github=${JWKS_FILE}`, '--public-url', `http://127.0.0.1:${ctx.gport}`, ...args], { STEPUP_SECRET_KEY: KEY, STEPUP_LOG: 'info' });
  ctx.registry = `http://127.0.0.1:${ctx.gport}/`;
  await waitFor(`${ctx.registry}v1/health`, p);
}

export async function stop(name) {
  const p = procs[name];
  if (!p || p.exitCode !== null) return;
  p.kill('SIGTERM');
  await new Promise((r) => p.once('exit', r));
}

/** RFC 6238 with node:crypto, independent of the engine. */
export function totp(secret, t = Date.now() / 1000) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
  const mac = createHmac('sha1', key).update(msg).digest();
  const o = mac[19] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1e6).padStart(6, '0');
}

export const lastSteps = new Map();
/** A code of a step not yet used for this secret (each step is accepted once). */
/**
 * A code the gateway has not seen for this secret. The policy accepts one step either side of
 * the current one (`totp.skew_steps` 1), so up to three codes are fresh without waiting: the
 * previous step's while the current window has 20 s left, the current, the next. Only past those
 * does it wait for the clock.
 */
export async function freshCode(secret) {
  const step = () => Math.floor(Date.now() / 30000);
  const last = lastSteps.get(secret) ?? -Infinity;
  const early = Date.now() % 30000 < 10000;
  const want = Math.max(step() - (early ? 1 : 0), last + 1);
  while (want > step() + 1) await new Promise((r) => setTimeout(r, 250));
  lastSteps.set(secret, want);
  return totp(secret, want * 30);
}

export function npmrc(label, token) {
  const file = join(work, `${label}.npmrc`);
  writeFileSync(file, `registry=${ctx.registry}\n${token ? `//127.0.0.1:${ctx.gport}/:_authToken=${token}\n` : ''}`);
  return file;
}

export function pkg(name, version) {
  const dir = join(work, `pkg-${name}-${version}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version, description: 'stepup gateway e2e' }));
  writeFileSync(join(dir, 'index.js'), 'module.exports = 1;\n');
  return dir;
}

export const base = (rc) => ['--userconfig', rc, '--cache', join(work, 'cache'), '--registry', ctx.registry, '--update-notifier=false'];

/** npm without a TTY (as CI runs it). */
export function npm(rc, args, cwd = work) {
  const r = spawnSync('npm', [...base(rc), '--loglevel=http', ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}`, stdout: r.stdout };
}

/** npm in the background (it polls while a browser acts): its output so far, its exit, and a wait for a URL it prints. */
export function npmBackground(rc, args, cwd = work, { tty = false, rules = [] } = {}) {
  // npm polls a web-OTP doneUrl only on a terminal (without one it prints the URLs and fails).
  const cmd = tty ? ['python3', DRIVE, ...rules, '--', 'npm', ...base(rc), '--browser=false', ...args] : ['npm', ...base(rc), ...args];
  const p = spawn(cmd[0], cmd.slice(1), { cwd, env: { ...process.env, NO_COLOR: '1' } });
  const run = { out: '' };
  p.stdout.on('data', (d) => { run.out += d; });
  p.stderr.on('data', (d) => { run.out += d; });
  run.exited = new Promise((r) => p.once('exit', r));
  run.url = async (pattern) => {
    for (let i = 0; i < 300; i += 1) {
      const m = pattern.exec(run.out);
      if (m) return m[1];
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`no ${pattern} in:\n${run.out}`);
  };
  return run;
}

/** npm under a pty, answering its prompts. */
export function npmTty(rc, args, rules, secretFrom) {
  const r = spawnSync('python3', [DRIVE, ...(secretFrom ? ['--secret-from', secretFrom] : []), ...rules, '--', 'npm', ...base(rc), ...args], { cwd: work, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** The newest emailed login code for an account, from the server's outbox. */
export function mailedCode(account) {
  const files = readdirSync(join(work, 'mail')).filter((f) => f.endsWith('.eml')).sort();
  for (const f of files.reverse()) {
    const text = readFileSync(join(work, 'mail', f), 'utf8');
    const code = /login code: (\d+)/.exec(text);
    if (code && text.includes(`X-Stepup-Account: ${account}\r\n`)) return code[1];
  }
  throw new Error(`no mail for ${account}`);
}

export async function couchLogin(name, password, otp, { email } = {}) {
  const headers = { 'content-type': 'application/json', 'npm-command': email ? 'adduser' : 'login' };
  if (otp) headers['npm-otp'] = otp;
  const doc = { _id: `org.couchdb.user:${name}`, name, password, type: 'user', roles: [], date: new Date().toISOString() };
  if (email) doc.email = email;
  return fetch(`${ctx.registry}-/user/org.couchdb.user:${name}`, { method: 'PUT', headers, body: JSON.stringify(doc) });
}

