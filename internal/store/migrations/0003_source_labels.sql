-- c2sweep state, schema version 3: sources other than Shodan label what
-- they name (malware family, confidence). The full labels stay in context;
-- these columns let the state be asked "which Cobalt Strike servers".
ALTER TABLE sightings ADD COLUMN malware TEXT NOT NULL DEFAULT '';
ALTER TABLE sightings ADD COLUMN confidence INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sightings_malware ON sightings (malware) WHERE malware != '';
