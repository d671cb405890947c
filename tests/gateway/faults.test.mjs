// Faults an operator's SRE injects, against the real dependencies: the `stepup serve` binary in
// front of a real Verdaccio, killed with SIGKILL in the middle of a burst of token creations; the
// Verdaccio frozen with SIGSTOP; a real PostgreSQL stopped and started under it; its SQLite store on a tmpfs that fills up. Each
// answer is checked as the npm CLI would see it: 503 with `Retry-After`, never a 500, a hang or
// a lost write, and the service back by itself when the fault ends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ctx, work, procs, ROOT, STEPUP, KEY, JWKS_FILE, launch, waitFor, port, startVerdaccio, startGateway, stop, couchLogin, totp,
} from './harness.mjs';

const state = {};
const POLICY = { login_verification: { stages: [], brown_outs: [] }, throttle: { account: [], ip: [] } };

before(async () => {
  state.upstream = await startVerdaccio();
  await startGateway(state.upstream, { policy: POLICY });
});

after(async () => {
  for (const name of Object.keys(procs)) await stop(name);
  if (state.pgDir) spawnSync('bash', [join(ROOT, 'scripts/postgres.sh'), 'stop', state.pgDir]);
  if (state.disk) spawnSync('umount', [state.disk]);
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `POST /-/npm/v1/tokens` on `registry` as `token`, paying with `otp`. */
function createToken(registry, token, password, otp, name) {
  return fetch(`${registry}-/npm/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'npm-otp': otp },
    body: JSON.stringify({ password, name }),
  });
}

/** A new account upstream and here, with 2FA on: its token, secret and recovery codes. */
async function enrolled(name, registry = ctx.registry) {
  const password = `${name}-pass-1`;
  const login = await fetch(`${registry}-/user/org.couchdb.user:${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'npm-command': 'adduser' },
    body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password, email: `${name}@example.test`, type: 'user', roles: [] }),
  });
  const body = await login.json();
  assert.equal(login.status, 201, JSON.stringify(body));
  const profile = (doc) => fetch(`${registry}-/npm/v1/user`, {
    method: 'POST', headers: { authorization: `Bearer ${body.token}`, 'content-type': 'application/json' }, body: JSON.stringify(doc),
  }).then(async (r) => [r.status, await r.json()]);
  const [s1, started] = await profile({ tfa: { password, mode: 'auth-and-writes' } });
  assert.equal(s1, 200, JSON.stringify(started));
  const secret = /secret=([A-Z2-7]+)/.exec(started.tfa)[1];
  const [s2, done] = await profile({ tfa: [totp(secret)] });
  assert.equal(s2, 200, JSON.stringify(done));
  return { name, password, token: body.token, secret, recovery: done.tfa };
}

/** The names of `who`'s tokens. */
async function tokenNames(who) {
  const r = await fetch(`${ctx.registry}-/npm/v1/tokens?perPage=100`, { headers: { authorization: `Bearer ${who.token}` } });
  assert.equal(r.status, 200);
  return new Set((await r.json()).objects.map((t) => t.name));
}

test('SIGKILL in a burst of token creations: every spent recovery code has its token, every other code still works', async () => {
  const rounds = 3;
  for (let round = 0; round < rounds; round += 1) {
    const who = await enrolled(`burst${round}`);
    // Ten creations at once, one recovery code each; the server dies as the first answers.
    const burst = who.recovery.map((code, i) => createToken(ctx.registry, who.token, who.password, code, `burst-${i}`)
      .then((r) => r.status, () => 'cut'));
    await Promise.race(burst);
    procs.stepup.kill('SIGKILL');
    await new Promise((r) => (procs.stepup.exitCode !== null ? r() : procs.stepup.once('exit', r)));
    const answered = await Promise.all(burst);
    await startGateway(state.upstream, { policy: POLICY });
    const made = await tokenNames(who);
    for (const [i, code] of who.recovery.entries()) {
      if (answered[i] === 200) assert.ok(made.has(`burst-${i}`), `round ${round}: code ${i} answered 200 without its token`);
      if (made.has(`burst-${i}`)) continue;
      // No token: the code must not have been spent either.
      const retry = await createToken(ctx.registry, who.token, who.password, code, `retry-${i}`);
      assert.equal(retry.status, 200, `round ${round}: code ${i} was spent and its token lost (${answered[i]}): ${await retry.text()}`);
    }
  }
});

