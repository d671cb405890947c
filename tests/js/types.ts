// Compile-only: the published types describe the API as used (run with tsc --noEmit --strict).
import api, { Policy, type Decision, type Request, type Effect, type TokenCheck, type Credential } from '../../bindings/web/node.js';
import { load } from '../../bindings/web/index.js';
import nodeAddon, { Policy as NativePolicy } from '../../bindings/node/index.js';

const req: Request = {
  action: { kind: 'package.publish', package: 'left-pad' },
  account: { id: 'alice', tfa: { mode: 'auth-and-writes', factors: ['totp'] } },
  credential: { kind: 'granular-token', bypass_2fa: true, packages: { scopes: ['@acme'], permission: 'read-write' } },
};
const p = new Policy({ preset: 'npmjs-2022', throttle: { account: [{ limit: 5, window_seconds: 300 }] } });
const d: Decision = p.evaluate(req);
const status: number = d.npm.status;
const factors = d.challenge?.factors ?? [];
const steps = d.effects.filter((e): e is Extract<Effect, { kind: 'consume-totp-step' }> => e.kind === 'consume-totp-step').map((e) => e.step);
const t: TokenCheck = p.checkTokenForm({ scopes: ['@acme'], packages_and_scopes_permission: 'read-write', expires: 30 });
const rc: string[] = p.issueRecoveryCodes().codes;
const kind: 'totp' | 'email-otp' | 'recovery-code' | null = p.classifyCode('123456');
try {
  p.evaluate({ ...req, now: -1 });
} catch (e) {
  if (e instanceof api.StepupError) {
    const where: string = e.path;
    void where;
  }
}
async function browser(): Promise<Decision> {
  const stepup = await load();
  return new stepup.Policy().evaluate(req);
}
// @ts-expect-error: not an action kind
const wrong: Request = { ...req, action: { kind: 'package.yank' } };
const native: Decision = new NativePolicy().authorize(req, { totp_secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' }, { code: '123456' });
const backendName: 'napi' | 'wasm-node' | 'wasm-web' = nodeAddon.backend;
// The generated credential type is a union by kind: each kind takes only its own fields.
const oidc: Credential = { kind: 'oidc', package: 'left-pad', permissions: ['createPackage'] };
// @ts-expect-error: a session credential carries no token type
const session: Credential = { kind: 'session', type: 'publish' };
// @ts-expect-error: a legacy token needs its type
const legacy: Credential = { kind: 'legacy-token' };
const decisionSchema: object = api.schema('decision');
// The rollout simulator: a population in, days and first changes out.
const sim = new NativePolicy({ preset: 'npmjs-2022' }).simulateRollout({
  population: { accounts: [{ id: 'a', tfa: { mode: 'auth-only', factors: ['totp'] } }], packages: [{ name: 'p', maintainers: ['a'] }], orgs: [{ name: 'o', enforce_from: '2027-01-01' }] },
  from: '2027-01-01', to: '2027-01-31', formats: ['csv'],
});
const blockedWhy: Array<'cohort' | 'org' | 'floor' | 'package' | 'other'> = sim.blocked.map((c) => c.why);
const orphanedToday: number = sim.days[0].orphaned_packages;
// @ts-expect-error: not a rendering the simulator offers
new NativePolicy().simulateRollout({ population: {}, from: 0, to: 0, formats: ['pdf'] });
void [status, factors, steps, t, rc, kind, browser, wrong, native, backendName, oidc, session, legacy, decisionSchema, blockedWhy, orphanedToday];
