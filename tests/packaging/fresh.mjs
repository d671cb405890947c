#!/usr/bin/env node
// A new npm project outside the repository, given only the packed tarballs, as a user would
// start one: node tests/packaging/fresh.mjs PACKS_DIR VERDACCIO_VERSION [NODE_BINARY]
// Installs the tarballs (and a stock Verdaccio) into a temporary folder and there
//  (a) runs stepup-node's README example, on the native addon and forced onto its WebAssembly
//      fallback, and the conformance corpus through that fallback;
//  (b) imports stepup-web under Node and decides a request (its README example);
//  (c) starts Verdaccio with verdaccio-stepup and the plugin README's configuration, and
//      drives one 2FA publish with the real npm CLI: refused without a code, accepted with one.
// Every step runs on NODE_BINARY (default: this node). Prints the install time.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [packs, verdaccioVersion, nodeArg] = process.argv.slice(2);
if (!packs || !verdaccioVersion) {
  console.error('usage: fresh.mjs PACKS_DIR VERDACCIO_VERSION [NODE_BINARY]');
  process.exit(2);
}
const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const node = nodeArg ? resolve(nodeArg) : process.execPath;
const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
const dir = mkdtempSync(join(tmpdir(), 'stepup-fresh-'));
const say = (m) => console.log(`fresh (${version}, verdaccio ${verdaccioVersion}): ${m}`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', ...opts, env: { ...process.env, NO_COLOR: '1', ...opts.env } });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}
function ok(r, what) {
  assert.equal(r.code, 0, `${what} failed:\n${r.out}\n${r.err}`);
  return r;
}
/** The first fenced block of `lang` in a README. */
function example(readme, lang) {
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readFileSync(join(repo, readme), 'utf8'));
  assert.ok(m, `${readme} has no ${lang} example`);
  return m[1];
}

