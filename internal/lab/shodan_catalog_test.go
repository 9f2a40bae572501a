package lab

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The filters the hunt catalog needs: each finds the one catalog server
// built for it, and nothing of the original world.
func TestCatalogFilters(t *testing.T) {
	w := NewWorld(WorldConfig{Seed: 3, Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	for q, family := range map[string]string{
		"ssl:Covenant http.component:Blazor":                    "Covenant",
		"http.component:uikit":                                  "Misha Stealer",
		`ssl.cert.issuer.cn:"Pantegana Root CA"`:                "Pantegana",
		"ssl:multiplayer ssl.cert.issuer.cn:operators":          "Sliver",
		`http.status:307 "Location: https://360.net"`:           "RedGuard",
		"html:unam_lib.js http.favicon.hash:-1278680098,1":      "Unam Web Panel",
		"http.html:GETMINETEAM":                                 "Collector Stealer",
		"http.headers_hash:1955818171 http.html_hash:114440660": "SpiceRAT",
		"http.headers_hash:-1731927497 port:9000,15647":         "SectopRAT",
		"hash:856668804":                                        "Villain",
	} {
		bs, err := w.Search(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(bs) != 1 || bs[0].Server == nil || bs[0].Server.Framework != family {
			var got []string
			for _, b := range bs {
				got = append(got, b.IPStr)
			}
			t.Errorf("%s: %d banners %v, want the one %s server", q, len(bs), got, family)
		}
	}
	for _, q := range []string{"http.status:ok", "http.headers_hash:1.5", "http.component:", "ssl.cert.subject.cn:x"} {
		if _, err := w.Search(q); !errors.Is(err, ErrShodanQuery) {
			t.Errorf("%s: err %v, want the invalid-query error", q, err)
		}
	}
	// Components are served as Shodan does: an object keyed by name.
	bs, _ := w.Search("http.component:Blazor")
	if body := string(SearchResponse(bs, len(bs), false, nil)); !strings.Contains(body, `"components":{"Blazor":{"categories"`) {
		t.Errorf("components not served: %.300s", body)
	}
}
