package source

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Text is a string field of outside JSON that may be missing: null, the
// literal "None" (abuse.ch's nulls), and non-strings decode to "", so one
// odd field never spoils an item. A JSON integer (an id written as a
// number) is kept as its digits. Surrounding spaces are trimmed.
type Text string

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (t *Text) UnmarshalJSON(b []byte) error {
	*t = ""
	var s string
	if json.Unmarshal(b, &s) != nil {
		if n := json.Number(bytes.TrimSpace(b)); n != "" {
			if _, err := n.Int64(); err == nil {
				*t = Text(n)
			}
		}
		return nil
	}
	if s = strings.TrimSpace(s); s == "None" {
		s = ""
	}
	*t = Text(s)
	return nil
}
