package feedlab_test

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/feedlab"
	"c2sweep/internal/lab/labtest"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func get(t *testing.T, l *lab.Lab, path string, h http.Header) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, l.URL+path, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := labtest.Client(l).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// Every download carries validators and answers 304 to them.
func TestConditional(t *testing.T) {
	l := labtest.Start(t, lab.Options{World: lab.WorldConfig{Seed: 3, Now: now}})
	for _, p := range []string{lab.FeodoPath, lab.FeedsPath + feedlab.TextFeed, lab.FeedsPath + feedlab.CSVFeed, lab.FeedsPath + feedlab.BannerFile} {
		resp, body := get(t, l, p, nil)
		etag, mod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if resp.StatusCode != 200 || len(body) == 0 || etag == "" || mod == "" {
			t.Fatalf("%s: %d, %d bytes, ETag %q, Last-Modified %q", p, resp.StatusCode, len(body), etag, mod)
		}
		if r, _ := get(t, l, p, http.Header{"If-None-Match": {etag}}); r.StatusCode != http.StatusNotModified {
			t.Errorf("%s If-None-Match: %d", p, r.StatusCode)
		}
		if r, _ := get(t, l, p, http.Header{"If-Modified-Since": {mod}}); r.StatusCode != http.StatusNotModified {
			t.Errorf("%s If-Modified-Since: %d", p, r.StatusCode)
		}
		if r, _ := get(t, l, p, http.Header{"If-None-Match": {`"other"`}}); r.StatusCode != http.StatusOK {
			t.Errorf("%s other ETag: %d", p, r.StatusCode)
		}
	}
}

func TestFeeds(t *testing.T) {
	l := labtest.Start(t, lab.Options{World: lab.WorldConfig{Seed: 3, Now: now}})
	if r, _ := get(t, l, lab.FeedsPath+feedlab.GoneFeed, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("gone feed: %d", r.StatusCode)
	}
	_, csv := get(t, l, lab.FeedsPath+feedlab.CSVFeed, nil)
	if !strings.Contains(string(csv), "\n# ip, ioc, first_seen\n") || !strings.Contains(string(csv), ", Possible ") || !strings.Contains(string(csv), ", None\n") {
		t.Errorf("csv feed lacks its commented header, spaces or None:\n%s", csv)
	}
	r, stale := get(t, l, lab.FeedsPath+feedlab.StaleFeed, nil)
	if mod, _ := http.ParseTime(r.Header.Get("Last-Modified")); len(stale) == 0 || now.Sub(mod) < 30*24*time.Hour {
		t.Errorf("stale feed modified %v", mod)
	}
	_, gz := get(t, l, lab.FeedsPath+feedlab.BannerFile, nil)
	zr, err := gzip.NewReader(strings.NewReader(string(gz)))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<24)
	lines, bad := 0, 0
	for sc.Scan() {
		var b struct {
			IPStr string `json:"ip_str"`
		}
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		lines++
		if b.IPStr == lab.IntelBadIP {
			bad++
		}
	}
	if lines < len(l.World.Intel.BannerServers) || bad != 1 {
		t.Errorf("banner file: %d lines, %d with a bad ip_str", lines, bad)
	}
}