// Install only the tarballs (and Verdaccio) into a new project.
writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fresh-stepup-user', version: '1.0.0', private: true, type: 'module' }));
// The platform package for this machine (as npm would pick it from stepup-node's optional
// dependencies); tests/packaging/platforms.mjs installs the others where they run.
const own = `stepup-node-${process.platform}-${process.arch}-${process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'}-`;
const tarballs = [
  ...readdirSync(packs).filter((f) => f.endsWith('.tgz')).map((f) => join(resolve(packs), f)),
  ...readdirSync(join(packs, 'platforms')).filter((f) => f.startsWith(own)).map((f) => join(resolve(packs), 'platforms', f)),
];
assert.equal(tarballs.filter((t) => t.includes(own)).length, 1, `no ${own}*.tgz in ${packs}/platforms`);
const started = Date.now();
ok(run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs, `verdaccio@${verdaccioVersion}`]), 'npm install');
say(`installed ${tarballs.length} tarballs and verdaccio ${JSON.parse(readFileSync(join(dir, 'node_modules/verdaccio/package.json'), 'utf8')).version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
for (const t of tarballs) {
  const name = JSON.parse(run('tar', ['-xzOf', t, 'package/package.json']).out).name;
  const link = run('node', ['-e', `console.log(require('fs').realpathSync('node_modules/${name}'))`]);
  assert.ok(!link.out.includes(repo), `${name} resolves into the repository: ${link.out}`);
}

// (a) stepup-node's README example, native, then forced onto the WebAssembly fallback.
writeFileSync(join(dir, 'example.mjs'), example('bindings/node/README.md', 'js'));
const native = ok(run(node, ['example.mjs']), 'the stepup-node example');
assert.equal(native.out.trim(), 'challenge otp-required 401');
assert.doesNotMatch(native.err, /WebAssembly/, 'the native addon loaded');
const fallback = ok(run(node, ['example.mjs'], { env: { STEPUP_NODE_BACKEND: 'wasm' } }), 'the example on the fallback');
assert.equal(fallback.out.trim(), 'challenge otp-required 401');
assert.match(fallback.err, /WebAssembly build \(stepup-web\)/);
writeFileSync(join(dir, 'corpus.mjs'), `
import stepup from 'stepup-node';
import { main } from ${JSON.stringify(join(repo, 'tests/js/conformance.mjs'))};
if (stepup.backend !== process.env.EXPECT_BACKEND) throw new Error('backend ' + stepup.backend);
process.exitCode = await main(['--backend', 'installed', ${JSON.stringify(join(repo, 'tests/conformance'))}], 'installed', stepup);
`);
for (const [env, backend] of [[{}, 'napi'], [{ STEPUP_NODE_BACKEND: 'wasm' }, 'wasm-node']]) {
  const corpus = ok(run(node, ['corpus.mjs'], { env: { ...env, EXPECT_BACKEND: backend } }), `the corpus on ${backend}`);
  say(`corpus through the installed stepup-node (${backend}): ${corpus.out.trim().split('\n').at(-1)}`);
  assert.match(corpus.out, / 0 failed$/m);
}

// (b) stepup-web under Node, as its README shows it.
writeFileSync(join(dir, 'web.mjs'), example('bindings/web/README.md', 'js'));
assert.equal(ok(run(node, ['web.mjs']), 'the stepup-web example').out.trim(), 'otp-required');

// (c) A stock Verdaccio with the plugin from its tarball and the README's configuration.
const port = 41000 + Math.floor(Math.random() * 9000);
const registry = `http://127.0.0.1:${port}/`;
writeFileSync(join(dir, 'config.yaml'), `${example('hosts/verdaccio/README.md', 'yaml')}uplinks: {}\nlog: { type: stdout, format: json, level: warn }\n`);
const key = 'fresh-project-sealing-key-0123456789';
const server = spawn(node, ['node_modules/verdaccio/bin/verdaccio', '--config', 'config.yaml', '--listen', `127.0.0.1:${port}`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STEPUP_SECRET_KEY: key } });
let log = '';
server.stdout.on('data', (d) => { log += d; });
server.stderr.on('data', (d) => { log += d; });
try {
  let up = false;
  for (let i = 0; i < 150 && !up; i += 1) {
    try { up = (await fetch(`${registry}-/ping`)).ok; } catch { await new Promise((r) => setTimeout(r, 200)); }
  }
  assert.ok(up, `verdaccio did not start:\n${log}`);
  const api = (await import(join(dir, 'node_modules/stepup-node/index.js'))).default;
  const policy = new api.Policy();
  const json = async (method, path, body, token) => {
    const r = await fetch(`${registry}${path}`, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    return { status: r.status, body: await r.json().catch(() => null) };
  };
  const user = await json('PUT', '-/user/org.couchdb.user:fresh', { name: 'fresh', password: 'fresh-pass-1', type: 'user', roles: [], date: new Date().toISOString() });
  assert.equal(user.status, 201, JSON.stringify(user.body) + log);
  const token = user.body.token;
  const enrol = await json('POST', '-/npm/v1/user', { tfa: { password: 'fresh-pass-1', mode: 'auth-and-writes' } }, token);
  assert.equal(enrol.status, 200, JSON.stringify(enrol.body));
  const secret = new URL(enrol.body.tfa).searchParams.get('secret');
  let step = Math.floor(Date.now() / 30000);
  const confirm = await json('POST', '-/npm/v1/user', { tfa: [policy.totpCode(secret)] }, token);
  assert.equal(confirm.status, 200, JSON.stringify(confirm.body));
  const rc = join(dir, '.npmrc-fresh');
  writeFileSync(rc, `registry=${registry}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
  const pkgDir = join(dir, 'fresh-pkg');
  mkdirSync(pkgDir);
  writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name: 'fresh-pkg', version: '1.0.0' }));
  writeFileSync(join(pkgDir, 'index.js'), 'module.exports = 1;\n');
  const npm = (...args) => run('npm', ['--userconfig', rc, '--cache', join(dir, 'npm-cache'), '--registry', registry, '--update-notifier=false', ...args], { cwd: pkgDir });
  const refused = npm('publish');
  assert.notEqual(refused.code, 0, 'a publish without a code was accepted');
  assert.match(refused.out + refused.err, /EOTP|one-time password/i, refused.err);
  while (Math.floor(Date.now() / 30000) <= step) await new Promise((r) => setTimeout(r, 500));
  step = Math.floor(Date.now() / 30000);
  ok(npm('publish', `--otp=${policy.totpCode(secret)}`), 'a publish with a code');
  assert.equal(ok(npm('view', 'fresh-pkg', 'version'), 'npm view').out.trim(), '1.0.0');
  say('Verdaccio with verdaccio-stepup: publish refused without a code (EOTP), accepted with one');
} finally {
  server.kill();
}
rmSync(dir, { recursive: true, force: true });
say('passed');
