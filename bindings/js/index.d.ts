// Types of the stepup JavaScript API (identical for the napi addon and the wasm builds).
// Field names follow SPEC §2–§3 (snake_case JSON); times are unix seconds.

export type ActionKind =
  | 'package.read' | 'profile.read' | 'token.list' | 'org.read'
  | 'login'
  | 'profile.update' | 'email.change' | 'password.change' | 'tfa.enable' | 'tfa.mode-change' | 'tfa.disable' | 'recovery-codes.regenerate'
  | 'token.create' | 'token.revoke'
  | 'package.publish' | 'package.stage-publish'
  | 'package.unpublish' | 'package.deprecate' | 'dist-tag.add' | 'dist-tag.remove' | 'package.star'
  | 'owner.add' | 'owner.remove' | 'access.visibility' | 'access.grant' | 'access.revoke' | 'access.publishing-setting' | 'trust.configure' | 'package.stage-approve'
  | 'org.member.add' | 'org.member.remove' | 'org.team.change' | 'org.tfa-enforcement';

export type ActionClass = 'read' | 'login' | 'account' | 'tokens' | 'publish' | 'package-write' | 'package-governance' | 'org-governance';
export type Factor = 'webauthn' | 'totp' | 'recovery-code' | 'email-otp';
export type TfaMode = 'disabled' | 'auth-only' | 'auth-and-writes';
export type Permission = 'no-access' | 'read-only' | 'read-write';
export type PublishingAccess = 'none' | 'tfa-or-token' | 'tfa-no-tokens';

export interface Impact { weekly_downloads?: number; dependents?: number; dependents_rank?: number }

export type Credential =
  | { kind: 'session' }
  | { kind: 'basic' }
  | { kind: 'legacy-token'; type: 'publish' | 'read-only' | 'automation'; expires_at?: number; cidr_whitelist?: string[] }
  | {
      kind: 'granular-token'; bypass_2fa?: boolean; expires_at?: number; cidr_whitelist?: string[];
      packages?: { all?: boolean; names?: string[]; scopes?: string[]; permission?: Permission };
      orgs?: { names?: string[]; permission?: Permission };
    }
  | { kind: 'oidc'; package: string; permissions?: Array<'createPackage' | 'createStagedPackage'>; expires_at?: number };

export interface Request {
  /** Unix seconds; the JS API fills in the current time when absent. */
  now?: number;
  action: { kind: ActionKind; package?: string; tag?: string; org?: string; target_account?: string };
  account: {
    id: string;
    tfa?: { mode: TfaMode; factors?: Factor[] } | null;
    publisher?: boolean;
    impact?: Impact | null;
    safeguard_until?: number | null;
  };
  credential: Credential;
  client?: { ip?: string };
  package?: { name?: string; publishing_access?: PublishingAccess } & Impact;
  orgs?: Array<{ name: string; enforce_tfa?: boolean }>;
  proofs?: Array<{ factor: Factor; verified_at: number }>;
  failures?: { account?: number[]; ip?: number[] };
}

export type Outcome = 'allow' | 'challenge' | 'deny';
export type Reason =
  | 'allowed' | 'allowed-with-proof' | 'allowed-bypass-token' | 'allowed-trusted-publisher'
  | 'otp-required' | 'login-verification-required' | 'otp-invalid' | 'otp-malformed' | 'otp-replayed' | 'otp-clock-drift'
  | 'token-expired' | 'ip-not-allowed' | 'token-read-only' | 'token-scope' | 'oidc-scope'
  | 'bypass-token-forbidden' | 'tokens-disallowed' | 'package-requires-tfa' | 'tfa-required-to-publish'
  | 'tfa-enforced' | 'safeguard-read-only' | 'throttled';

