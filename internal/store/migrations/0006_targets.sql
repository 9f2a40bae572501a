-- c2sweep state, schema version 6: many sweep targets (tenants, Sentinel
-- workspaces) in one state. A hit names the target whose telemetry held
-- it; the same event in two targets is two hits. Target names are unique
-- ignoring case, so they compare that way. State written before targets
-- belongs to the implicit target "default".
ALTER TABLE hits ADD COLUMN target TEXT NOT NULL DEFAULT 'default' COLLATE NOCASE;
DROP INDEX hits_event;
CREATE UNIQUE INDEX hits_event ON hits (target, tbl, device_id, report_id, ts, ip);
-- `hits --target`: one target's hits, newest first.
CREATE INDEX hits_target ON hits (target, ts);
-- The incremental windows are kept per target: "Table.Column" becomes
-- "default/Table.Column" (indicator.WindowKey); keys holding "/" already
-- name their target.
UPDATE sweep_windows SET target = 'default/' || target WHERE instr(target, '/') = 0;
-- Per-target outcomes of a run, JSON array of store.TargetOutcome; NULL for
-- runs recorded before targets (they swept "default").
ALTER TABLE runs ADD COLUMN targets TEXT;
