package huntinglab

// The hunting emulator's query matcher. It is NOT a KQL engine: it reads a
// query the way c2sweep writes one and answers from the lab's telemetry.
//
//   - Statements are split at top-level ';'. let/declare/set statements are
//     skipped; exactly one tabular statement must remain.
//   - The first identifier of that statement is the table. An unknown table
//     is a 400, as the real service answers.
//   - Pipes: where/filter are read for the clauses below; project lists the
//     columns the rows carry (each must exist); take/limit N caps the rows;
//     order/sort/extend/project-reorder are accepted and ignored; any other
//     operator (summarize, join, union, ...) is a 400 saying the lab does not
//     support it.
//   - Time: `<TimeColumn> between (X .. Y)` and `<TimeColumn> >, >=, <, <= X`
//     where X is datetime(...), ago(N[dhms]) or now(), intersected with the
//     window the API was given (Graph Timespan; default and maximum: the
//     last 30 days the service keeps).
//   - IPs: every quoted string literal anywhere in the text (let datatables
//     included) that parses as an IP address is an indicator. Matching
//     compares strings exactly, as KQL `in` does: "::ffff:1.2.3.4" only
//     matches rows logged so, and a non-canonical spelling matches nothing.
//   - Columns: every `<Column> in (`, `in~ (` or `has_any (` names an IP
//     column to match (it must exist in the table); without one, the
//     table's remote IP column is matched.
//   - A quote left open, unbalanced brackets, a bad datetime or timespan:
//     400.

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"c2sweep/internal/schema"
)

// retention is how far back the hunting APIs keep data.
const retention = 30 * 24 * time.Hour

// queryError is a 400 the API answers for a query it cannot run.
type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }

func badQuery(format string, a ...any) error { return &queryError{fmt.Sprintf(format, a...)} }

type kqlToken struct {
	kind byte // 'i' identifier, 's' string (unescaped), 'n' number or timespan, 'd' datetime body, 'p' punctuation
	text string
	pos  int
}

// lexKQL splits a query into tokens, unescaping string literals.
func lexKQL(q string) ([]kqlToken, error) {
	var out []kqlToken
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '/' && i+1 < len(q) && q[i+1] == '/':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' ||
			((c == '@' || c == 'h' || c == 'H') && i+1 < len(q) && (q[i+1] == '"' || q[i+1] == '\'')):
			start := i
			verbatim := c == '@'
			if c != '"' && c != '\'' {
				i++
			}
			s, n, err := lexString(q[i:], verbatim)
			if err != nil {
				return nil, badQuery("Syntax error: %v at position %d", err, start)
			}
			out = append(out, kqlToken{'s', s, start})
			i += n
		case c == '_' || unicode.IsLetter(rune(c)):
			start := i
			for i < len(q) && (q[i] == '_' || q[i] == '-' && i+1 < len(q) && kqlIsLetter(q[i+1]) || kqlIsLetter(q[i]) || kqlIsDigit(q[i])) {
				i++
			}
			word := q[start:i]
			out = append(out, kqlToken{'i', word, start})
			if (word == "datetime" || word == "todatetime") && i < len(q) && q[i] == '(' {
				end := strings.IndexByte(q[i:], ')')
				if end < 0 {
					return nil, badQuery("Syntax error: datetime( is not closed at position %d", start)
				}
				out = append(out, kqlToken{'p', "(", i}, kqlToken{'d', strings.Trim(strings.TrimSpace(q[i+1:i+end]), `"'`), i + 1}, kqlToken{'p', ")", i + end})
				i += end + 1
			}
		case kqlIsDigit(c):
			start := i
			for i < len(q) && (kqlIsDigit(q[i]) || kqlIsLetter(q[i]) || q[i] == '.' && i+1 < len(q) && q[i+1] != '.') {
				i++
			}
			out = append(out, kqlToken{'n', q[start:i], start})
		default:
			start := i
			two := ""
			if i+1 < len(q) {
				two = q[i : i+2]
			}
			switch two {
			case "..", ">=", "<=", "==", "!=", "=~", "!~":
				out = append(out, kqlToken{'p', two, start})
				i += 2
				continue
			}
			out = append(out, kqlToken{'p', string(c), start})
			i++
		}
	}
	return out, nil
}

func kqlIsLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func kqlIsDigit(c byte) bool  { return c >= '0' && c <= '9' }

// lexString reads one string literal starting at its opening quote and
// returns its value and length.
func lexString(s string, verbatim bool) (string, int, error) {
	quote := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			return "", 0, fmt.Errorf("newline in string literal")
		case c == quote:
			if verbatim && i+1 < len(s) && s[i+1] == quote {
				b.WriteByte(quote)
				i++
				continue
			}
			return b.String(), i + 1, nil
		case c == '\\' && !verbatim:
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("unterminated string literal")
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '\\', '\'', '"':
				b.WriteByte(s[i])
			default:
				return "", 0, fmt.Errorf("bad escape \\%c in string literal", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated string literal")
}

// matchQuery is what the matcher understood of a query.
type matchQuery struct {
	table      *schema.Table
	columns    []string // the IP columns to match
	ips        map[netip.Addr]bool
	start, end time.Time // start <= Time < end
	project    []string  // nil: all columns
	take       int       // 0: no limit
}

// parseQuery reads a query given the window the API call allows.
func parseQuery(q string, now, start, end time.Time) (*matchQuery, error) {
	if strings.TrimSpace(q) == "" {
		return nil, badQuery("The query is empty.")
	}
	toks, err := lexKQL(q)
	if err != nil {
		return nil, err
	}
	depth := 0
	for _, t := range toks {
		if depth += nesting(t); depth < 0 {
			return nil, badQuery("Syntax error: unexpected '%s' at position %d", t.text, t.pos)
		}
	}
	if depth != 0 {
		return nil, badQuery("Syntax error: unbalanced brackets")
	}
	m := &matchQuery{ips: map[netip.Addr]bool{}, start: start, end: end}
	for _, t := range toks {
		if t.kind == 's' {
			// A non-canonical spelling is never logged, so it matches
			// nothing, as in KQL.
			if a, err := netip.ParseAddr(t.text); err == nil && a.Zone() == "" && a.String() == t.text {
				m.ips[a] = true
			}
		}
	}
	var main []kqlToken
	for _, st := range splitTop(toks, ";") {
		if len(st) == 0 {
			continue
		}
		if st[0].kind == 'i' && (st[0].text == "let" || st[0].text == "declare" || st[0].text == "set") {
			continue
		}
		if main != nil {
			return nil, badQuery("The lab's matcher takes one tabular statement; found another at position %d.", st[0].pos)
		}
		main = st
	}
	if main == nil || main[0].kind != 'i' {
		return nil, badQuery("Syntax error: the query has no tabular expression.")
	}
	name := main[0].text
	tbl, ok := schema.Lookup(name)
	if !ok {
		return nil, badQuery("'%s' operator: Failed to resolve table or column expression named '%s'", name, name)
	}
	m.table = tbl
	pipes := splitTop(main, "|")
	if len(pipes[0]) != 1 {
		return nil, badQuery("Syntax error: unexpected '%s' after the table name at position %d", pipes[0][1].text, pipes[0][1].pos)
	}
	for _, seg := range pipes[1:] {
		if len(seg) == 0 || seg[0].kind != 'i' {
			return nil, badQuery("Syntax error: a pipe without an operator")
		}
		switch op := seg[0].text; op {
		case "where", "filter":
			if err := m.where(seg[1:], now); err != nil {
				return nil, err
			}
		case "project":
			if m.project != nil {
				return nil, badQuery("The lab's matcher takes one project operator.")
			}
			for _, item := range splitTop(seg[1:], ",") {
				if len(item) != 1 || item[0].kind != 'i' {
					return nil, badQuery("The lab's matcher only takes plain column names in project (not a KQL engine).")
				}
				if !tbl.Has(item[0].text) {
					return nil, badQuery("'project' operator: Failed to resolve scalar expression named '%s'", item[0].text)
				}
				m.project = append(m.project, item[0].text)
			}
			if len(m.project) == 0 {
				return nil, badQuery("Syntax error: project without columns")
			}
		case "take", "limit":
			if len(seg) != 2 || seg[1].kind != 'n' {
				return nil, badQuery("Syntax error: %s needs a number", op)
			}
			n, err := strconv.Atoi(seg[1].text)
			if err != nil || n < 0 {
				return nil, badQuery("Syntax error: %s needs a number", op)
			}
			if m.take == 0 || n < m.take {
				m.take = n
			}
		case "order", "sort", "extend", "project-reorder":
		default:
			return nil, badQuery("The lab's matcher does not support the '%s' operator (it is not a KQL engine).", op)
		}
	}
	if len(m.columns) == 0 && len(tbl.RemoteIPColumns) > 0 {
		m.columns = []string{tbl.RemoteIPColumns[0]}
	}
	if !m.start.Before(m.end) {
		m.end = m.start
	}
	return m, nil
}

// splitTop splits tokens at top-level occurrences of sep.
func splitTop(toks []kqlToken, sep string) [][]kqlToken {
	var out [][]kqlToken
	depth, from := 0, 0
	for i, t := range toks {
		depth += nesting(t)
		if depth == 0 && t.kind == 'p' && t.text == sep {
			out = append(out, toks[from:i])
			from = i + 1
		}
	}
	return append(out, toks[from:])
}

// nesting is how a token changes the bracket depth: +1, -1 or 0.
func nesting(t kqlToken) int {
	if t.kind == 'p' {
		switch t.text {
		case "(", "[", "{":
			return 1
		case ")", "]", "}":
			return -1
		}
	}
	return 0
}

// where reads the clauses of one where operator that the matcher knows.
func (m *matchQuery) where(toks []kqlToken, now time.Time) error {
	timeCol := m.table.TimeColumn
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != 'i' {
			continue
		}
		if t.text == timeCol && i+1 < len(toks) {
			next := toks[i+1]
			switch {
			case next.kind == 'i' && next.text == "between":
				// between ( X .. Y )
				from, j, err := punctTime(toks, i+2, "(", now)
				if err != nil {
					return err
				}
				to, j, err := punctTime(toks, j, "..", now)
				if err != nil {
					return err
				}
				if j >= len(toks) || toks[j].text != ")" {
					return errBetween
				}
				m.narrow(from, to.Add(time.Nanosecond))
				i = j
			case next.kind == 'p' && (next.text == ">" || next.text == ">=" || next.text == "<" || next.text == "<="):
				at, n, err := timeExpr(toks[i+2:], now)
				if err != nil {
					return err
				}
				switch next.text {
				case ">":
					m.narrow(at.Add(time.Nanosecond), time.Time{})
				case ">=":
					m.narrow(at, time.Time{})
				case "<":
					m.narrow(time.Time{}, at)
				case "<=":
					m.narrow(time.Time{}, at.Add(time.Nanosecond))
				}
				i += 1 + n
			}
			continue
		}
		if i+2 < len(toks) && toks[i+2].text == "(" && toks[i+1].kind == 'i' &&
			(toks[i+1].text == "in" || toks[i+1].text == "has_any") ||
			i+3 < len(toks) && toks[i+1].text == "in" && toks[i+2].text == "~" && toks[i+3].text == "(" {
			if !m.table.Has(t.text) {
				return badQuery("'where' operator: Failed to resolve scalar expression named '%s'", t.text)
			}
			if !slices.Contains(m.columns, t.text) {
				m.columns = append(m.columns, t.text)
			}
		}
	}
	return nil
}

