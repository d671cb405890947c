// Governance through the gateway with the real npm CLI and a real Verdaccio: package impact from
// the registry's own manifests and an operator's import makes the mandatory-2FA cohort fire,
// a high-impact account's email change starts the read-only safeguard, and `npm owner
// ls|add|rm` works (Verdaccio itself refuses owner changes) and decides who may write, and orgs
// (`npm org`, `npm team`) live in the gateway with their 2FA enforcement.
//
// The policy here has no publish floor and no package 2FA default, so accounts without 2FA can
// publish until their impact puts them in the cohort: what changes their answer is the impact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ctx, work, procs, STEPUP, startVerdaccio, startGateway, stop, freshCode, lastSteps, npmrc, npm, npmTty, couchLogin, idToken, base,
} from './harness.mjs';

const ADMIN = 'governance-admin-token';
const ADMIN_FILE = join(work, 'admin-token');
writeFileSync(ADMIN_FILE, ADMIN);
const state = {};

before(async () => {
  state.upstream = await startVerdaccio();
  await startGateway(state.upstream, {
    policy: {
      publish_floor: false,
      default_publishing_access: 'none',
      high_impact: { weekly_downloads_over: 1000000, dependents_at_least: 2 },
      cohorts: [{ name: 'high-impact', from: 1667260800, high_impact: true }],
      login_verification: { stages: [], brown_outs: [] },
    },
    args: ['--admin-token-file', ADMIN_FILE, '--impact-period', '1', '--stage-limit-per-package', '3'],
  });
});

after(async () => {
  await stop('stepup');
  await stop('verdaccio');
  if (process.env.STEPUP_E2E_LOG) writeFileSync(process.env.STEPUP_E2E_LOG, `${procs.stepup?.log}\n--- verdaccio ---\n${procs.verdaccio?.log}`);
});

/** A new account (created upstream by `npm adduser`'s couch request), or a login; its npmrc. */
async function account(name, { create = true } = {}) {
  const r = await couchLogin(name, `${name}-pass-1`, undefined, create ? { email: `${name}@example.test` } : {});
  const body = await r.json();
  assert.equal(r.status, 201, JSON.stringify(body));
  return npmrc(name, body.token);
}

