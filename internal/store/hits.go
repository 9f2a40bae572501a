package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"c2sweep/internal/indicator"
)

// StoredHit is a hit as the state remembers it.
type StoredHit struct {
	indicator.Hit
	ID            int64     `json:"id"`
	RunID         int64     `json:"run_id"`         // the run that first reported it
	FirstReported time.Time `json:"first_reported"` // when it was committed
	// Suppressed names the suppression that matched when the hit was
	// committed ("ip 1.2.3.4: lab scanner"); such hits are kept, not alerted.
	Suppressed string `json:"suppressed,omitempty"`
	// Triage is the status a hunter last gave the hit (`c2sweep triage`):
	// investigating, benign, malicious or closed; "" when untriaged.
	Triage string `json:"triage,omitempty"`
	// Sources are what the hit's hunts' sources said of its server (Hits
	// fills them; alerts do not carry them).
	Sources []HitSource `json:"sources,omitempty"`
}

// HitSource is one sighting of a hit's server by one of its hunts.
type HitSource struct {
	Hunt   string           `json:"hunt"`
	Source string           `json:"source"`
	Port   int              `json:"port,omitempty"`
	Labels indicator.Labels `json:"labels,omitzero"`
}

// HitFilter selects hits; the zero value selects all.
type HitFilter struct {
	Since         time.Time // event time at or after
	ReportedSince time.Time // first reported at or after ("new hits since")
	Hunt          string    // attributed to this hunt
	Device        string    // device name or short name (ws01 for ws01.contoso.local), case-insensitive
	NewInRun      int64     // first reported by this run
	// Targets: only hits of these sweep targets (any of them), compared
	// ignoring case; empty: every target. A name the state does not know
	// selects nothing.
	Targets        []string
	HideSuppressed bool
	Limit          int // <= 0: all
}

// windowKey is the stored key of the incremental windows named by key:
// indicator.WindowKey's "target/Table.Column", or a bare "Table.Column"
// of the default target (the key before targets existed).
func windowKey(key string) string {
	if key == "" || strings.Contains(key, "/") {
		return key
	}
	return indicator.WindowKey(indicator.DefaultTarget, key)
}

// ipChunk bounds the JSON array of IPs bound to one statement.
const ipChunk = 10000