var errBetween = badQuery("Syntax error: between needs (X .. Y)")

// punctTime reads punct then a time bound at toks[j:] and returns the time
// and the index after it (one side of between).
func punctTime(toks []kqlToken, j int, punct string, now time.Time) (time.Time, int, error) {
	if j >= len(toks) || toks[j].text != punct {
		return time.Time{}, 0, errBetween
	}
	at, n, err := timeExpr(toks[j+1:], now)
	return at, j + 1 + n, err
}

// narrow intersects the window with [from, to); a zero bound is open.
func (m *matchQuery) narrow(from, to time.Time) {
	if !from.IsZero() && from.After(m.start) {
		m.start = from
	}
	if !to.IsZero() && to.Before(m.end) {
		m.end = to
	}
}

// timeExpr reads datetime(...), ago(N) or now() and returns the tokens used.
func timeExpr(toks []kqlToken, now time.Time) (time.Time, int, error) {
	if len(toks) < 3 || toks[0].kind != 'i' || toks[1].text != "(" {
		return time.Time{}, 0, badQuery("The lab's matcher reads only datetime(...), ago(...) and now() as time bounds.")
	}
	switch toks[0].text {
	case "datetime", "todatetime":
		if toks[2].kind != 'd' || len(toks) < 4 {
			return time.Time{}, 0, badQuery("Syntax error: bad datetime")
		}
		t, err := parseKQLDatetime(toks[2].text)
		if err != nil {
			return time.Time{}, 0, badQuery("Invalid datetime literal: '%s'", toks[2].text)
		}
		return t, 4, nil
	case "ago":
		if len(toks) < 4 || toks[2].kind != 'n' || toks[3].text != ")" {
			return time.Time{}, 0, badQuery("Syntax error: ago needs a timespan")
		}
		d, err := parseKQLTimespan(toks[2].text)
		if err != nil {
			return time.Time{}, 0, err
		}
		return now.Add(-d), 4, nil
	case "now":
		if toks[2].text != ")" {
			return time.Time{}, 0, badQuery("Syntax error: now() takes no argument in the lab")
		}
		return now, 3, nil
	}
	return time.Time{}, 0, badQuery("The lab's matcher reads only datetime(...), ago(...) and now() as time bounds.")
}

