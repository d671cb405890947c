'use strict';
// The plugin's state, in the Verdaccio storage folder: per-user 2FA state (TOTP secrets encrypted
// with AES-256-GCM under the configured key, recovery codes only as salted hashes), package
// publishing-access settings, token metadata and failure times. One JSON file, replaced
// atomically on every change, so state survives restarts and a crash never leaves half a file.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const DAY = 86400;
/** The most failure times one list of the engine's request carries (core's `MAX_FAILURES`;
 * the plugin's tests check it against the request schema's `maxItems`). */
const MAX_FAILURES = 4096;

// scrypt's cost for a passphrase key (node:crypto's maximum memory is raised to fit it).
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/**
 * The 32-byte sealing key from the configured text: 32 bytes as hex or base64 are used as
 * they are; anything else of at least 16 characters is a passphrase, stretched with scrypt
 * under the state file's own salt. A `${...}` placeholder is refused: Verdaccio does not
 * expand it, and the literal text would become a public key.
 */
function sealingKey(text, salt) {
  const t = String(text ?? '').trim();
  if (/\$\{[^}]*\}/.test(t)) throw new Error(`verdaccio-stepup: the key is the literal placeholder ${t}; Verdaccio does not expand environment variables in config.yaml. Put the key in the environment variable named by secret_key_env (default STEPUP_SECRET_KEY).`);
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(t)) return Buffer.from(t, 'base64');
  if (t.length < 16) throw new Error('verdaccio-stepup: the sealing key must be 32 bytes (64 hex characters or base64) or a passphrase of at least 16 characters');
  return crypto.scryptSync(t, salt, 32, SCRYPT);
}

class Store {
  constructor(dir, secretKey) {
    this.dir = dir;
    this.file = path.join(dir, 'state.json');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.data = fs.existsSync(this.file) ? JSON.parse(fs.readFileSync(this.file, 'utf8')) : { version: 2, users: {}, packages: {}, tokens: {}, ipFailures: {} };
    this.data.kdf ??= { salt: crypto.randomBytes(16).toString('base64') };
    this.key = sealingKey(secretKey, Buffer.from(this.data.kdf.salt, 'base64'));
    if ((this.data.version ?? 1) < 2) this.migrate(secretKey);
    // Fail at start-up, not at the first login, if the key cannot open what is stored.
    for (const u of Object.values(this.data.users)) {
      if (u.secret) this.decrypt(u.secret);
      if (u.pending?.secret) this.decrypt(u.pending.secret);
    }
    this.data.revoked ??= {};
  }

  /** Version 1 sealed secrets under one SHA-256 of the key text: opened with that, sealed again. */
  migrate(secretKey) {
    const legacy = crypto.createHash('sha256').update(`verdaccio-stepup:${secretKey}`).digest();
    const modern = this.key;
    const reseal = (blob) => {
      this.key = legacy;
      const plain = this.decrypt(blob);
      this.key = modern;
      return this.encrypt(plain);
    };
    for (const u of Object.values(this.data.users)) {
      if (u.secret) u.secret = reseal(u.secret);
      if (u.pending?.secret) u.pending.secret = reseal(u.pending.secret);
    }
    this.key = modern;
    this.data.version = 2;
    this.save();
  }

  /** Records a logged-out bearer token (by its SHA-256) until `until`. */
  revoke(hash, until, now) {
    const live = Object.fromEntries(Object.entries(this.data.revoked ?? {}).filter(([, u]) => u > now));
    live[hash] = until;
    this.data.revoked = live;
    this.save();
  }

  isRevoked(hash, now) {
    const u = this.data.revoked?.[hash];
    return u !== undefined && u > now;
  }

  encrypt(text) {
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([c.update(text, 'utf8'), c.final()]);
    return `v1.${iv.toString('base64')}.${c.getAuthTag().toString('base64')}.${ct.toString('base64')}`;
  }

  decrypt(blob) {
    const [v, iv, tag, ct] = String(blob).split('.');
    if (v !== 'v1') throw new Error('verdaccio-stepup: unknown secret format in state file');
    try {
      const d = crypto.createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
      d.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([d.update(Buffer.from(ct, 'base64')), d.final()]).toString('utf8');
    } catch {
      throw new Error('verdaccio-stepup: cannot decrypt stored TOTP secrets: secret_key differs from the one they were stored with');
    }
  }

  save() {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.data), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  user(name) {
    return this.data.users[name] ?? null;
  }

  setUser(name, value) {
    if (value === null) delete this.data.users[name];
    else this.data.users[name] = value;
    this.save();
  }

  packageAccess(name) {
    return this.data.packages[name]?.publishing_access;
  }

  setPackageAccess(name, access) {
    this.data.packages[name] = { ...(this.data.packages[name] ?? {}), publishing_access: access };
    this.save();
  }

  token(key) {
    return this.data.tokens[key] ?? null;
  }

  setToken(key, meta) {
    this.data.tokens[key] = meta;
    this.save();
  }

  trust(pkg) {
    return this.data.packages[pkg]?.trust ?? null;
  }

