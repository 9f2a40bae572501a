package hunting

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// The answer decoder is checked against the json.Decoder one it replaced
// (refDecode, below): on every input both see, they hand out the same
// schema and rows; where they differ, the input is not JSON and the new
// decoder refused it.

// decoded is what one decoder made of an answer.
type decoded struct {
	schema  []Column
	rows    []Row
	err     error
	nSchema int
}

func runDecoder(dec func(io.Reader, func([]Column) error, func(Row) error, *Stats) (bool, error), in []byte, oneByte bool) decoded {
	var d decoded
	var r io.Reader = strings.NewReader(string(in))
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	var st Stats
	_, d.err = dec(r, func(c []Column) error { d.schema = c; d.nSchema++; return nil },
		func(rw Row) error { d.rows = append(d.rows, rw); return nil }, &st)
	if st.Rows != len(d.rows) {
		d.err = fmt.Errorf("stats count %d rows, %d delivered", st.Rows, len(d.rows))
	}
	return d
}

var decodeSeeds = []string{
	graphAnswer,
	`{"Stats":{"ExecutionTime":0.1},"Schema":[{"Name":"Timestamp","Type":"DateTime"}],"Results":[{"Timestamp":"2026-11-20T10:00:00.1234567Z"}]}`,
	`{"results":[{"a":"x\"y\\z\/\b\f\n\r\t\u00e9\u20ac","b":-1.5e+3,"c":true,"d":false,"e":null,"f":{"n":1,"l":[1,"2"]},"g":[],"h":"héllo ☃"}],"schema":[]}`,
	`{"results":[null,{},{"a":1}]}`,
	`{"results":[{"a":"\ud83d\ude00","b":"\udc00","c":"` + "\xff" + `"}]}`,
	`{"results":[{"a":1,"a":2}]}`,
	`{"schema":null,"results":[]}`,
	`{}`,
	`{"results":[{"a":01}]}`,
	`{"results":[{"a":"` + "\x01" + `"}]}`,
	`{"results":[{"a":1},]}`,
	`{"results":[{"a":1}`,
	`{"results":[1]}`,
	`{"results":{}}`,
	`[]`,
	`{"x":[1,2,{"y":"}"}],"results":[{"k":"]"}]} trailing`,
	`{"results":[{"a":tru}]}`,
	`{"results":[{"a":"x"} {"b":1}]}`,
	`{"results" : [ { "a" : 1 , "b" : "c" } , { } ] , "schema" : [ { "name" : "a" , "type" : "long" } ] }`,
}

const graphAnswer = `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults",` +
	`"schema":[{"name":"Timestamp","type":"DateTime"},{"name":"RemoteIP","type":"String"}],` +
	`"results":[{"Timestamp":"2026-11-20T10:00:00.1234567Z","RemoteIP":"::ffff:203.0.113.7"},{"Timestamp":"2026-11-20T10:00:01Z","RemoteIP":"198.51.100.1","Port":443}]}`

func checkDecode(t *testing.T, in []byte) {
	c := &client{api: "graph"}
	for _, oneByte := range []bool{false, true} {
		got := runDecoder(c.decode, in, oneByte)
		want := runDecoder(c.refDecode, in, false)
		if got.err == nil && want.err == nil {
			if !reflect.DeepEqual(got.schema, want.schema) || !reflect.DeepEqual(got.rows, want.rows) || got.nSchema != want.nSchema {
				t.Fatalf("%q:\nschema %v rows %v (%d schema calls)\nwant %v rows %v (%d)", in, got.schema, got.rows, got.nSchema, want.schema, want.rows, want.nSchema)
			}
			continue
		}
		if got.err != nil && want.err != nil {
			continue
		}
		if got.err != nil && !json.Valid(in) {
			continue // not JSON: refusing it is right
		}
		t.Fatalf("%q (one byte at a time: %v): error %v, the reference decoder: %v", in, oneByte, got.err, want.err)
	}
}

func TestDecodeMatchesReference(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s))
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDecode)
}

