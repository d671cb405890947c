-- One row readiness writes and commits: a store that answers reads but takes no write (a full
-- disk, a read-only mount) is not ready.

CREATE TABLE IF NOT EXISTS probes (id BIGINT PRIMARY KEY, at BIGINT NOT NULL);