  setTrust(pkg, trust) {
    this.data.packages[pkg] = { ...(this.data.packages[pkg] ?? {}), trust };
    this.save();
  }

  /** Marks an ID token's jti used until `until`; false when it already was (a replay). */
  claimJti(jti, until, now) {
    const jtis = Object.fromEntries(Object.entries(this.data.jtis ?? {}).filter(([, u]) => u > now));
    if (jti in jtis) return false;
    jtis[jti] = until;
    this.data.jtis = jtis;
    this.save();
    return true;
  }

  /** A trusted-publishing token by the SHA-256 of its text. */
  oidcToken(hash, now) {
    const t = this.data.oidcTokens?.[hash];
    return t && t.credential.expires_at > now ? t : null;
  }

  setOidcToken(hash, meta, now) {
    const live = Object.fromEntries(Object.entries(this.data.oidcTokens ?? {}).filter(([, t]) => t.credential.expires_at > now));
    live[hash] = meta;
    this.data.oidcTokens = live;
    this.save();
  }

  /** Accounts that have used this registry (an owner must be one), with the e-mail they gave. */
  seen(name) {
    return this.data.accounts?.[name] ?? null;
  }

  markSeen(name, email) {
    this.data.accounts ??= {};
    const had = this.data.accounts[name];
    if (had && (!email || had.email === email)) return;
    this.data.accounts[name] = { email: email || had?.email || '' };
    this.save();
  }

  /** The maintainers the plugin keeps for a package (`[]` when it keeps none). */
  maintainers(pkg) {
    return this.data.packages[pkg]?.maintainers ?? [];
  }

  setMaintainers(pkg, names) {
    this.data.packages[pkg] = { ...(this.data.packages[pkg] ?? {}), maintainers: [...new Set(names)].sort() };
    this.save();
  }

  /** Every package's maintainers, for the impact index. */
  allMaintainers() {
    return Object.fromEntries(Object.entries(this.data.packages).filter(([, p]) => p.maintainers?.length).map(([name, p]) => [name, p.maintainers]));
  }

  /** The dependencies each package's latest manifest declares (the dependents index). */
  dependencies() {
    return this.data.dependencies ?? {};
  }

  setDependencies(pkg, deps, save = true) {
    this.data.dependencies ??= {};
    this.data.dependencies[pkg] = deps;
    if (save) this.save();
  }

  /** Adds counted downloads (`Map` of `package\0day` → count) in one write. */
  addDownloads(pending, today) {
    const all = this.data.downloads ?? {};
    for (const [key, n] of pending) {
      const [pkg, day] = key.split('\u0000');
      all[pkg] ??= {};
      all[pkg][day] = (all[pkg][day] ?? 0) + n;
    }
    // Five weeks of daily counts are kept.
    for (const days of Object.values(all)) for (const d of Object.keys(days)) if (Number(d) < today - 35) delete days[d];
    this.data.downloads = all;
    this.save();
  }

  /** Downloads per package over the seven full days before `today` (UTC day numbers). */
  weeklyDownloads(today) {
    const out = {};
    for (const [pkg, days] of Object.entries(this.data.downloads ?? {})) {
      let n = 0;
      for (const [d, c] of Object.entries(days)) if (Number(d) >= today - 7 && Number(d) < today) n += c;
      if (n) out[pkg] = n;
    }
    return out;
  }

  ipFailures(ip, now) {
    return recentFailures(this.data.ipFailures[ip], now);
  }

  recordFailure(name, ip, now) {
    const u = this.data.users[name];
    if (u) u.failures = recentFailures([...(u.failures ?? []), now], now);
    if (ip) this.data.ipFailures[ip] = recentFailures([...(this.data.ipFailures[ip] ?? []), now], now);
    this.forgetQuietAddresses(now);
  }

  /**
   * Drops the addresses none of whose failures is younger than a day (no throttle window
   * reaches further back): without this, every address that ever failed a code stayed in the
   * state file, which many addresses (IPv6) would grow without end. A scan of all addresses,
   * so at most once a minute.
   */
  forgetQuietAddresses(now) {
    if (now - (this.quietScanAt ?? -Infinity) < 60) return;
    this.quietScanAt = now;
    for (const [ip, list] of Object.entries(this.data.ipFailures)) {
      if (!Array.isArray(list) || list.every((t) => !(t > now - DAY))) delete this.data.ipFailures[ip];
    }
  }
}

/**
 * The failure times the engine is given: those of the last day up to now (the engine counts
 * none after it), oldest first, and only the newest MAX_FAILURES of them. A throttle window is full when its newest `limit` failures fall
 * inside it, so the newest ones decide every window; a longer list is refused by the engine as
 * invalid input, which would turn every request from a busy address (or of an account being
 * guessed at, with no throttle configured) into an error instead of a decision.
 */
function recentFailures(list, now) {
  const recent = (list ?? []).filter((t) => t > now - DAY && t <= now).sort((a, b) => a - b);
  return recent.length > MAX_FAILURES ? recent.slice(recent.length - MAX_FAILURES) : recent;
}

module.exports = { Store, sealingKey, recentFailures, MAX_FAILURES };
