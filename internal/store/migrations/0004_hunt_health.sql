-- c2sweep state, schema version 4: hunt health. Per hunt and run, what
-- the source returned, what was fresh, kept and excluded, and the hits;
-- and each hunt's last verdict, so a change of state is alerted once.
CREATE TABLE hunt_runs (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    hunt     TEXT    NOT NULL,
    at       INTEGER NOT NULL,           -- unix ns, the run's start
    returned INTEGER NOT NULL DEFAULT 0, -- items the source returned
    fresh    INTEGER NOT NULL DEFAULT 0, -- fresh indicators
    kept     INTEGER NOT NULL DEFAULT 0, -- valid items (fresh or stale)
    excluded INTEGER NOT NULL DEFAULT 0, -- fresh IPs dropped by exclusions
    excluded_why TEXT NOT NULL DEFAULT '', -- JSON {reason: count}
    hits     INTEGER NOT NULL DEFAULT 0,
    failed   INTEGER NOT NULL DEFAULT 0, -- 1: the hunt failed
    PRIMARY KEY (run_id, hunt)
);
CREATE INDEX hunt_runs_hunt ON hunt_runs (hunt, at);
CREATE TABLE hunt_verdicts (
    hunt    TEXT PRIMARY KEY,
    verdict TEXT NOT NULL,
    since   INTEGER NOT NULL -- unix ns of the run that set it
);