test('a frozen registry (SIGSTOP): 504 with Retry-After at the timeout, readiness 503, and back on SIGCONT', async () => {
  await stop('stepup');
  await startGateway(state.upstream, { policy: POLICY, args: ['--upstream-timeout', '2'] });
  const get = () => fetch(`${ctx.registry}left-pad`);
  assert.ok((await get()).status < 500);
  procs.verdaccio.kill('SIGSTOP');
  try {
    const t0 = Date.now();
    const frozen = await get();
    const took = Date.now() - t0;
    assert.equal(frozen.status, 504, await frozen.text());
    assert.ok(frozen.headers.get('retry-after'), 'Retry-After');
    assert.ok(took >= 1500 && took < 10000, `answered after ${took} ms`);
    assert.equal((await fetch(`${ctx.registry}v1/ready`)).status, 503);
    assert.equal((await fetch(`${ctx.registry}v1/health`)).status, 200, 'alive while its registry is frozen');
  } finally {
    procs.verdaccio.kill('SIGCONT');
  }
  let ready;
  for (let i = 0; i < 40 && ready !== 200; i += 1) {
    ready = (await fetch(`${ctx.registry}v1/ready`)).status;
    if (ready !== 200) await sleep(250);
  }
  assert.equal(ready, 200);
  assert.ok((await get()).status < 500);
});

test('PostgreSQL stopped under the running server: 503 with Retry-After in bounded time, ready says so, and it recovers', async () => {
  // Under /tmp itself: the `postgres` user must reach it, and the test's own folder is private.
  state.pgDir = `/tmp/stepup-pg-faults-${process.pid}`;
  const pgPort = port();
  const started = spawnSync('bash', [join(ROOT, 'scripts/postgres.sh'), state.pgDir], { encoding: 'utf8', env: { ...process.env, STEPUP_PG_PORT: String(pgPort) } });
  assert.equal(started.status, 0, started.stderr);
  const databaseUrl = started.stdout.trim();
  const gport = port();
  const registry = `http://127.0.0.1:${gport}/`;
  const config = join(work, 'pg-policy.json');
  writeFileSync(config, JSON.stringify(POLICY));
  const p = launch('stepup-pg', STEPUP, ['serve', '--init-store', '--config', config, '--listen', `127.0.0.1:${gport}`, '--database-url', databaseUrl, '--upstream', state.upstream, '--mail-dir', join(work, 'mail-pg'), '--oidc-jwks', `github=${JWKS_FILE}`], { STEPUP_SECRET_KEY: KEY, STEPUP_LOG: 'info' });
  await waitFor(`${registry}v1/health`, p);
  const who = await enrolled('pguser', registry);
  const whoami = () => fetch(`${registry}-/whoami`, { headers: { authorization: `Bearer ${who.token}` } });
  assert.equal((await whoami()).status, 200);
  assert.equal((await fetch(`${registry}v1/ready`)).status, 200);

  spawnSync('bash', [join(ROOT, 'scripts/postgres.sh'), 'stop', state.pgDir]);
  const t0 = Date.now();
  const down = await whoami();
  const took = Date.now() - t0;
  const downText = await down.text();
  assert.equal(down.status, 503, downText);
  assert.ok(down.headers.get('retry-after'), 'Retry-After');
  assert.doesNotMatch(downText, /postgres|sqlx|connection refused/i, 'no internals in the answer');
  assert.ok(took < 15000, `answered in ${took} ms`);
  const ready = await fetch(`${registry}v1/ready`);
  assert.equal(ready.status, 503);
  assert.match(await ready.text(), /store/);
  assert.equal((await fetch(`${registry}v1/health`)).status, 200, 'alive while its store is down');
  assert.equal(p.exitCode, null, 'still running');

  const again = spawnSync('bash', [join(ROOT, 'scripts/postgres.sh'), state.pgDir], { encoding: 'utf8', env: { ...process.env, STEPUP_PG_PORT: String(pgPort) } });
  assert.equal(again.status, 0, again.stderr);
  let status;
  for (let i = 0; i < 60 && status !== 200; i += 1) {
    status = (await whoami()).status;
    if (status !== 200) await sleep(500);
  }
  assert.equal(status, 200, 'back by itself once PostgreSQL is');
  assert.equal((await fetch(`${registry}v1/ready`)).status, 200);
  await stop('stepup-pg');
});

