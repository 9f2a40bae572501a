package lab

//lint:file-ignore ST1005 the emulator answers with Shodan's own error text

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrShodanQuery is what Shodan answers for a query it cannot run.
var ErrShodanQuery = errors.New("The search request timed out or your query was invalid.")

// The lab's Shodan query matcher. It understands what c2sweep's hunts and
// the usual hunting write-ups use, not all of Shodan's language:
//
//   - terms are separated by spaces and ANDed; there is no OR, no
//     parentheses, and a leading "-" negates a term;
//   - a term is a plain word, a "quoted phrase", or filter:value where the
//     value may be "quoted" (with \" for a quote inside);
//   - plain words and phrases match, case-insensitively, a substring of the
//     banner's data, product, org or http.title;
//   - product:, http.title:, org: match a case-insensitive substring;
//     ssl: matches a substring of the certificate's subject or issuer
//     values or of its serial (decimal or hex); ssl.jarm: and
//     ssl.cert.serial: (decimal or hex) match exactly; country: and asn:
//     match exactly, case-insensitively;
//   - http.html_hash:, http.favicon.hash:, hash:, port: take integers,
//     comma-separated for "any of";
//   - after:/before: take DD/MM/YYYY (UTC); after: keeps banners at or after
//     the start of that day, before: those before it;
//   - http.html: (and its older name html:) matches a case-insensitive
//     substring of the page; http.component: a web component by name,
//     case-insensitively; ssl.cert.issuer.cn: a substring of the issuer's
//     common name; http.status: and http.headers_hash: take integers like
//     port:.
//
// An unbalanced quote, an empty query, an unknown filter or a bad value is
// the invalid-query error, as Shodan reports it.

// shodanQuery is a parsed query.
type shodanQuery struct {
	terms     []queryTerm
	hasFilter bool // any filter: the search costs a credit
}

type queryTerm struct {
	neg   bool
	match func(*Banner) bool
}

// Facet is one value of a facet and how many matches have it.
type Facet struct {
	Value  string
	Count  int
	Number bool // serve Value as a JSON number
}

// Search runs query over the world's banners, newest first, as the lab's
// Shodan does. Tests use it to compute what a hunt must return.
func (w *World) Search(query string) ([]*Banner, error) {
	q, err := parseShodanQuery(query)
	if err != nil {
		return nil, err
	}
	return q.run(w.Banners), nil
}

func (q *shodanQuery) run(banners []*Banner) []*Banner {
	var out []*Banner
	for _, b := range banners {
		if q.matches(b) {
			out = append(out, b)
		}
	}
	return out
}

func (q *shodanQuery) matches(b *Banner) bool {
	for _, t := range q.terms {
		if t.match(b) == t.neg {
			return false
		}
	}
	return true
}

func parseShodanQuery(query string) (*shodanQuery, error) {
	toks, err := tokenizeQuery(query)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("%w (empty query)", ErrShodanQuery)
	}
	q := &shodanQuery{}
	for _, t := range toks {
		term := queryTerm{neg: t.neg}
		if t.name == "" {
			word := strings.ToLower(t.value)
			term.match = func(b *Banner) bool { return plainMatch(b, word) }
		} else {
			q.hasFilter = true
			term.match, err = filterMatcher(t.name, t.value)
			if err != nil {
				return nil, err
			}
		}
		q.terms = append(q.terms, term)
	}
	return q, nil
}

type queryToken struct {
	neg         bool
	name, value string // name "" for a plain word or phrase
}

func tokenizeQuery(s string) ([]queryToken, error) {
	var out []queryToken
	i := 0
	for {
		for i < len(s) && isQuerySpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		var t queryToken
		if s[i] == '-' {
			t.neg = true
			i++
		}
		start := i
		for i < len(s) && !isQuerySpace(s[i]) && s[i] != ':' && s[i] != '"' {
			i++
		}
		if word := s[start:i]; i < len(s) && s[i] == ':' && isFilterName(word) {
			t.name = strings.ToLower(word)
			i++
			start = i
		} else {
			// A plain word or phrase; a word may contain colons (an IPv6
			// address).
			i = start
		}
		var err error
		if t.value, i, err = queryValue(s, i); err != nil {
			return nil, err
		}
		switch {
		case t.value == "" && t.name != "":
			return nil, fmt.Errorf("%w (empty value for %s)", ErrShodanQuery, t.name)
		case i == start:
			// Nothing after a "-" (an empty "" phrase is a term).
			return nil, fmt.Errorf("%w (lone -)", ErrShodanQuery)
		}
		out = append(out, t)
	}
}

func isQuerySpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

// queryValue reads a "quoted" or bare value at s[i:] and returns it with
// the index after it. A bare value runs to the next space and holds no quote.
func queryValue(s string, i int) (string, int, error) {
	if i < len(s) && s[i] == '"' {
		v, n, err := quotedValue(s[i:])
		return v, i + n, err
	}
	start := i
	for i < len(s) && !isQuerySpace(s[i]) {
		if s[i] == '"' {
			return "", 0, fmt.Errorf("%w (stray quote)", ErrShodanQuery)
		}
		i++
	}
	return s[start:i], i, nil
}

// quotedValue reads a "..." value at the start of s and how many bytes it took.
func quotedValue(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
				continue
			}
		case '"':
			return b.String(), i + 1, nil
		}
		b.WriteByte(s[i])
	}
	return "", 0, fmt.Errorf("%w (unbalanced quote)", ErrShodanQuery)
}

func isFilterName(w string) bool {
	if w == "" || !(w[0] >= 'a' && w[0] <= 'z' || w[0] >= 'A' && w[0] <= 'Z') {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i] | 0x20
		if !(c >= 'a' && c <= 'z' || w[i] >= '0' && w[i] <= '9' || w[i] == '.' || w[i] == '_') {
			return false
		}
	}
	return true
}

func plainMatch(b *Banner, word string) bool {
	if containsFold(b.Data, word) || containsFold(b.Product, word) || containsFold(b.Org, word) {
		return true
	}
	return b.HTTP != nil && b.HTTP.Title != nil && containsFold(*b.HTTP.Title, word)
}

// containsFold reports whether lower-case needle is in s, ignoring case.
func containsFold(s, needle string) bool {
	if len(needle) > len(s) {
		return false
	}
	return strings.Contains(strings.ToLower(s), needle)
}

func filterMatcher(name, value string) (func(*Banner) bool, error) {
	lv := strings.ToLower(value)
	switch name {
	case "product":
		return func(b *Banner) bool { return containsFold(b.Product, lv) }, nil
	case "org":
		return func(b *Banner) bool { return containsFold(b.Org, lv) }, nil
	case "country":
		return func(b *Banner) bool { return strings.EqualFold(b.Location.CountryCode, value) }, nil
	case "asn":
		return func(b *Banner) bool { return strings.EqualFold(b.ASN, value) }, nil
	case "http.title":
		return func(b *Banner) bool {
			return b.HTTP != nil && b.HTTP.Title != nil && containsFold(*b.HTTP.Title, lv)
		}, nil
	case "ssl":
		return func(b *Banner) bool {
			return b.SSL != nil && strings.Contains(b.SSL.Cert.subjectIssuerTxt, lv)
		}, nil
	case "ssl.jarm":
		return func(b *Banner) bool { return b.SSL != nil && b.SSL.JARM == lv }, nil
	case "http.html", "html":
		return func(b *Banner) bool { return b.HTTP != nil && containsFold(b.HTTP.HTML, lv) }, nil
	case "http.component":
		return func(b *Banner) bool {
			return b.HTTP != nil && slices.ContainsFunc(b.HTTP.Components, func(c string) bool { return strings.EqualFold(c, value) })
		}, nil
	case "ssl.cert.issuer.cn":
		return func(b *Banner) bool {
			if b.SSL == nil {
				return false
			}
			for _, kv := range b.SSL.Cert.Issuer {
				if kv[0] == "CN" && containsFold(kv[1], lv) {
					return true
				}
			}
			return false
		}, nil
	case "ssl.cert.serial":
		want, ok := new(big.Int).SetString(lv, 10)
		if !ok {
			want, ok = new(big.Int).SetString(strings.TrimPrefix(lv, "0x"), 16)
		}
		if !ok {
			return nil, fmt.Errorf("%w (bad serial %q)", ErrShodanQuery, value)
		}
		return func(b *Banner) bool { return b.SSL != nil && b.SSL.Cert.Serial.Cmp(want) == 0 }, nil
	case "http.html_hash", "http.favicon.hash", "hash", "port", "http.status", "http.headers_hash":
		set := map[int64]bool{}
		for _, v := range strings.Split(value, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w (%s wants integers)", ErrShodanQuery, name)
			}
			set[n] = true
		}
		var get func(*Banner) (int64, bool)
		switch name {
		case "http.html_hash":
			get = func(b *Banner) (int64, bool) {
				if b.HTTP == nil {
					return 0, false
				}
				return int64(b.HTTP.HTMLHash), true
			}
		case "http.favicon.hash":
			get = func(b *Banner) (int64, bool) {
				if b.HTTP == nil || b.HTTP.FaviconHash == 0 {
					return 0, false
				}
				return int64(b.HTTP.FaviconHash), true
			}
		case "hash":
			get = func(b *Banner) (int64, bool) { return int64(b.Hash), true }
		case "http.status":
			get = func(b *Banner) (int64, bool) {
				if b.HTTP == nil {
					return 0, false
				}
				return int64(b.HTTP.Status), true
			}
		case "http.headers_hash":
			get = func(b *Banner) (int64, bool) {
				if b.HTTP == nil {
					return 0, false
				}
				return int64(b.HTTP.HeadersHash), true
			}
		default:
			get = func(b *Banner) (int64, bool) { return int64(b.Port), true }
		}
		return func(b *Banner) bool { v, ok := get(b); return ok && set[v] }, nil
	case "after", "before":
		day, err := time.Parse("02/01/2006", value)
		if err != nil {
			return nil, fmt.Errorf("%w (%s wants DD/MM/YYYY)", ErrShodanQuery, name)
		}
		if name == "after" {
			return func(b *Banner) bool { return !b.Timestamp.Before(day) }, nil
		}
		return func(b *Banner) bool { return b.Timestamp.Before(day) }, nil
	}
	return nil, fmt.Errorf("%w (unknown filter %s)", ErrShodanQuery, name)
}

