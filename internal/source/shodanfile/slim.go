package shodanfile

// Decoding a banner with encoding/json scans every byte twice (validation,
// then decoding), and most of a banner's bytes are in long strings c2sweep
// never reads: http.html, ssl.chain, the favicon, data. slim blanks those
// strings before the banner is decoded with shodan.Banner, so decoding has
// far less to scan while giving the same sighting, the same skip reason and
// the same verdict on malformed lines. FuzzSlim checks that.
//
// Why it is exact:
//   - only string values are touched, and each becomes "": the JSON types,
//     the structure and every key stay as they were, so a type mismatch or
//     a syntax error elsewhere is still there;
//   - a string is blanked only after checking its content by the rules of
//     encoding/json's scanner (no control bytes, valid escapes), so a bad
//     string is never hidden; any doubt leaves the line as it is (strings
//     that are kept are only delimited: encoding/json checks them, and a
//     line that is bad before a blanked string stays bad);
//   - only strings under top-level keys whose fields Banner.Sighting and
//     the tags never read are blanked: data, http, _shodan, opts, and ssl
//     except ssl.jarm. Keys are matched in plain ASCII, case-insensitively
//     as encoding/json matches them; a key with an escape or a non-ASCII
//     byte is never taken for one of these, so it is never blanked under.

import "bytes"

// slimMin is the shortest string worth blanking.
const slimMin = 64

// slimKeys are the top-level keys whose strings may be blanked.
var slimKeys = [][]byte{[]byte("data"), []byte("http"), []byte("_shodan"), []byte("opts"), []byte("ssl")}

var (
	keySSL  = []byte("ssl")
	keyJARM = []byte("jarm")
)

// plainKey reports whether key is printable ASCII with no escape, so that
// ASCII case folding is how encoding/json matches it.
func plainKey(key []byte) bool {
	for _, c := range key {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

func foldIn(key []byte, set [][]byte) bool {
	for _, s := range set {
		if bytes.EqualFold(key, s) {
			return true
		}
	}
	return false
}

// stringEnd returns the index of the quote that closes the string whose
// content starts at i, and whether the content is valid JSON: no control
// bytes, and only the escapes JSON has.
func stringEnd(b []byte, i int) (int, bool) {
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return 0, false
		}
		q += i
		k := i
		for k < q {
			c := b[k]
			if c >= 0x20 && c != '\\' {
				k++
				continue
			}
			n := escapeLen(b, k)
			if n == 0 {
				return 0, false
			}
			k += n
		}
		if k == q {
			return q, true
		}
		// An escape took the quote at q (\"): look further.
		i = k
	}
}

// quoteEnd returns the index of the quote that closes the string whose
// content starts at i (one not escaped), or -1. It checks nothing else:
// strings that are kept are checked by encoding/json.
func quoteEnd(b []byte, i int) int {
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		q += i
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
}

// escapeLen is the length of the valid escape at b[k], or 0.
func escapeLen(b []byte, k int) int {
	if b[k] != '\\' || k+1 >= len(b) {
		return 0
	}
	switch b[k+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if k+6 > len(b) {
			return 0
		}
		for _, h := range b[k+2 : k+6] {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return 0
			}
		}
		return 6
	}
	return 0
}

// slim appends line, with the long strings no sighting reads blanked, to
// dst. A line it cannot follow is appended as it is.
func slim(dst, line []byte) []byte {
	start := len(dst)
	var (
		objects   []bool // per open container: is it an object
		expectKey bool
		top       []byte // the key of the current top-level member
		topSlim   bool   // its strings may be blanked
		second    []byte // the key of the current member one level down
		from      int    // line[from:] is not copied yet
	)
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			j := quoteEnd(line, i+1)
			if j < 0 {
				return append(dst[:start], line...)
			}
			depth := len(objects)
			if expectKey {
				switch key := line[i+1 : j]; depth {
				case 1:
					top, second = key, nil
					topSlim = plainKey(key) && foldIn(key, slimKeys)
				case 2:
					second = key
				}
				expectKey = false
			} else if j-i-1 >= slimMin && topSlim && depth >= 1 && blankable(depth, top, second) {
				// Only a string checked by JSON's rules is blanked.
				if end, ok := stringEnd(line, i+1); !ok || end != j {
					return append(dst[:start], line...)
				}
				dst = append(dst, line[from:i+1]...)
				from = j
			}
			i = j
		case '{':
			objects = append(objects, true)
			expectKey = true
		case '[':
			objects = append(objects, false)
			expectKey = false
		case '}', ']':
			if len(objects) == 0 {
				return append(dst[:start], line...)
			}
			objects = objects[:len(objects)-1]
			expectKey = false
			if len(objects) == 1 {
				second = nil
			}
		case ',':
			expectKey = len(objects) > 0 && objects[len(objects)-1]
		}
	}
	return append(dst, line[from:]...)
}

// blankable says whether a string value at depth (1: a top-level member's
// value) under top and second may be blanked; top is one of slimKeys.
func blankable(depth int, top, second []byte) bool {
	if !bytes.EqualFold(top, keySSL) {
		return true
	}
	// ssl: everything but ssl.jarm, and nothing under a key that is not
	// plain (it might be jarm to encoding/json).
	return depth >= 2 && second != nil && plainKey(second) && !bytes.EqualFold(second, keyJARM)
}
