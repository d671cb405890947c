// The packed request and decision form (stepup-core `packed`): the request object is written
// straight into bytes and the decision read straight back into the object JSON.parse would give,
// so `evaluate` skips JSON text (stringify, the engine's parse, JSON.parse), which costs far more
// than the rules. It is a fast path only: anything unusual (a non-ASCII string, an unknown key,
// a value JSON would refuse) makes encode() return null and the caller uses the JSON path, which
// gives the exact same answer or the exact error. Enum names come from the engine's tables.

const BAIL = Symbol('bail');

/** Builds an encoder/decoder pair from the engine's `packedTables()` JSON. */
export function createPacker(tablesJson) {
  const t = JSON.parse(tablesJson);
  const index = {};
  for (const [k, v] of Object.entries(t)) if (Array.isArray(v)) index[k] = new Map(v.map((name, i) => [name, i]));
  let buf = new Uint8Array(4096);
  let view = new DataView(buf.buffer);
  let pos = 0;
  // Views of the first n bytes of `buf`, made once per length and kept until `buf` is replaced
  // (a fresh subarray per call was 5 % of encode's time).
  let views = [];
  const out = new Uint8Array(1024);
  const outView = new DataView(out.buffer);

  // The engine takes at most 256 KiB packed (stepup-core `packed::MAX_INPUT`).
  const room = (n) => {
    if (pos + n <= buf.length) return;
    if (pos + n > 1 << 18) throw BAIL;
    let size = buf.length;
    while (size < pos + n) size *= 4;
    const bigger = new Uint8Array(size);
    bigger.set(buf);
    buf = bigger;
    view = new DataView(buf.buffer);
    views = [];
  };
  const u8 = (v) => {
    if (pos >= buf.length) room(1);
    buf[pos++] = v;
  };
  // Field writers: a field's tag (0 for a list item, which has none; booleans and lists are
  // never items) and its value, with one room check. One call per field instead of a call per
  // tag, length and value, and the string loop on locals: together a quarter of encode's time.
  const wInt = (tag, v) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw BAIL;
    if (pos + 9 > buf.length) room(9);
    if (tag !== 0) buf[pos++] = tag;
    view.setFloat64(pos, v, true);
    pos += 8;
  };
  const wStr = (tag, s) => {
    if (typeof s !== 'string') throw BAIL;
    const n = s.length;
    if (n > 0xffff) throw BAIL;
    if (pos + n + 3 > buf.length) room(n + 3);
    const b = buf;
    let p = pos;
    if (tag !== 0) b[p++] = tag;
    b[p] = n & 0xff;
    b[p + 1] = n >> 8;
    p += 2;
    for (let i = 0; i < n; i += 1) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) throw BAIL;
      b[p++] = c;
    }
    pos = p;
  };
  const wBool = (tag, v) => {
    if (typeof v !== 'boolean') throw BAIL;
    if (pos + 2 > buf.length) room(2);
    buf[pos++] = tag;
    buf[pos++] = v ? 1 : 0;
  };
  const enumOf = (table) => {
    const names = index[table];
    return (tag, v) => {
      const i = names.get(v);
      if (i === undefined) throw BAIL;
      if (pos + 2 > buf.length) room(2);
      if (tag !== 0) buf[pos++] = tag;
      buf[pos++] = i;
    };
  };
  const wList = (tag, v, item) => {
    if (!Array.isArray(v)) throw BAIL;
    const n = v.length;
    if (n > 0xffff) throw BAIL;
    if (pos + 3 > buf.length) room(3);
    buf[pos++] = tag;
    buf[pos++] = n & 0xff;
    buf[pos++] = n >> 8;
    for (let i = 0; i < n; i += 1) item(0, v[i]);
  };
  const action = enumOf('actions');
  const factor = enumOf('factors');
  const tfaMode = enumOf('tfa_modes');
  const credKind = enumOf('credential_kinds');
  const legacyType = enumOf('legacy_types');
  const permission = enumOf('permissions');
  const access = enumOf('publishing_access');
  const oidcPermission = enumOf('oidc_permissions');

  // One writer per object shape (separate functions, so each keeps its own inline caches; the
  // plain-object check is written out in each for the same reason: shared, its property load
  // and Object.getPrototypeOf saw every shape and cost a fifth of encode's time. toJSON is read
  // first, so the prototype lookup knows the object's map and is folded to a constant).
  // Each own key is matched to its field: an unknown key bails, as JSON's deny_unknown_fields
  // refuses it; undefined is dropped and null is absent, as in JSON (a required field left
  // out is refused by the engine, so the JSON path reports it). Inherited keys are ignored, as
  // JSON.stringify ignores them: a polluted prototype cannot add a field. Only plain objects
  // are taken (prototype Object.prototype or null), and only while Object.prototype has no
  // enumerable keys, so `for...in` sees exactly the own keys JSON.stringify writes.
  let prototypeClean = true;
  function tfa(o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'mode': if (v !== null) tfaMode(1, v); break;
        case 'factors': if (v !== null) wList(2, v, factor); break;
        default: throw BAIL;
      }
    }
    u8(0);
  }
  function impact(o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'weekly_downloads': if (v !== null) wInt(1, v); break;
        case 'dependents': if (v !== null) wInt(2, v); break;
        case 'dependents_rank': if (v !== null) wInt(3, v); break;
        default: throw BAIL;
      }
    }
    u8(0);
  }
  function packageInfo(o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'name': if (v !== null) wStr(1, v); break;
        case 'publishing_access': if (v !== null) access(2, v); break;
        case 'weekly_downloads': if (v !== null) wInt(3, v); break;
        case 'dependents': if (v !== null) wInt(4, v); break;
        case 'dependents_rank': if (v !== null) wInt(5, v); break;
        default: throw BAIL;
      }
    }
    u8(0);
  }
  function packages(o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'all': if (v !== null) wBool(1, v); break;
        case 'names': if (v !== null) wList(2, v, wStr); break;
        case 'scopes': if (v !== null) wList(3, v, wStr); break;
        case 'permission': if (v !== null) permission(4, v); break;
        default: throw BAIL;
      }
    }
    u8(0);
  }
  function orgsAxis(o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'names': if (v !== null) wList(1, v, wStr); break;
        case 'permission': if (v !== null) permission(2, v); break;
        default: throw BAIL;
      }
    }
    u8(0);
  }
  function org(_, o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'name': if (v !== null) wStr(1, v); break;
        case 'enforce_tfa': if (v !== null) wBool(2, v); break;
        default: throw BAIL;
      }
    }
    u8(0);
  }
  function proof(_, o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'factor': if (v !== null) factor(1, v); break;
        case 'verified_at': if (v !== null) wInt(2, v); break;
        default: throw BAIL;
      }
    }
    u8(0);
  }
  function actionOf(o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'kind': if (v !== null) action(1, v); break;
        case 'package': if (v !== null) wStr(2, v); break;
        case 'tag': if (v !== null) wStr(3, v); break;
        case 'org': if (v !== null) wStr(4, v); break;
        case 'target_account': if (v !== null) wStr(5, v); break;
        default: throw BAIL;
      }
    }
    u8(0);
  }
  function account(o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'id': if (v !== null) wStr(1, v); break;
        case 'tfa': if (v !== null) { u8(2); tfa(v); } break;
        case 'publisher': if (v !== null) wBool(3, v); break;
        case 'impact': if (v !== null) { u8(4); impact(v); } break;
        case 'safeguard_until': if (v !== null) wInt(5, v); break;
        default: throw BAIL;
      }
    }
    u8(0);
  }
  function credential(o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'kind': if (v !== null) credKind(1, v); break;
        case 'type': if (v !== null) legacyType(2, v); break;
        case 'bypass_2fa': if (v !== null) wBool(3, v); break;
        case 'expires_at': if (v !== null) wInt(4, v); break;
        case 'cidr_whitelist': if (v !== null) wList(5, v, wStr); break;
        case 'packages': if (v !== null) { u8(6); packages(v); } break;
        case 'orgs': if (v !== null) { u8(7); orgsAxis(v); } break;
        case 'package': if (v !== null) wStr(8, v); break;
        case 'permissions': if (v !== null) wList(9, v, oidcPermission); break;
        default: throw BAIL;
      }
    }
    u8(0);
  }
  function client(o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      if (k !== 'ip') throw BAIL;
      if (v !== null) wStr(1, v);
    }
    u8(0);
  }
  function failures(o) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'account': if (v !== null) wList(1, v, wInt); break;
        case 'ip': if (v !== null) wList(2, v, wInt); break;
        default: throw BAIL;
      }
    }
    u8(0);
  }
  function writeRequest(o, now) {
    if (o === null || typeof o !== 'object' || !prototypeClean || typeof o.toJSON === 'function') throw BAIL;
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    if (now !== undefined) wInt(1, now);
    for (const k in o) {
      const v = o[k];
      if (v === undefined) continue;
      switch (k) {
        case 'now': if (v !== null && now === undefined) wInt(1, v); break;
        case 'action': if (v !== null) { u8(2); actionOf(v); } break;
        case 'account': if (v !== null) { u8(3); account(v); } break;
        case 'credential': if (v !== null) { u8(4); credential(v); } break;
        case 'client': if (v !== null) { u8(5); client(v); } break;
        case 'package': if (v !== null) { u8(6); packageInfo(v); } break;
        case 'orgs': if (v !== null) wList(7, v, org); break;
        case 'proofs': if (v !== null) wList(8, v, proof); break;
        case 'failures': if (v !== null) { u8(9); failures(v); } break;
        default: throw BAIL;
      }
    }
    u8(0);
  }

  /** Writes `request` (its `now` replaced by `now` when given); the bytes, or null to use JSON. */
  function encode(request, now) {
    pos = 0;
    prototypeClean = true;
    for (const _ in Object.prototype) prototypeClean = false;
    try {
      u8(t.version);
      writeRequest(request, now);
    } catch (e) {
      if (e === BAIL) return null;
      throw e;
    }
    let v = views[pos];
    if (v === undefined) {
      v = buf.subarray(0, pos);
      views[pos] = v;
    }
    return v;
  }

  // Decoding: `out` is filled by the engine.
  let at = 0;
  const rd8 = () => out[at++];
  const rdNum = () => { const v = outView.getFloat64(at, true); at += 8; return v; };
  // Decision texts: the engine's constants (rules, standard messages, npm errors) come with a
  // non-zero key that, with the length, always names the same bytes (stepup-core `packed`), so
  // each is read once and then reused; texts made per decision (key 0) are read every time.
  // Kept in a small table indexed by the key's low bits (a Map keyed by these large numbers
  // hashed a heap number per text); a slot holds one key and its string, and a key that finds
  // its slot taken by another is read again and takes it.
  const slotKeys = new Float64Array(1024);
  const slotTexts = new Array(1024).fill('');
  const rdText = (n) => {
    const end = at + n;
    let ascii = true;
    for (let i = at; i < end; i += 1) if (out[i] > 0x7f) { ascii = false; break; }
    const s = ascii
      ? String.fromCharCode.apply(null, out.subarray(at, end))
      : new TextDecoder().decode(out.subarray(at, end));
    at = end;
    return s;
  };
  const rdStr = () => {
    const n = outView.getUint16(at, true);
    const key = outView.getFloat64(at + 2, true);
    at += 10;
    if (key === 0) return rdText(n);
    // The address's low 32 bits (a cheap truncation), folded so aligned addresses spread too.
    const low = key >>> 0;
    const slot = (low ^ (low >>> 10)) & 1023;
    // Only ASCII texts are kept, so a kept string's length is its byte length.
    if (slotKeys[slot] === key && slotTexts[slot].length === n) { at += n; return slotTexts[slot]; }
    const s = rdText(n);
    if (s.length === n) { slotKeys[slot] = key; slotTexts[slot] = s; }
    return s;
  };
  const effectOf = () => {
    const kind = t.effects[rd8()];
    switch (kind) {
      case 'consume-totp-step': return { kind, step: rdNum() };
      case 'burn-recovery-code': return { kind, index: rdNum() };
      case 'start-safeguard': return { kind, until: rdNum() };
      case 'update-webauthn-sign-count': return { kind, credential_id: rdStr(), sign_count: rdNum() };
      case 'report-sign-count-regression': return { kind, credential_id: rdStr(), stored: rdNum(), presented: rdNum() };
      default: return { kind };
    }
  };

  /** Reads the decision the engine wrote (`len` bytes of `out`). */
  function decode() {
    at = 0;
    const d = { outcome: t.outcomes[rd8()], reason: t.reasons[rd8()], rule: rdStr(), message: rdStr() };
    const flags = rd8();
    if (flags & 1) {
      const n = rd8();
      const factors = [];
      for (let i = 0; i < n; i += 1) factors.push(t.factors[rd8()]);
      d.challenge = { factors };
    }
    if (flags & 2) d.retry_after = rdNum();
    if (flags & 4) d.drift_seconds = rdNum();
    if (flags & 8) d.webauthn_problem = rdStr();
    const n = rd8();
    const effects = [];
    for (let i = 0; i < n; i += 1) effects.push(effectOf());
    d.effects = effects;
    const status = outView.getUint16(at, true);
    at += 2;
    const nf = rd8();
    d.npm = { status, www_authenticate: nf & 1 ? rdStr() : null, error: nf & 2 ? rdStr() : null };
    return d;
  }

  return { encode, decode, out };
}
