package cli

import (
	"errors"
	"fmt"
	"strings"

	"c2sweep/internal/config"
	"c2sweep/internal/store"
)

// names are what the state (and the config) know: the hunt, device and
// run names a user may give to hits and suppress. Each is checked here,
// so a typo is an error with a suggestion, not an empty list that looks
// like good news.
type names struct {
	st      *store.Store
	g       *Globals
	known   store.HitNames
	fetched bool
	// more is said after the hint of an unknown name: what else to do.
	more string
}

func (n *names) load() error {
	if n.fetched {
		return nil
	}
	k, err := n.st.Names(n.g.ctx)
	if err != nil {
		return err
	}
	n.known, n.fetched = k, true
	return nil
}

// hunt returns the hunt called name (in its stored spelling), known to the
// state or defined by the config.
func (n *names) hunt(flag, name string) (string, error) {
	if err := n.load(); err != nil {
		return "", err
	}
	known := n.known.Hunts
	// A hunt of the config that has not run yet is a real name too.
	if cfg, _, err := config.Load(n.g.Config); err == nil {
		for _, h := range cfg.Hunts {
			known = append(known, h.Name)
		}
	}
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k, nil
		}
	}
	return "", unknownName(flag, "hunt", name, known, "'c2sweep hunts' lists the hunts of the config"+n.more)
}

// device checks a device name: a full name or a short one (ws01 for
// ws01.contoso.local), as the state holds them.
func (n *names) device(flag, name string) error {
	if err := n.load(); err != nil {
		return err
	}
	var known []string
	for _, d := range n.known.Devices {
		short, _, _ := strings.Cut(d, ".")
		if strings.EqualFold(d, name) || strings.EqualFold(short, name) {
			return nil
		}
		known = append(known, d)
		if short != d {
			known = append(known, short)
		}
	}
	return unknownName(flag, "device", name, known, "'c2sweep hits --all' lists the devices with hits"+n.more)
}

// run checks that run id is recorded.
func (n *names) run(flag string, id int64) error {
	_, err := n.st.Run(n.g.ctx, id)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	runs, err := n.st.Runs(n.g.ctx, 1)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return withHint(fmt.Errorf("%s %d: no run is recorded yet", flag, id), "c2sweep run")
	}
	return withHint(fmt.Errorf("%s %d: no such run", flag, id),
		fmt.Sprintf("the latest is run %d; 'c2sweep runs' lists them", runs[0].ID))
}

// unknownName is the one error for a name the state does not know.
func unknownName(flag, what, name string, known []string, more string) error {
	err := fmt.Errorf("%s %q: no %s of that name", flag, name, what)
	if n := config.Nearest(name, known); n != "" {
		return withHint(err, fmt.Sprintf("did you mean %s? %s", n, more))
	}
	return withHint(err, more)
}
