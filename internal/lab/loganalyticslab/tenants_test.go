package loganalyticslab_test

import (
	"strings"
	"testing"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
	"c2sweep/internal/lab/labtest"
	"c2sweep/internal/lab/loganalyticslab"
)

// The workspace is tenant 0's and accepts any cloud's Log Analytics
// audience; another tenant's token has no access.
func TestTenantsAndClouds(t *testing.T) {
	l := labtest.Start(t, lab.Options{Tenants: 2})
	e := entralab.Of(l)
	ok := `{"query":"SigninLogs\n| where IPAddress in (\"198.51.100.7\")"}`
	for _, tc := range []struct {
		tenant   int
		resource string
		status   int
		contains string
	}{
		{0, "https://api.loganalytics.us", 200, `"tables"`},
		{0, "https://api.loganalytics.azure.cn", 200, `"tables"`},
		{0, "https://graph.microsoft.us", 403, `"InvalidAuthenticationTokenAudience"`},
		{1, entralab.ResourceLogAnalytics, 403, `"InsufficientAccessError"`},
	} {
		tok, _, err := e.MintToken(tc.tenant, tc.resource)
		if err != nil {
			t.Fatal(err)
		}
		a := query(t, l, loganalyticslab.Workspace, tok, "application/json", ok)
		if a.status != tc.status || !strings.Contains(a.raw, tc.contains) {
			t.Errorf("tenant %d, %s: %d %s", tc.tenant, tc.resource, a.status, a.raw)
		}
	}
}
