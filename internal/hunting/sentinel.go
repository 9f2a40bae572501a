package hunting

// Microsoft Sentinel: the Log Analytics query API over a workspace (why
// not azlogs: see the package doc).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"c2sweep/internal/redact"
)

// Log Analytics query API, public cloud. The Go SDK and older docs use
// api.loganalytics.io, the current docs api.loganalytics.azure.com; both
// answer. Sovereign clouds have their own hosts (a target's cloud picks
// them; BaseURL overrides).
const (
	SentinelBaseURL = "https://api.loganalytics.io"
	SentinelScope   = "https://api.loganalytics.io/.default"
)

// Log Analytics limits (api-contracts.md): 200 requests per 30 s per
// principal, 500,000 records or about 64 MB compressed (~104 MB raw) an
// answer, and a server timeout the Prefer header sets (default 3 min, at
// most 10 min; past it 504).
const (
	SentinelMaxRows              = 500000
	SentinelPerWindow            = 200
	SentinelWindow               = 30 * time.Second
	DefaultSentinelMaxBody int64 = 112 << 20
	DefaultSentinelWait          = 3 * time.Minute
	maxSentinelWait              = 10 * time.Minute
)

// PartialError is a Log Analytics answer that came with status 200 and a
// top-level error: its table was cut (usually E_QUERY_RESULT_SET_TOO_LARGE,
// over 500,000 records or 64 MB). It matches ErrTooLarge, so the caller
// splits the query; rows already streamed from it must be dropped.
type PartialError struct {
	Code    string // PartialError
	Message string
	Inner   string // the first detail's code, e.g. E_QUERY_RESULT_SET_TOO_LARGE
	Rows    int    // rows the truncated table held
}

func (e *PartialError) Error() string {
	s := fmt.Sprintf("sentinel: the answer was truncated after %d rows (%s", e.Rows, e.Code)
	if e.Inner != "" {
		s += ", " + e.Inner
	}
	s += ")"
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *PartialError) Is(target error) bool { return target == ErrTooLarge }

// redact keeps the service's text short, on one line and without
// secrets: a proxy may echo the request's Authorization header.
func (e *PartialError) redact(tok string) {
	e.Code = redact.Excerpt([]byte(e.Code), 100, tok)
	e.Inner = redact.Excerpt([]byte(e.Inner), 100, tok)
	e.Message = redact.Excerpt([]byte(e.Message), 300, tok)
}

// NewSentinel returns a Hunter for a Log Analytics workspace (role Log
// Analytics Reader). Request.Start and End travel as the body's timespan,
// which the service intersects with the query's own bound. o.PerMinute,
// when set, replaces the budget of 200 calls per 30 s window; o.Wait sets
// the server timeout (Prefer: wait=N).
func NewSentinel(o Options) (Hunter, error) {
	if !workspaceID.MatchString(o.Workspace) {
		return nil, fmt.Errorf("sentinel: workspace id %q: want the workspace's GUID", o.Workspace)
	}
	n := o.PerMinute
	if n <= 0 {
		n = SentinelPerWindow
	}
	wait := o.Wait
	if wait <= 0 {
		wait = DefaultSentinelWait
	}
	wait = min(wait, maxSentinelWait)
	if o.AttemptTimeout <= 0 {
		// The service answers 504 at its own timeout; wait a little longer.
		o.AttemptTimeout = wait + time.Minute
	}
	path := "/v1/workspaces/" + url.PathEscape(strings.ToLower(o.Workspace)) + "/query"
	c := newClient("sentinel", SentinelBaseURL, path, SentinelScope, DefaultSentinelMaxBody, o, func(r Request) any {
		type body struct {
			Query    string `json:"query"`
			Timespan string `json:"timespan,omitempty"`
		}
		b := body{Query: r.Query}
		if !r.Start.IsZero() && !r.End.IsZero() {
			b.Timespan = isoTime(r.Start) + "/" + isoTime(r.End)
		}
		return b
	})
	c.limit = newWindow(n, SentinelWindow, c.clock)
	c.prefer = "wait=" + strconv.Itoa(int(wait/time.Second))
	c.tables = true
	return c, nil
}

