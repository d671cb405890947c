-- The tables as of the first release with migrations. `IF NOT EXISTS` throughout: stores
-- created before migrations were tracked already hold these tables and take this step as is.

CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, tfa_mode TEXT, totp_secret TEXT, last_step BIGINT, pending_mode TEXT, pending_secret TEXT, safeguard_until BIGINT, email_code TEXT, email TEXT NOT NULL DEFAULT '', fullname TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL);

CREATE TABLE IF NOT EXISTS recovery_codes (account TEXT NOT NULL, idx BIGINT NOT NULL, salt TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (account, idx));

CREATE TABLE IF NOT EXISTS tokens (key TEXT PRIMARY KEY, account TEXT NOT NULL, prefix TEXT NOT NULL, name TEXT, description TEXT, credential TEXT NOT NULL, upstream TEXT, readonly BIGINT NOT NULL, cidr TEXT, created BIGINT NOT NULL, expires BIGINT, session BIGINT NOT NULL);

CREATE INDEX IF NOT EXISTS tokens_by_account ON tokens (account);

CREATE TABLE IF NOT EXISTS failures (account TEXT, ip TEXT, at BIGINT NOT NULL);

CREATE INDEX IF NOT EXISTS failures_by_account ON failures (account, at);

CREATE INDEX IF NOT EXISTS failures_by_ip ON failures (ip, at);

CREATE TABLE IF NOT EXISTS packages (name TEXT PRIMARY KEY, publishing_access TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS operations (account TEXT NOT NULL, op TEXT NOT NULL, code_hash TEXT NOT NULL, until BIGINT NOT NULL, PRIMARY KEY (account, op));

CREATE TABLE IF NOT EXISTS operation_uses (account TEXT NOT NULL, op TEXT NOT NULL, code_hash TEXT NOT NULL, request TEXT NOT NULL, PRIMARY KEY (account, op, code_hash, request));

CREATE TABLE IF NOT EXISTS web_logins (id TEXT PRIMARY KEY, expires BIGINT NOT NULL, token TEXT);

CREATE TABLE IF NOT EXISTS trust (package TEXT PRIMARY KEY, config TEXT NOT NULL, account TEXT NOT NULL, upstream TEXT, updated BIGINT NOT NULL);

CREATE TABLE IF NOT EXISTS maintainers (package TEXT NOT NULL, account TEXT NOT NULL, PRIMARY KEY (package, account));

CREATE TABLE IF NOT EXISTS approvals (id TEXT PRIMARY KEY, account TEXT NOT NULL, op TEXT NOT NULL, action TEXT NOT NULL, credential TEXT NOT NULL, expires BIGINT NOT NULL, token_hash TEXT, approved_at BIGINT);

CREATE TABLE IF NOT EXISTS approval_uses (id TEXT NOT NULL, request TEXT NOT NULL, PRIMARY KEY (id, request));

CREATE TABLE IF NOT EXISTS oidc_jtis (jti TEXT PRIMARY KEY, until BIGINT NOT NULL);

CREATE TABLE IF NOT EXISTS webauthn_credentials (id TEXT PRIMARY KEY, account TEXT NOT NULL, public_key TEXT NOT NULL, sign_count BIGINT NOT NULL, alg TEXT NOT NULL, created BIGINT NOT NULL);

CREATE INDEX IF NOT EXISTS webauthn_by_account ON webauthn_credentials (account);

CREATE TABLE IF NOT EXISTS webauthn_challenges (account TEXT NOT NULL, purpose TEXT NOT NULL, challenge TEXT NOT NULL, expires BIGINT NOT NULL, PRIMARY KEY (account, purpose));
