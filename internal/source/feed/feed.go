// Package feed reads plain C2 feeds, text or CSV, into sightings.
//
// Text: one address a line ("1.2.3.4", "1.2.3.4:443", "[2001:db8::1]:443"),
// "#" starts a comment, blank lines are ignored. CSV: columns are chosen by
// header name, never by position, because publishers reorder them; the
// header may be commented ("#ip,ioc", `# "first_seen_utc","ioc_id",...`)
// and a space may follow each comma.
package feed

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/source"
)

// Name is the registry name of the kind.
const Name = "feed"

// Formats.
const (
	Text = "txt"
	CSV  = "csv"
)

// Reasons a line is skipped, besides source.SkipInvalidIP.
const (
	SkipRange    = "ip range, not an address" // 192.0.2.0/24, 1.2.3.4-1.2.3.9
	SkipShortRow = "row without the ip column"
	SkipBadRow   = "unreadable csv row"
)

// Errors of a feed that cannot be used. A feed that vanished or changed
// must fail its hunt loudly, never read as "no C2 today".
var (
	// ErrEmpty: the body holds no data lines at all (only comments or
	// nothing).
	ErrEmpty = errors.New("feed is empty")
	// ErrShape: lines were read but no address came out of them, or the
	// CSV has no column of the name asked for.
	ErrShape = errors.New("feed changed shape")
	// ErrLineTooLong: a line is longer than MaxLine.
	ErrLineTooLong = errors.New("feed line too long")
)

// MaxLine is the longest text line or CSV header read.
const MaxLine = 1 << 20

// Options say how to read one feed.
type Options struct {
	Hunt string
	// Format is Text or CSV; "" takes FormatFor(Name).
	Format string
	// Name is the feed's URL or path, for FormatFor.
	Name string
	// Column names the CSV address column ("" : the first column);
	// LabelColumn names an optional label column (Sighting.Malware).
	Column      string
	LabelColumn string
	// Seen is when the items were last seen: the feed has no per-item
	// time, so its items are as fresh as the file (HTTP Last-Modified,
	// else the fetch time). It must be set.
	Seen time.Time
}

// FormatFor guesses the format from a URL or path: ".csv" is CSV, anything
// else text.
func FormatFor(name string) string {
	p := name
	if u, err := url.Parse(name); err == nil && u.Scheme != "" && u.Path != "" {
		p = u.Path
	}
	if strings.EqualFold(path.Ext(p), ".csv") {
		return CSV
	}
	return Text
}

// Parse reads a feed body. Bad lines are skipped and counted by reason. A
// body with no data lines wraps ErrEmpty; data lines none of which gave an
// address wrap ErrShape. On error no sightings are returned, but the Stats
// count what was read.
func Parse(r io.Reader, o Options) ([]source.Sighting, source.Stats, error) {
	if o.Seen.IsZero() {
		return nil, source.Stats{}, errors.New("feed: Options.Seen is not set")
	}
	format := o.Format
	if format == "" {
		format = FormatFor(o.Name)
	}
	var (
		out []source.Sighting
		st  source.Stats
		err error
	)
	base := source.Sighting{Sighting: indicator.Sighting{Hunt: o.Hunt, Source: Name, LastSeen: o.Seen.UTC()}}
	switch format {
	case Text:
		out, st, err = parseText(r, base)
	case CSV:
		out, st, err = parseCSV(r, o, base)
	default:
		return nil, st, fmt.Errorf("feed: unknown format %q (use %s or %s)", format, Text, CSV)
	}
	if err != nil {
		return nil, st, err
	}
	if st.Read == 0 {
		return nil, st, ErrEmpty
	}
	if len(out) == 0 {
		return nil, st, fmt.Errorf("%w: no address in %d lines (%s)", ErrShape, st.Read, skipList(st))
	}
	return out, st, nil
}

// address reads one value, counting it in st; ok says it was kept.
func address(v string, base source.Sighting, st *source.Stats) (source.Sighting, bool) {
	ip, port, ok := source.ParseAddrPort(v)
	if !ok {
		if isRange(v) {
			st.Skip(SkipRange)
		} else {
			st.Skip(source.SkipInvalidIP)
		}
		return source.Sighting{}, false
	}
	st.Keep()
	sg := base
	sg.IP, sg.Port = ip, port
	return sg, true
}

var bom = []byte("\ufeff")

func parseText(r io.Reader, base source.Sighting) ([]source.Sighting, source.Stats, error) {
	var st source.Stats
	var out []source.Sighting
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), MaxLine)
	first := true
	for sc.Scan() {
		line := sc.Bytes()
		if first {
			line, first = bytes.TrimPrefix(line, bom), false
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if sg, ok := address(string(line), base, &st); ok {
			out = append(out, sg)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, st, ErrLineTooLong
		}
		return nil, st, err
	}
	return out, st, nil
}

