// The demo: every decision, check and message comes from the engine; this file only wires forms.
import { load } from '../index.js';

const $ = (id) => document.getElementById(id);
const stepup = await load();
window.stepup = stepup;
const KINDS = stepup.schema('request').properties.action.properties.kind.enum;
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
window.demoReady = true;
