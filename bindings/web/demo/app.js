// The demo: every decision, check and message comes from the engine; this file only wires forms.
// The demo verifies security keys in the page itself, so it loads the build with the verifiers.
import { load } from '../full.js';

const $ = (id) => document.getElementById(id);
const stepup = await load();
window.stepup = stepup;
// The action kinds, from the request schema the engine ships (generated from its types: each
// kind is a `const` with its description).
const actionKind = stepup.schema('request').$defs.ActionKind;
const KINDS = actionKind.enum ?? actionKind.oneOf.map((k) => k.const);
$('kind').innerHTML = KINDS.map((k) => `<option ${k === 'package.publish' ? 'selected' : ''}>${k}</option>`).join('');
$('status').textContent = `Engine loaded (${stepup.backend}).`;
const policies = new Map();
const policy = (preset) => {
  if (!policies.has(preset)) policies.set(preset, new stepup.Policy({ preset }));
  return policies.get(preset);
};
const now = () => Math.floor(Date.now() / 1000);
const list = (s) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

// 1. Enrolment.
let enrolled;
$('enroll').addEventListener('click', () => {
  const p = policy('npmjs-2026');
  try {
    enrolled = p.enrollTotp({ account: $('account').value, issuer: $('issuer').value });
  } catch (e) {
    $('first-result').textContent = e.message;
    return;
  }
  $('qr').innerHTML = enrolled.qr_svg;
  $('secret').textContent = enrolled.secret;
  $('uri').textContent = enrolled.otpauth_uri;
  $('recovery').innerHTML = p.issueRecoveryCodes().codes.map((c) => `<li><code>${c.replace(/(\d{5})(?=\d)/g, '$1 ')}</code></li>`).join('');
  document.querySelector('.enrolled').hidden = false;
  $('x-secret').value = enrolled.secret;
  $('first-result').textContent = '';
});
$('verify-first').addEventListener('click', () => {
  const r = policy('npmjs-2026').verifyTotp({ secret: enrolled.secret, code: $('first-code').value });
  $('first-result').textContent = r.result === 'accepted' ? 'Code accepted — two-factor authentication is ready.' : r.message;
  $('first-result').className = `result ${r.result === 'accepted' ? 'good' : 'bad'}`;
});

// 2. Action panel.
function buildRequest() {
  const t = now();
  const factors = [$('f-totp').checked && 'totp', $('f-webauthn').checked && 'webauthn'].filter(Boolean);
  const mode = $('mode').value;
  const credentials = {
    session: { kind: 'session' },
    basic: { kind: 'basic' },
    'legacy-publish': { kind: 'legacy-token', type: 'publish' },
    'legacy-read-only': { kind: 'legacy-token', type: 'read-only' },
    'legacy-automation': { kind: 'legacy-token', type: 'automation' },
    granular: { kind: 'granular-token', bypass_2fa: false, expires_at: t + 30 * 86400, packages: { all: true, permission: 'read-write' }, orgs: { names: ['acme'], permission: 'read-write' } },
    'granular-bypass': { kind: 'granular-token', bypass_2fa: true, expires_at: t + 30 * 86400, packages: { all: true, permission: 'read-write' }, orgs: { names: ['acme'], permission: 'read-write' } },
    oidc: { kind: 'oidc', package: $('package').value, permissions: ['createPackage', 'createStagedPackage'] },
  };
  const req = {
    now: t,
    action: { kind: $('kind').value, package: $('package').value || undefined, tag: $('tag').value || undefined, org: 'acme' },
    account: {
      id: $('account').value || 'alice',
      tfa: mode === 'none' ? null : { mode, factors },
      publisher: true,
      impact: $('high-impact').checked ? { weekly_downloads: 5000000, dependents: 2000 } : { weekly_downloads: 120 },
    },
    credential: credentials[$('cred').value],
    client: { ip: '203.0.113.7' },
    package: { name: $('package').value || undefined, publishing_access: $('access').value || undefined },
    orgs: [{ name: 'acme', enforce_tfa: $('org-enforce').checked }],
    proofs: [],
    failures: { account: Array.from({ length: Number($('failures').value) || 0 }, (_, i) => t - 10 - i * 5), ip: [] },
  };
  const proof = $('proof').value;
  if (proof) req.proofs.push({ factor: proof.startsWith('w') ? 'webauthn' : 'totp', verified_at: t - Number(proof.replace('w', '')) });
  return JSON.parse(JSON.stringify(req));
}
function showDecision() {
  const req = buildRequest();
  $('request').textContent = JSON.stringify(req, null, 2);
  let d;
  try {
    d = policy($('preset').value).evaluate(req);
  } catch (e) {
    d = { outcome: 'error', reason: 'invalid-input', rule: e.path, message: e.message, npm: e.npm };
  }
  $('outcome').textContent = d.outcome;
  $('outcome').className = `badge ${d.outcome}`;
  $('reason').textContent = d.reason;
  $('rule').textContent = d.rule;
  $('message').textContent = d.message;
  $('npm').textContent = `${d.npm.status}${d.npm.www_authenticate ? ` www-authenticate: ${d.npm.www_authenticate}` : ''}${d.npm.error ? ` "${d.npm.error}"` : ''}`;
  $('factors').textContent = d.challenge ? `accepts: ${d.challenge.factors.join(', ')}` : '';
}
document.querySelectorAll('#action input, #action select').forEach((el) => el.addEventListener('input', showDecision));
showDecision();