/** A package folder with dependencies. */
function pkgWith(name, version, dependencies = {}) {
  const dir = join(work, `pkg-${name.replace('/', '+')}-${version}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version, description: 'stepup governance e2e', dependencies }));
  writeFileSync(join(dir, 'index.js'), 'module.exports = 1;\n');
  return dir;
}

const admin = (query) => fetch(`${ctx.registry}v1/admin/impact?${query}`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json());

/** Waits for the impact index (rebuilt every second, and at once after a publish). */
async function impactOf(query, pick, want) {
  let last;
  for (let i = 0; i < 100; i += 1) {
    last = await admin(query);
    if (want(pick(last))) return pick(last);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`impact never reached the expected figure: ${JSON.stringify(last)}`);
}

test('a package its registry depends on makes its maintainer high-impact: the next publish without 2FA is refused, web sessions revoked', async () => {
  state.carol = await account('carol');
  const first = npm(state.carol, ['publish'], pkgWith('hi-core', '1.0.0'));
  assert.equal(first.code, 0, first.out);
  const dave = await account('dave');
  for (const dependent of ['dep-a', 'dep-b']) {
    const r = npm(dave, ['publish'], pkgWith(dependent, '1.0.0', { 'hi-core': '^1.0.0' }));
    assert.equal(r.code, 0, r.out);
  }
  // The dependents index is built from the manifests published through the gateway.
  const figures = await impactOf('package=hi-core&account=carol', (v) => v.account, (a) => a?.dependents === 2);
  assert.equal(figures.dependents_rank, 1);
  // Installing it is a tarball download the gateway counts (today's count joins the weekly
  // figure tomorrow; the server test checks the arithmetic).
  const project = join(work, 'consumer');
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // A cache of its own: the publishes above left these tarballs in the shared one.
  const install = npm(state.carol, ['install', 'dep-a', '--cache', join(work, 'install-cache')], project);
  assert.match(install.out, /GET 200 \S+\/dep-a\/-\/dep-a-1\.0\.0\.tgz/, install.out);
  assert.equal(install.code, 0, install.out);

  const refused = npm(state.carol, ['publish'], pkgWith('hi-core', '1.0.1'));
  assert.notEqual(refused.code, 0);
  assert.match(refused.out, /E403/, refused.out);
  assert.match(refused.out, /Two-factor authentication is required for this account/, refused.out);
  // The decision's effect: carol's login session is gone.
  const who = npm(state.carol, ['whoami']);
  assert.notEqual(who.code, 0);
  assert.match(who.out, /E401/, who.out);
  // dave, whose packages nobody depends on, publishes as before.
  const daveOk = npm(dave, ['publish'], pkgWith('dep-a', '1.0.1', { 'hi-core': '^1.0.0' }));
  assert.equal(daveOk.code, 0, daveOk.out);
});

test('with 2FA the high-impact maintainer publishes again; an email change then starts the read-only safeguard', async () => {
  state.carol = await account('carol', { create: false });
  const enrol = npmTty(state.carol, ['profile', 'enable-2fa', 'auth-and-writes'], ['npm password:=>carol-pass-1', 'OTP code from your authenticator:=>{totp}'], 'enter code:\\s*([A-Z2-7]{32})');
  assert.equal(enrol.code, 0, enrol.out);
  state.secret = /enter code:\s*([A-Z2-7]{32})/.exec(enrol.out)[1];
  lastSteps.set(state.secret, Math.floor(Date.now() / 30000));
  const ok = npm(state.carol, ['publish', `--otp=${await freshCode(state.secret)}`], pkgWith('hi-core', '1.0.1'));
  assert.equal(ok.code, 0, ok.out);
  const email = npm(state.carol, ['profile', 'set', 'email', 'carol-new@example.test', `--otp=${await freshCode(state.secret)}`]);
  assert.equal(email.code, 0, email.out);
  const paused = npm(state.carol, ['publish', `--otp=${await freshCode(state.secret)}`], pkgWith('hi-core', '1.0.2'));
  assert.notEqual(paused.code, 0);
  assert.match(paused.out, /temporarily read-only/, paused.out);
  // Reading still works.
  const view = npm(state.carol, ['view', 'hi-core', 'version']);
  assert.equal(view.code, 0, view.out);
  assert.match(view.out, /^1\.0\.1$/m);
});

test('`stepup impact import` loads an operator\'s figures: a package over the download threshold puts its maintainer in the cohort', async () => {
  const erin = await account('erin');
  const first = npm(erin, ['publish'], pkgWith('erin-lib', '1.0.0'));
  assert.equal(first.code, 0, first.out);
  const csv = join(work, 'impact.csv');
  writeFileSync(csv, 'name,weekly_downloads,dependents\nerin-lib,2500000,0\n');
  const bad = join(work, 'impact-bad.csv');
  writeFileSync(bad, 'name,weekly_downloads,dependents\nerin-lib,lots,0\n');
  const env = { ...process.env, STEPUP_SERVER: ctx.registry, STEPUP_ADMIN_TOKEN: ADMIN };
  const refused = spawnSync(STEPUP, ['impact', 'import', bad], { encoding: 'utf8', env });
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /impact-bad\.csv:2:/);
  const wrongToken = spawnSync(STEPUP, ['impact', 'import', csv], { encoding: 'utf8', env: { ...env, STEPUP_ADMIN_TOKEN: 'nope' } });
  assert.equal(wrongToken.status, 1, wrongToken.stderr);
  assert.match(wrongToken.stderr, /401/);
  const imported = spawnSync(STEPUP, ['impact', 'import', csv], { encoding: 'utf8', env });
  assert.equal(imported.status, 0, imported.stderr);
  assert.match(imported.stdout, /1 package figures imported/);
  const shown = spawnSync(STEPUP, ['impact', 'show', '--account', 'erin'], { encoding: 'utf8', env });
  assert.equal(shown.status, 0, shown.stderr);
  assert.equal(JSON.parse(shown.stdout).account.weekly_downloads, 2500000);
  const again = npm(erin, ['publish'], pkgWith('erin-lib', '1.0.1'));
  assert.notEqual(again.code, 0);
  assert.match(again.out, /Two-factor authentication is required for this account/, again.out);
});

test('`stepup impact rebuild` counts dependents published straight to the registry; `stepup rollout simulate --db` replays the gateway\'s own store; a recovery code starts the safeguard', async () => {
  const frank = await account('frank');
  const core = npm(frank, ['publish'], pkgWith('reb-core', '1.0.0'));
  assert.equal(core.code, 0, core.out);
  // Two packages depending on it reach Verdaccio without passing the gateway.
  const made = await fetch(`${state.upstream}/-/user/org.couchdb.user:direct`, {
    method: 'PUT', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'direct', password: 'direct-pass-1', type: 'user', roles: [], date: new Date().toISOString() }),
  });
  const { token } = await made.json();
  assert.ok(token, `Verdaccio made no token (${made.status})`);
  const upstreamRc = join(work, 'direct.npmrc');
  writeFileSync(upstreamRc, `//${new URL(state.upstream).host}/:_authToken=${token}\n`);
  for (const dep of ['reb-a', 'reb-b']) {
    const r = spawnSync('npm', ['--userconfig', upstreamRc, '--registry', `${state.upstream}/`, '--cache', join(work, 'cache'), 'publish'],
      { cwd: pkgWith(dep, '1.0.0', { 'reb-core': '^1.0.0' }), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  const env = { ...process.env, STEPUP_SERVER: ctx.registry, STEPUP_ADMIN_TOKEN: ADMIN };
  assert.equal((await admin('package=reb-core')).package?.dependents ?? 0, 0, 'the gateway saw neither publish');
  const rebuilt = spawnSync(STEPUP, ['impact', 'rebuild', '--package', 'reb-a', '--package', 'reb-b'], { encoding: 'utf8', env });
  assert.equal(rebuilt.status, 0, rebuilt.stderr);
  const answer = JSON.parse(rebuilt.stdout);
  assert.ok(answer.read >= 3, rebuilt.stdout);
  assert.deepEqual(answer.failed, []);
  assert.equal((await admin('package=reb-core')).package.dependents, 2);
  const refused = npm(frank, ['publish'], pkgWith('reb-core', '1.0.1'));
  assert.notEqual(refused.code, 0);
  assert.match(refused.out, /Two-factor authentication is required for this account/, refused.out);
  const badName = spawnSync(STEPUP, ['impact', 'rebuild', '--package', '../etc'], { encoding: 'utf8', env });
  assert.notEqual(badName.status, 0);
  assert.match(badName.stderr, /not an npm package name/);

  // The simulator reads the same store the gateway decides from, and agrees with it: today
  // frank is blocked by the high-impact cohort, and reb-core has no maintainer able to publish.
  const today = new Date().toISOString().slice(0, 10);
  const sim = spawnSync(STEPUP, ['rollout', 'simulate', '--config', join(work, 'policy.json'), '--db', join(work, 'stepup.sqlite3'),
    '--from', today, '--to', today, '--json', join(work, 'rollout.json')], { encoding: 'utf8' });
  assert.equal(sim.status, 0, sim.stderr);
  const replay = JSON.parse(readFileSync(join(work, 'rollout.json'), 'utf8'));
  const blocked = replay.blocked.find((c) => c.name === 'frank');
  assert.deepEqual([blocked?.why, blocked?.rule], ['cohort', 'mandatory-2fa.cohort.high-impact'], JSON.stringify(replay.blocked));
  assert.ok(replay.orphaned.some((c) => c.name === 'reb-core'), JSON.stringify(replay.orphaned));
  assert.match(sim.stdout, /^date,enrolled,challenged,blocked,/);

  // With 2FA frank publishes again; spending a recovery code (a lost authenticator, or a thief
  // holding the password and the printed codes) starts the read-only safeguard. The refusal
  // above revoked frank's sessions: log in again.
  const frankAgain = await account('frank', { create: false });
  const enrol = npmTty(frankAgain, ['profile', 'enable-2fa', 'auth-and-writes'], ['npm password:=>frank-pass-1', 'OTP code from your authenticator:=>{totp}'], 'enter code:\\s*([A-Z2-7]{32})');
  assert.equal(enrol.code, 0, enrol.out);
  const secret = /enter code:\s*([A-Z2-7]{32})/.exec(enrol.out)[1];
  lastSteps.set(secret, Math.floor(Date.now() / 30000));
  const recovery = [...enrol.out.matchAll(/\t(\d{25})\b/g)].map((m) => m[1]);
  assert.equal(recovery.length, 10, enrol.out);
  const byRecovery = npm(frankAgain, ['publish', `--otp=${recovery[0]}`], pkgWith('reb-core', '1.0.2'));
  assert.equal(byRecovery.code, 0, byRecovery.out);
  const paused = npm(frankAgain, ['publish', `--otp=${await freshCode(secret)}`], pkgWith('reb-core', '1.0.3'));
  assert.notEqual(paused.code, 0);
  assert.match(paused.out, /temporarily read-only/, paused.out);
});

test('`npm owner ls|add|rm` through the gateway: the owner list it keeps decides who may publish', async () => {
  const gina = await account('gina');
  const henry = await account('henry');
  const ivan = await account('ivan');
  const first = npm(gina, ['publish'], pkgWith('own-me', '1.0.0'));
  assert.equal(first.code, 0, first.out);
  const ls = npm(gina, ['owner', 'ls', 'own-me']);
  assert.equal(ls.code, 0, ls.out);
  assert.match(ls.out, /^gina <gina@example\.test>$/m);
  // Not a maintainer: neither an owner change nor a publish reaches Verdaccio.
  const grab = npm(ivan, ['owner', 'add', 'ivan', 'own-me']);
  assert.notEqual(grab.code, 0);
  assert.match(grab.out, /403 Forbidden .* not a maintainer of own-me/, grab.out);
  const unknown = npm(gina, ['owner', 'add', 'nobody-here', 'own-me']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.out, /E404/, unknown.out);
  const add = npm(gina, ['owner', 'add', 'henry', 'own-me']);
  assert.equal(add.code, 0, add.out);
  assert.match(add.out, /\+ henry \(own-me\)/);
  const both = npm(ivan, ['owner', 'ls', 'own-me']);
  assert.match(both.out, /^gina <gina@example\.test>$/m);
  assert.match(both.out, /^henry <henry@example\.test>$/m);
  const byHenry = npm(henry, ['publish'], pkgWith('own-me', '1.0.1'));
  assert.equal(byHenry.code, 0, byHenry.out);
  const byIvan = npm(ivan, ['publish'], pkgWith('own-me', '1.0.2'));
  assert.notEqual(byIvan.code, 0);
  assert.match(byIvan.out, /not a maintainer of own-me/, byIvan.out);
  const rm = npm(gina, ['owner', 'rm', 'henry', 'own-me']);
  assert.equal(rm.code, 0, rm.out);
  assert.match(rm.out, /- henry \(own-me\)/);
  const afterRm = npm(henry, ['publish'], pkgWith('own-me', '1.0.2'));
  assert.notEqual(afterRm.code, 0);
  assert.match(afterRm.out, /not a maintainer of own-me/, afterRm.out);
  // The last owner stays.
  const last = npm(gina, ['owner', 'rm', 'gina', 'own-me']);
  assert.notEqual(last.code, 0);
  assert.match(last.out, /Cannot remove all owners/, last.out);
  // A deprecation (a whole-document write carrying the list the gateway showed) is no owner change.
  const dep = npm(gina, ['deprecate', 'own-me@1.0.0', 'use 1.0.1']);
  assert.equal(dep.code, 0, dep.out);
});

test('orgs: `npm org` and `npm team` through the gateway; enforcing 2FA plans, removes and mails, then refuses members without it', async () => {
  const olgaLogin = await couchLogin('olga', 'olga-pass-1', undefined, { email: 'olga@example.test' });
  const olgaToken = (await olgaLogin.json()).token;
  const olga = npmrc('olga', olgaToken);
  const enrol = npmTty(olga, ['profile', 'enable-2fa', 'auth-and-writes'], ['npm password:=>olga-pass-1', 'OTP code from your authenticator:=>{totp}'], 'enter code:\\s*([A-Z2-7]{32})');
  assert.equal(enrol.code, 0, enrol.out);
  const secret = /enter code:\s*([A-Z2-7]{32})/.exec(enrol.out)[1];
  lastSteps.set(secret, Math.floor(Date.now() / 30000));
  const pete = await account('pete');
  await account('quinn');

  // An org comes into being when an account makes itself its owner; before that it is not found.
  const none = npm(olga, ['org', 'ls', 'acme']);
  assert.notEqual(none.code, 0);
  assert.match(none.out, /E404/, none.out);
  const createCode = await freshCode(secret);
  const create = npm(olga, ['org', 'set', 'acme', 'olga', 'owner', `--otp=${createCode}`]);
  assert.equal(create.code, 0, create.out);
  assert.match(create.out, /Added olga as owner to acme\. You now have 1 member in this org\./);
  // One code, one operation (SPEC §9.5): the code that made olga acme's owner, presented again
  // at once, makes her owner of no other org.
  const reused = npm(olga, ['org', 'set', 'beta', 'olga', 'owner', `--otp=${createCode}`]);
  assert.notEqual(reused.code, 0, reused.out);
  assert.match(reused.out, /EOTP/, reused.out);
  assert.match(npm(olga, ['org', 'ls', 'beta']).out, /E404/);
  // Org governance in auth-and-writes needs a code: without one npm is asked for it.
  const noCode = npm(olga, ['org', 'set', 'acme', 'pete', 'developer']);
  assert.notEqual(noCode.code, 0);
  assert.match(noCode.out, /EOTP/, noCode.out);
  const add = npm(olga, ['org', 'set', 'acme', 'pete', 'developer', `--otp=${await freshCode(secret)}`]);
  assert.equal(add.code, 0, add.out);
  // Nobody joins an org without consent: pete is invited and mailed; until he accepts he is no
  // member, and the org sees nothing of his account but his name.
  assert.match(add.out, /You now have 1 member in this org/);
  assert.deepEqual(JSON.parse(npm(olga, ['org', 'ls', 'acme', '--json']).stdout), { olga: 'owner' });
  const auditRows = async () => (await (await fetch(`${ctx.registry}-/stepup/orgs/acme/members`, { headers: { authorization: `Bearer ${olgaToken}` } })).json()).members;
  assert.deepEqual((await auditRows()).find((m) => m.name === 'pete'), { name: 'pete', role: 'developer', invited: true });
  const invitations = readdirSync(join(work, 'mail')).filter((f) => f.includes('-pete-org-invitation-'));
  assert.equal(invitations.length, 1);
  assert.match(readFileSync(join(work, 'mail', invitations[0]), 'utf8').replace(/=\r\n/g, ''), /olga invited the account pete to the acme organization/);
  const answer = async (who, token, accept, org = 'acme') => fetch(`${ctx.registry}-/stepup/orgs/${org}/invitation`, {
    method: 'POST', body: JSON.stringify({ accept }), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  });
  const peteToken = (await (await couchLogin('pete', 'pete-pass-1')).json()).token;
  const joined = await answer('pete', peteToken, true);
  assert.equal(joined.status, 200, await joined.clone().text());
  assert.equal((await joined.json()).joined, true);
  assert.equal((await answer('pete', peteToken, true)).status, 404, 'an invitation is accepted once');
  // quinn, invited too, declines: gone, and never shown.
  const inviteQuinn = npm(olga, ['org', 'set', 'acme', 'quinn', 'developer', `--otp=${await freshCode(secret)}`]);
  assert.equal(inviteQuinn.code, 0, inviteQuinn.out);
  const quinnToken = (await (await couchLogin('quinn', 'quinn-pass-1')).json()).token;
  assert.equal((await answer('quinn', quinnToken, false)).status, 200);
  assert.equal((await auditRows()).find((m) => m.name === 'quinn'), undefined);
  const roster = npm(olga, ['org', 'ls', 'acme', '--json']);
  assert.equal(roster.code, 0, roster.out);
  assert.deepEqual(JSON.parse(roster.stdout), { olga: 'owner', pete: 'developer' });
  // A developer manages nobody, and an outsider sees nothing.
  const byPete = npm(pete, ['org', 'set', 'acme', 'quinn', 'developer']);
  assert.match(byPete.out, /E403/, byPete.out);
  assert.match(byPete.out, /Only owners and admins of acme can add members/, byPete.out);
  const outsider = npm(npmrc('quinn-2', (await (await couchLogin('quinn', 'quinn-pass-1')).json()).token), ['org', 'ls', 'acme']);
  assert.match(outsider.out, /E404/, outsider.out);

  // Teams.
  const team = npm(olga, ['team', 'create', 'acme:devs', `--otp=${await freshCode(secret)}`]);
  assert.equal(team.code, 0, team.out);
  const teamAdd = npm(olga, ['team', 'add', 'acme:devs', 'pete', `--otp=${await freshCode(secret)}`]);
  assert.equal(teamAdd.code, 0, teamAdd.out);
  assert.match(npm(olga, ['team', 'ls', 'acme']).out, /acme:devs/);
  assert.match(npm(olga, ['team', 'ls', 'acme:devs']).out, /^pete$/m);

  // The audit, filterable: pete has no 2FA.
  const env = { ...process.env, STEPUP_SERVER: ctx.registry, STEPUP_ADMIN_TOKEN: ADMIN };
  const audit = spawnSync(STEPUP, ['org', 'members', 'acme', '--tfa', 'off'], { encoding: 'utf8', env });
  assert.equal(audit.status, 0, audit.stderr);
  const figures = JSON.parse(audit.stdout);
  assert.deepEqual(figures.members.map((m) => [m.name, m.role, m.tfa]), [['pete', 'developer', null]]);
  assert.equal(figures.audit.without_tfa, 1);
  assert.equal(figures.audit.total, 2);
  const olgaRow = (await (await fetch(`${ctx.registry}-/stepup/orgs/acme/members?tfa=on`, { headers: { authorization: `Bearer ${olgaToken}` } })).json()).members;
  assert.deepEqual(olgaRow.map((m) => [m.name, m.tfa, m.factors]), [['olga', 'auth-and-writes', ['totp']]]);
  assert.ok(olgaRow[0].last_login > 0);
  // The audit and the enforcement plan are the engine's to allow: a token olga restricted to
  // another network reads neither (nor learns whether the org exists).
  const restricted = await fetch(`${ctx.registry}-/npm/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${olgaToken}`, 'content-type': 'application/json', 'npm-otp': await freshCode(secret) },
    body: JSON.stringify({ password: 'olga-pass-1', readonly: false, cidr_whitelist: ['10.0.0.0/8'] }),
  });
  assert.equal(restricted.status, 200, await restricted.clone().text());
  const elsewhere = { authorization: `Bearer ${(await restricted.json()).token}`, 'content-type': 'application/json' };
  for (const org of ['acme', 'no-such-org']) {
    const audited = await fetch(`${ctx.registry}-/stepup/orgs/${org}/members`, { headers: elsewhere });
    assert.equal(audited.status, 401, `${org}: ${await audited.text()}`);
    assert.equal(audited.headers.get('www-authenticate'), 'ipaddress');
  }
  const planned = await fetch(`${ctx.registry}-/stepup/orgs/acme/tfa-enforcement`, { method: 'POST', headers: elsewhere, body: JSON.stringify({ enforce: true }) });
  assert.equal(planned.status, 401, await planned.text());

  // Enforcement: the plan changes nothing; confirming needs the owner's code, then removes pete
  // and mails him why and how to come back.
  const enforce = (body, otp) => fetch(`${ctx.registry}-/stepup/orgs/acme/tfa-enforcement`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { authorization: `Bearer ${olgaToken}`, 'content-type': 'application/json', ...(otp ? { 'npm-otp': otp } : {}) },
  });
  const plan = await (await enforce({ enforce: true })).json();
  assert.deepEqual(plan.remove, ['pete']);
  assert.equal(plan.confirmed, false);
  const planCli = spawnSync(STEPUP, ['org', 'enforce', 'acme'], { encoding: 'utf8', env });
  assert.equal(planCli.status, 0, planCli.stderr);
  assert.match(planCli.stderr, /removes 1 member\(s\) without 2FA: pete/);
  assert.deepEqual(JSON.parse(npm(olga, ['org', 'ls', 'acme', '--json']).stdout), { olga: 'owner', pete: 'developer' });
  assert.equal((await enforce({ enforce: true, confirm: true })).status, 401);
  const done = await (await enforce({ enforce: true, confirm: true }, await freshCode(secret))).json();
  assert.deepEqual(done.removed, ['pete']);
  assert.deepEqual(JSON.parse(npm(olga, ['org', 'ls', 'acme', '--json']).stdout), { olga: 'owner' });
  assert.doesNotMatch(npm(olga, ['team', 'ls', 'acme:devs']).out, /pete/);
  const mails = readdirSync(join(work, 'mail')).filter((f) => f.includes('-pete-org-removal-'));
  assert.equal(mails.length, 1);
  const mail = readFileSync(join(work, 'mail', mails[0]), 'utf8').replace(/=\r\n/g, ''); // quoted-printable soft breaks
  assert.match(mail, /To: pete@example\.test/);
  assert.match(mail, /npm profile enable-2fa/);

  // While it is on: pete cannot be added back, and olga cannot turn her own 2FA off.
  const back = npm(olga, ['org', 'set', 'acme', 'pete', 'developer', `--otp=${await freshCode(secret)}`]);
  assert.notEqual(back.code, 0);
  assert.match(back.out, /acme requires two-factor authentication: pete must turn it on/, back.out);
  const off = npmTty(olga, ['profile', 'disable-2fa', `--otp=${await freshCode(secret)}`], ['npm password:=>olga-pass-1']);
  assert.notEqual(off.code, 0, off.out);
  assert.match(off.out, /two-factor|2FA/i, off.out);
  assert.match(npm(olga, ['profile', 'get']).out, /auth-and-writes/);
  // The operator turns it off again.
  const offCli = spawnSync(STEPUP, ['org', 'enforce', 'acme', '--off'], { encoding: 'utf8', env });
  assert.equal(offCli.status, 0, offCli.stderr);
  assert.equal(JSON.parse(offCli.stdout).enforce_tfa, false);
});

