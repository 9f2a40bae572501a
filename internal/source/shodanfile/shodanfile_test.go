package shodanfile

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/shodan"
	"c2sweep/internal/source"
)

// ugly are banner lines with the traps of the contract: timestamps with and
// without fractions, an IPv6-only banner, a bad ip_str, a bad timestamp, a
// huge serial, a null title, CRLF, a blank line, a truncated line, and a
// banner over 64 KiB.
var ugly = []string{
	`{"ip_str":"192.0.2.10","port":443,"transport":"tcp","timestamp":"2026-04-29T10:11:12.462372","hash":-12,"org":"Example Org","asn":"AS64500","location":{"country_code":"NL"},"tags":["c2"],"ssl":{"jarm":"07d14d16d21d21d07c42d41d00041d24a458a375eef0c576d23a7bab9a9fb1","cert":{"serial":1.9585926715947384e+37,"expired":"True"}}}`,
	`{"ip_str":"198.51.100.7","port":8080,"transport":"tcp","timestamp":"2026-04-28T00:00:01","http":{"title":null,"html_hash":0}}` + "\r",
	``,
	`{"ipv6":"2001:db8::5","port":50050,"transport":"tcp","timestamp":"2026-04-27T08:00:00.000001"}`,
	`{"ip_str":"not-an-ip","port":443,"timestamp":"2026-04-28T00:00:00.000000"}`,
	`{"ip_str":"203.0.113.9","port":443,"timestamp":"yesterday"}`,
	`{"ip_str":"203.0.113.10","port":443,"timestamp":"2026-04-2`,
	`{"ip_str":"127.0.0.1","port":443,"timestamp":"2026-04-28T00:00:00.000000"}`,
	`{"ip_str":"203.0.113.11","port":443,"transport":"tcp","timestamp":"2026-04-26T07:06:05.123456","data":"` + strings.Repeat("A", 70000) + `"}`,
}

