package hunting

import "time"

// Microsoft Graph runHuntingQuery, the current advanced hunting API.
const (
	GraphBaseURL = "https://graph.microsoft.com"
	GraphScope   = "https://graph.microsoft.com/.default"
	graphPath    = "/v1.0/security/runHuntingQuery"
)

// NewGraph returns a Hunter for Microsoft Graph runHuntingQuery
// (permission ThreatHunting.Read.All). Request.Start and End travel as
// the Timespan start/end, so the service and the query text agree.
func NewGraph(o Options) Hunter {
	return newClient("graph", GraphBaseURL, graphPath, GraphScope, DefaultGraphMaxBody, o, func(r Request) any {
		type body struct {
			Query    string `json:"Query"`
			Timespan string `json:"Timespan,omitempty"`
		}
		b := body{Query: r.Query}
		if !r.Start.IsZero() && !r.End.IsZero() {
			b.Timespan = isoTime(r.Start) + "/" + isoTime(r.End)
		}
		return b
	})
}

// isoTime writes t as ISO 8601 UTC with Defender's 7 fractional digits.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }
