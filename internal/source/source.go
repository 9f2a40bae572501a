// Package source is where indicators come from: a small interface that
// turns a hunt into sightings of C2 servers, the sighting a source reports,
// per-hunt counters, and the registry of source kinds that configuration
// validation, help text and wiring all read.
//
// The parsers of each kind's data live in one package per kind
// (source/threatfox, source/feodo, source/feed, source/shodanfile). They are
// pure functions over an io.Reader: nothing unvalidated leaves them, every
// address is parsed with indicator.ParseIP and every time is UTC. Each
// kind's package also holds its Source, registered from init; network
// kinds download through Fetch (fetch.go), and every kind passes the suite
// in source/sourcetest against the lab.
package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/indicator"
	"c2sweep/internal/plan"
	"c2sweep/internal/retry"
)

// Source collects the sightings of one hunt.
//
// Error contract: Collect calls emit once per valid sighting, in the order
// the source gives them; a sighting is never emitted twice for one item,
// but different items may name the same IP (dedupe is the caller's job, in
// indicator.Set). An item that cannot be used (a bad IP, a bad time, a
// filtered-out label) is not an error: it is counted in Stats.Skipped and
// the hunt goes on. Collect returns an error only when the hunt as a whole
// failed (unreachable, refused, a changed shape, ctx done); the Stats it
// returns then still count what was read before the failure, and sightings
// already emitted stand. If emit returns an error, Collect stops and
// returns that error unwrapped. Errors never contain secrets.
//
// Freshness is the caller's: Collect emits valid sightings whatever their
// age, each with the source's own last-seen time (UTC), and the caller
// applies the hunt's max_age to Sighting.LastSeen, one rule for every kind.
type Source interface {
	// Name is the registry name of the kind, as a hunt's source: names it.
	Name() string
	// Collect reads the hunt's sightings and hands each to emit.
	Collect(ctx context.Context, h Hunt, emit func(Sighting) error) (Stats, error)
}

// Hunt is what a source needs to know of one hunt. Fields a kind does not
// use are ignored by it; configuration validation says which a kind allows.
type Hunt struct {
	Name string
	// Since is the freshness cut (now - max_age; zero: none). A source may
	// use it to ask for less (Shodan's after:); the caller applies it anyway.
	Since time.Time
	// Pages caps a paged source's pages (0: all it may pay for; Shodan).
	Pages int
	// Fidelity ranks the hunt for a budgeted source's plan (higher first;
	// catalog.Fidelity.Rank; 0: unknown).
	Fidelity int
	// Query is a Shodan search (source shodan).
	Query string
	// Days is ThreatFox's window, 1-7, counted by first_seen.
	Days int
	// MinConfidence keeps only items at least this sure (0-100; ThreatFox).
	MinConfidence int
	// Malware keeps only items of these families: Malpedia ids or printable
	// names, compared case-insensitively (ThreatFox). Empty keeps all.
	Malware []string
	// URL or Path is where a feed or a banner file is; Path may be a glob.
	URL  string
	Path string
	// Format is "txt" or "csv" for a feed; "" guesses from the name.
	Format string
	// Column and LabelColumn name a CSV feed's IP and label columns.
	Column      string
	LabelColumn string
	// MaxAge is the hunt's freshness window (0: none). The caller applies
	// it to every Sighting.LastSeen; a feed, whose items are only as fresh
	// as the file, also uses it to fail the whole hunt with a *StaleError
	// when the file is older, so a stale feed is reported, not just thinned.
	MaxAge time.Duration
}

// Sighting is one item of a source that names a C2 server: the address, and
// why (indicator.Sighting's hunt, source, port, org, ASN, country, last
// seen), plus the labels the source gives.
type Sighting struct {
	// IP is valid, unmapped and routable (indicator.ParseIP).
	IP netip.Addr
	indicator.Sighting
	// Malware is the framework or family as the source names it for people
	// ("Cobalt Strike", "QakBot", "Possible Cobaltstrike C2 IP").
	Malware string
	// MalwareID is the Malpedia id when the source gives one
	// ("win.cobalt_strike").
	MalwareID string
	// Confidence is the source's 0-100 score; 0 when it gives none.
	Confidence int
	// Tags are the source's own tags, as given.
	Tags []string
	// Reference links back to the source's record, or to a report.
	Reference string
}

