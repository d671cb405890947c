-- Orgs the gateway keeps (npm org / npm team): members with their role, teams and their
-- members, and whether the org enforces 2FA. Every login's time, for the org audit.

CREATE TABLE IF NOT EXISTS orgs (name TEXT PRIMARY KEY, enforce_tfa BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL);

CREATE TABLE IF NOT EXISTS org_members (org TEXT NOT NULL, account TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (org, account));

CREATE INDEX IF NOT EXISTS org_members_by_account ON org_members (account);

CREATE TABLE IF NOT EXISTS teams (org TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', PRIMARY KEY (org, name));

CREATE TABLE IF NOT EXISTS team_members (org TEXT NOT NULL, team TEXT NOT NULL, account TEXT NOT NULL, PRIMARY KEY (org, team, account));

ALTER TABLE accounts ADD COLUMN last_login BIGINT;
