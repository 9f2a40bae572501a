// Package exclude decides which indicator IPs c2sweep must not sweep: the
// published ranges of CDNs and shared front ends (embedded, with their
// source and date) and the user's own CIDRs and IPs. A C2 fronted by a CDN
// has the CDN's shared edge address; sweeping it finds every customer of
// the CDN, not the C2.
package exclude

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ErrRangeFile is the error of a range file that does not parse strictly.
var ErrRangeFile = errors.New("bad range file")

// List is one range file: one operator's published prefixes and where and
// when they were read.
type List struct {
	Name     string // file name without .txt: "cloudflare"
	Provider string // the operator: "Cloudflare"
	Subset   string // what part of the operator's list this is
	Upstream []string
	Mirror   string // where the snapshot was read, when not upstream
	Commit   string // the mirror's commit
	// Date is when the data was read: the mirror's commit date, or when
	// an update fetched it from the operator.
	Date     time.Time
	Notes    []string
	Prefixes []netip.Prefix // IPv4 then IPv6, each sorted
}

// Source names where the list's data comes from, for a user to check.
func (l *List) Source() string {
	s := strings.Join(l.Upstream, " ")
	if l.Mirror != "" {
		s += " via " + l.Mirror
		if l.Commit != "" {
			s += "@" + shortCommit(l.Commit)
		}
	}
	return s
}

func shortCommit(c string) string {
	if len(c) > 8 {
		return c[:8]
	}
	return c
}

// ParseList reads a range file strictly: "# key: value" header lines, then
// one canonical CIDR per line (no host bits), IPv4 before IPv6, each family
// ascending, no duplicate or nested prefix. provider, upstream and a date
// (mirror-commit-date or fetched, RFC 3339) are required; a count line, if
// present, must match the data.
func ParseList(name string, r io.Reader) (*List, error) {
	l := &List{Name: name}
	bad := func(line int, format string, a ...any) error {
		return fmt.Errorf("%w %s, line %d: %s", ErrRangeFile, name, line, fmt.Sprintf(format, a...))
	}
	var count string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<16)
	n := 0
	var prev netip.Prefix
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			if len(l.Prefixes) > 0 {
				return nil, bad(n, "header line after the data")
			}
			k, v, ok := strings.Cut(strings.TrimSpace(rest), ":")
			v = strings.TrimSpace(v)
			if !ok || !isKey(k) || v == "" {
				return nil, bad(n, "want \"# key: value\"")
			}
			switch k {
			case "provider":
				l.Provider = v
			case "subset":
				l.Subset = v
			case "upstream":
				l.Upstream = append(l.Upstream, v)
			case "mirror":
				l.Mirror = v
			case "mirror-commit":
				l.Commit = v
			case "mirror-commit-date", "fetched":
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return nil, bad(n, "%s %q is not an RFC 3339 time", k, v)
				}
				if t.After(l.Date) {
					l.Date = t.UTC()
				}
			case "count":
				count = v
			case "note":
				l.Notes = append(l.Notes, v)
			}
			continue
		}
		p, err := netip.ParsePrefix(line)
		switch {
		case err != nil:
			return nil, bad(n, "%q is not a CIDR", line)
		case p != p.Masked():
			return nil, bad(n, "%s has host bits set (the network is %s)", line, p.Masked())
		case p.String() != line:
			return nil, bad(n, "%q is not in canonical form (%s)", line, p)
		}
		if prev.IsValid() {
			switch {
			case prev.Addr().Is6() && p.Addr().Is4():
				return nil, bad(n, "IPv4 %s after IPv6", p)
			case prev.Addr().Is4() == p.Addr().Is4() && prev.Overlaps(p):
				return nil, bad(n, "%s overlaps %s", p, prev)
			case prev.Addr().Is4() == p.Addr().Is4() && p.Addr().Less(prev.Addr()):
				return nil, bad(n, "%s out of order (after %s)", p, prev)
			}
		}
		prev = p
		l.Prefixes = append(l.Prefixes, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrRangeFile, name, err)
	}
	switch {
	case l.Provider == "":
		return nil, fmt.Errorf("%w %s: no provider", ErrRangeFile, name)
	case len(l.Upstream) == 0:
		return nil, fmt.Errorf("%w %s: no upstream source", ErrRangeFile, name)
	case l.Date.IsZero():
		return nil, fmt.Errorf("%w %s: no date (mirror-commit-date or fetched)", ErrRangeFile, name)
	case len(l.Prefixes) == 0:
		return nil, fmt.Errorf("%w %s: no prefixes", ErrRangeFile, name)
	}
	if count != "" && count != l.countLine() {
		return nil, fmt.Errorf("%w %s: count %q, data has %q", ErrRangeFile, name, count, l.countLine())
	}
	return l, nil
}

func isKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c == '-' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (l *List) countLine() string {
	v4 := 0
	for _, p := range l.Prefixes {
		if p.Addr().Is4() {
			v4++
		}
	}
	return "ipv4=" + strconv.Itoa(v4) + " ipv6=" + strconv.Itoa(len(l.Prefixes)-v4) + " total=" + strconv.Itoa(len(l.Prefixes))
}

// WriteTo writes the list in the format ParseList reads; an update writes
// refreshed lists with it.
func (l *List) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			b.WriteString("# " + k + ": " + oneLine(v) + "\n")
		}
	}
	line("provider", l.Provider)
	line("subset", l.Subset)
	for _, u := range l.Upstream {
		line("upstream", u)
	}
	line("mirror", l.Mirror)
	line("mirror-commit", l.Commit)
	if l.Mirror != "" {
		line("mirror-commit-date", l.Date.UTC().Format(time.RFC3339))
	} else {
		line("fetched", l.Date.UTC().Format(time.RFC3339))
	}
	for _, n := range l.Notes {
		line("note", n)
	}
	line("count", l.countLine())
	for _, p := range l.Prefixes {
		b.WriteString(p.String() + "\n")
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