// Indicator is the sighting as the rest of the sweep keeps it, the
// source's labels included.
func (s Sighting) Indicator() indicator.Sighting {
	sg := s.Sighting
	sg.Labels = indicator.Labels{Malware: s.Malware, MalwareID: s.MalwareID, Confidence: s.Confidence,
		Tags: s.Tags, Reference: s.Reference}
	return sg
}

// Stats counts one hunt's work. Requests and Cost are the source's own
// units: HTTP requests made, and what they cost (Shodan credits; 0 for a
// free source).
type Stats struct {
	Requests int `json:"requests"`
	// Read is the number of items read; Read = Kept + Skipped.Total().
	Read    int             `json:"read"`
	Kept    int             `json:"kept"`
	Skipped indicator.Skips `json:"skipped,omitempty"`
	Cost    int             `json:"cost,omitempty"`
	// Retries and Throttled count requests made again, and answers that
	// said to slow down (rate limits), of Requests.
	Retries   int `json:"retries,omitempty"`
	Throttled int `json:"throttled,omitempty"`
	// Pages counts the pages of a paged source; Total is how many items the
	// source said match (they may be more than it was allowed to read).
	Pages int `json:"pages,omitempty"`
	Total int `json:"total,omitempty"`
	// Truncated says a page or cost budget stopped the hunt early.
	Truncated bool `json:"truncated,omitempty"`
	// Query is what was asked, when the source rewrites the hunt's
	// (Shodan's query with after:).
	Query string `json:"query,omitempty"`
}

// Skip counts one item read and dropped for reason.
func (s *Stats) Skip(reason string) {
	s.Read++
	if s.Skipped == nil {
		s.Skipped = indicator.Skips{}
	}
	s.Skipped.Add(reason)
}

// Keep counts one item read and kept.
func (s *Stats) Keep() {
	s.Read++
	s.Kept++
}

// Add adds o's counts to s.
func (s *Stats) Add(o Stats) {
	s.Requests += o.Requests
	s.Read += o.Read
	s.Kept += o.Kept
	s.Cost += o.Cost
	s.Retries += o.Retries
	s.Throttled += o.Throttled
	s.Pages += o.Pages
	s.Total += o.Total
	s.Truncated = s.Truncated || o.Truncated
	if len(o.Skipped) > 0 {
		if s.Skipped == nil {
			s.Skipped = indicator.Skips{}
		}
		s.Skipped.Merge(o.Skipped)
	}
}

// Reasons an item is skipped that several kinds share. Kinds add their own
// (the Shodan banner reasons are shodan.Skip*).
const (
	SkipInvalidIP  = "invalid ip"
	SkipBadTime    = "bad time"
	SkipBadItem    = "undecodable item"
	SkipNotIP      = "not an ip indicator" // a domain, URL or hash IOC
	SkipConfidence = "below min_confidence"
	SkipMalware    = "malware not selected"
)

// Settings is what a kind's constructor gets: the per-source settings of
// the configuration (sources: in YAML) after environment overrides.
type Settings struct {
	// AuthKey is a secret (abuse.ch Auth-Key); it never appears in errors.
	AuthKey string
	// URL overrides the kind's default endpoint ("" keeps it).
	URL string
	// HTTPClient makes the requests of network kinds (default: a client
	// with http.DefaultTransport; TLS is always verified).
	HTTPClient *http.Client
	// Clock dates fetches and sleeps between retries (default clock.Real).
	Clock clock.Clock
	// Retry is how downloads are retried: Attempts, backoff, per-attempt
	// deadline (Fetch fills its zero fields with DefaultRetry's; Clock
	// comes from Clock above).
	Retry retry.Policy
	// CacheDir keeps, per downloaded URL, the last body and its validators
	// (ETag, Last-Modified) for conditional GET; "" fetches in full every
	// time. The CLI passes <state dir>/sources; it holds no secret (files
	// are named by a hash of the URL, which is not stored).
	CacheDir string
	// Log receives the kind's debug lines (nil: none).
	Log *slog.Logger
}

