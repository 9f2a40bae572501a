package exclude

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LoadDir reads a snapshot that `c2sweep exclusions update` wrote to dir.
func LoadDir(dir string) (*Snapshot, error) {
	return LoadFS(os.DirFS(dir), ".")
}

// Current is the snapshot c2sweep excludes with: dir's when an update has
// written one there, else the embedded one. dir "" means the embedded one.
func Current(dir string) (*Snapshot, error) {
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "snapshot.txt")); err == nil {
			s, err := LoadDir(dir)
			if err != nil {
				return nil, fmt.Errorf("%w (in %s)", err, dir)
			}
			return s, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return Builtin(), nil
}

// List returns the snapshot's list of that name, or nil.
func (s *Snapshot) List(name string) *List {
	for _, l := range s.Lists {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// Fetch returns the body at url; an update gets it from its caller, which
// owns the HTTP client, retries and caps.
type Fetch func(ctx context.Context, url string) ([]byte, error)

// Outcome is what an update did with one operator's list.
type Outcome struct {
	Name string
	List *List // the list now in the snapshot: the new one, or the one kept
	Old  int   // prefixes before (0: there was no list)
	Err  error // why the current list was kept; nil when refreshed
}

// Update fetches every upstream (from base's lab instead when base is
// set) and returns the new snapshot with what happened to each list. A list
// whose fetch, parse or Refresh fails keeps its version in cur, so one
// operator's outage leaves the others refreshed. The snapshot is dated now
// only when every list was refreshed: a kept list is as old as before.
func Update(ctx context.Context, cur *Snapshot, ups []Upstream, base string, fetch Fetch, now time.Time) (*Snapshot, []Outcome) {
	next := &Snapshot{Built: now.UTC().Truncate(24 * time.Hour)}
	var outs []Outcome
	for _, u := range ups {
		old := cur.List(u.Name)
		o := Outcome{Name: u.Name, List: old}
		if old != nil {
			o.Old = len(old.Prefixes)
		}
		l, err := refreshOne(ctx, u, old, base, fetch, now)
		if err != nil {
			o.Err = err
			next.Built = cur.Built
		} else {
			o.List = l
		}
		if o.List != nil {
			next.Lists = append(next.Lists, o.List)
		}
		outs = append(outs, o)
	}
	return next, outs
}

func refreshOne(ctx context.Context, u Upstream, old *List, base string, fetch Fetch, now time.Time) (*List, error) {
	urls := u.URLs
	if base != "" {
		var err error
		if urls, err = u.At(base); err != nil {
			return nil, err
		}
	}
	bodies := make([][]byte, len(urls))
	for i, url := range urls {
		b, err := fetch(ctx, url)
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	got, err := u.Parse(bodies)
	if err != nil {
		return nil, err
	}
	return Refresh(u, old, got, now)
}

// WriteDir writes the snapshot to dir (made if missing) in the format
// LoadDir reads. Each file is written whole to a temporary file and then
// renamed over the old one, snapshot.txt last, so a reader never sees a
// half-written list and the date changes only once every list is in place.
func (s *Snapshot) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, l := range s.Lists {
		var b strings.Builder
		l.WriteTo(&b)
		if err := writeAtomic(filepath.Join(dir, l.Name+".txt"), b.String()); err != nil {
			return err
		}
	}
	built := "# built: " + s.Built.UTC().Format(time.DateOnly) + "\n" +
		"# note: written by c2sweep exclusions update; the date of the oldest refresh, each list records its own source and date\n"
	return writeAtomic(filepath.Join(dir, "snapshot.txt"), built)
}

func writeAtomic(path, data string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.WriteString(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
