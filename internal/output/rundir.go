// Package output writes what a run found: the run directory (summary.json
// and one <hunt>.json per hunt) and the tables, CSV and JSON of the
// read-only commands.
package output

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"c2sweep/internal/hunting"
	"c2sweep/internal/indicator"
)

// RunDir is a run's result directory. Hunt files are streamed as hits
// arrive and appear under their final names only when complete.
type RunDir struct {
	dir     string
	hunts   map[string]*huntFile
	order   []string
	schemas map[string][]hunting.Column
}

type huntFile struct {
	f    *os.File
	w    *bufio.Writer
	tmp  string
	n    int
	name string
}

// ServerHit is a hit as written to a hunt file: the event and the Shodan
// context of the server it talked to.
type ServerHit struct {
	indicator.Hit
	Server *indicator.Indicator `json:"server,omitempty"`
}

// DefaultParent is where runs write their results without --out.
const DefaultParent = "c2sweep-results"

// ErrUsed is returned by Create for a directory that already holds files:
// a run never writes over the results of another.
var ErrUsed = errors.New("results directory is not empty")

// RunDirIn names the results directory of a run that starts at start:
// parent/<start, UTC>, e.g. c2sweep-results/20261201T061500Z. `run --out`
// and `serve --out` both give parent (default DefaultParent). A name that
// is taken (two runs in one second) gets a -2, -3 ... suffix.
func RunDirIn(parent string, start time.Time) string {
	if parent == "" {
		parent = DefaultParent
	}
	base := filepath.Join(parent, start.UTC().Format("20060102T150405Z"))
	dir := base
	// Any error other than "exists" (a parent that is a file, no
	// permission) is left for Create to report; the suffix is bounded so a
	// directory full of odd names cannot loop.
	for n := 2; n <= 1000; n++ {
		if _, err := os.Lstat(dir); err != nil {
			return dir
		}
		dir = base + "-" + strconv.Itoa(n)
	}
	return dir
}

// Create makes dir (and parents) and opens a file for each hunt. A dir
// that exists must be empty (ErrUsed otherwise).
func Create(dir string, hunts []string) (*RunDir, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	if err := checkEmpty(dir); err != nil {
		return nil, err
	}
	d := &RunDir{dir: dir, hunts: map[string]*huntFile{}, schemas: map[string][]hunting.Column{}}
	for _, h := range hunts {
		tmp := filepath.Join(dir, "."+h+".json.partial")
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
		if err != nil {
			d.Abort()
			return nil, fmt.Errorf("results directory: %w", err)
		}
		hf := &huntFile{f: f, w: bufio.NewWriter(f), tmp: tmp, name: h}
		name, _ := json.Marshal(h)
		fmt.Fprintf(hf.w, "{\n  \"hunt\": %s,\n  \"hits\": [", name)
		d.hunts[h] = hf
		d.order = append(d.order, h)
	}
	return d, nil
}

func checkEmpty(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err == nil {
		return fmt.Errorf("%w: %s (a run never writes over earlier results)", ErrUsed, dir)
	} else if err != io.EOF {
		return fmt.Errorf("results directory: %w", err)
	}
	return nil
}

// Dir is the directory's path.
func (d *RunDir) Dir() string { return d.dir }

// Schema records the columns of a target's rows.
func (d *RunDir) Schema(target string, cols []hunting.Column) {
	if _, ok := d.schemas[target]; !ok {
		d.schemas[target] = cols
	}
}

// Hit appends h to the file of every hunt it is attributed to.
func (d *RunDir) Hit(h indicator.Hit, server *indicator.Indicator) error {
	b, err := json.Marshal(ServerHit{Hit: h, Server: server})
	if err != nil {
		return err
	}
	for _, name := range h.Hunts {
		hf, ok := d.hunts[name]
		if !ok {
			continue
		}
		sep := ",\n    "
		if hf.n == 0 {
			sep = "\n    "
		}
		hf.w.WriteString(sep)
		if _, err := hf.w.Write(b); err != nil {
			return fmt.Errorf("%s: %w", hf.tmp, err)
		}
		hf.n++
	}
	return nil
}

// Close completes the hunt files and writes summary.json.
func (d *RunDir) Close(summary any) error {
	schemas, err := json.MarshalIndent(d.schemas, "  ", "  ")
	if err != nil {
		return err
	}
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, name := range d.order {
		hf := d.hunts[name]
		end := "\n  ]"
		if hf.n == 0 {
			end = "]"
		}
		fmt.Fprintf(hf.w, "%s,\n  \"hit_count\": %d,\n  \"schemas\": %s\n}\n", end, hf.n, schemas)
		keep(hf.w.Flush())
		keep(hf.f.Sync())
		keep(hf.f.Close())
		if first == nil {
			keep(os.Rename(hf.tmp, filepath.Join(d.dir, name+".json")))
		}
	}
	d.hunts = nil
	if first != nil {
		return first
	}
	return WriteJSON(filepath.Join(d.dir, "summary.json"), summary)
}

// Abort removes unfinished hunt files.
func (d *RunDir) Abort() {
	for _, hf := range d.hunts {
		hf.f.Close()
		os.Remove(hf.tmp)
	}
	d.hunts = nil
}

// WriteJSON writes v as indented JSON, atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".partial"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// SortedKeys returns m's keys in order, for stable listings.
func SortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
