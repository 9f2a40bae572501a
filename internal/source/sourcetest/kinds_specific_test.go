package sourcetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/feedlab"
	"c2sweep/internal/source"
	"c2sweep/internal/source/threatfox"
)

func caseOf(t *testing.T, kind string) Case {
	for _, c := range Cases() {
		if c.Kind == kind {
			return c
		}
	}
	t.Fatalf("no case %q", kind)
	return Case{}
}

// A key ThreatFox does not know is a credentials error with the real
// status, and the key is in no error.
func TestThreatFoxRefusedKey(t *testing.T) {
	c := caseOf(t, threatfox.Name)
	e := Start(t, lab.Faults{})
	wrong := strings.Repeat("0123456789abcdef", 3)
	_, _, err := c.Collect(t, e, source.Settings{AuthKey: wrong, URL: e.Lab.URL + lab.ThreatFoxPath}, c.Hunt(e))
	if !errors.Is(err, threatfox.ErrAuth) || !errors.Is(err, source.ErrCredentials) {
		t.Fatalf("err = %v, want ErrAuth and ErrCredentials", err)
	}
	if !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), wrong) {
		t.Errorf("error must give HTTP 403 and hide the key: %v", err)
	}
	if n := e.Lab.Calls()["threatfox"]; n != 1 {
		t.Errorf("a refused key was asked %d times, want 1 (not retried)", n)
	}
	if _, err := threatfox.New(source.Settings{URL: e.Lab.URL + lab.ThreatFoxPath}); !errors.Is(err, threatfox.ErrNoKey) {
		t.Errorf("New without a key: %v", err)
	}
}

// no_result (a string data) is an empty answer; days outside 1-7 fail
// before any request; min_confidence and malware filter and count.
func TestThreatFoxWindowAndFilters(t *testing.T) {
	c := caseOf(t, threatfox.Name)
	e := Start(t, lab.Faults{})
	got, st, err := c.Collect(t, e, c.Settings(e), source.Hunt{Name: "Today", Days: 1})
	if err != nil || len(got) != 0 || st.Requests != 1 {
		t.Fatalf("days=1: %d sightings, %+v, %v; want none and no error", len(got), st, err)
	}
	if _, st, err := c.Collect(t, e, c.Settings(e), source.Hunt{Name: "Long", Days: 9}); err == nil || st.Requests != 0 {
		t.Errorf("days=9: err %v after %d requests, want a refusal before any", err, st.Requests)
	}
	h := source.Hunt{Name: "CS", Days: 7, MinConfidence: 75, Malware: []string{"WIN.COBALT_STRIKE", "sliver"}}
	got, st, err = c.Collect(t, e, c.Settings(e), h)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ioc := range e.Lab.World.Intel.ThreatFox {
		if ioc.Server != nil && ioc.Confidence >= 75 && (ioc.Malware == "win.cobalt_strike" || ioc.MalwarePrintable == "Sliver") {
			want = append(want, ioc.Server.IP.Unmap().String())
		}
	}
	var have []string
	for _, sg := range got {
		have = append(have, sg.IP.String())
		if sg.Confidence < 75 || sg.Port == 0 || sg.Reference == "" {
			t.Errorf("%v: confidence %d port %d reference %q", sg.IP, sg.Confidence, sg.Port, sg.Reference)
		}
	}
	slices.Sort(want)
	slices.Sort(have)
	if len(want) == 0 || !slices.Equal(have, want) {
		t.Errorf("filtered:\n got %v\nwant %v", have, want)
	}
	if st.Skipped[source.SkipConfidence] == 0 || st.Skipped[source.SkipMalware] == 0 {
		t.Errorf("filters not counted: %v", st.Skipped)
	}
}

// A feed that answers 404 fails its hunt loudly, with the status.
func TestFeedGone(t *testing.T) {
	c := caseOf(t, "feed")
	e := Start(t, lab.Faults{})
	_, st, err := c.Collect(t, e, source.Settings{}, source.Hunt{Name: "Gone", URL: e.Lab.URL + lab.FeedsPath + feedlab.GoneFeed})
	if !errors.Is(err, source.ErrNotFound) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want ErrNotFound with 404", err)
	}
	if st.Requests != 1 {
		t.Errorf("a 404 was asked %d times, want 1", st.Requests)
	}
}

// Only https: a plain-http feed or endpoint is refused before any request.
func TestHTTPSOnly(t *testing.T) {
	c := caseOf(t, "feed")
	e := Start(t, lab.Faults{})
	plain := strings.Replace(e.Lab.URL, "https://", "http://", 1) + lab.FeedsPath + feedlab.TextFeed
	_, st, err := c.Collect(t, e, source.Settings{}, source.Hunt{Name: "Plain", URL: plain})
	if !errors.Is(err, source.ErrInsecureURL) || st.Requests != 0 {
		t.Errorf("feed over http: %v after %d requests", err, st.Requests)
	}
	for _, kind := range []string{"threatfox", "feodo"} {
		k, _ := source.Lookup(kind)
		if _, err := k.New(source.Settings{AuthKey: "k3y-abcdef", URL: "http://127.0.0.1:1/"}); !errors.Is(err, source.ErrInsecureURL) {
			t.Errorf("%s over http: %v", kind, err)
		}
	}
}

