package hunting

import (
	"net/url"
	"strings"
)

// Defender for Endpoint advanced hunting, the legacy API (retirement under
// way since January 2026). api.security.microsoft.com is the Microsoft 365
// Defender variant with the same shape at /api/advancedhunting/run.
const (
	MDEBaseURL = "https://api.securitycenter.microsoft.com"
	MDEScope   = "https://api.securitycenter.microsoft.com/.default"
	mdePath    = "/api/advancedqueries/run"

	m365DefenderScope = "https://api.security.microsoft.com/.default"
	m365DefenderPath  = "/api/advancedhunting/run"
)

// NewMDE returns a Hunter for the Defender for Endpoint advancedqueries
// API (permission AdvancedQuery.Read.All). It sends only {"Query"}: the
// query text carries the time bounds. A BaseURL on api.security.microsoft.com
// (or a regional us./eu./uk./au. one) uses the Microsoft 365 Defender
// path and scope.
func NewMDE(o Options) Hunter {
	path, scope := mdePath, MDEScope
	if u, err := url.Parse(o.BaseURL); err == nil && (u.Hostname() == "api.security.microsoft.com" || strings.HasSuffix(u.Hostname(), ".api.security.microsoft.com")) {
		path, scope = m365DefenderPath, m365DefenderScope
		if o.Scope == MDEScope {
			// The public cloud's MDE scope, handed down by a target's
			// cloud, is not this host's: use the host's own.
			o.Scope = ""
		}
	}
	return newClient("mde", MDEBaseURL, path, scope, DefaultMDEMaxBody, o, func(r Request) any {
		return struct {
			Query string `json:"Query"`
		}{r.Query}
	})
}