// Budgeted is a source whose hunts cost something (Shodan's query
// credits). The pipeline calls Reserve once per run, before any hunt of
// the kind runs, with the hunts that will: it checks they can be paid
// for, so a run never spends half its hunts' worth and then stops.
// budget caps what the run may spend (0: what the account has).
//
// Error contract: an error means none of these hunts may run; it never
// contains secrets.
type Budgeted interface {
	Reserve(ctx context.Context, hunts []Hunt, budget int) (Balance, error)
}

// Balance is what a Budgeted source's account had when the run began.
type Balance struct {
	// Left is what the account has (Shodan query credits).
	Left int
	// Requests counts the requests the check made; Retries and
	// Throttled are of them, as in Stats.
	Requests, Retries, Throttled int
	// Plan is how the run's credits are spent over the hunts (Shodan;
	// nil for a source without one).
	Plan *plan.Plan
}

// A Collect error matching ErrCredentials (fetch.go) means the service
// refused the kind's credentials: the kind's other hunts would fail the
// same way, so the caller does not run them.

// Refused marks err as a refusal of the credentials (see ErrCredentials);
// errors.Is still finds err's own chain.
func Refused(err error) error { return refusedError{err} }

type refusedError struct{ err error }

func (e refusedError) Error() string        { return e.err.Error() }
func (e refusedError) Unwrap() error        { return e.err }
func (e refusedError) Is(target error) bool { return target == ErrCredentials }

// Kind describes one implementation in the registry.
type Kind struct {
	Name string
	// Doc is one line for help text.
	Doc string
	// Fields lists the hunt fields the kind reads besides name (for
	// configuration validation), e.g. "days", "min_confidence", "malware".
	Fields []string
	New    func(Settings) (Source, error)
}

var (
	mu    sync.RWMutex
	kinds = map[string]Kind{}
)

// ErrUnknownKind is wrapped by Lookup's error for a name not registered.
var ErrUnknownKind = errors.New("unknown source")

// Register adds a kind; each implementation calls it once from init. A
// duplicate or empty name, or a nil constructor, panics: it is a bug.
func Register(k Kind) {
	mu.Lock()
	defer mu.Unlock()
	if k.Name == "" || k.New == nil {
		panic("source: Register with no name or constructor")
	}
	if _, dup := kinds[k.Name]; dup {
		panic("source: Register called twice for " + k.Name)
	}
	kinds[k.Name] = k
}

// Lookup returns the kind registered as name.
func Lookup(name string) (Kind, error) {
	mu.RLock()
	defer mu.RUnlock()
	k, ok := kinds[name]
	if !ok {
		return Kind{}, fmt.Errorf("%w %q (known: %v)", ErrUnknownKind, name, namesLocked())
	}
	return k, nil
}

// Names returns the registered names, sorted: the enum of a hunt's source:.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	return slices.Sorted(maps.Keys(kinds))
}

// ParseAddrPort reads an address as sources write it: "1.2.3.4",
// "1.2.3.4:443", "[2001:db8::1]:443" or a bare IPv6 address, through
// indicator.ParseIP. The port is 0 when there is none; port 0 itself is
// refused.
func ParseAddrPort(s string) (ip netip.Addr, port int, ok bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.Addr{}, 0, false
		}
		ip, err := indicator.ParseIP(ap.Addr().String())
		if err != nil {
			return netip.Addr{}, 0, false
		}
		return ip, int(ap.Port()), true
	}
	ip, err := indicator.ParseIP(s)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return ip, 0, true
}
