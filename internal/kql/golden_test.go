package kql

import (
	"bufio"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the want section of testdata/*.txtar from Build's output")

// A golden file is a txtar archive: a comment saying what the case is
// about, an "input" file and a "want" file.
//
// input lines:
//
//	target TABLE.COLUMN
//	limits ips=N bytes=N          (0 or absent: the defaults)
//	window START END              (RFC 3339; starts a group)
//	IP IP ...                     (addresses of the current group)
//	# comment
//
// want holds each query as a header (# query i/n: target, count, window),
// its IPs, and its text, followed by a blank line; "# no queries" when
// Build emits none.
type archive struct {
	comment string
	files   []archiveFile
}

type archiveFile struct {
	name string
	data string
}

// parseTxtar reads the txtar format (golang.org/x/tools/txtar), which is
// small enough to read here rather than add a module for it.
func parseTxtar(data string) archive {
	var a archive
	cur := -1
	for _, line := range strings.SplitAfter(data, "\n") {
		trim := strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(trim, "-- ") && strings.HasSuffix(trim, " --") && len(trim) > 6 {
			a.files = append(a.files, archiveFile{name: strings.TrimSpace(trim[3 : len(trim)-3])})
			cur = len(a.files) - 1
			continue
		}
		if cur < 0 {
			a.comment += line
		} else {
			a.files[cur].data += line
		}
	}
	return a
}

func (a archive) format() string {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, f := range a.files {
		fmt.Fprintf(&b, "-- %s --\n", f.name)
		b.WriteString(f.data)
	}
	return b.String()
}

func (a *archive) file(name string) *archiveFile {
	for i := range a.files {
		if a.files[i].name == name {
			return &a.files[i]
		}
	}
	return nil
}

type goldenInput struct {
	catalog string
	target  Target
	lim     Limits
	groups  []Group
}

func parseGoldenInput(data string) (goldenInput, error) {
	var in goldenInput
	sc := bufio.NewScanner(strings.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case fields[0] == "target" && len(fields) == 2:
			table, col, ok := strings.Cut(fields[1], ".")
			if !ok {
				return in, fmt.Errorf("line %d: target wants TABLE.COLUMN", n)
			}
			in.target = Target{Table: table, Column: col}
		case fields[0] == "catalog" && len(fields) == 2:
			in.catalog = fields[1]
		case fields[0] == "limits":
			for _, kv := range fields[1:] {
				k, v, _ := strings.Cut(kv, "=")
				x, err := strconv.Atoi(v)
				if err != nil {
					return in, fmt.Errorf("line %d: %v", n, err)
				}
				switch k {
				case "ips":
					in.lim.MaxIPs = x
				case "bytes":
					in.lim.MaxBytes = x
				default:
					return in, fmt.Errorf("line %d: unknown limit %q", n, k)
				}
			}
		case fields[0] == "window" && len(fields) == 3:
			s, err1 := time.Parse(time.RFC3339Nano, fields[1])
			e, err2 := time.Parse(time.RFC3339Nano, fields[2])
			if err1 != nil || err2 != nil {
				return in, fmt.Errorf("line %d: bad window: %v %v", n, err1, err2)
			}
			in.groups = append(in.groups, Group{Start: s, End: e})
		default:
			if len(in.groups) == 0 {
				return in, fmt.Errorf("line %d: IPs before any window", n)
			}
			g := &in.groups[len(in.groups)-1]
			for _, f := range fields {
				ip, err := netip.ParseAddr(f)
				if err != nil {
					return in, fmt.Errorf("line %d: %v", n, err)
				}
				g.IPs = append(g.IPs, ip)
			}
		}
	}
	return in, sc.Err()
}

func formatQueries(qs []Query) string {
	if len(qs) == 0 {
		return "# no queries\n"
	}
	var b strings.Builder
	for i, q := range qs {
		fmt.Fprintf(&b, "# query %d/%d: %s, %d IPs, %d bytes, %s\n# ips:", i+1, len(qs), q.Target, len(q.IPs), len(q.Text), Timespan(q.Start, q.End))
		for _, ip := range q.IPs {
			b.WriteString(" " + ip.String())
		}
		b.WriteString("\n" + q.Text + "\n\n")
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			a := parseTxtar(string(data))
			inFile := a.file("input")
			if inFile == nil {
				t.Fatal("no input file in archive")
			}
			in, err := parseGoldenInput(inFile.data)
			if err != nil {
				t.Fatal(err)
			}
			qs, err := BuildIn(in.catalog, in.target, in.groups, in.lim)
			if err != nil {
				t.Fatal(err)
			}
			got := formatQueries(qs)
			want := a.file("want")
			if *update {
				if want == nil {
					a.files = append(a.files, archiveFile{name: "want"})
					want = &a.files[len(a.files)-1]
				}
				want.data = got
				if err := os.WriteFile(path, []byte(a.format()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want == nil {
				t.Fatal("no want file in archive (run go test -update)")
			}
			if got != want.data {
				t.Errorf("Build output differs from %s (go test ./internal/kql -run TestGolden -update rewrites it)\n--- got ---\n%s--- want ---\n%s", path, got, want.data)
			}
		})
	}
}
