package defender

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"c2sweep/internal/redact"
)

// Actions and severities the indicators API takes for an IP.
var (
	Actions    = []string{"Audit", "Alert", "Warn", "Block", "AlertAndBlock"}
	Severities = []string{"Informational", "Low", "Medium", "High"}
)

// Indicator is the API's indicator entity, as far as c2sweep reads and
// writes it. Body names are case-sensitive.
type Indicator struct {
	ID             string     `json:"id,omitempty"`
	IndicatorValue string     `json:"indicatorValue"`
	IndicatorType  string     `json:"indicatorType"`
	Action         string     `json:"action"`
	Application    string     `json:"application,omitempty"`
	Title          string     `json:"title"`
	Description    string     `json:"description"`
	Severity       string     `json:"severity,omitempty"`
	GenerateAlert  bool       `json:"generateAlert"`
	ExpirationTime *time.Time `json:"expirationTime,omitempty"`
	RBACGroupNames []string   `json:"rbacGroupNames,omitempty"`
	CreatedBy      string     `json:"createdBy,omitempty"`
}

// Candidate is one C2 IP c2sweep wants in Defender, with its evidence.
type Candidate struct {
	IP         netip.Addr
	Families   []string // malware families, "" unknown
	Hunts      []string
	Sources    []string
	FirstSeen  time.Time // by the sources
	LastSeen   time.Time
	Hits       int // stored hits of the IP (its value: pushed first)
	Confidence int // 0-100, 0 unknown
}

// Settings say how indicators are made.
type Settings struct {
	Action   string // default Audit (with generateAlert)
	Severity string // default Medium
	// TTL: expirationTime = the candidate's last seen + TTL; never forever.
	TTL        time.Duration
	RBACGroups []string
	DryRun     bool
}

// Failure is one IP the service refused inside a 200 answer.
type Failure struct {
	IP     string
	Reason string
}

// Result is what a push did (or, in a dry run, would do).
type Result struct {
	Create, Update []Indicator // sent (to be sent) to import
	Delete         []Indicator // c2sweep's, no longer wanted
	// LeftOut are the candidates the tenant's cap left no room for, the
	// least valuable ones.
	LeftOut []netip.Addr
	// HeldByOthers are candidates an indicator not made by c2sweep
	// already covers: left as they are.
	HeldByOthers []netip.Addr
	// Expired are candidates whose last seen + TTL is already past: not
	// pushed (Defender would delete them at once).
	Expired                   int
	Existing                  int // indicators in the tenant before the push
	Created, Updated, Deleted int
	Failed                    []Failure
	DryRun                    bool
}

// Push makes Defender hold exactly the wanted candidates as c2sweep's
// indicators. A failure mid-way returns what was done so far with the
// error; whatever was not confirmed is not in Defender, so the next push
// sends it again: nothing is recorded locally as pushed.
func (c *Client) Push(ctx context.Context, want []Candidate, s Settings) (Result, error) {
	r := Result{DryRun: s.DryRun}
	if err := s.check(); err != nil {
		return r, err
	}
	owned, err := c.list(ctx, "application eq '"+Application+"'")
	if err != nil {
		return r, err
	}
	all, err := c.list(ctx, "")
	if err != nil {
		return r, err
	}
	r.Existing = len(all)
	others := map[string]bool{}
	for _, in := range all {
		if in.Application != Application && in.IndicatorType == "IpAddress" {
			others[in.IndicatorValue] = true
		}
	}
	c.plan(&r, want, owned, others, s)
	if s.DryRun {
		return r, nil
	}
	for batch := range slices.Chunk(r.Delete, c.o.BatchSize) {
		ids := make([]string, len(batch))
		for i, in := range batch {
			ids[i] = in.ID
		}
		body := struct {
			IndicatorIDs []string `json:"IndicatorIds"`
		}{ids}
		if err := c.do(ctx, "POST", "/api/indicators/BatchDelete", body, c.writes, &c.calls.Delete, nil); err != nil {
			return r, fmt.Errorf("delete indicators: %w", err)
		}
		r.Deleted += len(batch)
	}
	send := append(slices.Clone(r.Create), r.Update...)
	isNew := map[string]bool{}
	for _, in := range r.Create {
		isNew[in.IndicatorValue] = true
	}
	for batch := range slices.Chunk(send, c.o.BatchSize) {
		body := struct {
			Indicators []Indicator `json:"Indicators"`
		}{batch}
		var ans struct {
			Value []importResult `json:"value"`
		}
		if err := c.do(ctx, "POST", "/api/indicators/import", body, c.writes, &c.calls.Import, &ans); err != nil {
			return r, fmt.Errorf("import indicators: %w", err)
		}
		r.account(batch, isNew, ans.Value, c.tok)
	}
	return r, nil
}