export type Effect =
  | { kind: 'consume-totp-step'; step: number }
  | { kind: 'burn-recovery-code'; index: number }
  | { kind: 'consume-email-code' }
  | { kind: 'record-email-attempt' }
  | { kind: 'record-failure' }
  | { kind: 'clear-failures' }
  | { kind: 'revoke-web-sessions' }
  | { kind: 'start-safeguard'; until: number }
  | { kind: 'consume-webauthn-challenge' }
  | { kind: 'update-webauthn-sign-count'; credential_id: string; sign_count: number }
  | { kind: 'report-sign-count-regression'; credential_id: string; stored: number; presented: number }
  | { kind: 'read-anonymously' };

export interface Decision {
  outcome: Outcome;
  reason: Reason;
  rule: string;
  message: string;
  challenge?: { factors: Factor[] };
  retry_after?: number;
  drift_seconds?: number;
  /** For a refused WebAuthn assertion: which check failed. */
  webauthn_problem?: WebauthnProblem;
  effects: Effect[];
  /** The exact answer an npm-compatible registry gives. */
  npm: { status: number; www_authenticate: 'OTP' | 'ipaddress' | null; error: string | null };
}

export interface CodeRecord { salt: string; hash: string }
export interface EmailRecord extends CodeRecord { expires_at: number; attempts: number }
export interface Secrets {
  totp_secret?: string; last_totp_step?: number; recovery_codes?: CodeRecord[]; email_code?: EmailRecord;
  webauthn?: { challenge?: ChallengeRecord; credentials: Array<{ id: string; public_key: string; sign_count?: number }> };
}
/** A typed code, or a WebAuthn assertion (`PublicKeyCredential.toJSON()` of `navigator.credentials.get`). */
export type Presented = { factor?: Factor; code: string } | { factor?: 'webauthn'; assertion: object };

export interface Window { limit: number; window_seconds: number }
/** Configuration (SPEC §6): a preset plus overrides. Dates: unix seconds or "YYYY-MM-DD". */
export interface Config {
  preset?: 'npmjs-2022' | 'npmjs-2026';
  proof_max_age_seconds?: number;
  publish_floor?: boolean;
  exempt_non_latest_dist_tags?: boolean;
  bypass_token_forbidden_classes?: ActionClass[];
  default_publishing_access?: PublishingAccess;
  throttle?: { account?: Window[]; ip?: Window[] };
  safeguard?: { start_on_high_impact?: boolean; hours?: number };
  high_impact?: { weekly_downloads_over: number; dependents_at_least: number };
  cohorts?: Array<{ name: string; from: number | string; dependents_rank_at_most?: number; high_impact?: boolean }>;
  login_verification?: {
    salt?: string;
    stages?: Array<{ population: 'publishers' | 'all'; start: number | string; end: number | string }>;
    brown_outs?: Array<{ population: 'publishers' | 'all'; start: number | string; duration_seconds: number }>;
  };
  strong_factor_actions?: ActionKind[];
  totp?: { algorithm?: 'SHA1' | 'SHA256' | 'SHA512'; digits?: number; period_seconds?: number; skew_steps?: number; drift_probe_steps?: number; secret_bytes?: number };
  recovery_codes?: { count?: number };
  email_code?: { digits?: number; ttl_seconds?: number; max_attempts?: number };
  tokens?: { write_max_ttl_days?: number | null; write_default_ttl_days?: number | null; min_ttl_days?: number };
  /** The WebAuthn relying party: rp_id is the host users see; origins are exact `scheme://host[:port]`. */
  webauthn?: {
    rp_id?: string; rp_name?: string; origins?: string[]; user_verification?: 'required' | 'preferred' | 'discouraged';
    challenge_ttl_seconds?: number; algorithms?: Array<'ES256' | 'EdDSA' | 'RS256'>; sign_count_regression?: 'reject' | 'report';
  };
  /** Trusted publishing: the audience (`npm:<registry host>`), clock leeway, minted-token lifetime, refused triggers, issuers. */
  trusted_publishing?: {
    audience?: string | null; leeway_seconds?: number; token_ttl_seconds?: number; refuse_events?: string[];
    require_hosted_runner?: boolean; issuers?: { github?: string; gitlab?: string; circleci?: string };
  };
}