func collect(t *testing.T, r func(emit func(source.Sighting) error) (source.Stats, error)) ([]source.Sighting, source.Stats) {
	t.Helper()
	var out []source.Sighting
	st, err := r(func(s source.Sighting) error { out = append(out, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out, st
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSameAsClient proves that a file gives what the Shodan client gives
// for a search page holding the same banners: same addresses, ports,
// times, labels and skip reasons.
func TestSameAsClient(t *testing.T) {
	plain := []byte(strings.Join(ugly, "\n"))
	var matches []json.RawMessage
	undecodable := 0
	for _, l := range ugly {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if !json.Valid([]byte(l)) {
			undecodable++
			continue
		}
		matches = append(matches, json.RawMessage(l))
	}
	page, _ := json.Marshal(map[string]any{"matches": matches, "total": len(matches)})
	p, err := shodan.DecodePage(page)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	wantSkips := map[string]int{shodan.SkipUndecodableMatch: p.Undecodable + undecodable}
	for i := range p.Matches {
		ip, sg, err := p.Matches[i].Sighting("H")
		if err != nil {
			wantSkips[shodan.SkipReason(err)]++
			continue
		}
		want = append(want, netip.AddrPortFrom(ip, uint16(sg.Port)).String()+" "+sg.LastSeen.Format(time.RFC3339Nano)+" "+sg.Org+" "+sg.ASN+" "+sg.Country+" "+sg.JARM)
	}
	if len(want) != 4 {
		t.Fatalf("client kept %d banners, want 4: the sample changed", len(want))
	}
	for name, body := range map[string][]byte{"plain": plain, "gzip": gz(t, plain)} {
		t.Run(name, func(t *testing.T) {
			got, st := collect(t, func(emit func(source.Sighting) error) (source.Stats, error) {
				return Read(context.Background(), bytes.NewReader(body), "H", emit)
			})
			var lines []string
			for _, s := range got {
				if s.Source != Name || s.Hunt != "H" || s.LastSeen.Location() != time.UTC || s.Reference != "https://www.shodan.io/host/"+s.IP.String() {
					t.Errorf("sighting %+v", s)
				}
				lines = append(lines, netip.AddrPortFrom(s.IP, uint16(s.Port)).String()+" "+s.LastSeen.Format(time.RFC3339Nano)+" "+s.Org+" "+s.ASN+" "+s.Country+" "+s.JARM)
			}
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}
			for k, v := range wantSkips {
				if st.Skipped[k] != v {
					t.Errorf("skipped[%q] = %d, want %d (all %v)", k, st.Skipped[k], v, st.Skipped)
				}
			}
			if st.Read != 8 || st.Kept != 4 || st.Skipped.Total() != 4 {
				t.Errorf("stats %+v", st)
			}
			if got[0].Tags[0] != "c2" {
				t.Errorf("tags %v", got[0].Tags)
			}
		})
	}
}

// TestOrderAcrossBlocks reads a file of many blocks and checks that every
// banner comes out once, in file order, whatever worker decoded it.
func TestOrderAcrossBlocks(t *testing.T) {
	var raw bytes.Buffer
	if err := writeBanners(&raw, 3000, 1); err != nil {
		t.Fatal(err)
	}
	if raw.Len() < 3*blockSize {
		t.Fatalf("only %d bytes: want several blocks", raw.Len())
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(raw.String()), "\n") {
		var b shodan.Banner
		if err := json.Unmarshal([]byte(l), &b); err != nil {
			t.Fatal(err)
		}
		if ip, sg, err := b.Sighting("H"); err == nil {
			want = append(want, ip.String()+" "+sg.LastSeen.String())
		}
	}
	// Multi-member gzip: shodan's reader appends to files.
	half := bytes.IndexByte(raw.Bytes()[raw.Len()/2:], '\n') + raw.Len()/2 + 1
	body := append(gz(t, raw.Bytes()[:half]), gz(t, raw.Bytes()[half:])...)
	got, st := collect(t, func(emit func(source.Sighting) error) (source.Stats, error) {
		return Read(context.Background(), bytes.NewReader(body), "H", emit)
	})
	var lines []string
	for _, s := range got {
		lines = append(lines, s.IP.String()+" "+s.LastSeen.String())
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %d sightings, want %d, or out of order", len(lines), len(want))
	}
	if st.Read != 3000 || st.Skipped[shodan.SkipInvalidIP] != 3 || st.Kept != len(want) {
		t.Fatalf("stats %+v", st)
	}
}

func TestTruncated(t *testing.T) {
	var raw bytes.Buffer
	if err := writeBanners(&raw, 800, 2); err != nil {
		t.Fatal(err)
	}
	body := gz(t, raw.Bytes())
	cut := body[:len(body)*3/4]
	got, st, err := func() ([]source.Sighting, source.Stats, error) {
		var out []source.Sighting
		st, err := Read(context.Background(), bytes.NewReader(cut), "H", func(s source.Sighting) error { out = append(out, s); return nil })
		return out, st, err
	}()
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
	// The banners before the cut stand, and none of the cut one is guessed.
	if len(got) < 400 || len(got) >= 800 || st.Skipped[shodan.SkipUndecodableMatch] != 0 {
		t.Fatalf("%d sightings before the cut, stats %+v", len(got), st)
	}
}

func TestStops(t *testing.T) {
	var raw bytes.Buffer
	if err := writeBanners(&raw, 2000, 3); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("enough")
	n := 0
	_, err := Read(context.Background(), bytes.NewReader(raw.Bytes()), "H", func(source.Sighting) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	})
	if err != stop || n != 10 {
		t.Fatalf("err = %v after %d emits, want the emit error as is after 10", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	_, err = Read(ctx, bytes.NewReader(raw.Bytes()), "H", func(source.Sighting) error {
		if n++; n == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestCorrupt(t *testing.T) {
	body := gz(t, []byte(ugly[0]+"\n"))
	body[len(body)-6] ^= 0xff // the CRC
	if _, err := Read(context.Background(), bytes.NewReader(body), "H", func(source.Sighting) error { return nil }); !errors.Is(err, gzip.ErrChecksum) {
		t.Fatalf("err = %v, want gzip.ErrChecksum", err)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.json.gz", gz(t, []byte(ugly[0]+"\n")))
	write("b.json.gz", gz(t, []byte(ugly[1]+"\n")))
	write("c.json", []byte(ugly[3]+"\n"))
	write("bad.json.gz", []byte{0x1f, 0x8b, 0, 0})
	paths, err := Expand(filepath.Join(dir, "[abc].json*"), filepath.Join(dir, "a.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 || filepath.Base(paths[0]) != "a.json.gz" || filepath.Base(paths[2]) != "c.json" {
		t.Fatalf("Expand = %v", paths)
	}
	got, st := collect(t, func(emit func(source.Sighting) error) (source.Stats, error) {
		return ReadFiles(context.Background(), paths, "H", emit)
	})
	if len(got) != 3 || got[2].IP.String() != "2001:db8::5" || st.Requests != 3 || st.Read != 3 {
		t.Fatalf("got %v, stats %+v", got, st)
	}
	if _, err := Expand(filepath.Join(dir, "*.nope")); !errors.Is(err, ErrNoFiles) {
		t.Fatalf("Expand(no match) = %v, want ErrNoFiles", err)
	}
	_, err = ReadFiles(context.Background(), []string{filepath.Join(dir, "bad.json.gz")}, "H", func(source.Sighting) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "bad.json.gz") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(strings.Join(ugly[:6], "\n")))
	f.Add(gz(f, []byte(ugly[0]+"\n"+ugly[3])))
	f.Fuzz(func(t *testing.T, body []byte) {
		n := 0
		st, _ := Read(context.Background(), bytes.NewReader(body), "H", func(s source.Sighting) error {
			n++
			if !s.IP.IsValid() || s.IP.Is4In6() || s.IP.Zone() != "" || s.IP.IsLoopback() || s.IP.IsUnspecified() ||
				s.LastSeen.IsZero() || s.LastSeen.Location() != time.UTC {
				t.Fatalf("bad sighting %+v", s)
			}
			return nil
		})
		if st.Kept != n || st.Read != st.Kept+st.Skipped.Total() {
			t.Fatalf("stats %+v for %d sightings", st, n)
		}
	})
}

func TestRegistered(t *testing.T) {
	k, err := source.Lookup(Name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.New(source.Settings{})
	if err != nil || s.Name() != Name {
		t.Fatalf("New = %v, %v", s, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.json.gz"), gz(t, []byte(strings.Join(ugly, "\n"))), 0o600); err != nil {
		t.Fatal(err)
	}
	var n int
	st, err := s.Collect(context.Background(), source.Hunt{Name: "Downloaded", Path: filepath.Join(dir, "*.json.gz")},
		func(sg source.Sighting) error {
			if sg.Hunt != "Downloaded" {
				t.Errorf("hunt %q", sg.Hunt)
			}
			n++
			return nil
		})
	if err != nil || n != 4 || st.Requests != 1 || st.Read != 8 {
		t.Fatalf("Collect: %d sightings, %+v, %v", n, st, err)
	}
	if _, err := s.Collect(context.Background(), source.Hunt{Name: "D", Path: filepath.Join(dir, "none*")}, nil); !errors.Is(err, ErrNoFiles) {
		t.Fatalf("no files: %v", err)
	}
	if _, err := s.Collect(context.Background(), source.Hunt{Name: "D"}, nil); err == nil {
		t.Fatal("no error without a path")
	}
}

// TestLongLine reads a banner longer than several blocks between two
// ordinary ones: it is carried over from block to block, not cut.
func TestLongLine(t *testing.T) {
	big := `{"ip_str":"203.0.113.20","port":80,"transport":"tcp","timestamp":"2026-04-26T07:06:05","data":"` + strings.Repeat("B", 3*blockSize+17) + `"}`
	body := []byte(ugly[0] + "\n" + big + "\n" + ugly[3] + "\n")
	for name, b := range map[string][]byte{"plain": body, "gzip": gz(t, body)} {
		got, st := collect(t, func(emit func(source.Sighting) error) (source.Stats, error) {
			return Read(context.Background(), bytes.NewReader(b), "H", emit)
		})
		var ips []string
		for _, s := range got {
			ips = append(ips, s.IP.String())
		}
		if strings.Join(ips, " ") != "192.0.2.10 203.0.113.20 2001:db8::5" || st.Read != 3 {
			t.Errorf("%s: got %v, stats %+v", name, ips, st)
		}
	}
}