// importResult is the import answer's word on one indicator.
type importResult struct {
	ID            string  `json:"id"`
	Indicator     string  `json:"indicator"`
	IsFailed      bool    `json:"isFailed"`
	FailureReason *string `json:"failureReason"`
}

// account counts each indicator of a sent batch once, by what the import
// answer says of it: created or updated when the answer has it and never
// as failed; failed with the service's reason when it has it failed (a
// contradiction counts as a failure: the next push sends it again); failed
// when the answer does not mention it. Entries for values that were not
// sent are ignored, and values are compared as addresses, so that an IPv6
// written out in full still matches.
func (r *Result) account(batch []Indicator, isNew map[string]bool, ans []importResult, tok string) {
	type verdict struct {
		ok     bool
		failed string // the first refusal's reason
	}
	said := map[string]*verdict{}
	for _, v := range ans {
		k := addrKey(v.Indicator)
		vd := said[k]
		if vd == nil {
			vd = &verdict{}
			said[k] = vd
		}
		if !v.IsFailed {
			vd.ok = true
			continue
		}
		if vd.failed == "" {
			vd.failed = "refused without a reason"
			if v.FailureReason != nil && strings.TrimSpace(*v.FailureReason) != "" {
				// Service text: short, on one line, no credential.
				vd.failed = redact.Excerpt([]byte(*v.FailureReason), 300, tok)
			}
		}
	}
	for _, in := range batch {
		vd := said[addrKey(in.IndicatorValue)]
		switch {
		case vd == nil:
			r.Failed = append(r.Failed, Failure{IP: in.IndicatorValue, Reason: "not in the service's answer"})
		case vd.failed != "":
			r.Failed = append(r.Failed, Failure{IP: in.IndicatorValue, Reason: vd.failed})
		case isNew[in.IndicatorValue]:
			r.Created++
		default:
			r.Updated++
		}
	}
}

// addrKey is an IP's canonical form, or the text as it is.
func addrKey(s string) string {
	if ip, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
		return ip.Unmap().String()
	}
	return s
}

func (s *Settings) check() error {
	if s.Action == "" {
		s.Action = "Audit"
	}
	if s.Severity == "" {
		s.Severity = "Medium"
	}
	if !slices.Contains(Actions, s.Action) {
		return fmt.Errorf("action %q: want one of %s", s.Action, strings.Join(Actions, ", "))
	}
	if !slices.Contains(Severities, s.Severity) {
		return fmt.Errorf("severity %q: want one of %s", s.Severity, strings.Join(Severities, ", "))
	}
	if s.TTL < time.Minute {
		return fmt.Errorf("indicator ttl %s: an indicator must live at least a minute (it never lives forever)", s.TTL)
	}
	return nil
}

// plan decides what to create, update and delete, and, when the tenant's
// cap leaves no room for every new IP, which new IPs to leave out: those
// without hits and with the lowest confidence first.
func (c *Client) plan(r *Result, want []Candidate, owned []Indicator, others map[string]bool, s Settings) {
	now := c.clock.Now()
	have := map[string]Indicator{}
	for _, in := range owned {
		if in.IndicatorType != "IpAddress" {
			continue // another c2sweep feature's, or a person's with our name: not ours to judge
		}
		if _, dup := have[in.IndicatorValue]; dup {
			r.Delete = append(r.Delete, in) // a duplicate: keep one
			continue
		}
		have[in.IndicatorValue] = in
	}
	var creates []Candidate
	wanted := map[string]bool{}
	byIP := map[string]Indicator{}
	for _, cd := range want {
		ip := cd.IP.Unmap()
		exp := cd.LastSeen.Add(s.TTL).UTC().Truncate(time.Second)
		if !exp.After(now) {
			r.Expired++
			continue
		}
		v := ip.String()
		if others[v] {
			// A person's (or another tool's) indicator for the IP: an
			// import would overwrite it.
			r.HeldByOthers = append(r.HeldByOthers, ip)
			continue
		}
		if wanted[v] {
			continue
		}
		wanted[v] = true
		in := build(cd, ip, exp, s)
		byIP[v] = in
		old, ok := have[v]
		switch {
		case !ok:
			creates = append(creates, cd)
		case !same(old, in):
			r.Update = append(r.Update, in)
		}
	}
	for v, in := range have {
		if !wanted[v] {
			r.Delete = append(r.Delete, in)
		}
	}
	slices.SortFunc(r.Delete, func(a, b Indicator) int { return cmp.Compare(a.IndicatorValue, b.IndicatorValue) })
	slices.SortFunc(creates, func(a, b Candidate) int {
		return cmp.Or(-cmp.Compare(a.Hits, b.Hits), -cmp.Compare(a.Confidence, b.Confidence),
			b.LastSeen.Compare(a.LastSeen), a.IP.Compare(b.IP))
	})
	room := c.o.Cap - (r.Existing - len(r.Delete))
	for i, cd := range creates {
		if i >= room {
			r.LeftOut = append(r.LeftOut, cd.IP.Unmap())
			continue
		}
		r.Create = append(r.Create, byIP[cd.IP.Unmap().String()])
	}
}

