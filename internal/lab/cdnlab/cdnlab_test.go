package cdnlab_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"testing"

	"c2sweep/internal/exclude"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/cdnlab"
	"c2sweep/internal/lab/labtest"
)

func fetchAll(t *testing.T, l *lab.Lab, u exclude.Upstream) ([][]byte, error) {
	t.Helper()
	urls, err := u.At(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for _, url := range urls {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		resp, err := labtest.Client(l).Do(req)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
		}
		bodies = append(bodies, b)
	}
	return bodies, nil
}

// Each operator's parser reads back from the lab exactly the embedded list:
// the lab speaks every operator's format, decoys included.
func TestServesEveryOperatorInItsFormat(t *testing.T) {
	l := labtest.Start(t, lab.Options{})
	snap := exclude.Builtin()
	for _, u := range exclude.Upstreams {
		bodies, err := fetchAll(t, l, u)
		if err != nil {
			t.Fatalf("%s: %v", u.Name, err)
		}
		got, err := u.Parse(bodies)
		if err != nil {
			t.Fatalf("%s: %v", u.Name, err)
		}
		want := snap.List(u.Name).Prefixes
		if !slices.Equal(got, want) {
			t.Errorf("%s: lab serves %d prefixes, snapshot has %d", u.Name, len(got), len(want))
		}
	}
}

func TestEmptyAndFail(t *testing.T) {
	l := labtest.Start(t, lab.Options{})
	cdnlab.Empty(l, "fastly", "google-services", "azure-frontdoor", "amazon-cloudfront")
	cdnlab.Fail(l, "cloudflare")
	for _, u := range exclude.Upstreams {
		bodies, err := fetchAll(t, l, u)
		switch u.Name {
		case "cloudflare":
			if err == nil {
				t.Errorf("cloudflare answered while failed")
			}
		case "akamai":
			if err != nil {
				t.Errorf("akamai: %v", err)
			}
		default:
			got, perr := u.Parse(bodies)
			if err != nil || perr != nil || len(got) != 0 {
				t.Errorf("%s emptied: %v %v %d prefixes", u.Name, err, perr, len(got))
			}
		}
	}
	cdnlab.Fail(l)
	if _, err := fetchAll(t, l, exclude.Upstreams[0]); err != nil {
		t.Errorf("cloudflare after Fail(): %v", err)
	}
}

// The lab's --faults cdnempty=LIST empties one list from the start.
func TestCDNEmptyFault(t *testing.T) {
	f, err := lab.ParseFaults("cdnempty=akamai")
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.Start(t, lab.Options{Faults: f})
	for _, u := range exclude.Upstreams {
		bodies, err := fetchAll(t, l, u)
		if err != nil {
			t.Fatal(err)
		}
		got, err := u.Parse(bodies)
		if err != nil || (len(got) == 0) != (u.Name == "akamai") {
			t.Errorf("%s with cdnempty=akamai: %v, %d prefixes", u.Name, err, len(got))
		}
	}
	if _, err := lab.ParseFaults("cdnempty=nosuch"); err == nil {
		t.Error("cdnempty=nosuch accepted")
	}
}