// facetNumber lists the facets the lab knows and whether their values are
// served as JSON numbers.
var facetNumber = map[string]bool{
	"port": true, "http.html_hash": true,
	"org": false, "isp": false, "asn": false, "country": false, "product": false, "ssl.jarm": false, "http.title": false,
}

// facetValue returns the value of a known facet for a banner and whether
// the banner has one.
func facetValue(name string, b *Banner) (string, bool) {
	switch name {
	case "port":
		return strconv.Itoa(b.Port), true
	case "org":
		return b.Org, b.Org != ""
	case "isp":
		return b.ISP, b.ISP != ""
	case "asn":
		return strings.ToLower(b.ASN), b.ASN != ""
	case "country":
		return b.Location.CountryCode, b.Location.CountryCode != ""
	case "product":
		return b.Product, b.Product != ""
	case "ssl.jarm":
		if b.SSL == nil {
			return "", false
		}
		return b.SSL.JARM, true
	case "http.html_hash":
		if b.HTTP == nil {
			return "", false
		}
		return strconv.Itoa(int(b.HTTP.HTMLHash)), true
	case "http.title":
		if b.HTTP == nil || b.HTTP.Title == nil {
			return "", false
		}
		return *b.HTTP.Title, true
	}
	return "", false
}

// computeFacets answers facets=port,org:10 over the matches. Unknown facet
// names are the invalid-query error, as on Shodan.
func computeFacets(spec string, matches []*Banner) (map[string][]Facet, error) {
	out := map[string][]Facet{}
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, n := f, 5
		if k, v, ok := strings.Cut(f, ":"); ok {
			name = k
			var err error
			n, err = strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%w (facet %q)", ErrShodanQuery, f)
			}
		}
		number, known := facetNumber[name]
		if !known {
			return nil, fmt.Errorf("%w (unknown facet %s)", ErrShodanQuery, name)
		}
		counts := map[string]int{}
		for _, b := range matches {
			if v, ok := facetValue(name, b); ok {
				counts[v]++
			}
		}
		fs := make([]Facet, 0, len(counts))
		for v, c := range counts {
			fs = append(fs, Facet{Value: v, Count: c, Number: number})
		}
		sort.Slice(fs, func(i, j int) bool {
			if fs[i].Count != fs[j].Count {
				return fs[i].Count > fs[j].Count
			}
			return fs[i].Value < fs[j].Value
		})
		if len(fs) > n {
			fs = fs[:n]
		}
		out[name] = fs
	}
	return out, nil
}