// ipJSON renders ips, unmapped, as a JSON array for json_each, and maps
// each text back to the addresses it came from.
func ipJSON(ips []netip.Addr) (string, map[string][]netip.Addr) {
	var b bytes.Buffer
	back := make(map[string][]netip.Addr, len(ips))
	b.WriteByte('[')
	for i, ip := range ips {
		t := ip.Unmap().String()
		back[t] = append(back[t], ip)
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(t) // IP text needs no JSON escaping
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String(), back
}

func checkIPs(ips []netip.Addr) error {
	for _, ip := range ips {
		if !ip.IsValid() {
			return errors.New("invalid IP address in sweep")
		}
	}
	return nil
}

// LastSwept returns, for each IP in ips that was swept successfully for
// target (a window key, indicator.WindowKey: "target/Table.Column"), the
// end of its last successful sweep.
// An IP that is absent was never swept there: give it the full lookback.
// The map is keyed by the addresses as given. A key without a target
// ("Table.Column") is the default target's, as migration 6 moved them.
func (s *Store) LastSwept(ctx context.Context, target string, ips []netip.Addr) (map[netip.Addr]time.Time, error) {
	if err := checkIPs(ips); err != nil {
		return nil, err
	}
	target = windowKey(target)
	out := make(map[netip.Addr]time.Time)
	for len(ips) > 0 {
		chunk := ips[:min(len(ips), ipChunk)]
		ips = ips[len(chunk):]
		arr, back := ipJSON(chunk)
		rows, err := s.db.QueryContext(ctx,
			"SELECT ip, swept_to FROM sweep_windows WHERE target = ? AND ip IN (SELECT value FROM json_each(?))", target, arr)
		if err != nil {
			return nil, s.classify("read sweep windows", err)
		}
		for rows.Next() {
			var ip string
			var to int64
			if err := rows.Scan(&ip, &to); err != nil {
				rows.Close()
				return nil, s.classify("read sweep windows", err)
			}
			for _, a := range back[ip] {
				out[a] = fromNS(to)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.classify("read sweep windows", err)
		}
	}
	return out, nil
}

// CommitSweep records one successful query, all or nothing, in one
// transaction: it stores the query's hits, skipping events already known
// (same sweep target, table, device id, report id, time and IP, as
// indicator.Hit.Key; a hit without a Target is the DefaultTarget's),
// marks those a suppression matches, queues the others for every alert
// target, and moves the last-swept time of every IP in ips for target (a
// window key, indicator.WindowKey) to
// end (never backwards). It returns the hits that are new. A query that
// failed is simply not committed, so the next run sweeps its window again;
// a crash loses nothing committed and reports nothing twice.
func (s *Store) CommitSweep(ctx context.Context, runID int64, target string, ips []netip.Addr, end time.Time, hits []indicator.Hit) ([]StoredHit, error) {
	fresh, err := s.CommitSweeps(ctx, runID, []Sweep{{Target: target, IPs: ips, End: end, Hits: hits}})
	if err != nil {
		return nil, err
	}
	return fresh[0], nil
}

// Sweep is one successful query to commit: its window key (Target), the
// IPs whose window moves to End, and its hits.
type Sweep struct {
	Target string
	IPs    []netip.Addr
	End    time.Time
	Hits   []indicator.Hit
}

// CommitSweeps commits several queries in one transaction, each as
// CommitSweep does, all or nothing: one sync to disk for all of them.
// Concurrent sweep targets share transactions this way. It returns each
// sweep's new hits, in order.
func (s *Store) CommitSweeps(ctx context.Context, runID int64, sweeps []Sweep) ([][]StoredHit, error) {
	if !s.locked() {
		return nil, &Error{Path: s.path, Kind: ErrNotLocked, Msg: "commit sweep"}
	}
	// A key written before sweep targets (Table.Column) is the default
	// target's.
	sweeps = slices.Clone(sweeps)
	for i := range sweeps {
		sweeps[i].Target = windowKey(sweeps[i].Target)
	}
	type prepared struct {
		huntList   []string
		hunts, row any
	}
	preps := make([][]prepared, len(sweeps))
	anyHits := false
	for si, sw := range sweeps {
		if sw.Target == "" || sw.End.IsZero() {
			return nil, errors.New("commit sweep: target and end are required")
		}
		if err := checkIPs(sw.IPs); err != nil {
			return nil, err
		}
		hits := sw.Hits
		anyHits = anyHits || len(hits) > 0
		prep := make([]prepared, len(hits))
		for i := range hits {
			h := &hits[i]
			if !h.IP.IsValid() || h.Table == "" {
				return nil, fmt.Errorf("commit sweep: hit %d has no table or IP", i)
			}
			hunts := slices.Clone(h.Hunts)
			slices.Sort(hunts)
			hunts = slices.Compact(hunts)
			if hunts == nil {
				hunts = []string{}
			}
			prep[i].huntList = hunts
			hj, _ := json.Marshal(hunts)
			prep[i].hunts = string(hj)
			if s.rows && h.Row != nil {
				rj, err := json.Marshal(h.Row)
				if err != nil {
					return nil, fmt.Errorf("commit sweep: hit %d row: %w", i, err)
				}
				prep[i].row = string(rj)
			}
		}
		preps[si] = prep
	}
	now := s.now()
	targets := s.alertTargets()
	fresh := make([][]StoredHit, len(sweeps))
	op := "commit sweep"
	if len(sweeps) == 1 {
		op += " " + sweeps[0].Target
	} else if len(sweeps) > 1 {
		op = fmt.Sprintf("commit %d sweeps", len(sweeps))
	}
	err := s.tx(ctx, op, func(tx *sql.Tx) error {
		for i := range fresh {
			fresh[i] = fresh[i][:0]
		}
		sup, err := loadSuppressor(ctx, tx, now)
		if err != nil {
			return err
		}
		var ins, hh, al *sql.Stmt
		if anyHits {
			if ins, err = tx.PrepareContext(ctx, `INSERT INTO hits (target, tbl, col, ip, ts, device_id, device, account, port,
				action, process, command, report_id, hunts, row, run_id, first_reported, suppressed)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT DO NOTHING RETURNING id`); err != nil {
				return err
			}
			defer ins.Close()
			if hh, err = tx.PrepareContext(ctx, "INSERT OR IGNORE INTO hit_hunts (hunt, hit_id) VALUES (?, ?)"); err != nil {
				return err
			}
			defer hh.Close()
			if al, err = tx.PrepareContext(ctx, "INSERT OR IGNORE INTO alerts (target, hit_id, queued) VALUES (?, ?, ?)"); err != nil {
				return err
			}
			defer al.Close()
		}
		for si, sw := range sweeps {
			for i := range sw.Hits {
				h := sw.Hits[i] // a copy: the caller's hits are not changed
				h.Hunts = preps[si][i].huntList
				if h.Target == "" {
					h.Target = indicator.DefaultTarget
				}
				ip := h.IP.Unmap()
				var why any
				if ok, reason := sup(h); ok {
					why = reason
				}
				var id int64
				err := ins.QueryRowContext(ctx, h.Target, h.Table, h.Column, ip.String(), ns(h.Timestamp), h.DeviceID, h.Device,
					h.Account, h.Port, h.Action, h.Process, h.Command, h.ReportID, preps[si][i].hunts, preps[si][i].row,
					runID, ns(now), why).Scan(&id)
				if errors.Is(err, sql.ErrNoRows) {
					continue // known event
				}
				if err != nil {
					return fmt.Errorf("hit %d: %w", i, err)
				}
				for _, hu := range h.Hunts {
					if _, err := hh.ExecContext(ctx, hu, id); err != nil {
						return err
					}
				}
				if why == nil {
					for _, t := range targets {
						if _, err := al.ExecContext(ctx, t, id, ns(now)); err != nil {
							return err
						}
					}
				}
				sh := StoredHit{Hit: h, ID: id, RunID: runID, FirstReported: fromNS(ns(now))}
				sh.IP = ip
				if why != nil {
					sh.Suppressed = why.(string)
				}
				fresh[si] = append(fresh[si], sh)
			}
			for rest := sw.IPs; len(rest) > 0; {
				chunk := rest[:min(len(rest), ipChunk)]
				rest = rest[len(chunk):]
				arr, _ := ipJSON(chunk)
				if _, err := tx.ExecContext(ctx, `INSERT INTO sweep_windows (target, ip, first_swept, swept_to, run_id)
					SELECT ?1, value, ?2, ?2, ?3 FROM json_each(?4) WHERE true
					ON CONFLICT (target, ip) DO UPDATE SET swept_to = max(swept_to, excluded.swept_to), run_id = excluded.run_id`,
					sw.Target, ns(sw.End), runID, arr); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE indicators SET first_swept = coalesce(first_swept, ?1),
					last_swept = max(coalesce(last_swept, 0), ?1) WHERE ip IN (SELECT value FROM json_each(?2))`,
					ns(sw.End), arr); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return fresh, nil
}

const hitCols = `h.id, h.target, h.tbl, h.col, h.ip, h.ts, h.device_id, h.device, h.account, h.port, h.action, h.process,
	h.command, h.report_id, h.hunts, h.row, h.run_id, h.first_reported, h.suppressed, h.triage`

// hitsQuery builds the query for f. A run or first-reported filter drives
// the lookup with its index; the unary + keeps the planner from walking
// hits_ts instead.
func hitsQuery(f HitFilter) (string, []any) {
	var where []string
	var args []any
	indexed := "" // the index that drives the lookup, pinned with INDEXED BY
	if f.NewInRun != 0 {
		where = append(where, "h.run_id = ?")
		args = append(args, f.NewInRun)
		indexed = "hits_run"
	}
	if !f.ReportedSince.IsZero() {
		col := "h.first_reported"
		if indexed != "" {
			col = "+" + col
		} else {
			indexed = "hits_reported"
		}
		where = append(where, col+" >= ?")
		args = append(args, ns(f.ReportedSince))
	}
	if f.Device != "" {
		// The range keeps it an index lookup: the name and every
		// "name.domain" sort in [name, name + "/"), '/' following '.'.
		where = append(where, `h.device >= ? AND h.device < ? || '/' AND (h.device = ? OR h.device LIKE ? || '.%' ESCAPE '\')`)
		args = append(args, f.Device, f.Device, f.Device, likeEscape(f.Device))
	}
	if f.Hunt != "" {
		where = append(where, "h.id IN (SELECT hit_id FROM hit_hunts WHERE hunt = ?)")
		args = append(args, f.Hunt)
	}
	if len(f.Targets) > 0 {
		// One "?" a name: the planner then uses hits_target (target, ts).
		col := "h.target"
		if indexed != "" {
			col = "+" + col
		}
		where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Targets)), ", ")+")")
		for _, t := range f.Targets {
			args = append(args, t)
		}
	}
	if !f.Since.IsZero() {
		col := "h.ts"
		if indexed != "" {
			col = "+" + col
		}
		where = append(where, col+" >= ?")
		args = append(args, ns(f.Since))
	}
	if f.HideSuppressed {
		where = append(where, "h.suppressed IS NULL")
	}
	q := "SELECT " + hitCols + " FROM hits h"
	if indexed != "" {
		// "New hits" must stay an index lookup however the statistics
		// look: a scan of a million hits to find today's would not.
		q += " INDEXED BY " + indexed
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if indexed != "" {
		q += " ORDER BY +h.ts DESC, h.id DESC"
	} else {
		q += " ORDER BY h.ts DESC, h.id DESC"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	q += " LIMIT ?"
	args = append(args, limit)
	return q, args
}

// Hits returns matching hits, newest event first.
func (s *Store) Hits(ctx context.Context, f HitFilter) ([]StoredHit, error) {
	q, args := hitsQuery(f)
	hits, err := s.queryHits(ctx, "list hits", q, args...)
	if err != nil {
		return nil, err
	}
	return hits, s.classify("list hits", s.addSources(ctx, hits))
}

// addSources fills each hit's Sources from the sightings of its IP by the
// hunts it is attributed to, the sources' labels included.
func (s *Store) addSources(ctx context.Context, hits []StoredHit) error {
	var ips []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, h := range hits {
		if ip := h.IP.Unmap(); !seen[ip] {
			seen[ip] = true
			ips = append(ips, ip)
		}
	}
	byIP := map[string][]HitSource{}
	for len(ips) > 0 {
		chunk := ips[:min(ipChunk, len(ips))]
		ips = ips[len(chunk):]
		js, _ := ipJSON(chunk)
		rows, err := s.db.QueryContext(ctx, `SELECT ip, hunt, source, port, context FROM sightings
			WHERE ip IN (SELECT value FROM json_each(?)) ORDER BY ip, hunt, source, port`, js)
		if err != nil {
			return err
		}
		for rows.Next() {
			var ip, ctxJSON string
			var hs HitSource
			if err := rows.Scan(&ip, &hs.Hunt, &hs.Source, &hs.Port, &ctxJSON); err != nil {
				rows.Close()
				return err
			}
			var sg indicator.Sighting
			if err := json.Unmarshal([]byte(ctxJSON), &sg); err != nil {
				rows.Close()
				return fmt.Errorf("sighting of %s: %w", ip, err)
			}
			hs.Labels = sg.Labels
			byIP[ip] = append(byIP[ip], hs)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	for i := range hits {
		for _, hs := range byIP[hits[i].IP.Unmap().String()] {
			if slices.Contains(hits[i].Hunts, hs.Hunt) {
				hits[i].Sources = append(hits[i].Sources, hs)
			}
		}
	}
	return nil
}

// RunHits returns the hits first reported by run runID.
func (s *Store) RunHits(ctx context.Context, runID int64) ([]StoredHit, error) {
	return s.Hits(ctx, HitFilter{NewInRun: runID})
}

func (s *Store) queryHits(ctx context.Context, op, q string, args ...any) ([]StoredHit, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.classify(op, err)
	}
	defer rows.Close()
	var out []StoredHit
	for rows.Next() {
		h, err := scanHit(rows)
		if err != nil {
			return nil, s.classify(op, err)
		}
		out = append(out, h)
	}
	return out, s.classify(op, rows.Err())
}

func scanHit(sc scanner) (StoredHit, error) {
	var h StoredHit
	var ip, hunts string
	var ts, rep int64
	var row, sup, tri sql.NullString
	if err := sc.Scan(&h.ID, &h.Target, &h.Table, &h.Column, &ip, &ts, &h.DeviceID, &h.Device, &h.Account, &h.Port,
		&h.Action, &h.Process, &h.Command, &h.ReportID, &hunts, &row, &h.RunID, &rep, &sup, &tri); err != nil {
		return h, err
	}
	h.Triage = tri.String
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return h, fmt.Errorf("hit %d: stored IP %q: %w", h.ID, ip, err)
	}
	h.IP, h.Timestamp, h.FirstReported, h.Suppressed = addr, fromNS(ts), fromNS(rep), sup.String
	if err := json.Unmarshal([]byte(hunts), &h.Hunts); err != nil {
		return h, fmt.Errorf("hit %d hunts: %w", h.ID, err)
	}
	if row.Valid {
		d := json.NewDecoder(strings.NewReader(row.String))
		d.UseNumber() // as the hunting API delivers rows: large numbers survive
		if err := d.Decode(&h.Row); err != nil {
			return h, fmt.Errorf("hit %d row: %w", h.ID, err)
		}
	}
	return h, nil
}

// HitNames are the names hits can be selected by: what `hits --hunt` and
// `--device` and `suppress` check a name against.
type HitNames struct {
	Hunts   []string // every hunt that named an indicator or a hit
	Devices []string // every device name of a hit, as stored
	Targets []string // every sweep target with a hit, as stored
}

// Names returns the hunt and device names the state knows, sorted.
func (s *Store) Names(ctx context.Context) (HitNames, error) {
	var n HitNames
	read := func(q string, into *[]string) error {
		rows, err := s.db.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return err
			}
			*into = append(*into, v)
		}
		return rows.Err()
	}
	if err := read("SELECT hunt FROM hit_hunts UNION SELECT hunt FROM sightings ORDER BY 1", &n.Hunts); err != nil {
		return n, s.classify("list hunt names", err)
	}
	if err := read("SELECT DISTINCT device FROM hits WHERE device != '' ORDER BY 1", &n.Devices); err != nil {
		return n, s.classify("list device names", err)
	}
	if err := read("SELECT DISTINCT target FROM hits ORDER BY 1", &n.Targets); err != nil {
		return n, s.classify("list target names", err)
	}
	return n, nil
}