// A read error is the decoder's error.
func TestDecodeReadError(t *testing.T) {
	boom := errors.New("boom")
	c := &client{api: "graph"}
	r := io.MultiReader(strings.NewReader(`{"results":[{"a":1},`), iotest.ErrReader(boom))
	var st Stats
	delivered, err := c.decode(r, nil, nil, &st)
	if !errors.Is(err, boom) || !delivered || st.Rows != 1 {
		t.Fatalf("delivered %v, %d rows, err %v; want the read error after 1 row", delivered, st.Rows, err)
	}
}

// refDecode is the decoder this package used before: json.Decoder, token
// by token, a map per row.
func (c *client) refDecode(r io.Reader, schema func([]Column) error, row func(Row) error, st *Stats) (bool, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	delivered, schemaSent := false, false
	sendSchema := func(cols []Column) error {
		if schemaSent {
			return nil
		}
		schemaSent = true
		if schema == nil {
			return nil
		}
		if err := schema(cols); err != nil {
			return &callbackError{err}
		}
		return nil
	}
	if err := refExpectDelim(dec, '{'); err != nil {
		return false, err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return delivered, fmt.Errorf("%s: reading the answer: %w", c.api, err)
		}
		key, _ := t.(string)
		switch strings.ToLower(key) {
		case "schema":
			var cols []Column
			if err := dec.Decode(&cols); err != nil {
				return delivered, fmt.Errorf("%s: reading the schema: %w", c.api, err)
			}
			if err := sendSchema(cols); err != nil {
				return delivered, err
			}
		case "results":
			if err := refExpectDelim(dec, '['); err != nil {
				return delivered, err
			}
			for dec.More() {
				var rw Row
				if err := dec.Decode(&rw); err != nil {
					return delivered, fmt.Errorf("%s: reading row %d: %w", c.api, st.Rows+1, err)
				}
				if err := sendSchema(nil); err != nil {
					return delivered, err
				}
				delivered = true
				st.Rows++
				if row != nil {
					if err := row(rw); err != nil {
						return delivered, &callbackError{err}
					}
				}
			}
			if err := refExpectDelim(dec, ']'); err != nil {
				return delivered, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return delivered, fmt.Errorf("%s: reading the answer: %w", c.api, err)
			}
		}
	}
	if err := refExpectDelim(dec, '}'); err != nil {
		return delivered, err
	}
	return delivered, sendSchema(nil)
}

func refExpectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("reading the answer: want %q, got %v", want, t)
	}
	return nil
}

// Decoding is most of what a 100,000-row answer costs the client beyond
// reading it, and its garbage is most of the GC's work: a row of seven
// columns (a command line with escapes among them) must cost a map, its
// text and the boxing of its values, not a decoder's worth of allocations.
// The json.Decoder one made 33 allocations a row.
func TestDecodeAllocationsPerRow(t *testing.T) {
	const rows = 2000
	var b strings.Builder
	b.WriteString(`{"schema":[{"name":"Timestamp","type":"DateTime"}],"results":[`)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"Timestamp":"2026-11-20T10:00:%02d.1234567Z","DeviceId":"%040x","DeviceName":"ws-%d.corp.example","RemoteIP":"203.0.113.%d",`+
			`"RemotePort":%d,"InitiatingProcessCommandLine":"\"msedge.exe\" --type=utility C:\\Program Files\\x","ReportId":%d}`, i%60, i, i, i%256, 443+i%2, 1000+i)
	}
	b.WriteString("]}")
	answer := b.String()
	c := &client{api: "graph"}
	var n int
	allocs := testing.AllocsPerRun(5, func() {
		var st Stats
		if _, err := c.decode(strings.NewReader(answer), nil, func(Row) error { n++; return nil }, &st); err != nil || st.Rows != rows {
			t.Fatalf("%v, %d rows", err, st.Rows)
		}
	})
	if perRow := allocs / rows; perRow > 12 {
		t.Errorf("%.1f allocations a row, want at most 12", perRow)
	} else {
		t.Logf("%.1f allocations a row", perRow)
	}
	// The reference decoder, for the record.
	ref := testing.AllocsPerRun(2, func() {
		var st Stats
		c.refDecode(strings.NewReader(answer), nil, func(Row) error { return nil }, &st)
	})
	t.Logf("json.Decoder: %.1f allocations a row", ref/rows)
}
