// Package catalog is c2sweep's built-in hunt catalog: Shodan fingerprints of
// C2 frameworks, RATs, stealer panels, botnets and offensive tooling, kept as
// data (hunts.yaml) with where each one comes from and how far to trust it.
package catalog

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed hunts.yaml
var builtinYAML []byte

// Kind is what a hunt finds.
type Kind string

// The kinds of hunt.
const (
	KindC2      Kind = "c2"      // a C2 framework
	KindRAT     Kind = "rat"     // a remote access trojan or backdoor
	KindStealer Kind = "stealer" // an info-stealer's panel
	KindBotnet  Kind = "botnet"  // a botnet, miner or bot panel
	KindTooling Kind = "tooling" // dual-use offensive tooling
)

// Kinds lists the kinds in the order they are shown.
var Kinds = []Kind{KindC2, KindRAT, KindStealer, KindBotnet, KindTooling}

// Fidelity is how far a hunt's results can be trusted.
type Fidelity string

// The fidelities, best first.
const (
	High   Fidelity = "high"
	Medium Fidelity = "medium"
	Low    Fidelity = "low"
)

// Rank orders fidelities: high 3, medium 2, low 1, anything else 0.
func (f Fidelity) Rank() int {
	switch f {
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// Source is a public list or write-up hunts come from.
type Source struct {
	ID    string    `yaml:"id"`
	Title string    `yaml:"title"`
	Date  time.Time `yaml:"date"`
	// DateNote says what Date is when it is not the source's own date.
	DateNote string `yaml:"date_note"`
}

// Hunt is one catalog entry.
type Hunt struct {
	Name     string   `yaml:"name"`
	Family   string   `yaml:"family"`
	Kind     Kind     `yaml:"kind"`
	Query    string   `yaml:"query"` // Shodan search query
	Fidelity Fidelity `yaml:"fidelity"`
	Note     string   `yaml:"note"`
	SourceID string   `yaml:"source"`
	// Retired is when the source dropped the query (zero: still listed).
	Retired time.Time `yaml:"retired"`

	// Source is the entry of Catalog.Sources that SourceID names.
	Source Source `yaml:"-"`
}

// Provenance says where the hunt comes from and as of when.
func (h Hunt) Provenance() string {
	s := h.Source.Title + ", " + h.Source.Date.Format(time.DateOnly)
	if h.Source.DateNote != "" {
		s += " (" + h.Source.DateNote + ")"
	}
	return s
}

// Catalog is a loaded catalog, in file order.
type Catalog struct {
	Sources []Source `yaml:"sources"`
	Hunts   []Hunt   `yaml:"hunts"`
}

// ErrCatalog is the error of a catalog file that is malformed or whose
// entries are incomplete or inconsistent.
var ErrCatalog = errors.New("bad hunt catalog")

// Builtin loads the embedded catalog. It cannot fail on a released build:
// the package's tests load it.
func Builtin() *Catalog {
	c, err := Load(bytes.NewReader(builtinYAML))
	if err != nil {
		panic("catalog: embedded hunts.yaml: " + err.Error())
	}
	return c
}

// Load reads a catalog strictly: unknown keys, a missing field, an unknown
// kind, fidelity or source, and duplicate names (case-insensitive) are
// errors.
func Load(r io.Reader) (*Catalog, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty file", ErrCatalog)
		}
		return nil, fmt.Errorf("%w: %v", ErrCatalog, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one document", ErrCatalog)
	}
	sources := map[string]Source{}
	for _, s := range c.Sources {
		switch {
		case s.ID == "" || s.Title == "" || s.Date.IsZero():
			return nil, fmt.Errorf("%w: source %q needs id, title and date", ErrCatalog, s.ID)
		case sources[s.ID].ID != "":
			return nil, fmt.Errorf("%w: source %q listed twice", ErrCatalog, s.ID)
		}
		sources[s.ID] = s
	}
	seen := map[string]string{}
	for i := range c.Hunts {
		h := &c.Hunts[i]
		if h.Name == "" || h.Family == "" || h.Query == "" || h.Note == "" || h.SourceID == "" {
			return nil, fmt.Errorf("%w: hunt %d (%q) needs name, family, query, note and source", ErrCatalog, i+1, h.Name)
		}
		if prev, ok := seen[strings.ToLower(h.Name)]; ok {
			return nil, fmt.Errorf("%w: hunt name %q used twice (also %q)", ErrCatalog, h.Name, prev)
		}
		seen[strings.ToLower(h.Name)] = h.Name
		if !validKind(h.Kind) {
			return nil, fmt.Errorf("%w: hunt %s: kind %q is not one of %s", ErrCatalog, h.Name, h.Kind, kindList())
		}
		if h.Fidelity.Rank() == 0 {
			return nil, fmt.Errorf("%w: hunt %s: fidelity %q is not high, medium or low", ErrCatalog, h.Name, h.Fidelity)
		}
		s, ok := sources[h.SourceID]
		if !ok {
			return nil, fmt.Errorf("%w: hunt %s: unknown source %q", ErrCatalog, h.Name, h.SourceID)
		}
		h.Source = s
	}
	return &c, nil
}

func validKind(k Kind) bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Families returns the catalog's families, in first-seen order.
func (c *Catalog) Families() []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range c.Hunts {
		if k := strings.ToLower(h.Family); !seen[k] {
			seen[k] = true
			out = append(out, h.Family)
		}
	}
	return out
}

// Lookup returns the hunt with that name, case-insensitively.
func (c *Catalog) Lookup(name string) (Hunt, bool) {
	for _, h := range c.Hunts {
		if strings.EqualFold(h.Name, name) {
			return h, true
		}
	}
	return Hunt{}, false
}