test('a full disk (a small tmpfs under the SQLite store): writes answer 503, reads go on, ready says so, and it recovers', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('mounting a tmpfs needs root (the CI machine runs the suite as root)');
    return;
  }
  const disk = join(work, 'disk');
  mkdirSync(disk, { recursive: true });
  const mount = (opts) => spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', disk], { encoding: 'utf8' });
  const made = mount('size=16m');
  assert.equal(made.status, 0, made.stderr);
  state.disk = disk;
  const gport = port();
  const registry = `http://127.0.0.1:${gport}/`;
  const db = join(disk, 'stepup.sqlite3');
  const config = join(work, 'full-policy.json');
  writeFileSync(config, JSON.stringify(POLICY));
  const args = ['serve', '--init-store', '--config', config, '--listen', `127.0.0.1:${gport}`, '--db', db, '--upstream', state.upstream, '--mail-dir', join(work, 'mail-full'), '--oidc-jwks', `github=${JWKS_FILE}`];
  const p = launch('stepup-full', STEPUP, args, { STEPUP_SECRET_KEY: KEY });
  await waitFor(`${registry}v1/health`, p);
  const who = await enrolled('fulluser', registry);
  // The disk shrinks to what is used now plus a few pages: the next writes run out of room.
  const used = spawnSync('du', ['-sk', disk], { encoding: 'utf8' }).stdout.split('\t')[0];
  const shrunk = mount(`remount,size=${Number(used) + 16}k`);
  assert.equal(shrunk.status, 0, shrunk.stderr);
  let full;
  for (let i = 0; i < 400 && !full; i += 1) {
    const r = await createToken(registry, who.token, who.password, '000000', `fill-${i}`);
    if (r.status === 503) full = r;
    else assert.equal(r.status, 401, await r.text());
  }
  assert.ok(full, 'the store never filled up');
  assert.ok(full.headers.get('retry-after'), 'Retry-After');
  assert.doesNotMatch(await full.text(), /sqlite|disk|database/i, 'no internals in the answer');
  assert.equal(p.exitCode, null, 'still running');
  const notReady = await fetch(`${registry}v1/ready`);
  assert.equal(notReady.status, 503, `${await notReady.clone().text()}`);
  assert.match(await notReady.text(), /store/);
  assert.equal((await fetch(`${registry}v1/health`)).status, 200, 'alive while its disk is full');
  // Room again: ready, and a write goes through.
  const grown = mount('remount,size=16m');
  assert.equal(grown.status, 0, grown.stderr);
  let ready;
  for (let i = 0; i < 40 && ready !== 200; i += 1) {
    ready = (await fetch(`${registry}v1/ready`)).status;
    if (ready !== 200) await sleep(250);
  }
  assert.equal(ready, 200);
  const ok = await createToken(registry, who.token, who.password, totp(who.secret, Date.now() / 1000 + 30), 'after');
  assert.equal(ok.status, 200, await ok.text());
  await stop('stepup-full');
});
