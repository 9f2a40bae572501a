package hunting_test

import (
	"strings"
	"testing"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/hunting"
)

// The cloud table: each backend's API root and scope in each cloud.
func TestCloudEndpoints(t *testing.T) {
	want := map[string]map[string]string{ // cloud -> backend -> root ("" = none)
		"public": {
			"login": "https://login.microsoftonline.com/", "graph": "https://graph.microsoft.com",
			"mde": "https://api.securitycenter.microsoft.com", "sentinel": "https://api.loganalytics.io",
		},
		"usgov": {
			"login": "https://login.microsoftonline.us/", "graph": "https://graph.microsoft.us",
			"mde": "https://api-gov.securitycenter.microsoft.us", "sentinel": "https://api.loganalytics.us",
		},
		"usgov-dod": {
			"login": "https://login.microsoftonline.us/", "graph": "https://dod-graph.microsoft.us",
			"mde": "https://api-gov.securitycenter.microsoft.us", "sentinel": "https://api.loganalytics.us",
		},
		"china": {
			"login": "https://login.chinacloudapi.cn/", "graph": "https://microsoftgraph.chinacloudapi.cn",
			"mde": "", "sentinel": "https://api.loganalytics.azure.cn",
		},
	}
	cs := hunting.Clouds()
	if len(cs) != len(want) || cs[0].Name != "public" {
		t.Fatalf("clouds %v", hunting.CloudNames())
	}
	for _, c := range cs {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("unexpected cloud %s", c.Name)
			continue
		}
		if c.Login != w["login"] {
			t.Errorf("%s login %q", c.Name, c.Login)
		}
		if got, err := hunting.LookupCloud(strings.ToUpper(c.Name)); err != nil || got != c {
			t.Errorf("LookupCloud(%s) = %+v, %v", c.Name, got, err)
		}
		for _, b := range hunting.Backends() {
			base, scope, err := b.Endpoint(c)
			root := w[b.Name]
			if root == "" {
				if err == nil || !strings.Contains(err.Error(), "no host in the "+c.Name+" cloud") {
					t.Errorf("%s in %s: %q %q %v, want an error", b.Name, c.Name, base, scope, err)
				}
				continue
			}
			if err != nil || base != root || scope != root+"/.default" {
				t.Errorf("%s in %s: %q %q %v, want %s", b.Name, c.Name, base, scope, err, root)
			}
		}
	}
	// The public cloud is what the backends use without one.
	pub, err := hunting.LookupCloud("")
	if err != nil || pub.Name != "public" {
		t.Fatalf("default cloud %+v %v", pub, err)
	}
	consts := map[string][2]string{
		"graph":    {hunting.GraphBaseURL, hunting.GraphScope},
		"mde":      {hunting.MDEBaseURL, hunting.MDEScope},
		"sentinel": {hunting.SentinelBaseURL, hunting.SentinelScope},
	}
	for _, b := range hunting.Backends() {
		base, scope, _ := b.Endpoint(pub)
		if c := consts[b.Name]; base != c[0] || scope != c[1] || b.Scope != c[1] {
			t.Errorf("%s public: %s %s, constants %v (registry scope %s)", b.Name, base, scope, c, b.Scope)
		}
	}
	if _, err := hunting.LookupCloud("azure-germany"); err == nil || !strings.Contains(err.Error(), "public, usgov, usgov-dod, china") {
		t.Errorf("unknown cloud: %v", err)
	}
}

// Every backend sends its calls to Options.BaseURL and asks for tokens of
// Options.Scope: a target's cloud reaches the client through them.
func TestBackendsHonourBaseURLAndScope(t *testing.T) {
	answers := map[string]string{
		"graph":    graphOK,
		"mde":      mdeOK,
		"sentinel": `{"tables":[{"name":"PrimaryResult","columns":[{"name":"RemoteIP","type":"string"}],"rows":[["203.0.113.7"]]}]}`,
	}
	usgov, _ := hunting.LookupCloud("usgov")
	for _, b := range hunting.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			srv, got := wireServer(t, answer(200, answers[b.Name]))
			_, scope, err := b.Endpoint(usgov)
			if err != nil {
				t.Fatal(err)
			}
			cred := &staticCredential{}
			h, err := b.New(hunting.Options{BaseURL: srv.URL, Scope: scope, Credential: cred, HTTPClient: srv.Client(),
				Clock: clock.NewFake(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)), Workspace: "00000000-0000-0000-0000-000000000001"})
			if err != nil {
				t.Fatal(err)
			}
			if _, rows, _, err := collect(t, h, hunting.Request{Query: "T | take 1"}); err != nil || len(rows) != 1 {
				t.Fatalf("%v %v", rows, err)
			}
			if len(*got) != 1 || len(cred.scopes) != 1 || cred.scopes[0] != scope {
				t.Errorf("requests %d, scopes %v, want %s", len(*got), cred.scopes, scope)
			}
		})
	}
	// The public MDE scope handed to the Microsoft 365 Defender host gives
	// way to that host's own.
	srv, _ := wireServer(t, answer(200, mdeOK))
	hc := srv.Client()
	hc.Transport = redirectTo{srv.URL, hc.Transport}
	cred := &staticCredential{}
	h := hunting.NewMDE(hunting.Options{BaseURL: "https://api.security.microsoft.com", Scope: hunting.MDEScope, Credential: cred, HTTPClient: hc, Clock: clock.NewFake(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC))})
	if _, _, _, err := collect(t, h, hunting.Request{Query: "T"}); err != nil || cred.scopes[0] != "https://api.security.microsoft.com/.default" {
		t.Errorf("m365 scope %v %v", cred.scopes, err)
	}
}