test('staged publishing: `npm stage publish` needs no code, `npm stage approve` needs one and publishes, `reject` drops it', async () => {
  const login = await couchLogin('sam', 'sam-pass-1', undefined, { email: 'sam@example.test' });
  const samToken = (await login.json()).token;
  const sam = npmrc('sam', samToken);
  const enrol = npmTty(sam, ['profile', 'enable-2fa', 'auth-and-writes'], ['npm password:=>sam-pass-1', 'OTP code from your authenticator:=>{totp}'], 'enter code:\\s*([A-Z2-7]{32})');
  assert.equal(enrol.code, 0, enrol.out);
  const secret = /enter code:\s*([A-Z2-7]{32})/.exec(enrol.out)[1];
  lastSteps.set(secret, Math.floor(Date.now() / 30000));
  const tom = await account('tom');
  const first = npm(sam, ['publish', `--otp=${await freshCode(secret)}`], pkgWith('staged-pkg', '1.0.0'));
  assert.equal(first.code, 0, first.out);

  // Staging needs no code, only an existing package.
  const staged = npm(sam, ['stage', 'publish'], pkgWith('staged-pkg', '1.1.0'));
  assert.equal(staged.code, 0, staged.out);
  const id = /\+ staged-pkg@1\.1\.0 \(staged with id ([0-9a-f-]{36})\)/.exec(staged.out)?.[1];
  assert.ok(id, staged.out);
  const brandNew = npm(sam, ['stage', 'publish'], pkgWith('never-published', '1.0.0'));
  assert.notEqual(brandNew.code, 0);
  assert.match(brandNew.out, /E404[\s\S]*does not exist yet/, brandNew.out);
  const list = npm(sam, ['stage', 'list', '--json']);
  assert.equal(list.code, 0, list.out);
  assert.deepEqual(JSON.parse(list.stdout).map((i) => [i.id, i.packageName, i.version, i.tag, i.actor, i.actorType]), [[id, 'staged-pkg', '1.1.0', 'latest', 'sam', 'user']]);
  const view = npm(sam, ['stage', 'view', id]);
  assert.match(view.out, /package name[\s\S]*staged-pkg/, view.out);
  // Nothing reached the registry yet, and nobody else sees or approves it.
  const upstreamDoc = async () => (await fetch(`${state.upstream}/staged-pkg`)).json();
  assert.equal((await upstreamDoc())['dist-tags'].latest, '1.0.0');
  assert.match(npm(tom, ['stage', 'view', id]).out, /E404/);
  assert.deepEqual(JSON.parse(npm(tom, ['stage', 'list', '--json']).stdout), []);
  assert.match(npm(tom, ['stage', 'approve', id, '--otp=123456']).out, /E404/);

  // Approval is package governance: a second factor, then the gateway publishes the kept document.
  const noCode = npm(sam, ['stage', 'approve', id]);
  assert.notEqual(noCode.code, 0);
  assert.match(noCode.out, /EOTP/, noCode.out);
  const approved = npm(sam, ['stage', 'approve', id, `--otp=${await freshCode(secret)}`]);
  assert.equal(approved.code, 0, approved.out);
  assert.match(approved.out, new RegExp(`Staged package ${id} approved and published successfully`));
  assert.equal((await upstreamDoc())['dist-tags'].latest, '1.1.0');
  assert.deepEqual(JSON.parse(npm(sam, ['stage', 'list', '--json']).stdout), []);
  const twice = npm(sam, ['stage', 'approve', id, `--otp=${await freshCode(secret)}`]);
  assert.match(twice.out, /E404/, twice.out);

  // A co-maintainer stages, then loses the package: the stage is never published on their
  // behalf (refused before a code is spent), and approving never makes its author a maintainer.
  const addTom = npm(sam, ['owner', 'add', 'tom', 'staged-pkg', `--otp=${await freshCode(secret)}`]);
  assert.equal(addTom.code, 0, addTom.out);
  const byTom = npm(tom, ['stage', 'publish'], pkgWith('staged-pkg', '1.1.5'));
  const tid = /staged with id ([0-9a-f-]{36})/.exec(byTom.out)?.[1];
  assert.ok(tid, byTom.out);
  const rmTom = npm(sam, ['owner', 'rm', 'tom', 'staged-pkg', `--otp=${await freshCode(secret)}`]);
  assert.equal(rmTom.code, 0, rmTom.out);
  const orphanApproval = npm(sam, ['stage', 'approve', tid, '--otp=000000']);
  assert.notEqual(orphanApproval.code, 0);
  assert.match(orphanApproval.out, /tom staged this version and no longer maintains staged-pkg/, orphanApproval.out);
  const dropTom = npm(sam, ['stage', 'reject', tid, `--otp=${await freshCode(secret)}`]);
  assert.equal(dropTom.code, 0, dropTom.out);
  assert.doesNotMatch(npm(sam, ['owner', 'ls', 'staged-pkg']).out, /^tom /m);

  // A rejected stage is gone and never published; the code that rejected it approves no other
  // staged version (one code, one operation: the stage id and the verb are part of it).
  const again = npm(sam, ['stage', 'publish'], pkgWith('staged-pkg', '1.2.0'));
  const rid = /staged with id ([0-9a-f-]{36})/.exec(again.out)?.[1];
  assert.ok(rid, again.out);
  const other = npm(sam, ['stage', 'publish'], pkgWith('staged-pkg', '1.2.1'));
  const oid = /staged with id ([0-9a-f-]{36})/.exec(other.out)?.[1];
  assert.ok(oid, other.out);
  const rejectCode = await freshCode(secret);
  const rejected = npm(sam, ['stage', 'reject', rid, `--otp=${rejectCode}`]);
  assert.equal(rejected.code, 0, rejected.out);
  assert.match(rejected.out, /has been rejected/);
  const smuggled = npm(sam, ['stage', 'approve', oid, `--otp=${rejectCode}`]);
  assert.notEqual(smuggled.code, 0, smuggled.out);
  assert.match(smuggled.out, /EOTP/, smuggled.out);
  assert.equal((await upstreamDoc())['dist-tags'].latest, '1.1.0');
  const dropOther = npm(sam, ['stage', 'reject', oid, `--otp=${await freshCode(secret)}`]);
  assert.equal(dropOther.code, 0, dropOther.out);
  assert.deepEqual(JSON.parse(npm(sam, ['stage', 'list', '--json']).stdout), []);

  // A CI job trusted to stage only: its ID token stages a version, cannot publish one, and the
  // staged version waits for a maintainer's code like any other.
  const trust = [{ type: 'github', claims: { repository: 'acme/staged-pkg', workflow_ref: { file: 'release.yml' } }, permissions: ['createStagedPackage'] }];
  const set = await fetch(`${ctx.registry}-/package/staged-pkg/trust`, {
    method: 'POST',
    headers: { authorization: `Bearer ${samToken}`, 'content-type': 'application/json', 'npm-command': 'trust', 'npm-otp': await freshCode(secret) },
    body: JSON.stringify(trust),
  });
  assert.equal(set.status, 201, await set.clone().text());
  const tokens = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const now = Math.floor(Date.now() / 1000);
    const jwt = idToken({
      iss: 'https://token.actions.githubusercontent.com', aud: url.searchParams.get('audience'), jti: randomUUID(),
      sub: 'repo:acme/staged-pkg:ref:refs/tags/v1.3.0', iat: now, nbf: now, exp: now + 300,
      repository: 'acme/staged-pkg', workflow_ref: 'acme/staged-pkg/.github/workflows/release.yml@refs/tags/v1.3.0',
      event_name: 'push', runner_environment: 'github-hosted',
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: jwt }));
  });
  await new Promise((r) => tokens.listen(0, '127.0.0.1', r));
  const env = {
    ...process.env, NO_COLOR: '1', GITHUB_ACTIONS: 'true', CI: 'true',
    ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${tokens.address().port}/token?api-version=2.0`,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token',
  };
  const ciNpm = (args, version) => new Promise((resolve) => {
    const child = spawn('npm', [...base(npmrc('stage-ci', null)), '--loglevel=verbose', '--provenance=false', ...args], { cwd: pkgWith('staged-pkg', version), env });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => resolve({ code, out }));
  });
  try {
    const ciStaged = await ciNpm(['stage', 'publish'], '1.3.0');
    assert.equal(ciStaged.code, 0, ciStaged.out);
    const cid = /staged with id ([0-9a-f-]{36})/.exec(ciStaged.out)?.[1];
    assert.ok(cid, ciStaged.out);
    const ciPublish = await ciNpm(['publish'], '1.4.0');
    assert.notEqual(ciPublish.code, 0, 'a stage-only trust published');
    assert.equal((await upstreamDoc())['dist-tags'].latest, '1.1.0');
    const listed = JSON.parse(npm(sam, ['stage', 'list', '--json']).stdout);
    assert.deepEqual(listed.map((i) => [i.id, i.version, i.actorType]), [[cid, '1.3.0', 'oidc']]);
    const ok = npm(sam, ['stage', 'approve', cid, `--otp=${await freshCode(secret)}`]);
    assert.equal(ok.code, 0, ok.out);
    assert.equal((await upstreamDoc())['dist-tags'].latest, '1.3.0');
  } finally {
    tokens.close();
  }

  // Staging needs no code, so it is bounded: a package has at most 3 staged versions waiting
  // here (--stage-limit-per-package), and the next is refused with the way out.
  const waiting = [];
  for (const v of ['1.5.0', '1.5.1', '1.5.2']) {
    const r = npm(sam, ['stage', 'publish'], pkgWith('staged-pkg', v));
    assert.equal(r.code, 0, r.out);
    waiting.push(/staged with id ([0-9a-f-]{36})/.exec(r.out)?.[1]);
  }
  const full = npm(sam, ['stage', 'publish'], pkgWith('staged-pkg', '1.5.3'));
  assert.notEqual(full.code, 0, full.out);
  assert.match(full.out, /E403[\s\S]*staged-pkg already has 3 staged versions waiting/, full.out);
  assert.equal(JSON.parse(npm(sam, ['stage', 'list', '--json']).stdout).length, 3);

  // A granular token scoped to another package sees none of them: listed, viewed or downloaded.
  const scoped = await fetch(`${ctx.registry}-/npm/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${samToken}`, 'content-type': 'application/json', 'npm-otp': await freshCode(secret) },
    body: JSON.stringify({ password: 'sam-pass-1', name: 'elsewhere', packages: ['not-staged-pkg'], packages_and_scopes_permission: 'read-write', expires: 7 }),
  });
  assert.equal(scoped.status, 200, await scoped.clone().text());
  const elsewhere = { authorization: `Bearer ${(await scoped.json()).token}` };
  const listedElsewhere = await fetch(`${ctx.registry}-/stage?page=0&perPage=100`, { headers: elsewhere });
  assert.equal(listedElsewhere.status, 200, await listedElsewhere.clone().text());
  assert.deepEqual(await listedElsewhere.json(), { items: [], total: 0 });
  for (const path of [`-/stage/${waiting[0]}`, `-/stage/${waiting[0]}/tarball`]) {
    const r = await fetch(`${ctx.registry}${path}`, { headers: elsewhere });
    assert.equal(r.status, 404, `${path}: ${await r.text()}`);
  }
  const listedBySam = await (await fetch(`${ctx.registry}-/stage?page=0&perPage=2`, { headers: { authorization: `Bearer ${samToken}` } })).json();
  assert.equal(listedBySam.total, 3);
  assert.equal(listedBySam.items.length, 2);
});
