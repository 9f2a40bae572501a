package pipeline

import (
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/plan"
	"c2sweep/internal/source"
)

// Outcome says how a run ended; it maps to the process exit code.
type Outcome string

const (
	OutcomeNoHits  Outcome = "no-hits"     // everything ran, nothing new found
	OutcomeHits    Outcome = "hits"        // everything ran, new hits found
	OutcomePartial Outcome = "partial"     // some hunt or query failed; results are incomplete
	OutcomeFailed  Outcome = "failed"      // nothing useful could run
	OutcomeAborted Outcome = "interrupted" // cancelled (Ctrl-C, SIGTERM)
)

// Summary is what a run did; it is written as summary.json.
type Summary struct {
	RunID       int64     `json:"run_id,omitempty"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	DurationSec float64   `json:"duration_seconds"`
	API         string    `json:"api"`
	DryRun      bool      `json:"dry_run,omitempty"`
	PlanOnly    bool      `json:"plan_only,omitempty"` // --dry-run: counted and planned, nothing fetched
	// Plan is how the Shodan credits were planned over the hunts; its
	// Unplanned are the pages not fetched and what they would have cost.
	Plan    *plan.Plan     `json:"shodan_plan,omitempty"`
	Outcome Outcome        `json:"outcome"`
	OutDir  string         `json:"out_dir,omitempty"`
	Hunts   []*HuntSummary `json:"hunts"`
	// Targets are the tenants and workspaces swept, each with its own
	// outcome: one target's failure leaves the others' results whole.
	Targets []*TargetSummary `json:"targets"`
	Queries []*QuerySummary  `json:"queries"`
	Totals  Totals           `json:"totals"`
	Timing  Timing           `json:"timing"`
	Errors  []string         `json:"errors,omitempty"`
	// Warnings are said once per run (a stale CDN snapshot).
	Warnings []string `json:"warnings,omitempty"`
	// Health are the hunts whose verdict became silent or spiking in
	// this run (once per change).
	Health []HealthChange `json:"health_warnings,omitempty"`
	Error  string         `json:"error,omitempty"` // why the run failed or was interrupted
	// NewHits are the hits first seen by this run (all hits with --all),
	// suppressed ones excluded.
	NewHits []indicator.Hit `json:"-"`
	// QueryErrors are the typed errors of the failed queries, in the
	// order met, for the command line to give their hints.
	QueryErrors []error `json:"-"`
}

// HuntSummary is one hunt's part of a run.
type HuntSummary struct {
	Name   string `json:"name"`
	Source string `json:"source"` // the source kind
	// Requests, Read and Kept are the source's counts: requests made (retries
	// included), items read, and items valid (fresh or stale).
	Requests   int             `json:"requests"`
	Read       int             `json:"read"`
	Kept       int             `json:"kept"`
	Query      string          `json:"query,omitempty"`      // as configured (Shodan)
	SentQuery  string          `json:"sent_query,omitempty"` // as sent to Shodan (with after: when it saves credits)
	Targets    []string        `json:"sweep"`
	Total      int             `json:"shodan_total"` // matches the source reports (Shodan)
	Pages      int             `json:"pages"`
	Banners    int             `json:"banners"` // items read, under Shodan's name
	Fresh      int             `json:"fresh_indicators"`
	Carried    int             `json:"carried_indicators"` // named by earlier runs, not expired, absent today
	Stale      int             `json:"stale_banners"`      // valid items older than max_age
	Skipped    indicator.Skips `json:"skipped"`            // items dropped, by reason
	Excluded   Excluded        `json:"excluded"`           // fresh indicators in CDN ranges or the config's exclude: list
	Credits    int             `json:"credits_used"`       // the source's cost (Shodan query credits)
	Hits       int             `json:"hits"`
	NewHits    int             `json:"new_hits"`
	Suppressed int             `json:"suppressed_hits"`
	Truncated  bool            `json:"truncated,omitempty"` // stopped by its page or credit budget
	Error      string          `json:"error,omitempty"`
}

// TargetSummary is one sweep target's part of a run.
type TargetSummary struct {
	Name    string   `json:"name"`
	Backend string   `json:"backend,omitempty"`
	Sweep   []string `json:"sweep"` // Table.Columns
	// Outcome is ok, partial (some queries failed) or failed (signed in
	// to nothing, or every query failed).
	Outcome       string `json:"outcome"`
	Queries       int    `json:"queries"`
	QueriesFailed int    `json:"queries_failed"`
	OverQuota     int    `json:"over_quota,omitempty"`
	Calls         int    `json:"calls"`
	Throttled     int    `json:"throttled"`
	Rows          int    `json:"rows"`
	Hits          int    `json:"hits"`
	NewHits       int    `json:"new_hits"`
	Error         string `json:"error,omitempty"` // the first failure
}

// firstError keeps the target's first failure.
func (t *TargetSummary) firstError(err error) {
	if t.Error == "" {
		t.Error = err.Error()
	}
}

// settle sets the outcome once the target is done.
func (t *TargetSummary) settle() {
	switch {
	case t.QueriesFailed == 0 && t.Error == "":
		t.Outcome = "ok"
	case t.QueriesFailed < t.Queries || t.Hits > 0:
		t.Outcome = "partial"
	default:
		t.Outcome = "failed"
	}
}

// QuerySummary is one hunting query.
type QuerySummary struct {
	Target   string    `json:"target"` // the sweep target
	Column   string    `json:"column"` // Table.Column`
	IPs      int       `json:"indicators"`
	Bytes    int       `json:"bytes"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Rows     int       `json:"rows"`
	Attempts int       `json:"attempts"`
	Split    bool      `json:"split,omitempty"`   // a half of a query refused as too large
	Skipped  bool      `json:"skipped,omitempty"` // not sent: the hunting API refused an earlier one for its CPU quota
	Error    string    `json:"error,omitempty"`
	Text     string    `json:"kql,omitempty"` // dry runs only
}

// Totals add up a run.
type Totals struct {
	Banners         int  `json:"banners"`
	Skipped         int  `json:"skipped"`
	Stale           int  `json:"stale_banners"`
	Indicators      int  `json:"indicators"`
	Carried         int  `json:"carried_indicators"` // of Indicators, from earlier runs
	Queries         int  `json:"queries"`
	QueriesFailed   int  `json:"queries_failed"`
	QueriesAtRowCap int  `json:"queries_at_row_cap,omitempty"` // failed: a single indicator filled the row cap
	OverQuota       int  `json:"queries_over_quota,omitempty"` // failed: refused for, or not sent after, the tenant's CPU quota
	Rows            int  `json:"rows"`
	Hits            int  `json:"hits"`
	NewHits         int  `json:"new_hits"`
	Suppressed      int  `json:"suppressed_hits"`
	CreditsUsed     int  `json:"shodan_credits_used"`
	CreditsLeft     int  `json:"shodan_credits_left"`
	CreditsKnown    bool `json:"-"` // /api-info answered: CreditsLeft is real
	ShodanCalls     int  `json:"shodan_calls"`
	ShodanThrottled int  `json:"shodan_throttled"`
	ShodanRetries   int  `json:"shodan_retries"`
	HuntingCalls    int  `json:"hunting_calls"`
	Throttled       int  `json:"throttled"`
	Expired         int  `json:"indicators_expired,omitempty"`
	// Sources adds up the hunts of each source kind.
	Sources        map[string]*SourceTotals `json:"sources,omitempty"`
	Alerted        int                      `json:"alerts_delivered,omitempty"`
	AlertedEarlier int                      `json:"alerts_delivered_from_earlier_runs,omitempty"` // of Alerted: hits earlier runs stored but could not deliver

	// Excluded counts the addresses not swept for the exclusions, each
	// once however many hunts named it.
	Excluded Excluded `json:"excluded"`
	// SuppressedBy counts the suppressed hits by the kind of suppression
	// that matched (ip, cidr, device, hunt).
	SuppressedBy map[string]int `json:"suppressed_by_kind,omitempty"`
}

// SourceTotals add up the hunts of one source kind.
type SourceTotals struct {
	Hunts  int `json:"hunts"`
	Failed int `json:"hunts_failed"`
	source.Stats
	Stale int `json:"stale"`
	Fresh int `json:"fresh_indicators"` // summed over hunts: an IP two hunts named counts twice
}

// Timing splits the wall time by stage.
type Timing struct {
	ShodanSec  float64 `json:"shodan_seconds"`
	HuntingSec float64 `json:"hunting_seconds"`
	OutputSec  float64 `json:"output_seconds"`
}
