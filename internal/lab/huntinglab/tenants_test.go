package huntinglab_test

import (
	"encoding/json"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
)

// With several tenants each token sees its tenant's devices only, the
// planted contacts of that tenant exactly; the limit counts tenants apart.
func TestHuntingTenants(t *testing.T) {
	const n = 3
	l, _, _ := huntLab(t, lab.Options{Tenants: n, HuntingPerMinute: 2})
	e := entralab.Of(l)
	now := l.Options().Now()
	start, end := now.Add(-30*24*time.Hour), now
	q, _ := contactQuery(l, "DeviceNetworkEvents", "RemoteIP", start, end)
	total := 0
	for ti := range n {
		tok, _, err := e.MintToken(ti, entralab.ResourceGraph)
		if err != nil {
			t.Fatal(err)
		}
		a := hunt(t, l, "/v1.0/security/runHuntingQuery", tok, map[string]string{"Query": q})
		if a.status != 200 {
			t.Fatalf("tenant %d: %d %s", ti, a.status, a.raw)
		}
		got := map[json.Number]bool{}
		for _, r := range a.body["results"].([]any) {
			row := r.(map[string]any)
			got[row["ReportId"].(json.Number)] = true
			dev := -1
			for i, d := range l.World.Devices {
				if d.ID == row["DeviceId"] {
					dev = i
				}
			}
			if dev < 0 || l.World.TenantOf(int32(dev)) != ti {
				t.Errorf("tenant %d sees device %v of another tenant", ti, row["DeviceId"])
			}
			if row["TenantId"] != nil && row["TenantId"] != l.Creds.Tenants[ti].TenantID {
				t.Errorf("tenant %d: TenantId %v", ti, row["TenantId"])
			}
		}
		total += len(got)
		want := 0
		for _, c := range l.World.TenantContacts(ti) {
			if c.Table != "DeviceNetworkEvents" || c.Old {
				continue
			}
			want++
			if !got[json.Number(jsonInt(c.ReportID))] {
				t.Errorf("tenant %d misses its contact %d", ti, c.ReportID)
			}
		}
		if len(got) != want {
			t.Errorf("tenant %d: %d rows, want its %d contacts", ti, len(got), want)
		}
		// The second call is admitted, the third refused: 2 a minute per tenant.
		if a := hunt(t, l, "/v1.0/security/runHuntingQuery", tok, map[string]string{"Query": q}); a.status != 200 {
			t.Errorf("tenant %d second call: %d", ti, a.status)
		}
		if a := hunt(t, l, "/v1.0/security/runHuntingQuery", tok, map[string]string{"Query": q}); a.status != 429 {
			t.Errorf("tenant %d third call: %d, want 429", ti, a.status)
		}
	}
	if total == 0 {
		t.Fatal("no tenant saw a contact")
	}
}

func jsonInt(v int64) string { b, _ := json.Marshal(v); return string(b) }

// Any cloud's Graph (MDE) audience is accepted by the lab's Graph (MDE);
// another API's is not.
func TestHuntingClouds(t *testing.T) {
	l, _, _ := huntLab(t, lab.Options{})
	e := entralab.Of(l)
	q := "DeviceNetworkEvents | where RemoteIP in (\"192.0.2.1\")"
	for _, tc := range []struct {
		path, resource string
		ok             bool
	}{
		{"/v1.0/security/runHuntingQuery", "https://graph.microsoft.us", true},
		{"/v1.0/security/runHuntingQuery", "https://dod-graph.microsoft.us", true},
		{"/v1.0/security/runHuntingQuery", "https://microsoftgraph.chinacloudapi.cn", true},
		{"/v1.0/security/runHuntingQuery", "https://api-gov.securitycenter.microsoft.us", false},
		{"/v1.0/security/runHuntingQuery", "https://api.loganalytics.us", false},
		{"/api/advancedqueries/run", "https://api-gov.securitycenter.microsoft.us", true},
		{"/api/advancedqueries/run", "https://graph.microsoft.us", false},
	} {
		tok, _, err := e.MintToken(0, tc.resource)
		if err != nil {
			t.Fatal(err)
		}
		a := hunt(t, l, tc.path, tok, map[string]string{"Query": q})
		if tc.ok != (a.status == 200) || (!tc.ok && a.status != 401) {
			t.Errorf("%s with a %s token: %d %s", tc.path, tc.resource, a.status, a.raw)
		}
	}
}
