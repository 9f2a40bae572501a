package lab_test

import (
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/emulator"
	"c2sweep/internal/lab/labtest"
)

// TestRouting: each path reaches the service it reached when the lab was
// one package (counted per API in Calls), Entra answering the rest.
func TestRouting(t *testing.T) {
	l := labtest.Start(t, lab.Options{})
	for path, want := range map[string]string{
		"/api-info":                      "shodan",
		"/api-info/x":                    "entra",
		"/account/profile":               "shodan",
		"/shodan/host/search":            "shodan",
		"/shodan":                        "entra",
		"/v1.0/security/runHuntingQuery": "graph",
		"/v1.0":                          "entra",
		"/api/advancedqueries/run":       "mde",
		"/api/advancedhunting/run":       "mde",
		"/" + l.Creds.TenantID + "/v2.0/.well-known/openid-configuration": "entra",
		"/": "entra",
	} {
		before := l.Calls()
		resp, err := labtest.Client(l).Get(l.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		after := l.Calls()
		after[want]--
		if !maps.Equal(withoutZeros(before), withoutZeros(after)) {
			t.Errorf("%s: calls went from %v to %v; want one more %s", path, before, l.Calls(), want)
		}
	}
}

func withoutZeros(m map[string]int) map[string]int {
	maps.DeleteFunc(m, func(_ string, v int) bool { return v == 0 })
	return m
}

// feed is a service added the way a new one is (ThreatFox, a feed, ...):
// its own routes on the lab's listener, its data from the world.
type feed struct{ l *lab.Lab }

func (f feed) Routes() []lab.Route {
	return []lab.Route{{Path: "/feed/", Name: "feed", Handler: f}}
}

func (f feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, s := range f.l.World.Servers {
		io.WriteString(w, s.IP.String()+"\n")
	}
}

func TestAddService(t *testing.T) {
	withFeed := func(l *lab.Lab) ([]lab.Service, error) {
		all, err := emulator.Services(l)
		return append(all, feed{l}), err
	}
	l, err := lab.Start(t.Context(), lab.Options{Faults: lab.Faults{Rate5xx: 1, Only: "feed"}}, withFeed)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := l.HTTPClient()
	defer c.CloseIdleConnections()
	resp, err := c.Get(l.URL + "/feed/ips.txt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The lab's faults apply to the new service by its name.
	if resp.StatusCode/100 != 5 || l.Calls()["feed"] != 1 {
		t.Errorf("feed under 5xx=1,only=feed: %d, calls %v", resp.StatusCode, l.Calls())
	}

	l2, err := lab.Start(t.Context(), lab.Options{}, func(l *lab.Lab) ([]lab.Service, error) {
		all, err := withFeed(l)
		return append(all, feed{l}), err
	})
	if err == nil {
		l2.Close()
		t.Fatal("two services on one path should be refused")
	}
	if !strings.Contains(err.Error(), `"/feed/"`) {
		t.Errorf("error should name the path: %v", err)
	}
}