// 3. Explain a code.
function explain() {
  const secret = $('x-secret').value.trim();
  const code = $('x-code').value;
  if (!secret || !code) {
    $('x-result').textContent = '';
    return;
  }
  try {
    const r = policy('npmjs-2026').verifyTotp({ secret, code, now: now() + Number($('x-offset').value || 0) });
    $('x-result').textContent = r.message;
    $('x-result').className = `result ${r.result === 'accepted' ? 'good' : 'bad'}`;
  } catch (e) {
    $('x-result').textContent = e.message;
    $('x-result').className = 'result bad';
  }
}
['x-secret', 'x-code', 'x-offset'].forEach((id) => $(id).addEventListener('input', explain));

// 4. Token form.
function checkToken() {
  const form = {
    name: $('t-name').value,
    packages: list($('t-packages').value),
    scopes: list($('t-scopes').value),
    packages_and_scopes_permission: $('t-perm').value,
    orgs: list($('t-orgs').value),
    orgs_permission: $('t-orgperm').value,
    cidr_whitelist: list($('t-cidrs').value),
    bypass_2fa: $('t-bypass').checked,
  };
  if ($('t-expires').value !== '') form.expires = Number($('t-expires').value);
  let r;
  try {
    r = policy($('preset').value).checkTokenForm(form);
  } catch (e) {
    r = { ok: false, problems: [{ path: e.path, message: e.detail }], notes: [] };
  }
  // Messages can quote what the user typed: build text nodes, never HTML.
  const items = (el, texts) => el.replaceChildren(...texts.map((t) => Object.assign(document.createElement('li'), { textContent: t })));
  items($('t-problems'), r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`));
  items($('t-notes'), r.ok ? ['This token can be created.', ...r.notes] : r.notes);
}
document.querySelectorAll('#token input, #token select, #token textarea').forEach((el) => el.addEventListener('input', checkToken));
checkToken();

// 5. Security key. Binary fields cross the WebAuthn API as ArrayBuffers; the engine speaks the
// standard JSON form (base64url), so the page only converts between the two.
const b64u = {
  decode: (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer,
  encode: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
};
const creationOptions = (o) => ({
  ...o,
  challenge: b64u.decode(o.challenge),
  user: { ...o.user, id: b64u.decode(o.user.id) },
  excludeCredentials: o.excludeCredentials.map((c) => ({ ...c, id: b64u.decode(c.id) })),
});
const requestOptions = (o) => ({
  ...o,
  challenge: b64u.decode(o.challenge),
  allowCredentials: o.allowCredentials.map((c) => ({ ...c, id: b64u.decode(c.id) })),
});
const credentialJson = (c) => {
  const r = c.response;
  const response = { clientDataJSON: b64u.encode(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = b64u.encode(r.attestationObject);
    response.transports = r.getTransports?.() ?? [];
  } else {
    response.authenticatorData = b64u.encode(r.authenticatorData);
    response.signature = b64u.encode(r.signature);
    response.userHandle = r.userHandle ? b64u.encode(r.userHandle) : null;
  }
  return { id: c.id, rawId: b64u.encode(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(), response };
};
// The relying party is this page; WebAuthn needs a domain (localhost counts), never an IP address.
let keyPolicy;
let keyCredential;
const waShow = (text, good) => {
  $('wa-result').textContent = text;
  $('wa-result').className = `result ${good ? 'good' : 'bad'}`;
};
$('wa-register').addEventListener('click', async () => {
  const account = $('account').value || 'alice';
  try {
    keyPolicy ??= new stepup.Policy({ webauthn: { rp_id: location.hostname, rp_name: 'stepup demo', origins: [location.origin] } });
    const ch = keyPolicy.webauthnChallenge({ ceremony: 'registration', user: { id: account, name: account }, credentials: keyCredential ? [keyCredential.id] : [] });
    const created = await navigator.credentials.create({ publicKey: creationOptions(ch.options) });
    const r = keyPolicy.webauthnRegister({ challenge: { challenge: ch.challenge, expires_at: ch.expires_at }, credential: credentialJson(created) });
    if (r.result !== 'accepted') return waShow(`Refused (${r.problem}): ${r.message}`, false);
    keyCredential = r.credential;
    $('wa-credential').textContent = JSON.stringify(keyCredential, null, 1);
    $('wa-use').disabled = false;
    waShow(`Security key registered (${keyCredential.alg}, attestation ${keyCredential.attestation}).`, true);
  } catch (e) {
    waShow(e.message, false);
  }
});
$('wa-use').addEventListener('click', async () => {
  try {
    const ch = keyPolicy.webauthnChallenge({ ceremony: 'authentication', credentials: [keyCredential.id] });
    const got = await navigator.credentials.get({ publicKey: requestOptions(ch.options) });
    const request = {
      action: { kind: 'package.publish', package: $('package').value || 'left-pad' },
      account: { id: $('account').value || 'alice', tfa: { mode: 'auth-and-writes', factors: ['webauthn'] } },
      credential: { kind: 'session' },
    };
    // What a registry stores per key: id, public key, counter.
    const stored = { id: keyCredential.id, public_key: keyCredential.public_key, sign_count: keyCredential.sign_count };
    const secrets = { webauthn: { challenge: { challenge: ch.challenge, expires_at: ch.expires_at }, credentials: [stored] } };
    const d = keyPolicy.authorize(request, secrets, { assertion: credentialJson(got) });
    const update = d.effects.find((e) => e.kind === 'update-webauthn-sign-count');
    if (update) keyCredential.sign_count = update.sign_count;
    $('wa-credential').textContent = JSON.stringify(keyCredential, null, 1);
    waShow(`${d.reason}: ${d.message}${update ? ` (counter ${update.sign_count})` : ''}`, d.outcome === 'allow');
    $('wa-result').dataset.reason = d.reason;
  } catch (e) {
    waShow(e.message, false);
  }
});
// 6. Rollout simulator: the engine replays the policy; the chart is the engine's own SVG.
$('r-population').value = await fetch('../../../examples/population.json').then((r) => (r.ok ? r.text() : '{}'));
const escapeText = (t) => String(t).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
$('r-run').addEventListener('click', () => {
  const show = (text, good) => {
    $('r-summary').textContent = text;
    $('r-summary').className = `result ${good ? 'good' : 'bad'}`;
  };
  let population;
  try {
    population = JSON.parse($('r-population').value);
  } catch (e) {
    show(`The population is not JSON: ${e.message}`, false);
    return;
  }
  try {
    const sim = policy($('r-preset').value).simulateRollout({ population, from: $('r-from').value, to: $('r-to').value, formats: ['svg'] });
    const last = sim.days[sim.days.length - 1];
    const blocked = last.blocked_cohort + last.blocked_org + last.blocked_floor + last.blocked_package + last.blocked_other;
    show(`${sim.from} to ${sim.to}: ${sim.accounts} accounts, ${sim.decisions} decisions. On the last day ${last.enrolled} enrolled in login verification, `
      + `${last.challenged} challenged, ${blocked} blocked from publishing; ${last.orphaned_packages} packages without an able maintainer.`, true);
    $('r-chart').innerHTML = sim.svg;
    const item = (c) => `<li><code>${escapeText(c.name)}</code> from ${c.date}: ${c.why} (<code>${escapeText(c.rule)}</code>)</li>`;
    $('r-blocked').innerHTML = sim.blocked.map(item).join('');
    $('r-orphaned').innerHTML = sim.orphaned.map(item).join('');
  } catch (e) {
    show(e.message, false);
    $('r-chart').innerHTML = '';
  }
});
window.demoReady = true;