export interface TotpEnrollment { secret: string; otpauth_uri: string; qr_svg: string }
export interface IssuedRecoveryCodes { codes: string[]; records: CodeRecord[] }
export interface IssuedEmailCode { code: string; record: EmailRecord }
export type TotpCheck =
  | { result: 'accepted'; step: number; message: string }
  | { result: 'clock-drift'; drift_seconds: number; message: string }
  | { result: 'replayed' | 'invalid' | 'malformed'; message: string };

export interface TokenForm {
  name?: string; description?: string; packages?: string[]; packages_all?: boolean; scopes?: string[]; orgs?: string[];
  packages_and_scopes_permission?: Permission; orgs_permission?: Permission;
  /** Lifetime in days. */
  expires?: number; cidr_whitelist?: string[]; bypass_2fa?: boolean;
  /** npm 10's legacy form. */
  readonly?: boolean; password?: string;
}
export interface TokenCheck { ok: boolean; problems: Array<{ path: string; message: string }>; notes: string[]; credential?: Credential }

export interface Member { id: string; tfa?: { mode: TfaMode; factors?: Factor[] } | null; role?: 'owner' | 'admin' | 'developer'; impact?: Impact }
export interface EnforcementPlan { allowed: boolean; refused?: 'actor-not-member' | 'actor-not-owner' | 'actor-without-tfa'; message: string; remove: string[]; keep: string[] }
export interface Audit {
  total: number; with_tfa: number; without_tfa: number; adoption_basis_points: number; auth_only: number; auth_and_writes: number;
  webauthn: number; totp_only: number; missing: string[]; high_impact_missing: string[]; owners_missing: string[];
}

/** A pending WebAuthn challenge as the host stores it. */
export interface ChallengeRecord { challenge: string; expires_at: number }
export interface WebauthnChallenge extends ChallengeRecord {
  /** `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`. */
  options: Record<string, unknown>;
}
/** A registered credential as the host stores it (pass `{id, public_key, sign_count}` back in `secrets.webauthn.credentials`). */
export interface WebauthnCredential {
  id: string; public_key: string; sign_count: number; alg: 'ES256' | 'EdDSA' | 'RS256'; aaguid: string;
  attestation: 'none' | 'self' | 'unverified'; user_verified: boolean; backup_eligible: boolean; backed_up: boolean; transports: string[];
}
export type WebauthnProblem = 'malformed' | 'type' | 'challenge-mismatch' | 'challenge-expired' | 'origin' | 'rp-id' | 'user-presence'
  | 'user-verification' | 'algorithm' | 'attestation' | 'credential-exists' | 'unknown-credential' | 'signature' | 'sign-count';
export type WebauthnRegistration =
  | { result: 'accepted'; credential: WebauthnCredential }
  | { result: 'rejected'; problem: WebauthnProblem; message: string };
/** One trusted publisher of a package, as `npm trust` writes it. */
export interface TrustEntry { type: 'github' | 'gitlab' | 'circleci'; claims: Record<string, unknown>; permissions?: Array<'createPackage' | 'createStagedPackage'> }
export type OidcExchange =
  | { result: 'accepted'; credential: { kind: 'oidc'; package: string; permissions: string[]; expires_at: number }; provider: 'github' | 'gitlab' | 'circleci';
      subject: string; jti: string; token_expires_at: number; effects: Array<{ kind: 'consume-oidc-jti'; jti: string; until: number }> }
  | { result: 'rejected'; problem: 'malformed' | 'algorithm' | 'key' | 'signature' | 'expired' | 'not-yet-valid' | 'audience' | 'issuer' | 'replayed' | 'trigger' | 'claims' | 'no-trust';
      message: string; npm: { status: 401 | 403 | 404; error: string } };