var workspaceID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// decodeTables streams a Log Analytics answer,
// {"tables":[{"name","columns":[{"name","type"}],"rows":[[...],...]}],"error":{...}}:
// rows are positional arrays mapped through the columns. Only the first
// table (PrimaryResult) is delivered. A top-level error is a PartialError,
// whichever side of the tables it comes on.
func (c *client) decodeTables(r io.Reader, schema func([]Column) error, row func(Row) error, st *Stats) (bool, error) {
	d := &answerDecoder{in: r, buf: make([]byte, 0, 64<<10)}
	delivered := false
	fail := func(what string, err error) error {
		if d.err != nil && d.err != io.EOF {
			err = d.err // the body cap or the connection, not the JSON
		}
		return fmt.Errorf("%s: reading %s: %w", c.api, what, err)
	}
	var partial *PartialError
	// object walks one JSON object, calling field for each key.
	object := func(what string, field func(key string) error) error {
		if err := d.expect('{'); err != nil {
			return fail(what, err)
		}
		for first := true; ; first = false {
			b, err := d.peek()
			if err != nil {
				return fail(what, err)
			}
			if b == '}' {
				d.pos++
				return nil
			}
			if !first {
				if err := d.expect(','); err != nil {
					return fail(what, err)
				}
			}
			k, err := d.key()
			if err != nil {
				return fail(what, err)
			}
			if err := field(k); err != nil {
				return err
			}
		}
	}
	array := func(what string, item func(n int) error) error {
		if err := d.expect('['); err != nil {
			return fail(what, err)
		}
		for n := 0; ; n++ {
			b, err := d.peek()
			if err != nil {
				return fail(what, err)
			}
			if b == ']' {
				d.pos++
				return nil
			}
			if n > 0 {
				if err := d.expect(','); err != nil {
					return fail(what, err)
				}
			}
			if err := item(n); err != nil {
				return err
			}
		}
	}
	skip := func(what string) error {
		raw, err := d.value()
		if err == nil && !json.Valid(raw) {
			err = errors.New("invalid JSON value")
		}
		if err != nil {
			return fail(what, err)
		}
		return nil
	}
	seenTables := false
	table := func(n int) error {
		var cols []Column
		seenCols := false
		tableRows := 0
		return object("a table", func(k string) error {
			if n > 0 {
				return skip("a table") // statistics, render: not results
			}
			switch strings.ToLower(k) {
			case "columns":
				// One schema before the rows: a second one would leave
				// the rows already handed out under other columns.
				if seenCols {
					return fail("the columns", errors.New("columns given twice"))
				}
				seenCols = true
				raw, err := d.value()
				if err != nil {
					return fail("the columns", err)
				}
				if err := json.Unmarshal(raw, &cols); err != nil {
					return fail("the columns", err)
				}
				names := make(map[string]bool, len(cols))
				for _, col := range cols {
					if names[col.Name] {
						// A row is keyed by name: one cell would hide the other.
						return fail("the columns", fmt.Errorf("column %q given twice", col.Name))
					}
					names[col.Name] = true
				}
				if schema != nil {
					if err := schema(cols); err != nil {
						return &callbackError{err}
					}
				}
				return nil
			case "rows":
				if cols == nil {
					return fail("the rows", errors.New("rows before columns"))
				}
				return array(fmt.Sprintf("row %d", st.Rows+1), func(int) error {
					raw, err := d.value()
					if err != nil {
						return fail(fmt.Sprintf("row %d", st.Rows+1), err)
					}
					var cells []any
					dec := json.NewDecoder(bytes.NewReader(raw))
					dec.UseNumber()
					if err := dec.Decode(&cells); err != nil {
						return fail(fmt.Sprintf("row %d", st.Rows+1), err)
					}
					if len(cells) != len(cols) {
						return fail(fmt.Sprintf("row %d", st.Rows+1), fmt.Errorf("%d cells for %d columns", len(cells), len(cols)))
					}
					rw := make(Row, len(cols))
					for i, col := range cols {
						rw[col.Name] = cells[i]
					}
					delivered = true
					st.Rows++
					tableRows++
					if partial != nil {
						partial.Rows = tableRows
					}
					if row != nil {
						if err := row(rw); err != nil {
							return &callbackError{err}
						}
					}
					return nil
				})
			}
			return skip("a table")
		})
	}
	err := object("the answer", func(k string) error {
		switch strings.ToLower(k) {
		case "tables":
			if seenTables {
				return fail("the answer", errors.New("tables given twice"))
			}
			seenTables = true
			return array("the tables", table)
		case "error":
			raw, err := d.value()
			if err != nil {
				return fail("the error", err)
			}
			var e struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Details []struct {
					Code       string `json:"code"`
					InnerError struct {
						Code string `json:"code"`
					} `json:"innererror"`
				} `json:"details"`
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				return fail("the error", err)
			}
			if string(raw) == "null" {
				return nil
			}
			if e.Code == "" && e.Message == "" {
				// Still an error: never read as a success.
				return fail("the error", errors.New("a top-level error without a code or message"))
			}
			partial = &PartialError{Code: e.Code, Message: e.Message, Rows: st.Rows}
			if len(e.Details) > 0 { // the first detail names the cause
				if partial.Inner = e.Details[0].InnerError.Code; partial.Inner == "" {
					partial.Inner = e.Details[0].Code
				}
			}
			return nil
		}
		return skip("the answer")
	})
	if err != nil {
		return delivered, err
	}
	// Nothing but white space may follow the answer: a second object
	// could carry an error.
	if _, err := d.peek(); err == nil {
		return delivered, fail("the answer", errors.New("data after the answer"))
	} else if d.err != io.EOF {
		return delivered, fail("the answer", err)
	}
	if partial != nil {
		return delivered, partial
	}
	if !seenTables {
		// A POST the service did not read as a query answers 200 with
		// nothing useful; never take that for "no rows".
		return delivered, fail("the answer", errors.New("no tables"))
	}
	return delivered, nil
}
