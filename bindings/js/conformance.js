// Runs conformance cases (SPEC §7) through any backend of the JS API. Same semantics as the
// Rust runner: config errors are reported under `config.`, authorize when secrets/present exist,
// `call` cases through the named entry point.

/** A case's answer as decision (or result) text, through `api`; `policies` caches by config. */
function answer(api, policies, c) {
  const configText = JSON.stringify(c.config ?? {});
  let entry = policies.get(configText);
  if (!entry) {
    try {
      entry = { policy: new api.Policy(configText) };
    } catch (e) {
      if (e.code !== 'invalid-input') throw e;
      entry = { error: { outcome: 'error', reason: 'invalid-input', error: { path: e.path === '.' ? 'config' : `config.${e.path}`, message: e.detail }, npm: e.npm } };
    }
    policies.set(configText, entry);
  }
  let text;
  if (entry.error) {
    text = JSON.stringify(entry.error);
  } else if (c.call !== undefined) {
    text = entry.policy.callJson(c.call, JSON.stringify(c.input ?? null));
  } else if (c.secrets !== undefined || c.present !== undefined) {
    const doc = { request: c.request };
    if (c.secrets !== undefined) doc.secrets = c.secrets;
    if (c.present !== undefined) doc.present = c.present;
    text = entry.policy.authorizeJson(JSON.stringify(doc));
  } else {
    text = entry.policy.evaluateJson(JSON.stringify(c.request));
  }
  return { text, policy: entry.policy };
}

export function runCases(api, cases) {
  const policies = new Map();
  let passed = 0;
  const failures = [];
  for (const c of cases) {
    const { text: decisionText, policy } = answer(api, policies, c);
    const diffs = api.compareExpectation(c.expect, decisionText);
    if (policy && c.call === undefined && c.secrets === undefined && c.present === undefined) {
      const d = sameThroughObjects(policy, c.request, decisionText);
      if (d) diffs.push(d);
    }
    if (diffs.length === 0) passed += 1;
    else failures.push({ name: c.name, diffs, decision: decisionText });
  }
  return { passed, failed: failures.length, failures };
}

// What only the signature (or a check after it) can decide: a build without verifiers answers
// `unverifiable` where the full build answered one of these, and nowhere else.
const AFTER_SIGNATURE = new Set(['signature', 'sign-count', 'attestation']);

// Entry points a build without the server-side parts leaves out, answering an input error.
const SERVER_SIDE = new Set(['oidc-exchange', 'classify']);

/**
 * A build without signature verifiers (`partial`, stepup-web's default browser build) against
 * the full one, case by case. Every answer must be the full build's, except where a ceremony
 * reached a signature the partial build cannot check: there it answers the problem
 * `unverifiable`, and the full build's answer must have come from that signature or a check
 * after it (accepted or allowed, `signature`, `sign-count`, a self-attestation), never from a
 * check made before it or an input error; and where a case calls a server-side entry point the partial build leaves out
 * (`oidc-exchange`, `classify`), it answers an input error at `function` that says so.
 */
export function compareBuilds(full, partial, cases) {
  const fullPolicies = new Map();
  const partialPolicies = new Map();
  let same = 0;
  let unverifiable = 0;
  let leftOut = 0;
  const differences = [];
  for (const c of cases) {
    const a = answer(full, fullPolicies, c).text;
    const b = answer(partial, partialPolicies, c).text;
    if (a === b) {
      same += 1;
      continue;
    }
    const fullDoc = JSON.parse(a);
    const partialDoc = JSON.parse(b);
    const problem = (d) => d.problem ?? d.webauthn_problem;
    const passed = fullDoc.result === 'accepted' || fullDoc.outcome === 'allow';
    // An unverifiable assertion must not count as a failure or spend the challenge.
    const harmless = !(partialDoc.effects ?? []).some((e) => e.kind === 'record-failure' || e.kind === 'consume-webauthn-challenge');
    if (problem(partialDoc) === 'unverifiable' && (passed || AFTER_SIGNATURE.has(problem(fullDoc))) && harmless) unverifiable += 1;
    else if (SERVER_SIDE.has(c.call) && partialDoc.error?.path === 'function' && /server-side entry point/.test(partialDoc.error.message)) leftOut += 1;
    else differences.push({ name: c.name, full: a, partial: b });
  }
  return { same, unverifiable, leftOut, differences };
}

/**
 * `evaluate` (objects in and out, the packed fast path where it applies) must give exactly what
 * `evaluateJson` gives: the same decision text, or a StepupError at the same path. Requests
 * without `now` are skipped (`evaluate` fills in the clock there, `evaluateJson` refuses).
 */
export function sameThroughObjects(policy, request, decisionText) {
  if (request === null || typeof request !== 'object' || request.now === undefined) return null;
  const viaJson = JSON.parse(decisionText);
  let viaObject;
  try {
    viaObject = JSON.stringify(policy.evaluate(request));
  } catch (e) {
    if (e.code !== 'invalid-input') throw e;
    return viaJson.outcome === 'error' && viaJson.error.path === e.path ? null : `evaluate threw at ${e.path}; evaluateJson gave ${decisionText}`;
  }
  return viaObject === decisionText ? null : `evaluate (objects) gave ${viaObject}; evaluateJson gave ${decisionText}`;
}

/** Formats a result like the Rust runner: FAIL lines, then `N passed, N failed`. */
export function report(file, result) {
  const lines = [];
  for (const f of result.failures) {
    lines.push(`FAIL ${file}: ${f.name}`);
    for (const d of f.diffs) lines.push(`    ${d}`);
  }
  return lines;
}
