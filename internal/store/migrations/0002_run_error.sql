-- c2sweep state, schema version 2: the reason a run failed, in one line,
-- for `runs` (errors keeps every error of a partial run).
ALTER TABLE runs ADD COLUMN error TEXT;
