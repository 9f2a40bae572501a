package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"c2sweep/internal/textsafe"
)

// OutputFlags are the output flags of every listing command: one set of
// flags, one writer (writeList), so hits, runs, indicators and hunts print
// the same way.
type OutputFlags struct {
	Format string `env:"-" help:"Output format: table, json, jsonl (one object a line) or csv." default:"table" enum:"table,json,jsonl,csv"`
	JSON   bool   `env:"-" help:"Short for --format json."`
}

// format is the chosen format; --json with another --format is an error.
func (o OutputFlags) format() (string, error) {
	if o.JSON {
		if o.Format != "table" && o.Format != "json" {
			return "", fmt.Errorf("--json and --format %s: choose one", o.Format)
		}
		return "json", nil
	}
	return o.Format, nil
}

// ZoneFlag chooses the zone of the times in tables. JSON and CSV are for
// programs: always RFC 3339 in UTC.
type ZoneFlag struct {
	Local bool `env:"-" help:"Show times in tables in the local time zone instead of UTC (JSON and CSV stay UTC)."`
}

func (z ZoneFlag) location() *time.Location {
	if z.Local {
		return time.Local
	}
	return time.UTC
}

// column is one column of a listing of T. cell returns a string (text: it
// may come from an attacker, so it is escaped for the format), an integer,
// a time.Time, or a fmt.Stringer of our own (an IP address).
type column[T any] struct {
	head   string // table header; a time column gets its zone appended
	csv    string // CSV header
	cell   func(T) any
	layout string // table layout of a time column, required for one
	only   string // "table" or "csv": a column of that format only
	// when, if set, decides from the rows whether a table shows the
	// column (JSON and CSV always have it).
	when func([]T) bool
}

// list is what a listing command prints.
type list[T any] struct {
	cols  []column[T]
	items []T
	// empty is said on stderr under an empty table ("no hits since ...").
	empty string
	// note is said on stderr above a table: what it shows and why.
	note string
}

// writeList prints l in the format o asks for: the one writer of every
// listing. JSON is an array, [] when empty; CSV has its header even when
// empty; a table is aligned, its text cells escaped for the terminal and
// its times in one labelled zone.
func writeList[T any](g *Globals, o OutputFlags, z ZoneFlag, l list[T]) error {
	f, err := o.format()
	if err != nil {
		return err
	}
	switch f {
	case "json":
		if l.items == nil {
			l.items = []T{} // [], not null: "none" to a script
		}
		return writeJSON(g.stdout, l.items)
	case "jsonl":
		// One compact object a line, for jq and log shippers; nothing when empty.
		enc := json.NewEncoder(g.stdout)
		for _, it := range l.items {
			if err := enc.Encode(it); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		cols := l.columns("csv")
		w := csv.NewWriter(g.stdout)
		rec := make([]string, len(cols))
		for i, c := range cols {
			rec[i] = c.csv
		}
		w.Write(rec)
		for _, it := range l.items {
			for i, c := range cols {
				rec[i] = csvCell(c.cell(it))
			}
			w.Write(rec)
		}
		w.Flush()
		return w.Error()
	}
	loc := z.location()
	zone := zoneName(loc)
	if l.note != "" {
		fmt.Fprintln(g.stderr, l.note)
	}
	cols := slices.DeleteFunc(l.columns("table"), func(c column[T]) bool { return c.when != nil && !c.when(l.items) })
	tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
	row := make([]string, len(cols))
	for i, c := range cols {
		row[i] = c.head
		if c.layout != "" {
			row[i] += " (" + zone + ")"
		}
	}
	fmt.Fprintln(tw, strings.Join(row, "\t"))
	for _, it := range l.items {
		for i, c := range cols {
			row[i] = tableCell(c.cell(it), loc, c.layout)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(l.items) == 0 && l.empty != "" {
		fmt.Fprintln(g.stderr, l.empty)
	}
	return nil
}

// columns are the columns of l in format f.
func (l list[T]) columns(f string) []column[T] {
	var out []column[T]
	for _, c := range l.cols {
		if c.only == "" || c.only == f {
			out = append(out, c)
		}
	}
	return out
}

// zoneName labels a zone in a table header: UTC, or the local zone's
// abbreviation now (CET, or an offset like +0530 where there is none).
func zoneName(loc *time.Location) string {
	if loc == time.UTC {
		return "UTC"
	}
	return time.Now().In(loc).Format("MST")
}

// Table layouts of time columns.
const (
	toMinute = "2006-01-02 15:04"
	toSecond = "2006-01-02 15:04:05"
)

// nameList is a cell of names (hunts): joined with ", " for people, as
// the report and the alerts write them, and with ";" in CSV, where a
// comma would read as a cell boundary to a careless split.
type nameList []string

func (n nameList) String() string { return strings.Join(n, ", ") }

func tableCell(v any, loc *time.Location, layout string) string {
	switch v := v.(type) {
	case string:
		return textsafe.Terminal(v)
	case nameList:
		return textsafe.Terminal(v.String())
	case time.Time:
		if v.IsZero() {
			return "-"
		}
		return v.In(loc).Format(layout)
	}
	return plainCell(v)
}

func csvCell(v any) string {
	switch v := v.(type) {
	case string:
		return textsafe.CSV(v)
	case nameList:
		return textsafe.CSV(strings.Join(v, ";"))
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format(time.RFC3339Nano)
	}
	return plainCell(v)
}

// plainCell renders the values c2sweep makes itself: numbers, addresses.
func plainCell(v any) string {
	switch v := v.(type) {
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return yesNo(v)
	case fmt.Stringer:
		return textsafe.Terminal(v.String())
	}
	return textsafe.Terminal(fmt.Sprint(v))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