func parseKQLDatetime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02 15:04:05.9999999Z", "2006-01-02 15:04:05.9999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad datetime %q", s)
}

// parseKQLTimespan reads 30d, 12h, 90m, 10s, 100ms, 1.5d.
func parseKQLTimespan(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		d      time.Duration
	}{{"ms", time.Millisecond}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 {
				break
			}
			return time.Duration(f * float64(u.d)), nil
		}
	}
	return 0, badQuery("Invalid timespan literal: '%s'", s)
}

// parseTimespan reads Graph's ISO 8601 Timespan: a duration ending now
// (P30D), start/end, start/duration or duration/end.
func parseTimespan(s string, now time.Time) (time.Time, time.Time, error) {
	if a, b, ok := strings.Cut(s, "/"); ok {
		var start, end time.Time
		var err error
		switch {
		case strings.HasPrefix(a, "P") && strings.HasPrefix(b, "P"):
			return start, end, fmt.Errorf("timespan %q has two durations", s)
		case strings.HasPrefix(a, "P"):
			if end, err = parseKQLDatetime(b); err != nil {
				return start, end, err
			}
			d, err := parseISODuration(a)
			return end.Add(-d), end, err
		case strings.HasPrefix(b, "P"):
			if start, err = parseKQLDatetime(a); err != nil {
				return start, end, err
			}
			d, err := parseISODuration(b)
			return start, start.Add(d), err
		default:
			if start, err = parseKQLDatetime(a); err != nil {
				return start, end, err
			}
			end, err = parseKQLDatetime(b)
			return start, end, err
		}
	}
	d, err := parseISODuration(s)
	return now.Add(-d), now, err
}

// parseISODuration reads PnW, PnD, PTnHnMnS and their combinations.
func parseISODuration(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" {
		return 0, fmt.Errorf("bad ISO 8601 duration %q", s)
	}
	var d time.Duration
	inTime, units := false, 0
	num := ""
	for _, c := range rest {
		switch {
		case c >= '0' && c <= '9' || c == '.':
			num += string(c)
		case c == 'T':
			inTime = true
		default:
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("bad ISO 8601 duration %q", s)
			}
			var unit time.Duration
			switch {
			case c == 'W' && !inTime:
				unit = 7 * 24 * time.Hour
			case c == 'D' && !inTime:
				unit = 24 * time.Hour
			case c == 'H' && inTime:
				unit = time.Hour
			case c == 'M' && inTime:
				unit = time.Minute
			case c == 'S' && inTime:
				unit = time.Second
			default:
				return 0, fmt.Errorf("bad ISO 8601 duration %q", s)
			}
			d += time.Duration(f * float64(unit))
			num = ""
			units++
		}
	}
	if num != "" || units == 0 {
		return 0, fmt.Errorf("bad ISO 8601 duration %q", s)
	}
	return d, nil
}
