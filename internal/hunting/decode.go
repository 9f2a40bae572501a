package hunting

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decode streams an answer: schema first, then each row in turn, with
// numbers as json.Number. Keys are matched without regard to case (Graph
// writes schema/results, MDE Schema/Results). It reports whether any row
// reached the caller. A schema that comes after the results, or never, is
// passed as nil before the first row.
//
// The answer is read through one reused buffer and each row is parsed in
// place by a scanner for the documented shape (an object of column names
// to scalars), so a 100,000-row answer costs little more than reading it.
// Nested values, surrogate escapes, invalid UTF-8 and anything malformed
// go to encoding/json, which keeps its exact semantics (FuzzDecode checks
// them against the json.Decoder this replaced). The buffer grows only for
// a single value larger than it; bounding the body is the caller's job.
func (c *client) decode(r io.Reader, schema func([]Column) error, row func(Row) error, st *Stats) (bool, error) {
	d := &answerDecoder{in: r, buf: make([]byte, 0, 64<<10), keys: map[string]string{}}
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
	fail := func(what string, err error) error { return fmt.Errorf("%s: reading %s: %w", c.api, what, err) }
	if err := d.expect('{'); err != nil {
		return false, fail("the answer", err)
	}
	for first := true; ; first = false {
		b, err := d.peek()
		if err != nil {
			return delivered, fail("the answer", err)
		}
		if b == '}' {
			d.pos++
			break
		}
		if !first {
			if err := d.expect(','); err != nil {
				return delivered, fail("the answer", err)
			}
		}
		key, err := d.key()
		if err != nil {
			return delivered, fail("the answer", err)
		}
		switch strings.ToLower(key) {
		case "schema":
			raw, err := d.value()
			if err != nil {
				return delivered, fail("the schema", err)
			}
			var cols []Column
			if err := json.Unmarshal(raw, &cols); err != nil {
				return delivered, fail("the schema", err)
			}
			if err := sendSchema(cols); err != nil {
				return delivered, err
			}
		case "results":
			if err := d.expect('['); err != nil {
				return delivered, fail("the answer", err)
			}
			for n := 0; ; n++ {
				b, err := d.peek()
				if err != nil {
					return delivered, fail(fmt.Sprintf("row %d", st.Rows+1), err)
				}
				if b == ']' {
					d.pos++
					break
				}
				if n > 0 {
					if err := d.expect(','); err != nil {
						return delivered, fail(fmt.Sprintf("row %d", st.Rows+1), err)
					}
				}
				rw, err := d.row()
				if err != nil {
					return delivered, fail(fmt.Sprintf("row %d", st.Rows+1), err)
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
		default:
			raw, err := d.value()
			if err == nil && !json.Valid(raw) {
				err = errors.New("invalid JSON value")
			}
			if err != nil {
				return delivered, fail("the answer", err)
			}
		}
	}
	return delivered, sendSchema(nil)
}

// errMore is scanValue's answer when the buffer ends inside a value.
var errMore = errors.New("need more input")

// answerDecoder reads JSON from in through buf: buf[pos:] is what has been
// read and not consumed yet.
type answerDecoder struct {
	in    io.Reader
	buf   []byte
	pos   int
	err   error             // the reader's error, io.EOF included, once seen
	keys  map[string]string // column names, interned: rows repeat them
	order []orderedColumn   // the columns of the last row, in order
	// text and cells are the row being parsed, reused from row to row.
	text  []byte
	cells []cell
}

// fill reads more of the answer, keeping what is not consumed; it grows
// the buffer only when a single value fills it.
func (d *answerDecoder) fill() error {
	if d.err != nil {
		if d.err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return d.err
	}
	if d.pos > 0 {
		n := copy(d.buf, d.buf[d.pos:])
		d.buf, d.pos = d.buf[:n], 0
	}
	if len(d.buf) == cap(d.buf) {
		d.buf = append(d.buf, 0)[:len(d.buf)]
	}
	for {
		n, err := d.in.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if err != nil {
			d.err = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// peek skips white space and returns the next byte without consuming it.
func (d *answerDecoder) peek() (byte, error) {
	for {
		for d.pos < len(d.buf) {
			switch b := d.buf[d.pos]; b {
			case ' ', '\t', '\n', '\r':
				d.pos++
			default:
				return b, nil
			}
		}
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
}

// expect consumes the next byte, which must be want.
func (d *answerDecoder) expect(want byte) error {
	b, err := d.peek()
	if err != nil {
		return err
	}
	if b != want {
		return fmt.Errorf("want %q, got %q", want, b)
	}
	d.pos++
	return nil
}

// value consumes the next JSON value and returns its bytes, which stay
// valid until the next read. The value is delimited, not validated.
func (d *answerDecoder) value() ([]byte, error) {
	if _, err := d.peek(); err != nil {
		return nil, err
	}
	for {
		n, err := scanValue(d.buf[d.pos:], d.err != nil)
		if err == nil {
			v := d.buf[d.pos : d.pos+n]
			d.pos += n
			return v, nil
		}
		if err != errMore {
			return nil, err
		}
		if err := d.more(); err != nil {
			return nil, err
		}
	}
}

// more reads on until what is buffered past pos has doubled (or the input
// ends), so that a value scanned again from its start each time costs
// time linear in its length, not quadratic: a 100 MB value arriving 16 KB
// a read would otherwise be scanned 6,000 times.
func (d *answerDecoder) more() error {
	have := len(d.buf) - d.pos
	want := max(2*have, have+512)
	for got := have; got < want; got = len(d.buf) - d.pos {
		if err := d.fill(); err != nil {
			if got > have {
				return nil // scan what came; the reader's error is kept in d.err
			}
			return err
		}
	}
	return nil
}

// key consumes an object key and its colon.
func (d *answerDecoder) key() (string, error) {
	if b, err := d.peek(); err != nil {
		return "", err
	} else if b != '"' {
		return "", fmt.Errorf("want an object key, got %q", b)
	}
	raw, err := d.value()
	if err != nil {
		return "", err
	}
	var k string
	if err := json.Unmarshal(raw, &k); err != nil {
		return "", err
	}
	return k, d.expect(':')
}

// row consumes one result row, parsed where it lies in the buffer; a row
// cut by the buffer's end is parsed again once more has been read.
func (d *answerDecoder) row() (Row, error) {
	if _, err := d.peek(); err != nil {
		return nil, err
	}
	for {
		rw, n, err := d.parseRow(d.buf[d.pos:])
		if err == nil {
			d.pos += n
			return rw, nil
		}
		if err != errMore {
			return nil, err
		}
		if err := d.more(); err != nil {
			return nil, err
		}
	}
}

// scanValue returns the length of the JSON value at the start of b, by its
// delimiters only. atEOF says no more input follows b.
func scanValue(b []byte, atEOF bool) (int, error) {
	if len(b) == 0 {
		return 0, errMore
	}
	switch b[0] {
	case '"':
		n, err := scanString(b)
		if err == errMore && atEOF {
			return 0, io.ErrUnexpectedEOF
		}
		return n, err
	case '{', '[':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			case '"':
				n, err := scanString(b[i:])
				if err != nil {
					if err == errMore && atEOF {
						return 0, io.ErrUnexpectedEOF
					}
					return 0, err
				}
				i += n - 1
			}
		}
	default:
		for i, c := range b {
			switch c {
			case ',', '}', ']', ' ', '\t', '\n', '\r', ':', '"', '{', '[':
				if i == 0 {
					return 0, fmt.Errorf("invalid character %q looking for a value", c)
				}
				return i, nil
			}
		}
		if atEOF {
			return len(b), nil
		}
	}
	if atEOF {
		return 0, io.ErrUnexpectedEOF
	}
	return 0, errMore
}

// scanString returns the length of the string literal at the start of b,
// quotes included.
func scanString(b []byte) (int, error) {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i + 1, nil
		case '\\':
			i++
		}
	}
	return 0, errMore
}

// parseRow parses the row at the start of b, an object whose values are
// scalars as the services send them, or null, and returns its length;
// errMore when b ends inside it. The row's text values are unquoted into
// one string and sliced from it: one allocation for all of them.
func (d *answerDecoder) parseRow(b []byte) (Row, int, error) {
	if len(b) < 4 {
		return nil, 0, errMore
	}
	if string(b[:4]) == "null" {
		return nil, 4, nil // as encoding/json leaves a Row for null
	}
	if b[0] != '{' {
		return nil, 0, fmt.Errorf("a row is %s, not an object", kindOf(b[0]))
	}
	d.text, d.cells = d.text[:0], d.cells[:0]
	i := skipSpace(b, 1)
	if i >= len(b) {
		return nil, 0, errMore
	}
	if b[i] == '}' {
		return Row{}, i + 1, nil
	}
	for {
		if i >= len(b) {
			return nil, 0, errMore
		}
		if b[i] != '"' {
			return nil, 0, errors.New("want a column name")
		}
		n, _ := scanString(b[i:])
		if n == 0 {
			return nil, 0, errMore
		}
		k, err := d.column(len(d.cells), b[i:i+n])
		if err != nil {
			return nil, 0, err
		}
		i = skipSpace(b, i+n)
		if i >= len(b) {
			return nil, 0, errMore
		}
		if b[i] != ':' {
			return nil, 0, fmt.Errorf("column %q: want ':'", k)
		}
		i = skipSpace(b, i+1)
		n, err = d.cell(k, b[i:])
		if err == errMore {
			return nil, 0, err
		}
		if err != nil {
			return nil, 0, fmt.Errorf("column %q: %w", k, err)
		}
		i = skipSpace(b, i+n)
		if i >= len(b) {
			return nil, 0, errMore
		}
		if b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if b[i] != '}' {
			return nil, 0, fmt.Errorf("after column %q: want ',' or '}', got %q", k, b[i])
		}
		i++
		break
	}
	text := string(d.text)
	rw := make(Row, len(d.cells))
	for _, c := range d.cells {
		switch c.kind {
		case cellString:
			rw[c.key] = text[c.start:c.end]
		case cellNumber:
			rw[c.key] = json.Number(text[c.start:c.end])
		default:
			rw[c.key] = c.v
		}
	}
	return rw, i, nil
}

// orderedColumn is a column name as quoted on the wire, and unquoted.
type orderedColumn struct {
	raw  []byte
	name string
}

// cell is one parsed value of a row: text values point into the row's
// text, others are held.
type cell struct {
	key        string
	kind       uint8
	start, end int
	v          any
}

const (
	cellValue uint8 = iota
	cellString
	cellNumber
)

// cell parses the value at the start of b for column k and returns its
// length, or errMore when b ends inside it: strings and numbers go to the
// row's text; booleans, null, and objects and arrays (as encoding/json
// gives them with UseNumber) are held. A value that ends b is cut: at the
// answer's end, that is an error anyway, since a row ends with '}'.
func (d *answerDecoder) cell(k string, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, errMore
	}
	start := len(d.text)
	switch c := b[0]; {
	case c == '"':
		var n int
		var ok bool
		if d.text, n, ok = appendUnquoted(d.text, b); !ok {
			// Control characters, surrogates, invalid UTF-8 and broken
			// escapes: encoding/json decides, as it always did.
			d.text = d.text[:start]
			if n, _ = scanString(b); n == 0 {
				return 0, errMore
			}
			var s string
			if err := json.Unmarshal(b[:n], &s); err != nil {
				return 0, err
			}
			d.text = append(d.text, s...)
		}
		d.cells = append(d.cells, cell{key: k, kind: cellString, start: start, end: len(d.text)})
		return n, nil
	case c == '-' || c >= '0' && c <= '9':
		n := numberLen(b)
		if !bytes.ContainsAny(b, ",}] \t\r\n") {
			return 0, errMore // the number may go on
		}
		if n == 0 {
			return 0, fmt.Errorf("invalid number %q", firstBytes(b))
		}
		d.text = append(d.text, b[:n]...)
		d.cells = append(d.cells, cell{key: k, kind: cellNumber, start: start, end: len(d.text)})
		return n, nil
	case len(b) < 5:
		return 0, errMore // the longest literal, false, and what follows it
	case c == 't' && bytes.HasPrefix(b, []byte("true")):
		d.cells = append(d.cells, cell{key: k, v: true})
		return 4, nil
	case c == 'f' && bytes.HasPrefix(b, []byte("false")):
		d.cells = append(d.cells, cell{key: k, v: false})
		return 5, nil
	case c == 'n' && bytes.HasPrefix(b, []byte("null")):
		d.cells = append(d.cells, cell{key: k})
		return 4, nil
	case c == '{' || c == '[':
		n, err := scanValue(b, false)
		if err != nil {
			return 0, err
		}
		dec := json.NewDecoder(bytes.NewReader(b[:n]))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return 0, err
		}
		d.cells = append(d.cells, cell{key: k, v: v})
		return n, nil
	}
	return 0, fmt.Errorf("invalid character %q looking for a value", b[0])
}

