-- c2sweep state, schema version 1.
-- Times are INTEGER nanoseconds since the Unix epoch, UTC; IPs are the
-- canonical text of an unmapped net/netip address.

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    started       INTEGER NOT NULL,
    finished      INTEGER,
    command       TEXT    NOT NULL DEFAULT '',
    config_fp     TEXT    NOT NULL DEFAULT '',
    pid           INTEGER NOT NULL DEFAULT 0,
    outcome       TEXT    NOT NULL DEFAULT 'running'
                  CHECK (outcome IN ('running', 'ok', 'partial', 'failed', 'interrupted')),
    hunts         TEXT,                         -- per-hunt outcomes, JSON
    credits_used  INTEGER NOT NULL DEFAULT 0,
    calls         INTEGER NOT NULL DEFAULT 0,
    indicators    INTEGER NOT NULL DEFAULT 0,
    hits          INTEGER NOT NULL DEFAULT 0,   -- hits seen in the windows, new or not
    errors        TEXT                          -- JSON array of strings
);
CREATE INDEX runs_running ON runs (outcome) WHERE outcome = 'running';

CREATE TABLE indicators (
    ip          TEXT    PRIMARY KEY,
    first_seen  INTEGER NOT NULL,  -- by the sources
    last_seen   INTEGER NOT NULL,
    first_named INTEGER NOT NULL,  -- by our runs
    last_named  INTEGER NOT NULL,
    first_run   INTEGER NOT NULL REFERENCES runs (id),
    last_run    INTEGER NOT NULL REFERENCES runs (id),
    first_swept INTEGER,           -- by us, any target
    last_swept  INTEGER,
    expired_at  INTEGER            -- set by ExpireIndicators, cleared when named again
) WITHOUT ROWID;

-- One row per (IP, hunt, source, port, transport): every reason an IP is swept.
-- A rowid table: its rows are too large to pack well WITHOUT ROWID.
CREATE TABLE sightings (
    id         INTEGER PRIMARY KEY,
    ip         TEXT    NOT NULL REFERENCES indicators (ip) ON DELETE CASCADE,
    hunt       TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    port       INTEGER NOT NULL,
    transport  TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    context    TEXT    NOT NULL,   -- the newest indicator.Sighting, JSON
    UNIQUE (ip, hunt, source, port, transport)
);
CREATE INDEX sightings_hunt ON sightings (hunt, ip);

-- The end of the last successful sweep of an IP for one target (table.column).
CREATE TABLE sweep_windows (
    target      TEXT    NOT NULL,
    ip          TEXT    NOT NULL,
    first_swept INTEGER NOT NULL,
    swept_to    INTEGER NOT NULL,
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    PRIMARY KEY (target, ip)
) WITHOUT ROWID;

CREATE TABLE hits (
    id             INTEGER PRIMARY KEY,
    tbl            TEXT    NOT NULL,
    col            TEXT    NOT NULL,
    ip             TEXT    NOT NULL,
    ts             INTEGER NOT NULL,
    device_id      TEXT    NOT NULL,
    device         TEXT    NOT NULL COLLATE NOCASE,
    account        TEXT    NOT NULL,
    port           INTEGER NOT NULL,
    action         TEXT    NOT NULL,
    process        TEXT    NOT NULL,
    command        TEXT    NOT NULL,
    report_id      TEXT    NOT NULL,
    hunts          TEXT    NOT NULL,   -- JSON array
    row            TEXT,               -- the row as the API returned it, JSON (Options.KeepRows)
    run_id         INTEGER NOT NULL REFERENCES runs (id),
    first_reported INTEGER NOT NULL,
    suppressed     TEXT                -- the matching suppression, NULL when alerted
);
-- The event behind a hit, as indicator.Hit.Key: the same event is stored once.
CREATE UNIQUE INDEX hits_event ON hits (tbl, device_id, report_id, ts, ip);
CREATE INDEX hits_ts ON hits (ts);
CREATE INDEX hits_reported ON hits (first_reported);
CREATE INDEX hits_run ON hits (run_id);
CREATE INDEX hits_device ON hits (device, ts);

CREATE TABLE hit_hunts (
    hunt   TEXT    NOT NULL,
    hit_id INTEGER NOT NULL REFERENCES hits (id) ON DELETE CASCADE,
    PRIMARY KEY (hunt, hit_id)
) WITHOUT ROWID;

CREATE TABLE suppressions (
    kind    TEXT    NOT NULL CHECK (kind IN ('ip', 'cidr', 'device', 'hunt')),
    value   TEXT    NOT NULL COLLATE NOCASE,
    reason  TEXT    NOT NULL,
    by      TEXT    NOT NULL,
    created INTEGER NOT NULL,
    until   INTEGER,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;

-- Outbox: one row per (notification target, new hit) until delivered.
CREATE TABLE alerts (
    target       TEXT    NOT NULL,
    hit_id       INTEGER NOT NULL REFERENCES hits (id) ON DELETE CASCADE,
    queued       INTEGER NOT NULL,
    delivered    INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_attempt INTEGER,
    last_error   TEXT,
    PRIMARY KEY (target, hit_id)
) WITHOUT ROWID;
CREATE INDEX alerts_pending ON alerts (target, hit_id) WHERE delivered IS NULL;
