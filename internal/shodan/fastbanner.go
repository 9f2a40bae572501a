package shodan

// DecodeSightingBanner is the fast way to read a banner for its sighting.
// encoding/json pays for every field of a banner (a few KB of HTML,
// headers, certificate chain, names decoded into maps), while a sighting
// reads a dozen short strings. The scanner below walks the banner once,
// checks it by JSON's rules and by the types of Banner's fields, keeps only
// what Sighting and the tags read, and skips the rest without building
// values. Anything it is not sure of (a key that is not plain ASCII, a key
// that matches a field only case-insensitively, a repeated field, a field
// of an unexpected type, a syntax error, deep nesting) sends the banner to
// json.Unmarshal, so the verdict, the sighting and the error are always
// the ones encoding/json gives. FuzzDecodeSightingBanner checks that.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// DecodeSightingBanner decodes data into b for Sighting: the result of
// b.Sighting and b.Tags, and the error (nil or not), are those of
// json.Unmarshal(data, b) into a zero Banner. On success b may hold only
// the fields Sighting and the tags read (IPStr, IPv6, Port, Transport,
// Timestamp, ASN, Org, ISP, Product, Version, Hostnames, Tags,
// Location.CountryCode, SSL.JARM); the others may be left zero. An error
// is always json.Unmarshal's own.
func DecodeSightingBanner(data []byte, b *Banner) error {
	*b = Banner{}
	s := scanner{d: data}
	if s.banner(b) {
		return nil
	}
	*b = Banner{}
	return json.Unmarshal(data, b)
}

// kind is what a field of Banner (or of its nested structs) accepts
// without an error from encoding/json.
type kind uint8

const (
	kString  kind = iota // a string or null
	kInt                 // an integer or null
	kFloat               // a number or null
	kNumber              // json.Number: a number or null (a numeric string is left to encoding/json)
	kAny                 // a type whose UnmarshalJSON never fails: any value
	kStrings             // []string: an array of strings (or nulls), or null
	kObject              // a struct or a pointer to one, or null
)

// slot says where the scanner keeps a value; slotNone checks it only.
type slot uint8

const (
	slotNone slot = iota
	slotIPStr
	slotIPv6
	slotPort
	slotTransport
	slotTimestamp
	slotASN
	slotOrg
	slotISP
	slotProduct
	slotVersion
	slotHostnames
	slotTags
	slotCountry
	slotSSL
	slotJARM
)

type field struct {
	name string
	kind kind
	slot slot
	sub  []field // kObject's fields
}

// The fields of Banner and its nested structs, with their JSON names.
var (
	fingerprintFields = []field{{name: "sha256"}, {name: "sha1"}}
	certFields        = []field{
		{name: "sig_alg"}, {name: "issued"}, {name: "expires"},
		{name: "expired", kind: kAny}, {name: "serial", kind: kAny},
		{name: "subject", kind: kAny}, {name: "issuer", kind: kAny},
		{name: "fingerprint", kind: kObject, sub: fingerprintFields},
	}
	sslFields = []field{
		{name: "jarm", slot: slotJARM}, {name: "ja3s"},
		{name: "cert", kind: kObject, sub: certFields},
	}
	faviconFields = []field{{name: "hash", kind: kInt}}
	httpFields    = []field{
		{name: "status", kind: kInt}, {name: "title"}, {name: "server"}, {name: "host"},
		{name: "html_hash", kind: kInt}, {name: "favicon", kind: kObject, sub: faviconFields},
	}
	locationFields = []field{
		{name: "city"}, {name: "region_code"}, {name: "country_code", slot: slotCountry}, {name: "country_name"},
		{name: "latitude", kind: kFloat}, {name: "longitude", kind: kFloat},
	}
	crawlerFields = []field{{name: "id"}, {name: "module"}, {name: "crawler"}}
	bannerFields  = []field{
		{name: "ip", kind: kNumber},
		{name: "ip_str", slot: slotIPStr},
		{name: "ipv6", slot: slotIPv6},
		{name: "port", kind: kInt, slot: slotPort},
		{name: "transport", slot: slotTransport},
		{name: "timestamp", kind: kAny, slot: slotTimestamp},
		{name: "hash", kind: kInt},
		{name: "asn", slot: slotASN},
		{name: "org", slot: slotOrg},
		{name: "isp", slot: slotISP},
		{name: "os"},
		{name: "product", slot: slotProduct},
		{name: "version", slot: slotVersion},
		{name: "hostnames", kind: kStrings, slot: slotHostnames},
		{name: "domains", kind: kStrings},
		{name: "tags", kind: kStrings, slot: slotTags},
		{name: "data"},
		{name: "location", kind: kObject, sub: locationFields},
		{name: "http", kind: kObject, sub: httpFields},
		{name: "ssl", kind: kObject, slot: slotSSL, sub: sslFields},
		{name: "_shodan", kind: kObject, sub: crawlerFields},
	}
)

