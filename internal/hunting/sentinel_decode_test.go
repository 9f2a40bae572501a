package hunting

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The Log Analytics answer shapes, read byte by byte and whole: the
// decoder must agree on both.
func TestDecodeTables(t *testing.T) {
	c := &client{api: "sentinel"}
	cols := `"columns":[{"name":"TimeGenerated","type":"datetime"},{"name":"IPAddress","type":"string"},{"name":"n","type":"long"}]`
	rows := `"rows":[["2026-11-20T10:00:00Z","198.51.100.7",12345678901234567],["2026-11-20T11:00:00Z",null,2]]`
	want := []Row{
		{"TimeGenerated": "2026-11-20T10:00:00Z", "IPAddress": "198.51.100.7", "n": json.Number("12345678901234567")},
		{"TimeGenerated": "2026-11-20T11:00:00Z", "IPAddress": nil, "n": json.Number("2")},
	}
	partial := `"error":{"code":"PartialError","message":"There were some errors when processing your query.","details":[{"code":"EngineError","innererror":{"code":"E_QUERY_RESULT_SET_TOO_LARGE"}}]}`
	for _, tc := range []struct {
		name, in string
		rows     []Row
		partial  bool
		fails    string
	}{
		{name: "plain", in: `{"tables":[{"name":"PrimaryResult",` + cols + `,` + rows + `}]}`, rows: want},
		{name: "statistics table ignored", in: `{"tables":[{"name":"PrimaryResult",` + cols + `,` + rows + `},{"name":"stats","columns":[{"name":"x","type":"string"}],"rows":[["y"]]}],"statistics":{"query":{}}}`, rows: want},
		{name: "null error", in: `{"tables":[{"name":"PrimaryResult",` + cols + `,` + rows + `}],"error":null}`, rows: want},
		{name: "no rows", in: `{"tables":[{"name":"PrimaryResult",` + cols + `,"rows":[]}]}`},
		{name: "partial after", in: `{"tables":[{"name":"PrimaryResult",` + cols + `,` + rows + `}],` + partial + `}`, rows: want, partial: true},
		{name: "partial before", in: `{` + partial + `,"tables":[{"name":"PrimaryResult",` + cols + `,` + rows + `}]}`, rows: want, partial: true},
		{name: "empty body", in: ``, fails: "unexpected EOF"},
		{name: "no tables", in: `{}`, fails: "no tables"},
		{name: "rows before columns", in: `{"tables":[{` + rows + `,` + cols + `}]}`, fails: "rows before columns"},
		{name: "short row", in: `{"tables":[{` + cols + `,"rows":[["2026-11-20T10:00:00Z"]]}]}`, fails: "1 cells for 3 columns"},
		{name: "truncated", in: `{"tables":[{` + cols + `,"rows":[["2026-11-20T10:00:00Z","198.51`, fails: "unexpected EOF"},
	} {
		for _, oneByte := range []bool{false, true} {
			d := runDecoder(c.decodeTables, []byte(tc.in), oneByte)
			var pe *PartialError
			switch {
			case tc.fails != "":
				if d.err == nil || !strings.Contains(d.err.Error(), tc.fails) {
					t.Errorf("%s: err %v, want %q", tc.name, d.err, tc.fails)
				}
				continue
			case tc.partial:
				if !errors.As(d.err, &pe) || !errors.Is(d.err, ErrTooLarge) || pe.Inner != "E_QUERY_RESULT_SET_TOO_LARGE" || pe.Rows != len(tc.rows) {
					t.Errorf("%s: err %v (%+v), want a PartialError after %d rows", tc.name, d.err, pe, len(tc.rows))
				}
			case d.err != nil:
				t.Errorf("%s: %v", tc.name, d.err)
			}
			if d.nSchema != 1 || len(d.schema) != 3 {
				t.Errorf("%s: schema %v sent %d times", tc.name, d.schema, d.nSchema)
			}
			if len(tc.rows) > 0 && !reflect.DeepEqual(d.rows, tc.rows) || len(tc.rows) == 0 && len(d.rows) != 0 {
				t.Errorf("%s: rows %v, want %v", tc.name, d.rows, tc.rows)
			}
		}
	}
}