// Downloads are conditional: the second fetch sends the validators, the
// lab answers 304 and the kept body is used; the cache holds neither the
// URL nor the key.
func TestConditionalGet(t *testing.T) {
	e := Start(t, lab.Faults{})
	c := caseOf(t, "feodo")
	s := c.settings(e, c.Settings(e))
	req := source.Request{Kind: "feodo", URL: e.Lab.URL + lab.FeodoPath, Conditional: true,
		Header: map[string][]string{"Auth-Key": {e.Lab.Creds.AbuseCHKey}}, Secrets: []string{e.Lab.Creds.AbuseCHKey}}
	first, err := source.Fetch(context.Background(), s, req)
	if err != nil || first.NotModified || len(first.Body) == 0 {
		t.Fatalf("first fetch: %+v, %v", first, err)
	}
	if !first.Modified.Equal(e.Lab.World.Intel.FeedModified) {
		t.Errorf("Modified = %v, want the Last-Modified %v", first.Modified, e.Lab.World.Intel.FeedModified)
	}
	second, err := source.Fetch(context.Background(), s, req)
	if err != nil || !second.NotModified || string(second.Body) != string(first.Body) || !second.Modified.Equal(first.Modified) {
		t.Fatalf("second fetch: not modified %v, same body %v, %v", second.NotModified, string(second.Body) == string(first.Body), err)
	}
	// A kept body that went missing is fetched again in full, not trusted
	// to a 304.
	bodies, _ := filepath.Glob(filepath.Join(s.CacheDir, "*.body"))
	for _, b := range bodies {
		os.Remove(b)
	}
	third, err := source.Fetch(context.Background(), s, req)
	if err != nil || third.NotModified || string(third.Body) != string(first.Body) {
		t.Fatalf("fetch without the kept body: not modified %v, %v", third.NotModified, err)
	}
	// The sources use it too: the same hunt twice gives the same items.
	got1, _, err1 := c.Collect(t, e, c.Settings(e), c.Hunt(e))
	got2, _, err2 := c.Collect(t, e, c.Settings(e), c.Hunt(e))
	if err1 != nil || err2 != nil || len(got1) == 0 || len(got1) != len(got2) {
		t.Errorf("collect twice: %d and %d sightings, %v %v", len(got1), len(got2), err1, err2)
	}
	files, _ := filepath.Glob(filepath.Join(s.CacheDir, "*"))
	if len(files) == 0 {
		t.Fatal("nothing cached")
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".body") {
			continue
		}
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), e.Lab.Creds.AbuseCHKey) || strings.Contains(string(b), "127.0.0.1") {
			t.Errorf("%s holds the key or the URL: %s", f, b)
		}
	}
}

// One address is named by every source: the world's Shared one.
func TestSharedAddress(t *testing.T) {
	e := Start(t, lab.Faults{})
	shared := e.Lab.World.Intel.Shared
	for _, c := range Cases() {
		if c.Kind == "shodan" {
			continue // a Shodan hunt names what its query matches
		}
		got, _, err := c.Collect(t, e, c.Settings(e), c.Hunt(e))
		if err != nil {
			t.Fatalf("%s: %v", c.Kind, err)
		}
		if !slices.ContainsFunc(got, func(sg source.Sighting) bool { return sg.IP == shared }) {
			t.Errorf("%s does not name %v", c.Kind, shared)
		}
	}
	found := false
	for _, ct := range e.Lab.World.Contacts {
		found = found || (ct.ServerIP == shared && !ct.Old && !ct.Stale)
	}
	if !found {
		t.Errorf("%v is no recent planted contact's server: a sweep would find nothing", shared)
	}
}

// 429 is retried after at least a second (Retry-After when longer), then
// reported unavailable; a key in the URL stays out of the error. The
// lab's Shodan, asked faster than once a second, answers 429.
func TestFetchRateLimited(t *testing.T) {
	e := Start(t, lab.Faults{})
	c := caseOf(t, "feodo")
	s := c.settings(e, source.Settings{})
	u := e.Lab.URL + "/api-info?key=" + e.Lab.Creds.ShodanKey
	if _, err := source.Fetch(context.Background(), s, source.Request{Kind: "probe", URL: u}); err != nil {
		t.Fatal(err)
	}
	resp, err := source.Fetch(context.Background(), s, source.Request{Kind: "probe", URL: u})
	if !errors.Is(err, source.ErrUnavailable) || !strings.Contains(err.Error(), "429") {
		t.Fatalf("err = %v, want 429 unavailable", err)
	}
	if strings.Contains(err.Error(), e.Lab.Creds.ShodanKey) {
		t.Errorf("error shows the key: %v", err)
	}
	if resp.Requests != Attempts {
		t.Errorf("requests = %d, want %d", resp.Requests, Attempts)
	}
	for _, d := range e.Clock.Slept() {
		if d < time.Second {
			t.Errorf("waited %v after a 429, want 1s or more", d)
		}
	}
}
