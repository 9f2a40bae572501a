package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"c2sweep/internal/indicator"
)

// EachActiveSighting calls fn for every sighting of an active indicator
// that run exceptRun did not name, in IP order (an IP's sightings one after
// the other), streaming from the database: nothing is built for indicators
// the run already holds in memory. keep, when not nil, picks the hunts
// whose sightings are wanted; the others are not decoded.
func (s *Store) EachActiveSighting(ctx context.Context, exceptRun int64, keep func(hunt string) bool, fn func(ip netip.Addr, sg indicator.Sighting) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT s.ip, s.hunt, s.context
		FROM indicators i JOIN sightings s ON s.ip = i.ip
		WHERE i.expired_at IS NULL AND i.last_run <> ?
		ORDER BY s.ip, s.hunt, s.source, s.port, s.transport`, exceptRun)
	if err != nil {
		return s.classify("list sightings", err)
	}
	defer rows.Close()
	var (
		ipText, hunt string
		ctxJSON      []byte
		last         string
		addr         netip.Addr
	)
	for rows.Next() {
		if err := rows.Scan(&ipText, &hunt, &ctxJSON); err != nil {
			return s.classify("list sightings", err)
		}
		if keep != nil && !keep(hunt) {
			continue
		}
		if ipText != last {
			if addr, err = netip.ParseAddr(ipText); err != nil {
				return s.classify("list sightings", fmt.Errorf("stored IP %q: %w", ipText, err))
			}
			last = ipText
		}
		var sg indicator.Sighting
		if err := json.Unmarshal(ctxJSON, &sg); err != nil {
			return s.classify("list sightings", fmt.Errorf("sighting of %s: %w", ipText, err))
		}
		if err := fn(addr, sg); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.classify("list sightings", err)
	}
	return nil
}