/** Bad input: `path` names the first invalid field. */
export declare class StepupError extends Error {
  readonly code: 'invalid-input';
  readonly path: string;
  readonly detail: string;
  readonly npm: { status: 400; www_authenticate: null; error: string };
}

export declare class Policy {
  constructor(config?: Config | string);
  evaluate(request: Request): Decision;
  authorize(request: Request, secrets?: Secrets, present?: Presented | null): Decision;
  evaluateJson(requestJson: string): string;
  authorizeJson(inputJson: string): string;
  enrollTotp(options: { account: string; issuer?: string; entropy?: Uint8Array | string }): TotpEnrollment;
  issueRecoveryCodes(options?: { entropy?: Uint8Array | string }): IssuedRecoveryCodes;
  issueEmailCode(options?: { now?: number; entropy?: Uint8Array | string }): IssuedEmailCode;
  totpCode(secret: string, now?: number): string;
  verifyTotp(options: { secret: string; code: string; now?: number; lastStep?: number }): TotpCheck;
  checkTokenForm(token: TokenForm, options?: { now?: number }): TokenCheck;
  /** Any JSON entry point by name (`webauthn-challenge`, `webauthn-register`, `oidc-exchange`, ...). */
  callJson(fn: string, inputJson: string): string;
  /** What an npm request is (SPEC §9), or why it is refused (docs/CLASSIFICATION.md). */
  classify(request: ClassifyInput): Classification;
  webauthnChallenge(options: { ceremony: 'registration' | 'authentication'; now?: number; entropy?: Uint8Array | string; user?: { id: string; name: string; display_name?: string }; credentials?: string[] }): WebauthnChallenge;
  /** `challenge`: the stored record, or what webauthnChallenge returned. */
  webauthnRegister(options: { now?: number; challenge: ChallengeRecord; credential: object; existing?: string[] }): WebauthnRegistration;
  oidcExchange(options: { now?: number; token: string; jwks: { keys: object[] }; package: string; trust?: TrustEntry[]; usedJtis?: string[]; audience?: string }): OidcExchange;
  auditOrg(members: Member[]): Audit;
  classifyCode(code: string): 'totp' | 'email-otp' | 'recovery-code' | null;
  readonly config: Required<Config>;
}

export interface StepupApi {
  readonly backend: 'napi' | 'wasm-node' | 'wasm-web';
  readonly Policy: typeof Policy;
  readonly StepupError: typeof StepupError;
  planOrgEnforcement(input: { org: string; actor: string; members: Member[] }): EnforcementPlan;
  compareExpectation(expect: object | string, decision: Decision | string): string[];
  schema(which: 'config' | 'request'): object;
}

/** An npm request to classify (docs/CLASSIFICATION.md). */
export interface ClassifyInput {
  method: string;
  /** Raw path and query as received. */
  path: string;
  /** Lower-case names; leave out `authorization`, `cookie` and `npm-otp`. */
  headers?: Record<string, string>;
  /** Parsed JSON body with attachment `data` removed, or null. */
  body?: unknown;
  /** The package's (or, for a profile update, the account's) current document. */
  current?: unknown;
  /** Write routes the operator added. */
  routes?: Array<{ prefix: string; methods?: string[]; kind: ActionKind }>;
}

/** The answer of `classify`. */
export type Classification =
  | {
      result: 'classified';
      route: string;
      action: { kind: ActionKind; package?: string; tag?: string; org?: string; target_account?: string } | null;
      package: string | null;
      path: string;
      key: string;
      write: boolean;
      needs_current: boolean;
    }
  | {
      result: 'refused';
      status: 400 | 405;
      problem: 'bad-method' | 'method-override' | 'double-encoding' | 'dot-segment' | 'bad-segment' | 'empty-segment'
        | 'bad-package-name' | 'scope-without-name' | 'query-on-write' | 'unknown-write' | 'bad-body';
      error: string;
    };