// same reports whether the indicator Defender holds already says what c2sweep
// would send (the description follows last seen, as the expiry does).
func same(old, in Indicator) bool {
	if old.ExpirationTime == nil || !old.ExpirationTime.Truncate(time.Second).Equal(*in.ExpirationTime) {
		return false
	}
	return old.Action == in.Action && old.Severity == in.Severity && old.GenerateAlert == in.GenerateAlert &&
		old.Title == in.Title && slices.Equal(old.RBACGroupNames, in.RBACGroupNames)
}

func build(cd Candidate, ip netip.Addr, exp time.Time, s Settings) Indicator {
	fams := compact(cd.Families)
	fam := strings.Join(fams, ", ")
	if fam == "" {
		fam = "unknown family"
	}
	hunts := compact(cd.Hunts)
	title := fmt.Sprintf("c2sweep: %s C2 server (hunt %s)", fam, strings.Join(hunts, ", "))
	if len(title) > 250 {
		title = strings.ToValidUTF8(title[:250], "") // never half a character
	}
	var d strings.Builder
	fmt.Fprintf(&d, "%s command-and-control server %s found by c2sweep hunt %s.", fam, ip, strings.Join(hunts, ", "))
	if len(cd.Sources) > 0 {
		fmt.Fprintf(&d, " Source: %s.", strings.Join(compact(cd.Sources), ", "))
	}
	fmt.Fprintf(&d, " First seen %s, last seen %s.", cd.FirstSeen.UTC().Format(time.RFC3339), cd.LastSeen.UTC().Format(time.RFC3339))
	if cd.Hits > 0 {
		fmt.Fprintf(&d, " Contacted by devices of the organisation: %d hits.", cd.Hits)
	}
	if cd.Confidence > 0 {
		fmt.Fprintf(&d, " Confidence %d.", cd.Confidence)
	}
	fmt.Fprintf(&d, " Details: https://www.shodan.io/host/%s", url.PathEscape(ip.String()))
	in := Indicator{
		IndicatorValue: ip.String(),
		IndicatorType:  "IpAddress",
		Action:         s.Action,
		Application:    Application,
		Title:          title,
		Description:    d.String(),
		Severity:       s.Severity,
		// Audit needs generateAlert; Alert and AlertAndBlock mean it.
		GenerateAlert:  s.Action == "Audit" || s.Action == "Alert" || s.Action == "AlertAndBlock",
		ExpirationTime: &exp,
		RBACGroupNames: s.RBACGroups,
	}
	return in
}

func compact(ss []string) []string {
	out := slices.Clone(ss)
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	slices.Sort(out)
	return slices.Compact(out)
}

// list reads every indicator matching filter ("" all), page by page.
func (c *Client) list(ctx context.Context, filter string) ([]Indicator, error) {
	var all []Indicator
	for skip := 0; ; skip += c.o.PageSize {
		q := url.Values{}
		if filter != "" {
			q.Set("$filter", filter)
		}
		q.Set("$top", strconv.Itoa(c.o.PageSize))
		q.Set("$skip", strconv.Itoa(skip))
		var page struct {
			Value []Indicator `json:"value"`
		}
		if err := c.do(ctx, "GET", "/api/indicators?"+q.Encode(), nil, c.reads, &c.calls.List, &page); err != nil {
			return nil, fmt.Errorf("list indicators: %w", err)
		}
		all = append(all, page.Value...)
		// A short page is the last; the bound stops a service that
		// never sends one.
		if len(page.Value) < c.o.PageSize || skip > 10*TenantCap {
			return all, nil
		}
	}
}
