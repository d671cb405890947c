'use strict';
// verdaccio-stepup: runs after Verdaccio's auth and before its routes. Every write, token
// operation and 2FA change is decided by the stepup engine (the napi addon); the plugin keeps the
// state the engine asks it to (effects) and speaks npm's wire protocol.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Store, recentFailures } = require('./store.js');

const now = () => Math.floor(Date.now() / 1000);
const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');
// How long one accepted code also covers the other requests of the same operation (SPEC §9.5).
const OP_WINDOW = 60;
// How long a logged-out token is remembered as revoked (Verdaccio's own logout revokes nothing).
const REVOKED_FOR = 400 * 86400;
// Headers that never enter the engine's input: credentials and codes.
const SECRET_HEADERS = new Set(['authorization', 'cookie', 'npm-otp', 'proxy-authorization']);
const ANONYMOUS = () => ({ name: undefined, groups: ['$all', '$anonymous', '@all', '@anonymous'], real_groups: [] });

/**
 * Work to do before the process ends (counted downloads to write), run once however many
 * instances Verdaccio makes. On SIGTERM or SIGINT the hooks run, then this listener steps aside
 * and raises the signal again: with no other listener the default action ends the process, and
 * a listener that waits for no others to be left (`signal-exit`, which Verdaccio's dependencies
 * install) now finds none and ends it. Staying installed would leave each waiting for the other.
 */
const exitHooks = new Set();
function onExit(hook) {
  if (exitHooks.size === 0) {
    const runAll = () => {
      for (const h of exitHooks) h();
    };
    process.on('exit', runAll);
    for (const signal of ['SIGTERM', 'SIGINT']) {
      process.once(signal, () => {
        runAll();
        process.kill(process.pid, signal);
      });
    }
  }
  exitHooks.add(hook);
}

const IMPORT_COLUMNS = ['name', 'weekly_downloads', 'dependents'];

/**
 * An operator's package-impact figures, read as `stepup impact import` reads them: CSV with a
 * header naming `name`, `weekly_downloads` and `dependents` (package names hold no commas or
 * quotes, so a line splits on commas), or JSON (an array of such objects, or `{packages: [...]}`).
 * Errors name the file and line (CSV) or entry (JSON).
 */
function readImpactFile(file) {
  const text = fs.readFileSync(file, 'utf8');
  const figure = (where, v, field) => {
    const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${where}: ${field}: expected a whole number, got ${JSON.stringify(v)}`);
    return n;
  };
  const row = (where, r) => {
    if (typeof r?.name !== 'string' || !r.name.trim()) throw new Error(`${where}: name: expected a package name`);
    const unknown = Object.keys(r).filter((k) => !IMPORT_COLUMNS.includes(k));
    if (unknown.length) throw new Error(`${where}: unknown field ${unknown[0]}; expected ${IMPORT_COLUMNS.join(', ')}`);
    return [r.name.trim(), { weekly_downloads: figure(where, r.weekly_downloads, 'weekly_downloads'), dependents: figure(where, r.dependents, 'dependents') }];
  };
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new Error(`${file}: not JSON: ${err.message}`);
    }
    const list = Array.isArray(doc) ? doc : doc?.packages;
    if (!Array.isArray(list)) throw new Error(`${file}: expected [{"name", "weekly_downloads", "dependents"}] or {"packages": [...]}`);
    return Object.fromEntries(list.map((r, i) => row(`${file}: [${i}]`, r)));
  }
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  for (const c of IMPORT_COLUMNS) if (!header.includes(c)) throw new Error(`${file}:1: the header names no \`${c}\` column (it needs ${IMPORT_COLUMNS.join(', ')})`);
  const out = {};
  lines.slice(1).forEach((line, i) => {
    if (!line.trim()) return;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== header.length) throw new Error(`${file}:${i + 2}: ${cells.length} fields, the header has ${header.length}`);
    const [name, f] = row(`${file}:${i + 2}`, Object.fromEntries(header.map((h, k) => [h, cells[k]])));
    out[name] = f;
  });
  return out;
}

