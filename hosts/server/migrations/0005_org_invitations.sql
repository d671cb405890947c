-- Org membership needs the member's consent: an account another member adds is invited
-- (accepted = 0) until it accepts; only accepted members count for decisions, roles, the audit's
-- details and enforcement. Members from before this step joined under the old rules and stay.

ALTER TABLE org_members ADD COLUMN accepted BIGINT NOT NULL DEFAULT 1;
