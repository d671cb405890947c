-- Package impact, from what the registry itself sees: tarball downloads per package per UTC
-- day (flushed in batches), each package's dependencies as its latest published manifest names
-- them (the dependents index), and figures an operator imported (`stepup impact import`).

CREATE TABLE IF NOT EXISTS downloads (package TEXT NOT NULL, day BIGINT NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (package, day));

CREATE TABLE IF NOT EXISTS dependencies (package TEXT NOT NULL, dependency TEXT NOT NULL, PRIMARY KEY (package, dependency));

CREATE INDEX IF NOT EXISTS dependencies_by_dependency ON dependencies (dependency);

CREATE TABLE IF NOT EXISTS impact_imports (package TEXT PRIMARY KEY, weekly_downloads BIGINT NOT NULL, dependents BIGINT NOT NULL, imported BIGINT NOT NULL);