class StepupMiddleware {
  constructor(config, options) {
    this.logger = options.logger;
    const vcfg = options.config ?? {};
    const base = path.dirname(vcfg.self_path ?? vcfg.configPath ?? path.join(process.cwd(), 'config.yaml'));
    const storage = path.resolve(base, vcfg.storage ?? './storage');
    // The key comes from the environment (Verdaccio does not expand ${...} in its config).
    const envName = config.secret_key_env ?? 'STEPUP_SECRET_KEY';
    const key = process.env[envName] ?? config.secret_key;
    if (!key) {
      throw new Error(`verdaccio-stepup: no sealing key: set the environment variable ${envName} (32 bytes as hex or base64, or a passphrase of at least 16 characters); TOTP secrets are encrypted with it`);
    }
    this.store = new Store(path.join(storage, '.stepup'), String(key));
    // Write routes the operator adds; every other unrecognised write is refused (SPEC §9.3).
    this.routes = config.routes;
    this.issuer = config.issuer ?? 'Verdaccio';
    this.policyConfig = config.policy ?? {};
    // Trusted publishing: each CI provider's key set (JWKS file), bound to that provider, so its
    // keys verify only ID tokens that claim its issuer (SPEC §9.7).
    const bound = config.oidc_jwks ?? {};
    if (typeof bound !== 'object' || Array.isArray(bound)) {
      throw new Error('verdaccio-stepup: oidc_jwks maps each CI provider to its JWKS file, e.g. oidc_jwks: { github: ./github-jwks.json }');
    }
    const providers = {};
    for (const [provider, file] of Object.entries(bound)) {
      if (!['github', 'gitlab', 'circleci'].includes(provider)) throw new Error(`verdaccio-stepup: oidc_jwks.${provider}: one of github, gitlab, circleci`);
      // The error names the field and the file as resolved, not Verdaccio's config file.
      const resolved = path.resolve(base, String(file));
      let doc;
      try {
        doc = JSON.parse(fs.readFileSync(resolved, 'utf8'));
      } catch (err) {
        throw new Error(`verdaccio-stepup: oidc_jwks.${provider}: cannot read the key set ${resolved}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
      }
      if (!Array.isArray(doc?.keys)) throw new Error(`verdaccio-stepup: oidc_jwks.${provider}: ${resolved} is not a JWKS (no "keys" array)`);
      providers[provider] = { keys: doc.keys };
    }
    this.jwks = { providers };
    // Package impact: downloads counted in memory and written every period and at exit; the
    // index decisions read is rebuilt by the engine from what the plugin keeps.
    this.impactPeriod = Number(config.impact_period ?? 60);
    if (!(this.impactPeriod >= 1 && this.impactPeriod <= 86400)) throw new Error('verdaccio-stepup: impact_period: seconds between 1 and 86400');
    this.pendingDownloads = new Map();
    this.impactIndex = { packages: {}, accounts: {} };
    // Figures an operator keeps in a file (a mirror of public counts, say): read at start, where
    // a bad file stops Verdaccio naming the line, and again whenever it changes; a change that
    // does not read keeps the figures in force.
    this.impactFile = config.impact_file ? path.resolve(base, String(config.impact_file)) : null;
    this.imported = {};
    if (this.impactFile) {
      try {
        this.impactStamp = fs.statSync(this.impactFile).mtimeMs;
        this.imported = readImpactFile(this.impactFile);
      } catch (err) {
        throw new Error(`verdaccio-stepup: impact_file: ${err.code === 'ENOENT' ? `${this.impactFile}: no such file` : err.message}`);
      }
    }
    // Codes accepted recently, so npm's multi-request operations (unpublish = PUT + DELETE) can
    // reuse one code for their other requests, but never for the same request twice.
    this.operations = new Map();
    // The engine and the policy are made here, so a configuration the engine refuses stops
    // Verdaccio at start with the field at fault, instead of answering 500 at the first request.
    // stepup-node is an ES module without top-level await: `require` loads it synchronously
    // (Node >= 20.19).
    const loaded = require('stepup-node');
    const api = loaded.default ?? loaded;
    try {
      this.engine = { api, policy: new api.Policy(this.policyConfig) };
    } catch (err) {
      if (err?.name !== 'StepupError') throw err;
      throw new Error(`verdaccio-stepup: middlewares.stepup.policy${err.path && err.path !== '.' ? `.${err.path}` : ''}: ${err.detail}`);
    }
  }

  register_middlewares(app, auth, storage) {
    this.auth = auth;
    this.storage = storage;
    app.use((req, res, next) => {
      // A publish-sized body is read only from a known caller; every other body is capped at
      // 1 MiB and must arrive within 30 s.
      const big = isLarge(req.method, req.url);
      if (big && !req.remote_user?.name && !this.oidcCaller(req)) return needLogin(res);
      readJsonBody(req, big ? MAX_PUBLISH_BODY : MAX_BODY)
        .then(() => this.handle(req, res, next))
        .catch((err) => {
          if (err.status) return res.status(err.status).json({ error: err.message });
          this.logger.error({ err: err.message }, 'stepup: @{err}');
          return res.status(500).json({ error: 'stepup: internal error' });
        });
    });
    this.startImpact();
    this.logger.info({}, 'stepup: 2FA middleware registered');
  }

  /**
   * Reads the dependencies of every package in Verdaccio's storage (the dependents index),
   * builds the impact index, and keeps both current: counted downloads are written every
   * `impact_period` seconds and when the process ends, so a stop loses none.
   */
  startImpact() {
    this.refreshImpact();
    if (this.storage?.getLocalDatabase) {
      this.storage.getLocalDatabase((err, latest) => {
        if (err) return this.logger.warn({ err: err.message }, 'stepup: cannot read the local packages for the dependents index: @{err}');
        for (const manifest of latest ?? []) {
          if (!manifest?.name || !manifest.version) continue;
          const doc = { name: manifest.name, 'dist-tags': { latest: manifest.version }, versions: { [manifest.version]: manifest } };
          const deps = this.latestDependencies(doc);
          if (deps) this.store.setDependencies(manifest.name, deps, false);
        }
        this.store.save();
        this.refreshImpact();
      });
    }
    const timer = setInterval(() => {
      this.flushDownloads();
      this.refreshImpact();
    }, this.impactPeriod * 1000);
    timer.unref();
    onExit(() => this.flushDownloads());
  }

  flushDownloads() {
    if (!this.pendingDownloads.size) return;
    const pending = this.pendingDownloads;
    this.pendingDownloads = new Map();
    try {
      this.store.addDownloads(pending, Math.floor(now() / 86400));
    } catch (err) {
      for (const [k, n] of pending) this.pendingDownloads.set(k, (this.pendingDownloads.get(k) ?? 0) + n);
      this.logger.error({ err: err.message }, 'stepup: cannot write counted downloads (kept for the next try): @{err}');
    }
  }

  /** The engine combines and ranks what the plugin counted and keeps. */
  refreshImpact() {
    this.reloadImpactFile();
    const facts = {
      weekly_downloads: this.store.weeklyDownloads(Math.floor(now() / 86400)),
      dependencies: this.store.dependencies(),
      maintainers: this.store.allMaintainers(),
      imported: this.imported,
    };
    const out = JSON.parse(this.engine.policy.callJson('impact-index', JSON.stringify(facts)));
    if (out.error) return this.logger.error({ err: `${out.error.path}: ${out.error.message}` }, 'stepup: impact index: @{err}');
    this.impactIndex = out;
  }

  /** Re-reads `impact_file` when it changed since it was last read. */
  reloadImpactFile() {
    if (!this.impactFile) return;
    try {
      const stamp = fs.statSync(this.impactFile).mtimeMs;
      if (stamp === this.impactStamp) return;
      this.imported = readImpactFile(this.impactFile);
      this.impactStamp = stamp;
      this.logger.info({ n: Object.keys(this.imported).length }, 'stepup: impact_file: @{n} package figures loaded');
    } catch (err) {
      this.logger.error({ err: err.message }, 'stepup: impact_file: @{err} (the figures read before stay in force)');
    }
  }

  latestDependencies(doc) {
    const out = JSON.parse(this.engine.policy.callJson('latest-dependencies', JSON.stringify({ document: doc })));
    return out.error ? null : out.dependencies;
  }

  /** Counts a tarball download once Verdaccio has served it. */
  countDownload(res, pkg) {
    res.once('finish', () => {
      if (res.statusCode < 200 || res.statusCode >= 300) return;
      const key = `${pkg}\u0000${Math.floor(now() / 86400)}`;
      this.pendingDownloads.set(key, (this.pendingDownloads.get(key) ?? 0) + 1);
    });
  }

  /** The index's figures as the engine reads an impact. */
  static figures(f) {
    if (!f) return undefined;
    const out = { weekly_downloads: f.weekly_downloads, dependents: f.dependents };
    if (f.dependents_rank != null) out.dependents_rank = f.dependents_rank;
    return out;
  }

  async policy() {
    return this.engine;
  }

  async handle(req, res, next) {
    const t = now();
    const bearer = /^bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer && this.store.isRevoked(sha256(bearer), t)) {
      res.set('www-authenticate', 'Bearer realm="verdaccio"');
      return res.status(401).json({ error: 'Unable to authenticate, your authentication token seems to be invalid.' });
    }
    const { policy } = await this.policy();
    // The engine says what the request is; Verdaccio then routes the canonical path it was
    // decided by, whatever encoding the client sent.
    const input = { method: req.method, path: req.originalUrl ?? req.url, headers: headerDoc(req), body: withoutAttachmentData(req.body) };
    if (this.routes) input.routes = this.routes;
    let c = policy.classify(input);
    if (c.result === 'refused') {
      this.logger.info({ problem: c.problem, method: req.method }, 'stepup: @{method} refused by the gate (@{problem})');
      if (c.status === 405) res.set('allow', 'GET, HEAD, OPTIONS, PUT, POST, DELETE');
      return res.status(c.status).json({ error: c.error });
    }
    req.url = c.path;
    if (c.route === 'tarball' && req.method === 'GET' && c.package) this.countDownload(res, c.package);
    switch (c.route) {
      case 'oidc-exchange': return this.oidcExchange(req, res, c.package);
      case 'couch-login': return this.login(req, res, next, c.action.target_account);
      case 'logout': return this.logout(req, res, next, t);
      case 'web-login': case 'web-done': return next();
      default: break;
    }
    // A trusted-publishing token: Verdaccio does not know it (the request arrives anonymous);
    // it may only publish its package, as the maintainer who set the trust.
    const oidc = this.oidcCaller(req);
    if (oidc) {
      if (!c.write) return next();
      const d = await this.decide(req, oidc.account, c.action, { credential: oidc.credential, key: c.key, operation: c.operation });
      if (d.outcome !== 'allow') return answer(res, d);
      const groups = ['$all', '$authenticated', '@all', '@authenticated', 'all'];
      req.remote_user = { name: oidc.account, groups, real_groups: [] };
      res.locals.remote_user = req.remote_user;
      return next();
    }
    const user = req.remote_user?.name;
    if (user) this.store.markSeen(user);
    if (c.action?.kind === 'profile.read' && req.method === 'GET' && req.path.startsWith('/-/user/org.couchdb.user:')) {
      return user ? this.userLookup(res, decodeURIComponent(req.path.slice('/-/user/org.couchdb.user:'.length))) : needLogin(res);
    }
    if (c.route === 'profile') return user ? this.profileUpdate(req, res, next, user, c) : needLogin(res);
    if (c.action?.kind === 'profile.read' && req.path === '/-/npm/v1/user') return user ? this.profile(req, res, user) : next();
    if (c.route === 'trust' || (c.package && req.path.endsWith('/trust') && !c.write)) return user ? this.trust(req, res, user, c.package) : needLogin(res);
    if (c.route === 'access') return user ? this.access(req, res, user, c.package, c) : needLogin(res);
    if (!c.write) {
      // Reads are decided for accounts too: a token's expiry and allow-list hold everywhere,
      // and a read outside a granular token's packages goes out anonymously (SPEC §8.24).
      if (!user || !c.action) return next();
      const d = await this.decide(req, user, c.action, { key: c.key, operation: c.operation, read: true });
      if (d.outcome !== 'allow') return answer(res, d);
      if (d.effects.some((e) => e.kind === 'read-anonymously')) {
        req.remote_user = ANONYMOUS();
        res.locals.remote_user = req.remote_user;
      }
      if (c.route === 'packument' && req.method === 'GET' && !corgi(req)) this.showMaintainers(res, c.package);
      return next();
    }
    if (!user) return needLogin(res);
    if (c.needs_current && c.package) {
      const current = this.withMaintainers(c.package, await this.currentDocument(c.package));
      c = policy.classify({ ...input, current });
      if (c.result === 'refused') return res.status(c.status).json({ error: c.error });
      req.url = c.path;
    }
    // Where the plugin keeps a package's maintainers, only they write to it.
    if (c.maintainers_only && c.package && !this.mayWrite(c.package, user)) {
      return res.status(403).json({ error: `You are not a maintainer of ${c.package}: ask one of its owners (npm owner ls ${c.package}).` });
    }
    const d = await this.decide(req, user, c.action, { key: c.key, operation: c.operation });
    if (d.outcome !== 'allow') return answer(res, d);
    if (c.action.kind === 'token.create') this.captureToken(req, res);
    if (c.action.kind === 'owner.add' || c.action.kind === 'owner.remove') return this.ownerChange(req, res, user, c);
    if (c.action.kind === 'package.publish') this.afterPublish(res, c.package, user, req.body);
    return next();
  }

  /** `GET /-/user/org.couchdb.user:NAME` (`npm owner add` looks the new owner up). */
  userLookup(res, name) {
    const seen = this.store.seen(name);
    if (!seen) return res.status(404).json({ error: `User ${name} not found: they must log in to this registry once.` });
    return res.status(200).json({ _id: `org.couchdb.user:${name}`, name, email: seen.email });
  }

  maintainerList(pkg) {
    return this.store.maintainers(pkg).map((name) => ({ name, email: this.store.seen(name)?.email ?? '' }));
  }

  withMaintainers(pkg, doc) {
    const list = this.maintainerList(pkg);
    return list.length && doc && typeof doc === 'object' ? { ...doc, maintainers: list } : doc;
  }

  mayWrite(pkg, user) {
    const list = this.store.maintainers(pkg);
    return list.length === 0 || list.includes(user);
  }

  /** The whole package document shows the maintainers the plugin keeps (Verdaccio keeps none). */
  showMaintainers(res, pkg) {
    const list = this.maintainerList(pkg);
    if (!list.length) return;
    const send = res.send.bind(res);
    res.send = (body) => {
      res.send = send;
      if (res.statusCode === 200 && typeof body === 'string') {
        try {
          const doc = JSON.parse(body);
          if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
            res.removeHeader('etag');
            return send(JSON.stringify({ ...doc, maintainers: list }));
          }
        } catch { /* not JSON: as it came */ }
      }
      return send(body);
    };
  }

  /**
   * An owner change the policy allowed (Verdaccio 6 refuses owner documents): the body's
   * `maintainers` become the list. The caller must maintain the package, new owners must have
   * used this registry, and a package keeps at least one owner.
   */
  async ownerChange(req, res, user, c) {
    const body = req.body ?? {};
    const extra = Object.keys(body).find((k) => !['_id', '_rev', 'maintainers'].includes(k));
    if (extra) return res.status(400).json({ error: `Change owners on their own (npm owner add|rm); this document also sets ${extra}.` });
    const kept = this.store.maintainers(c.package);
    const allowed = kept.length ? kept.includes(user) : await new Promise((ok) => this.auth.allow_publish({ packageName: c.package }, req.remote_user, (err, yes) => ok(!err && yes)));
    if (!allowed) return res.status(403).json({ error: `You may not change the owners of ${c.package}.` });
    const next = [...new Set((Array.isArray(body.maintainers) ? body.maintainers : []).map((m) => (typeof m === 'string' ? m : m?.name)).filter((n) => typeof n === 'string'))];
    if (!next.length) return res.status(400).json({ error: 'Cannot remove all owners of a package. Add someone else first.' });
    const unknown = next.find((n) => !this.store.seen(n));
    if (unknown) return res.status(404).json({ error: `User ${unknown} not found: they must log in to this registry once.` });
    // The first change of a package the plugin kept no list for starts from Verdaccio's view,
    // which may list nobody: the maintainer adding someone stays an owner.
    if (!kept.length && c.action.kind === 'owner.add' && !next.includes(user)) next.push(user);
    this.store.setMaintainers(c.package, next);
    this.refreshImpact();
    this.logger.info({ user, pkg: c.package, owners: next.join(', ') }, 'stepup: @{user} set the owners of @{pkg}: @{owners}');
    return res.status(200).json({ ok: 'updated package', id: c.package, rev: body._rev ?? null });
  }

  /**
   * After Verdaccio accepted a publish: the publisher maintains the package (the first publish
   * of a package that existed before also keeps who Verdaccio names), and the dependencies of
   * a new `latest` feed the dependents index.
   */
  afterPublish(res, pkg, user, body) {
    const before = this.store.maintainers(pkg).length ? null : this.currentDocument(pkg);
    res.once('finish', async () => {
      if (res.statusCode < 200 || res.statusCode >= 300) return;
      try {
        const names = new Set(this.store.maintainers(pkg));
        if (before) {
          const doc = await before;
          for (const m of doc.maintainers ?? []) if (m?.name) names.add(m.name);
          for (const v of Object.values(doc.versions ?? {})) if (v?._npmUser?.name) names.add(v._npmUser.name);
        }
        names.add(user);
        this.store.setMaintainers(pkg, [...names]);
        const deps = this.latestDependencies(withoutAttachmentData(body));
        if (deps) this.store.setDependencies(pkg, deps);
        this.refreshImpact();
      } catch (err) {
        this.logger.error({ err: err.message }, 'stepup: after publish: @{err}');
      }
    });
  }

  /** The package's current document from Verdaccio's storage (`{}` when it has none). */
  currentDocument(name) {
    if (!this.storage?.getPackage) return Promise.resolve({});
    return new Promise((resolve) => {
      this.storage.getPackage({ name, uplinksLook: false, callback: (err, manifest) => resolve(err || !manifest ? {} : manifest) });
    });
  }

  /** `npm logout`: Verdaccio's own logout revokes nothing, so the plugin remembers the token. */
  logout(req, res, next, t) {
    const bearer = /^bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer) this.store.revoke(sha256(bearer), t + REVOKED_FOR, t);
    const key = req.remote_user?.token?.key;
    if (key && req.remote_user?.name && this.storage?.deleteToken) {
      Promise.resolve(this.storage.deleteToken(req.remote_user.name, key)).catch(() => {});
    }
    return next();
  }

  /** Builds the request, runs authorize with the account's secrets, applies the effects. */
  async decide(req, user, action, { credential, key, operation, read = false } = {}) {
    const { policy } = await this.policy();
    const t = now();
    const state = this.store.user(user);
    const ip = req.ip;
    const requestKey = key ?? `${req.method} ${req.path}`;
    const op = `${user}\u0000${operation ?? JSON.stringify(action)}`;
    const cred = credential ?? (await this.credential(req));
    // npm sends --otp on reads too: a code is looked at only on writes — and on any request
    // with HTTP Basic, which is a login every time (SPEC rule 8), reads included.
    const code = (!read || cred.kind === 'basic') && typeof req.headers['npm-otp'] === 'string' ? req.headers['npm-otp'].trim() : '';
    const proofs = [];
    if (code && state?.tfa && this.sameOperation(op, requestKey, code, t)) proofs.push({ factor: 'totp', verified_at: t });
    const request = {
      now: t,
      action,
      account: { id: user, tfa: state?.tfa ?? null, publisher: true, impact: StepupMiddleware.figures(this.impactIndex.accounts[user]), safeguard_until: state?.safeguard_until ?? null },
      credential: cred,
      client: ip ? { ip } : {},
      package: action.package ? { name: action.package, publishing_access: this.store.packageAccess(action.package), ...StepupMiddleware.figures(this.impactIndex.packages[action.package]) } : undefined,
      proofs,
      failures: { account: recentFailures(state?.failures, t), ip: ip ? this.store.ipFailures(ip, t) : [] },
    };
    const secrets = {};
    if (state?.secret) secrets.totp_secret = this.store.decrypt(state.secret);
    if (state?.last_totp_step !== undefined) secrets.last_totp_step = state.last_totp_step;
    if (state?.recovery_codes) secrets.recovery_codes = state.recovery_codes;
    const d = policy.authorize(request, secrets, code ? { code } : null);
    this.apply(user, ip, d, t, requestKey, op, code);
    if (read && d.outcome === 'allow') return d;
    this.logger.info({ user, kind: action.kind, reason: d.reason, rule: d.rule }, 'stepup: @{user} @{kind} -> @{reason} (@{rule})');
    return d;
  }

  apply(user, ip, d, t, requestKey, op, code) {
    const state = this.store.user(user);
    let changed = false;
    for (const e of d.effects) {
      changed = true;
      if (e.kind === 'record-failure') this.store.recordFailure(user, ip, t);
      else if (!state) continue;
      else if (e.kind === 'consume-totp-step') {
        state.last_totp_step = e.step;
        this.remember(op, requestKey, code, t);
      } else if (e.kind === 'burn-recovery-code') {
        state.recovery_codes = state.recovery_codes.filter((_, i) => i !== e.index);
        this.remember(op, requestKey, code, t);
      } else if (e.kind === 'clear-failures') state.failures = [];
      else if (e.kind === 'start-safeguard') state.safeguard_until = e.until;
    }
    if (changed) this.store.save();
  }

  /**
   * Remembers an accepted code for its operation (SPEC §9.5): `op` is the account and the
   * operation core's classification named (the action and all its targets, the stage id, the
   * team), or for an action the plugin built itself, that action; the client's npm-command
   * header plays no part.
   */
  remember(op, requestKey, code, t) {
    if (!code) return;
    // Keyed with the sealing key: a hash of a 6-digit code in memory is no code to a reader.
    const hash = crypto.createHmac('sha256', this.store.key).update(code).digest('hex');
    this.operations.set(op, { hash, until: t + OP_WINDOW, used: new Set([requestKey]) });
  }

  /** A code accepted for another request of this operation covers this one, once. */
  sameOperation(op, requestKey, code, t) {
    const seen = this.operations.get(op);
    if (!seen || t >= seen.until) return false;
    const hash = crypto.createHmac('sha256', this.store.key).update(code).digest('hex');
    if (!crypto.timingSafeEqual(Buffer.from(hash), Buffer.from(seen.hash)) || seen.used.has(requestKey)) return false;
    seen.used.add(requestKey);
    return true;
  }

  /**
   * The SPEC credential the request presents. A token the plugin did not see created (made
   * before it was installed, or by Verdaccio's own tools) is read from Verdaccio's token store,
   * so its read-only flag and allow-list are known before any code is asked for.
   */
  async credential(req) {
    const h = req.headers.authorization ?? '';
    if (/^basic /i.test(h)) return { kind: 'basic' };
    const key = req.remote_user?.token?.key;
    if (!key) return { kind: 'session' };
    const meta = this.store.token(key);
    if (meta?.credential) return meta.credential;
    const user = req.remote_user?.name;
    if (user && this.storage?.readTokens) {
      try {
        const tokens = await this.storage.readTokens({ user });
        const t = (tokens ?? []).find((x) => x.key === key);
        if (t) {
          const cred = { kind: 'legacy-token', type: t.readonly ? 'read-only' : 'publish' };
          if (Array.isArray(t.cidr) && t.cidr.length) cred.cidr_whitelist = t.cidr;
          return cred;
        }
      } catch (err) {
        this.logger.warn({ err: err.message }, 'stepup: cannot read Verdaccio tokens: @{err}');
      }
    }
    return { kind: 'legacy-token', type: 'publish' };
  }

  async password(user, password) {
    if (typeof password !== 'string') return false;
    // Core's authenticate answers with a remote user ({name, groups, ...}); a plugin's with groups.
    return new Promise((ok) => this.auth.authenticate(user, password, (err, who) => ok(!err && Boolean(who) && (Array.isArray(who) ? who.length > 0 : who.name === user))));
  }

  profile(req, res, user) {
    const s = this.store.user(user);
    const tfa = s?.tfa ? { mode: s.tfa.mode, pending: false } : s?.pending ? { mode: s.pending.mode, pending: true } : false;
    res.status(200).json({ name: user, email: '', email_verified: false, created: '', updated: '', tfa, cidr_whitelist: null, fullname: '' });
  }

  async profileUpdate(req, res, next, user, c) {
    const body = req.body ?? {};
    if (body.tfa === undefined) {
      // Verdaccio keeps no email: only a password change or plain fields can change here.
      const kind = body.password ? 'password.change' : 'profile.update';
      const d = await this.decide(req, user, { kind }, { key: c.key });
      return d.outcome === 'allow' ? next() : answer(res, d);
    }
    const { policy } = await this.policy();
    const s = this.store.user(user) ?? {};
    if (Array.isArray(body.tfa)) {
      if (!s.pending) return res.status(400).json({ error: 'No two-factor authentication enrolment is pending. Run `npm profile enable-2fa` first.' });
      const secret = this.store.decrypt(s.pending.secret);
      const r = policy.verifyTotp({ secret, code: String(body.tfa[0] ?? ''), now: now() });
      if (r.result !== 'accepted') return res.status(400).json({ error: `${r.message} Two-factor authentication was not enabled.` });
      const rc = policy.issueRecoveryCodes();
      this.store.setUser(user, {
        tfa: { mode: s.pending.mode, factors: ['totp'] },
        secret: s.pending.secret,
        last_totp_step: r.step,
        recovery_codes: rc.records,
        failures: s.failures ?? [],
      });
      return res.status(200).json({ tfa: rc.codes });
    }
    const mode = body.tfa?.mode;
    if (!(await this.password(user, body.tfa?.password))) {
      res.set('www-authenticate', 'Basic realm="verdaccio"');
      return res.status(401).json({ error: 'Incorrect or missing password.' });
    }
    if (mode === 'disable') {
      if (!s.tfa) {
        this.store.setUser(user, s.failures?.length ? { failures: s.failures } : null);
        return res.status(200).json({ tfa: false });
      }
      const d = await this.decide(req, user, { kind: 'tfa.disable' });
      if (d.outcome !== 'allow') return answer(res, d);
      this.store.setUser(user, null);
      return res.status(200).json({ tfa: false });
    }
    if (mode !== 'auth-only' && mode !== 'auth-and-writes') return res.status(400).json({ error: `Invalid two-factor authentication mode "${mode}".` });
    if (s.tfa) {
      const d = await this.decide(req, user, { kind: 'tfa.mode-change' });
      if (d.outcome !== 'allow') return answer(res, d);
      const current = this.store.user(user);
      current.tfa.mode = mode;
      this.store.setUser(user, current);
      // npm 10 treats {tfa:null} as success, npm 11 {tfa:{mode}} (wire reference 2.7.4).
      const npm10 = /^npm\/(\d+)\./.exec(req.headers['user-agent'] ?? '');
      return res.status(200).json({ tfa: npm10 && Number(npm10[1]) <= 10 ? null : { mode, pending: false } });
    }
    const d = await this.decide(req, user, { kind: 'tfa.enable' });
    if (d.outcome !== 'allow') return answer(res, d);
    const e = policy.enrollTotp({ account: user, issuer: this.issuer });
    this.store.setUser(user, { ...s, pending: { mode, secret: this.store.encrypt(e.secret) } });
    return res.status(200).json({ tfa: e.otpauth_uri });
  }

  async access(req, res, user, pkg, c) {
    const body = req.body ?? {};
    const setting = 'publish_requires_tfa' in body;
    const allowed = await new Promise((ok) => this.auth.allow_publish({ packageName: pkg }, req.remote_user, (err, yes) => ok(!err && yes)));
    if (!allowed) return res.status(403).json({ error: `You may not change the settings of ${pkg}.` });
    const d = await this.decide(req, user, c.action, { key: c.key, operation: c.operation });
    if (d.outcome !== 'allow') return answer(res, d);
    if (setting) {
      const access = !body.publish_requires_tfa ? 'none' : body.automation_token_overrides_tfa ? 'tfa-or-token' : 'tfa-no-tokens';
      this.store.setPackageAccess(pkg, access);
    }
    return res.status(200).json({ ok: true });
  }

  oidcCaller(req) {
    const h = req.headers.authorization ?? '';
    const m = /^bearer (stepup_oidc_[0-9a-f]+)$/i.exec(h);
    if (!m) return null;
    return this.store.oidcToken(crypto.createHash('sha256').update(m[1]).digest('hex'), now());
  }

  /** `npm trust` (GET lists, POST sets): package governance, for those who may publish it. */
  async trust(req, res, user, pkg) {
    // Ids are positions: `npm trust list` shows them, the exchange reads the npm shape.
    const withIds = (entries) => entries.map((e, i) => ({ ...e, id: `${pkg}#${i}` }));
    if (req.method === 'GET') return res.status(200).json(withIds(this.store.trust(pkg)?.entries ?? []));
    if (req.method !== 'POST') return res.status(405).json({ error: 'method not allowed' });
    const allowed = await new Promise((ok) => this.auth.allow_publish({ packageName: pkg }, req.remote_user, (err, yes) => ok(!err && yes)));
    if (!allowed) return res.status(403).json({ error: `You may not change the settings of ${pkg}.` });
    const entries = Array.isArray(req.body) ? req.body : [req.body];
    const { policy } = await this.policy();
    // The engine validates the entries, with the exchange's own reader.
    const checked = JSON.parse(policy.callJson('oidc-trust', JSON.stringify({ trust: entries })));
    if (checked.error) return res.status(400).json({ error: `${checked.error.path}: ${checked.error.message}` });
    const d = await this.decide(req, user, { kind: 'trust.configure', package: pkg });
    if (d.outcome !== 'allow') return answer(res, d);
    this.store.setTrust(pkg, { entries, account: user });
    this.logger.info({ user, pkg }, 'stepup: @{user} set trusted publishers of @{pkg}');
    return res.status(201).json(withIds(entries));
  }

  /** `POST /-/npm/v1/oidc/token/exchange/package/NAME`: the engine verifies the CI's ID token. */
  async oidcExchange(req, res, pkg) {
    const fail = (status, message) => res.status(status).json({ message });
    const idToken = /^bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!idToken) return fail(401, 'OIDC token exchange error - unauthorized');
    const trust = this.store.trust(pkg);
    if (!trust) return fail(404, 'OIDC token exchange error - package not found');
    const { policy } = await this.policy();
    const t = now();
    const input = { now: t, token: idToken, jwks: this.jwks, package: pkg, trust: trust.entries };
    if (!policy.config.trusted_publishing.audience) input.audience = `npm:${String(req.headers.host ?? 'localhost').replace(/:\d+$/, '')}`;
    let r;
    try {
      r = policy.oidcExchange(input);
    } catch (e) {
      return fail(400, `OIDC token exchange error - ${e.detail}`);
    }
    if (r.result !== 'accepted') {
      this.logger.info({ pkg, problem: r.problem }, 'stepup: oidc exchange for @{pkg} refused (@{problem})');
      return fail(r.npm.status, r.npm.error);
    }
    if (!this.store.claimJti(r.jti, r.effects[0].until, t)) {
      this.logger.info({ pkg }, 'stepup: oidc exchange for @{pkg} refused (jti replayed)');
      return fail(401, 'OIDC token exchange error - unauthorized');
    }
    const token = `stepup_oidc_${crypto.randomBytes(32).toString('hex')}`;
    this.store.setOidcToken(crypto.createHash('sha256').update(token).digest('hex'), { account: trust.account, credential: r.credential }, t);
    this.logger.info({ pkg, provider: r.provider }, 'stepup: trusted publishing token minted for @{pkg} (@{provider})');
    return res.status(201).json({ token });
  }

  async login(req, res, next, name) {
    // An account that logs in is one an owner can name.
    res.once('finish', () => {
      if (res.statusCode >= 200 && res.statusCode < 300 && typeof name === 'string') this.store.markSeen(name, typeof req.body?.email === 'string' ? req.body.email : undefined);
    });
    const s = this.store.user(name);
    const password = req.body?.password;
    if (!s?.tfa || !(await this.password(name, password))) return next();
    const d = await this.decide(req, name, { kind: 'login' }, { credential: { kind: 'basic' } });
    return d.outcome === 'allow' ? next() : answer(res, d);
  }

  /**
   * Records what a created token may do (bypass, expiry, scope) once Verdaccio has minted it.
   * Verdaccio answers through `res.send` or `res.json` depending on the route's final handler,
   * so both are watched; a token whose options cannot be recorded is revoked, never left with
   * more than it was made for.
   */
  captureToken(req, res) {
    const body = req.body ?? {};
    const json = res.json.bind(res);
    const send = res.send.bind(res);
    let seen = false;
    res.send = (value) => {
      if (!seen && typeof value === 'string' && res.statusCode < 300) {
        try {
          const parsed = JSON.parse(value);
          if (parsed && typeof parsed.key === 'string') record(parsed);
        } catch { /* not JSON: nothing to record */ }
      } else if (!seen && value && typeof value === 'object' && !Buffer.isBuffer(value) && typeof value.key === 'string' && res.statusCode < 300) record(value);
      return send(value);
    };
    const record = (value) => {
      seen = true;
      this.policy().then(({ policy }) => {
        const form = { ...body };
        delete form.password;
        if (form.name === null) delete form.name;
        // npm 11 sends only {name, password} for a plain `npm token create`: a full write token.
        if (!('packages_and_scopes_permission' in form) && !('readonly' in form) && !('packages' in form) && !('scopes' in form)) {
          form.packages_all = true;
          form.packages_and_scopes_permission = 'read-write';
        }
        const check = policy.checkTokenForm(form);
        if (check.ok) this.store.setToken(value.key, { credential: check.credential, created: now() });
        else this.store.setToken(value.key, { credential: { kind: 'legacy-token', type: 'read-only' }, created: now(), refused: check.problems });
      }).catch((err) => this.logger.error({ err: err.message }, 'stepup: token metadata: @{err}'));
    };
    res.json = (value) => {
      if (!seen && value && typeof value.key === 'string' && res.statusCode < 300) record(value);
      return json(value);
    };
  }
}

const MAX_PUBLISH_BODY = 64 << 20;
const MAX_BODY = 1 << 20;
const BODY_TIMEOUT_MS = 30_000;

/** A document PUT to a package path or a staged publish may carry a tarball. */
function isLarge(method, url) {
  const p = String(url ?? '');
  return (method === 'PUT' && !p.startsWith('/-/')) || (method === 'POST' && p.startsWith('/-/stage/package/'));
}

function httpError(status, message) {
  return Object.assign(new Error(message), { status });
}

/**
 * Parses a JSON body if nothing has yet (Verdaccio 6.8 registers its body parser after middleware
 * plugins). Sets `req._body`, which body-parser honours, so the body is read exactly once.
 */
function readJsonBody(req, cap) {
  // A declared length over the cap is refused before a byte is read or waited for.
  if (Number(req.headers['content-length'] ?? 0) > cap) return Promise.reject(httpError(413, `stepup: the request body is larger than this route accepts (${cap >> 20} MiB).`));
  if (req._body || req.method === 'GET' || req.method === 'HEAD' || !/json/i.test(req.headers['content-type'] ?? '')) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const timer = setTimeout(() => {
      reject(httpError(408, 'stepup: the request body did not arrive in time.'));
      req.destroy();
    }, BODY_TIMEOUT_MS);
    req.on('close', () => clearTimeout(timer));
    req.on('data', (c) => {
      size += c.length;
      if (size > cap) {
        clearTimeout(timer);
        reject(httpError(413, `stepup: the request body is larger than this route accepts (${cap >> 20} MiB).`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        req.body = text ? JSON.parse(text) : {};
      } catch {
        req.body = {};
      }
      req._body = true;
      resolve();
    });
    req.on('error', reject);
  });
}

/** The headers the engine may read, secrets left out. */
function headerDoc(req) {
  const out = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (SECRET_HEADERS.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

/** The body with each attachment's `data` replaced by its length (SPEC §9.1). */
function withoutAttachmentData(body) {
  if (body === undefined) return null;
  if (!body || typeof body !== 'object' || Array.isArray(body) || !body._attachments || typeof body._attachments !== 'object') return body;
  const attachments = {};
  for (const [name, a] of Object.entries(body._attachments)) {
    if (a && typeof a === 'object') {
      const { data, ...rest } = a;
      attachments[name] = data === undefined ? rest : { ...rest, length: String(data).length };
    } else attachments[name] = a;
  }
  return { ...body, _attachments: attachments };
}

/** npm install's abbreviated package document (no maintainers in it). */
function corgi(req) {
  return /application\/vnd\.npm\.install-v1\+json/.test(req.headers.accept ?? '');
}

function needLogin(res) {
  res.set('www-authenticate', 'Bearer realm="verdaccio"');
  return res.status(401).json({ error: 'You must be logged in to do that. Run `npm login`.' });
}

function answer(res, d) {
  if (d.npm.www_authenticate) res.set('www-authenticate', d.npm.www_authenticate);
  if (d.outcome === 'challenge') res.set('npm-notice', d.message);
  if (d.retry_after) res.set('retry-after', String(d.retry_after));
  return res.status(d.npm.status).json({ error: d.npm.error, reason: d.reason, message: d.message });
}

module.exports = { StepupMiddleware };