// maxSkipDepth bounds the nesting of a skipped value; deeper goes to
// encoding/json (which allows 10,000).
const maxSkipDepth = 64

type scanner struct {
	d []byte
	i int
}

func (s *scanner) peek() byte {
	if s.i < len(s.d) {
		return s.d[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.d) {
		switch s.d[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// banner reads a whole banner: one object and nothing but space after it.
func (s *scanner) banner(b *Banner) bool {
	s.ws()
	if s.peek() != '{' || !s.object(bannerFields, b) {
		return false
	}
	s.ws()
	return s.i == len(s.d)
}

// object reads the object at s.i into the fields it names.
func (s *scanner) object(fields []field, b *Banner) bool {
	s.i++ // {
	s.ws()
	if s.peek() == '}' {
		s.i++
		return true
	}
	var seen uint32
	for {
		if s.peek() != '"' {
			return false
		}
		start := s.i + 1
		end, esc, high, ok := s.str()
		if !ok || esc || high {
			return false // a key encoding/json might fold otherwise
		}
		key := s.d[start:end]
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		f := lookup(fields, key)
		switch {
		case f == -2:
			return false
		case f < 0:
			if !s.skip() {
				return false
			}
		default:
			if seen&(1<<f) != 0 {
				return false // repeated: encoding/json merges or overwrites
			}
			seen |= 1 << f
			if !s.value(&fields[f], b) {
				return false
			}
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
			s.ws()
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// lookup returns the index of the field named key, -1 for none, or -2 for
// a key encoding/json would match case-insensitively.
func lookup(fields []field, key []byte) int {
	for i := range fields {
		if string(key) == fields[i].name {
			return i
		}
	}
	for i := range fields {
		if len(key) == len(fields[i].name) && bytes.EqualFold(key, []byte(fields[i].name)) {
			return -2
		}
	}
	return -1
}

// value reads the value at s.i for f.
func (s *scanner) value(f *field, b *Banner) bool {
	c := s.peek()
	if c == 'n' && f.kind != kAny {
		return s.literal("null") // the zero value stays
	}
	switch f.kind {
	case kString:
		if c != '"' {
			return false
		}
		if f.slot == slotNone {
			_, _, _, ok := s.str()
			return ok
		}
		v, ok := s.strValue()
		if !ok {
			return false
		}
		switch f.slot {
		case slotIPStr:
			b.IPStr = v
		case slotIPv6:
			b.IPv6 = v
		case slotTransport:
			b.Transport = v
		case slotASN:
			b.ASN = v
		case slotOrg:
			b.Org = v
		case slotISP:
			b.ISP = v
		case slotProduct:
			b.Product = v
		case slotVersion:
			b.Version = v
		case slotCountry:
			b.Location.CountryCode = v
		case slotJARM:
			b.SSL.JARM = v
		}
		return true
	case kInt:
		start := s.i
		isInt, ok := s.number()
		if !ok || !isInt {
			return false
		}
		n, err := strconv.ParseInt(string(s.d[start:s.i]), 10, 64)
		if err != nil {
			return false
		}
		if f.slot == slotPort {
			b.Port = int(n)
		}
		return true
	case kFloat:
		start := s.i
		if _, ok := s.number(); !ok {
			return false
		}
		_, err := strconv.ParseFloat(string(s.d[start:s.i]), 64)
		return err == nil
	case kNumber:
		_, ok := s.number()
		return ok
	case kAny:
		start := s.i
		if f.slot == slotTimestamp && c == '"' {
			end, esc, high, ok := s.str()
			if !ok {
				return false
			}
			if !esc && !high {
				b.Timestamp.set(string(s.d[start+1 : end]))
				return true
			}
		} else if !s.skip() {
			return false
		}
		if f.slot == slotTimestamp {
			return b.Timestamp.UnmarshalJSON(s.d[start:s.i]) == nil
		}
		return true
	case kStrings:
		if c != '[' {
			return false
		}
		list, ok := s.strings(f.slot != slotNone)
		if !ok {
			return false
		}
		switch f.slot {
		case slotHostnames:
			b.Hostnames = list
		case slotTags:
			b.Tags = list
		}
		return true
	case kObject:
		if c != '{' {
			return false
		}
		if f.slot == slotSSL {
			b.SSL = &SSL{}
		}
		return s.object(f.sub, b)
	}
	return false
}

// strings reads an array of strings (a null element is ""), kept or not.
func (s *scanner) strings(keep bool) ([]string, bool) {
	s.i++ // [
	var list []string
	if keep {
		list = []string{}
	}
	s.ws()
	if s.peek() == ']' {
		s.i++
		return list, true
	}
	for {
		switch s.peek() {
		case 'n':
			if !s.literal("null") {
				return nil, false
			}
			if keep {
				list = append(list, "")
			}
		case '"':
			if keep {
				v, ok := s.strValue()
				if !ok {
					return nil, false
				}
				list = append(list, v)
			} else if _, _, _, ok := s.str(); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
			s.ws()
		case ']':
			s.i++
			return list, true
		default:
			return nil, false
		}
	}
}

// strValue reads the string at s.i as encoding/json decodes it.
func (s *scanner) strValue() (string, bool) {
	start := s.i
	end, esc, high, ok := s.str()
	if !ok {
		return "", false
	}
	raw := s.d[start+1 : end]
	if !esc && (!high || utf8.Valid(raw)) {
		return string(raw), true
	}
	// Escapes or bad UTF-8: encoding/json's own unquoting (checked
	// already, so it cannot fail).
	var v string
	if json.Unmarshal(s.d[start:s.i], &v) != nil {
		return "", false
	}
	return v, true
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special8 marks, in the high bit of each byte, the bytes of x that are a
// quote, a backslash or a control byte. The lowest mark is always right
// (a false mark can only follow a true one), which is all str uses.
func special8(x uint64) uint64 {
	q := x ^ ('"' * lsb)
	bs := x ^ ('\\' * lsb)
	hit := (q - lsb) &^ q
	hit |= (bs - lsb) &^ bs
	hit |= (x - 0x20*lsb) &^ x
	return hit & msb
}

// str reads the string at s.i (its opening quote) by JSON's rules: no
// control bytes, only JSON's escapes. It returns the index of the closing
// quote, whether the content has an escape and whether it has a byte
// outside ASCII, and leaves s.i past the string.
func (s *scanner) str() (end int, esc, high bool, ok bool) {
	d := s.d
	i := s.i + 1
	var or uint64 // the bytes passed 8 at a time, for high
	for {
		// Eight bytes at a time up to the first special one.
		for i+8 <= len(d) {
			x := binary.LittleEndian.Uint64(d[i:])
			hit := special8(x)
			if hit == 0 {
				or |= x
				i += 8
				continue
			}
			n := bits.TrailingZeros64(hit) / 8
			or |= x & (1<<(8*n) - 1)
			i += n
			break
		}
		if i >= len(d) {
			return 0, false, false, false
		}
		c := d[i]
		switch {
		case c == '"':
			s.i = i + 1
			return i, esc, high || or&msb != 0, true
		case c == '\\':
			n := escapeLen(d, i)
			if n == 0 {
				return 0, false, false, false
			}
			esc = true
			i += n
		case c < 0x20:
			return 0, false, false, false
		default:
			if c >= 0x80 {
				high = true
			}
			i++
		}
	}
}

// escapeLen is the length of the valid JSON escape at d[k], or 0.
func escapeLen(d []byte, k int) int {
	if k+1 >= len(d) {
		return 0
	}
	switch d[k+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if k+6 > len(d) {
			return 0
		}
		for _, h := range d[k+2 : k+6] {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return 0
			}
		}
		return 6
	}
	return 0
}

// number reads the number at s.i by JSON's grammar and says whether it is
// an integer (no fraction, no exponent).
func (s *scanner) number() (isInt, ok bool) {
	d, i := s.d, s.i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		return false, false
	}
	isInt = true
	if i < len(d) && d[i] == '.' {
		isInt = false
		i++
		n := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		if i == n {
			return false, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		isInt = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		n := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		if i == n {
			return false, false
		}
	}
	s.i = i
	return isInt, true
}

func (s *scanner) literal(lit string) bool {
	if len(s.d)-s.i >= len(lit) && string(s.d[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// skip reads any JSON value at s.i without keeping it.
func (s *scanner) skip() bool {
	var open [maxSkipDepth]byte // '{' or '[' per open container
	n := 0
	wantKey := false
	for {
		if wantKey {
			s.ws()
			if s.peek() != '"' {
				return false
			}
			if _, _, _, ok := s.str(); !ok {
				return false
			}
			s.ws()
			if s.peek() != ':' {
				return false
			}
			s.i++
			wantKey = false
		}
		s.ws()
		switch c := s.peek(); c {
		case '{', '[':
			s.i++
			s.ws()
			if s.peek() == c+2 { // } or ]
				s.i++
				break
			}
			if n == len(open) {
				return false
			}
			open[n] = c
			n++
			wantKey = c == '{'
			continue
		case '"':
			if _, _, _, ok := s.str(); !ok {
				return false
			}
		case 't':
			if !s.literal("true") {
				return false
			}
		case 'f':
			if !s.literal("false") {
				return false
			}
		case 'n':
			if !s.literal("null") {
				return false
			}
		default:
			if _, ok := s.number(); !ok {
				return false
			}
		}
		// After a value: close containers until a comma or the end.
		for {
			if n == 0 {
				return true
			}
			s.ws()
			c := s.peek()
			if c == ',' {
				s.i++
				wantKey = open[n-1] == '{'
				break
			}
			if c != open[n-1]+2 {
				return false
			}
			s.i++
			n--
		}
	}
}
