package catalog

import (
	"errors"
	"fmt"
	"strings"

	"c2sweep/internal/config"
)

// ErrUnknownSelector is the error of an include or exclude word that is
// neither a kind, a family nor a hunt name of the catalog.
var ErrUnknownSelector = errors.New("unknown catalog selector")

// SelectorError names the word and the closest known one, if any.
type SelectorError struct {
	Word, Nearest string
}

func (e *SelectorError) Error() string {
	if e.Nearest != "" {
		return fmt.Sprintf("%v %q (did you mean %q?)", ErrUnknownSelector, e.Word, e.Nearest)
	}
	return fmt.Sprintf("%v %q: not a kind, family or hunt name", ErrUnknownSelector, e.Word)
}

func (e *SelectorError) Unwrap() error { return ErrUnknownSelector }

func init() {
	// A config's catalog: picks are expanded by the built-in catalog.
	config.Selector = func(include, exclude []string) ([]config.Hunt, error) {
		hs, err := Builtin().Select(include, exclude)
		if err != nil {
			return nil, err
		}
		out := make([]config.Hunt, len(hs))
		for i, h := range hs {
			out[i] = config.Hunt{Name: h.Name, Query: h.Query, Origin: "catalog (" + h.Family + ", " + string(h.Kind) + ")"}
		}
		return out, nil
	}
}

// Select returns the hunts that match any include word and no exclude word,
// in catalog order. A word is a kind (c2, rat, stealer, botnet, tooling), a
// family or a hunt name, case-insensitively; "all" matches every hunt. No
// include words select nothing: a config names what it hunts. Unknown words
// are a *SelectorError with the nearest known word.
func (c *Catalog) Select(include, exclude []string) ([]Hunt, error) {
	inc, err := c.matchers(include)
	if err != nil {
		return nil, err
	}
	exc, err := c.matchers(exclude)
	if err != nil {
		return nil, err
	}
	var out []Hunt
	for _, h := range c.Hunts {
		if anyMatch(inc, h) && !anyMatch(exc, h) {
			out = append(out, h)
		}
	}
	return out, nil
}

type matcher func(Hunt) bool

func anyMatch(ms []matcher, h Hunt) bool {
	for _, m := range ms {
		if m(h) {
			return true
		}
	}
	return false
}

func (c *Catalog) matchers(words []string) ([]matcher, error) {
	var out []matcher
	for _, w := range words {
		w = strings.TrimSpace(w)
		m, err := c.matcher(w)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (c *Catalog) matcher(w string) (matcher, error) {
	if strings.EqualFold(w, "all") {
		return func(Hunt) bool { return true }, nil
	}
	for _, k := range Kinds {
		if strings.EqualFold(w, string(k)) {
			return func(h Hunt) bool { return h.Kind == k }, nil
		}
	}
	for _, h := range c.Hunts {
		if strings.EqualFold(w, h.Family) {
			return func(h Hunt) bool { return strings.EqualFold(w, h.Family) }, nil
		}
	}
	for _, h := range c.Hunts {
		if strings.EqualFold(w, h.Name) {
			return func(h Hunt) bool { return strings.EqualFold(w, h.Name) }, nil
		}
	}
	known := []string{"all"}
	for _, k := range Kinds {
		known = append(known, string(k))
	}
	known = append(known, c.Families()...)
	for _, h := range c.Hunts {
		known = append(known, h.Name)
	}
	return nil, &SelectorError{Word: w, Nearest: config.Nearest(w, known)}
}

// Where returns the hunts of a family and of a kind (either "" for any),
// in catalog order: the filters of a listing such as `c2sweep hunts
// --family Sliver --kind c2`. An unknown family or kind is a
// *SelectorError with the nearest known one.
func (c *Catalog) Where(family, kind string) ([]Hunt, error) {
	if kind != "" && !validKind(Kind(strings.ToLower(kind))) {
		known := make([]string, len(Kinds))
		for i, k := range Kinds {
			known[i] = string(k)
		}
		return nil, &SelectorError{Word: kind, Nearest: config.Nearest(kind, known)}
	}
	if family != "" && !c.hasFamily(family) {
		return nil, &SelectorError{Word: family, Nearest: config.Nearest(family, c.Families())}
	}
	var out []Hunt
	for _, h := range c.Hunts {
		if (family == "" || strings.EqualFold(h.Family, family)) && (kind == "" || strings.EqualFold(string(h.Kind), kind)) {
			out = append(out, h)
		}
	}
	return out, nil
}

func (c *Catalog) hasFamily(f string) bool {
	for _, h := range c.Hunts {
		if strings.EqualFold(h.Family, f) {
			return true
		}
	}
	return false
}