func parseCSV(r io.Reader, o Options, base source.Sighting) ([]source.Sighting, source.Stats, error) {
	var st source.Stats
	br := bufio.NewReaderSize(r, 64*1024)
	// Leading comment lines may hold the header; the first other line is
	// data, or an uncommented header.
	var comments []string
	var first string
	for {
		line, err := readLine(br)
		if err != nil && err != io.EOF {
			return nil, st, err
		}
		if len(comments) == 0 && first == "" {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") {
			comments = append(comments, strings.TrimSpace(strings.TrimLeft(t, "#")))
		} else if t != "" {
			first = line
		}
		if first != "" || err == io.EOF {
			break
		}
	}
	header := findHeader(comments, o.Column)
	rest := io.MultiReader(strings.NewReader(first+"\n"), br)
	if header == nil && first != "" && isHeader(first, o.Column) {
		// An uncommented header.
		header, rest = splitHeader(first), br
	}
	cr := csv.NewReader(rest)
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	shown := header
	if shown == nil {
		// For the message: what looks like the header.
		if shown = findHeader(comments, ""); shown == nil {
			shown = splitHeader(first)
		}
	}
	ipCol, labelCol := 0, -1
	if o.Column != "" {
		ipCol = slices.IndexFunc(header, func(h string) bool { return strings.EqualFold(h, o.Column) })
		if ipCol < 0 {
			return nil, st, fmt.Errorf("%w: no column %q in the header %q", ErrShape, o.Column, clip(strings.Join(shown, ",")))
		}
	}
	if o.LabelColumn != "" {
		labelCol = slices.IndexFunc(header, func(h string) bool { return strings.EqualFold(h, o.LabelColumn) })
		if labelCol < 0 {
			return nil, st, fmt.Errorf("%w: no column %q in the header %q", ErrShape, o.LabelColumn, clip(strings.Join(shown, ",")))
		}
	}
	var out []source.Sighting
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				st.Skip(SkipBadRow)
				continue
			}
			return nil, st, err
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if ipCol >= len(rec) {
			st.Skip(SkipShortRow)
			continue
		}
		sg, ok := address(strings.TrimSpace(rec[ipCol]), base, &st)
		if !ok {
			continue
		}
		if labelCol >= 0 && labelCol < len(rec) {
			if v := strings.TrimSpace(rec[labelCol]); v != "None" {
				sg.Malware = v
			}
		}
		out = append(out, sg)
	}
	return out, st, nil
}

// isHeader says whether the first uncommented line is a header: it names
// column, or (no column asked) its first value is no address.
func isHeader(line, column string) bool {
	rec := splitHeader(line)
	if rec == nil {
		return false
	}
	if column != "" {
		return slices.ContainsFunc(rec, func(f string) bool { return strings.EqualFold(f, column) })
	}
	_, _, isAddr := source.ParseAddrPort(rec[0])
	return !isAddr && !isRange(rec[0])
}

// isRange says whether v is a CIDR prefix or an a-b range of addresses.
func isRange(v string) bool {
	if _, err := netip.ParsePrefix(v); err == nil {
		return true
	}
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		return false
	}
	_, errA := netip.ParseAddr(strings.TrimSpace(a))
	_, errB := netip.ParseAddr(strings.TrimSpace(b))
	return errA == nil && errB == nil
}

// splitHeader reads one header line as CSV; nil when it is not.
func splitHeader(line string) []string {
	cr := csv.NewReader(strings.NewReader(line))
	cr.TrimLeadingSpace = true
	cr.LazyQuotes = true
	rec, err := cr.Read()
	if err != nil {
		return nil
	}
	return trimAll(rec)
}

// findHeader picks the header among the leading comment lines: the last
// one that names column, or (no column asked) the last with two or more
// fields. nil when there is none.
func findHeader(comments []string, column string) []string {
	for i := len(comments) - 1; i >= 0; i-- {
		rec := splitHeader(comments[i])
		if column != "" {
			if slices.ContainsFunc(rec, func(f string) bool { return strings.EqualFold(f, column) }) {
				return rec
			}
			continue
		}
		if len(rec) >= 2 {
			return rec
		}
	}
	return nil
}

func trimAll(rec []string) []string {
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	return rec
}

// readLine reads one line of at most MaxLine bytes, without its end.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > MaxLine {
			return "", ErrLineTooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return strings.TrimRight(string(b), "\r\n"), err
	}
}

// skipList renders the skip counts as "reason: n, ...", sorted.
func skipList(st source.Stats) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(st.Skipped)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, st.Skipped[k]))
	}
	return strings.Join(parts, ", ")
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
