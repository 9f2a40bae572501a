-- c2sweep state, schema version 5: triage. Each hit carries the status a
-- hunter gave it; every change is kept with its time and note. A benign
-- verdict suppresses the (device, C2) pair: suppressions gain kind 'pair'.
ALTER TABLE hits ADD COLUMN triage TEXT; -- investigating|benign|malicious|closed, NULL: untriaged
CREATE TABLE triage_history (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL, -- unix ns
    target TEXT    NOT NULL, -- what was named: "ip 1.2.3.4", "device ws01", "hit 7"
    status TEXT    NOT NULL,
    note   TEXT    NOT NULL,
    hits   INTEGER NOT NULL  -- how many hits it marked
);
CREATE TABLE triage_hits (
    change_id INTEGER NOT NULL REFERENCES triage_history (id) ON DELETE CASCADE,
    hit_id    INTEGER NOT NULL REFERENCES hits (id) ON DELETE CASCADE,
    PRIMARY KEY (hit_id, change_id)
) WITHOUT ROWID;
CREATE TABLE suppressions_new (
    kind    TEXT    NOT NULL CHECK (kind IN ('ip', 'cidr', 'device', 'hunt', 'pair')),
    value   TEXT    NOT NULL COLLATE NOCASE,
    reason  TEXT    NOT NULL,
    by      TEXT    NOT NULL,
    created INTEGER NOT NULL,
    until   INTEGER,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
INSERT INTO suppressions_new SELECT kind, value, reason, by, created, until FROM suppressions;
DROP TABLE suppressions;
ALTER TABLE suppressions_new RENAME TO suppressions;
