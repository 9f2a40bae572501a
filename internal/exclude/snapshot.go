package exclude

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed ranges/*.txt
var rangesFS embed.FS

// MaxAge is how old a snapshot may get before c2sweep warns that it is
// stale: operators add ranges, and a missing one lets CDN IPs through.
const MaxAge = 90 * 24 * time.Hour

// Snapshot is a set of range lists and when it was assembled.
type Snapshot struct {
	Built time.Time
	Lists []*List // by name
}

// Builtin returns the embedded snapshot (see ranges/README.md). It cannot
// fail on a released build: the package's tests load it.
func Builtin() *Snapshot {
	s, err := LoadFS(rangesFS, "ranges")
	if err != nil {
		panic("exclude: embedded ranges: " + err.Error())
	}
	return s
}

// LoadFS reads every *.txt range file in dir of fsys; snapshot.txt holds
// the "# built: YYYY-MM-DD" date.
func LoadFS(fsys fs.FS, dir string) (*Snapshot, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.txt"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	s := &Snapshot{}
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		base := strings.TrimSuffix(path.Base(n), ".txt")
		if base == "snapshot" {
			if s.Built, err = parseBuilt(data); err != nil {
				return nil, err
			}
			continue
		}
		l, err := ParseList(base, bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		s.Lists = append(s.Lists, l)
	}
	if s.Built.IsZero() || len(s.Lists) == 0 {
		return nil, fmt.Errorf("%w: %s has no snapshot.txt date or no lists", ErrRangeFile, dir)
	}
	return s, nil
}

func parseBuilt(data []byte) (time.Time, error) {
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "# built:"); ok {
			t, err := time.Parse(time.DateOnly, strings.TrimSpace(v))
			if err != nil {
				return time.Time{}, fmt.Errorf("%w snapshot: built %q is not YYYY-MM-DD", ErrRangeFile, strings.TrimSpace(v))
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w snapshot: no \"# built:\" line", ErrRangeFile)
}

// StaleWarning says the snapshot is older than MaxAge.
type StaleWarning struct {
	Built time.Time
	Age   time.Duration
}

func (w *StaleWarning) Error() string {
	return fmt.Sprintf("the CDN ranges are %d days old (built %s); refresh them with c2sweep exclusions update",
		int(w.Age.Hours()/24), w.Built.Format(time.DateOnly))
}

// Stale returns a warning when the snapshot is older than MaxAge at now,
// and nil otherwise.
func (s *Snapshot) Stale(now time.Time) *StaleWarning {
	if age := now.Sub(s.Built); age > MaxAge {
		return &StaleWarning{Built: s.Built, Age: age}
	}
	return nil
}
