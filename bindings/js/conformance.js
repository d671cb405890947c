// Runs conformance cases (SPEC §7) through any backend of the JS API. Same semantics as the
// Rust runner: config errors are reported under `config.`, authorize when secrets/present exist,
// `call` cases through the named entry point.

export function runCases(api, cases) {
  const policies = new Map();
  let passed = 0;
  const failures = [];
  for (const c of cases) {
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
    let decisionText;
    if (entry.error) {
      decisionText = JSON.stringify(entry.error);
    } else if (c.call !== undefined) {
      decisionText = entry.policy.callJson(c.call, JSON.stringify(c.input ?? null));
    } else if (c.secrets !== undefined || c.present !== undefined) {
      const doc = { request: c.request };
      if (c.secrets !== undefined) doc.secrets = c.secrets;
      if (c.present !== undefined) doc.present = c.present;
      decisionText = entry.policy.authorizeJson(JSON.stringify(doc));
    } else {
      decisionText = entry.policy.evaluateJson(JSON.stringify(c.request));
    }
    const diffs = api.compareExpectation(c.expect, decisionText);
    if (entry.policy && c.call === undefined && c.secrets === undefined && c.present === undefined) {
      const d = sameThroughObjects(entry.policy, c.request, decisionText);
      if (d) diffs.push(d);
    }
    if (diffs.length === 0) passed += 1;
    else failures.push({ name: c.name, diffs, decision: decisionText });
  }
  return { passed, failed: failures.length, failures };
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
