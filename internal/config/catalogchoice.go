package config

import (
	"fmt"
	"slices"
	"strings"
)

// CatalogChoice picks hunts of the built-in catalog (c2sweep hunts) by
// kind, family or name: catalog: {include: [c2, Sliver], exclude: [...]}.
// They run in addition to the configured hunts.
type CatalogChoice struct {
	Include []string `yaml:"include" json:"include,omitempty"`
	Exclude []string `yaml:"exclude" json:"exclude,omitempty"`
}

// Selector expands a catalog choice into hunts (Name, Query, Origin). The
// catalog package sets it: it imports config, so config cannot import it.
// Its error for an unknown word says what the word is not and, when one is
// close, "did you mean".
var Selector func(include, exclude []string) ([]Hunt, error)

// addCatalog appends the hunts the file's catalog: picks, with the
// defaults, after the configured ones; a hunt the file already names (or
// a built-in) is not added twice. Every unknown word is an error at its
// own line.
func (w *walker) addCatalog(hunts []Hunt, ch CatalogChoice, d HuntDefaults) []Hunt {
	if len(ch.Include) == 0 && len(ch.Exclude) == 0 {
		return hunts
	}
	if Selector == nil {
		w.fail(w.lines["catalog"], "catalog", "the hunt catalog is not part of this build", "")
		return hunts
	}
	ok := true
	check := func(key string, words []string, pick func(string) ([]string, []string)) {
		for i, word := range words {
			p := fmt.Sprintf("catalog.%s[%d]", key, i)
			if strings.TrimSpace(word) == "" {
				w.fail(w.lines[p], p, "empty", "a kind (c2, rat, stealer, botnet, tooling), a family or a hunt name")
				ok = false
				continue
			}
			if _, err := Selector(pick(word)); err != nil {
				w.fail(w.lines[p], p, err.Error(), "'c2sweep hunts' lists the catalog's kinds, families and names")
				ok = false
			}
		}
	}
	check("include", ch.Include, func(s string) ([]string, []string) { return []string{s}, nil })
	check("exclude", ch.Exclude, func(s string) ([]string, []string) { return []string{"all"}, []string{s} })
	if !ok {
		return hunts
	}
	picked, err := Selector(ch.Include, ch.Exclude)
	if err != nil {
		w.fail(w.lines["catalog"], "catalog", err.Error(), "")
		return hunts
	}
	have := map[string]bool{}
	for _, h := range hunts {
		have[strings.ToLower(h.Name)] = true
	}
	for _, h := range picked {
		if have[strings.ToLower(h.Name)] {
			continue
		}
		have[strings.ToLower(h.Name)] = true
		hunts = append(hunts, withDefaults(h, d))
	}
	return hunts
}

// AddCatalog applies a catalog choice of the command line: it drops the
// catalog's hunts that exclude names (those the file picked included) and
// adds those include picks, with the defaults. Configured hunts stay.
func (c *Config) AddCatalog(include, exclude []string) error {
	if len(include) == 0 && len(exclude) == 0 {
		return nil
	}
	if Selector == nil {
		return fmt.Errorf("the hunt catalog is not part of this build")
	}
	if len(exclude) > 0 {
		all, err := Selector([]string{"all"}, nil)
		if err != nil {
			return err
		}
		kept, err := Selector([]string{"all"}, exclude)
		if err != nil {
			return err
		}
		drop := map[string]bool{}
		for _, h := range all {
			drop[strings.ToLower(h.Name)] = true
		}
		for _, h := range kept {
			delete(drop, strings.ToLower(h.Name))
		}
		c.Hunts = slices.DeleteFunc(c.Hunts, func(h Hunt) bool {
			return strings.HasPrefix(h.Origin, "catalog") && drop[strings.ToLower(h.Name)]
		})
	}
	if len(include) == 0 {
		return nil
	}
	picked, err := Selector(include, exclude)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, h := range c.Hunts {
		have[strings.ToLower(h.Name)] = true
	}
	for _, h := range picked {
		if !have[strings.ToLower(h.Name)] {
			have[strings.ToLower(h.Name)] = true
			c.Hunts = append(c.Hunts, withDefaults(h, c.Defaults))
		}
	}
	return nil
}
