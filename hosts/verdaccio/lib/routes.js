'use strict';
// Which stepup action an npm request is (wire-protocol reference §2.6). Reads are not listed:
// they need no factor, and npm sends `npm-otp` on them too, so they pass untouched.

const dec = (s) => decodeURIComponent(s);

/** Splits `/<pkg>[/rest...]`; scoped names come as `@scope%2fname` or `@scope/name`. */
function packagePath(p) {
  const parts = p.split('/').slice(1);
  if (parts.length === 0 || !parts[0]) return null;
  let name;
  let rest;
  if (parts[0].startsWith('@') && !/%2f/i.test(parts[0])) {
    if (parts.length < 2) return null;
    name = `${dec(parts[0])}/${dec(parts[1])}`;
    rest = parts.slice(2);
  } else {
    name = dec(parts[0]);
    rest = parts.slice(1);
  }
  return { name, rest };
}

/**
 * @returns {{kind: string, package?: string, tag?: string} | null}
 */
function classifyWrite(method, path, body) {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return null;
  let m = path.match(/^\/-\/package\/([^/]+)\/dist-tags\/([^/]+)$/);
  if (m) return { kind: method === 'DELETE' ? 'dist-tag.remove' : 'dist-tag.add', package: dec(m[1]), tag: dec(m[2]) };
  if ((m = path.match(/^\/-\/npm\/v1\/tokens(\/token\/[^/]+)?$/))) {
    if (method === 'POST' && !m[1]) return { kind: 'token.create' };
    if (method === 'DELETE' && m[1]) return { kind: 'token.revoke' };
    return null;
  }
  if (path.startsWith('/-/')) return null;
  const p = packagePath(path);
  if (!p) return null;
  const b = body && typeof body === 'object' ? body : {};
  if (method === 'PUT' && p.rest.length === 0) {
    if (b._attachments && Object.keys(b._attachments).length > 0) return { kind: 'package.publish', package: p.name, tag: Object.keys(b['dist-tags'] ?? {})[0] };
    if (b.users && !b.versions) return { kind: 'package.star', package: p.name };
    return { kind: 'package.deprecate', package: p.name };
  }
  if (p.rest[0] === '-rev') {
    if (method === 'PUT' && b.maintainers && !b.versions) return { kind: 'owner.add', package: p.name };
    return { kind: 'package.unpublish', package: p.name };
  }
  if (method === 'DELETE' && p.rest[0] === '-') return { kind: 'package.unpublish', package: p.name };
  return null;
}

module.exports = { classifyWrite, packagePath };
