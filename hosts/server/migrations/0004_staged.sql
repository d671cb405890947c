-- Staged publishes (`npm stage publish`) the gateway keeps until a maintainer approves or rejects
-- them: the publish document as the CLI sent it (tarball included), and what `npm stage list`
-- shows.

CREATE TABLE IF NOT EXISTS staged (id TEXT PRIMARY KEY, package TEXT NOT NULL, version TEXT NOT NULL, tag TEXT NOT NULL, account TEXT NOT NULL, actor_type TEXT NOT NULL, shasum TEXT NOT NULL, body TEXT NOT NULL, created BIGINT NOT NULL);

CREATE INDEX IF NOT EXISTS staged_by_package ON staged (package);