// plain marks the bytes a string literal holds as they are: printable
// ASCII but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendUnquoted appends the text of the string literal at the start of b
// to dst and returns the literal's length. It reports false, leaving the
// rest to encoding/json, for control characters, invalid UTF-8, \u escapes
// of surrogates and anything malformed.
func appendUnquoted(dst, b []byte) ([]byte, int, bool) {
	i := 1
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return dst, i + 1, true
		case c < 0x20:
			return dst, 0, false
		case c == '\\':
			if i+1 >= len(b) {
				return dst, 0, false
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				if i+6 > len(b) {
					return dst, 0, false
				}
				r, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
				if err != nil || utf16.IsSurrogate(rune(r)) {
					return dst, 0, false
				}
				dst = utf8.AppendRune(dst, rune(r))
				i += 6
				continue
			default:
				return dst, 0, false
			}
			i += 2
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(b) && plain[b[j]] {
				j++
			}
			dst = append(dst, b[i:j]...)
			i = j
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return dst, 0, false
			}
			dst = append(dst, b[i:i+n]...)
			i += n
		}
	}
	return dst, 0, false
}

// column returns the name in the quoted key q, the n-th of its row,
// interned. Rows list their columns in the same order: the name the
// previous row had at n is tried before the map.
func (d *answerDecoder) column(n int, q []byte) (string, error) {
	if n < len(d.order) && string(d.order[n].raw) == string(q) {
		return d.order[n].name, nil
	}
	k, ok := d.keys[string(q)]
	if !ok {
		if err := json.Unmarshal(q, &k); err != nil {
			return "", err
		}
		if len(d.keys) < 1024 { // a schema's worth; more is not a schema
			d.keys[string(q)] = k
		}
	}
	if n < 1024 {
		for len(d.order) <= n {
			d.order = append(d.order, orderedColumn{})
		}
		d.order[n] = orderedColumn{raw: append(d.order[n].raw[:0], q...), name: k}
	}
	return k, nil
}

// numberLen is the length of the JSON number at the start of b, or 0 when
// b does not start with one.
func numberLen(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return 0
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return 0
		}
	}
	return i
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func kindOf(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

func firstBytes(b []byte) string { return string(b[:min(len(b), 20)]) }
