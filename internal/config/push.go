package config

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"c2sweep/internal/defender"
)

// Push is what run and serve push to Defender for Endpoint after each
// sweep, as 'c2sweep indicators push' does.
type Push struct {
	Enabled  bool   `yaml:"enabled" json:"enabled"`
	Action   string `yaml:"action" json:"action"`     // "" = Audit (with an alert)
	Severity string `yaml:"severity" json:"severity"` // "" = Medium
	OnlyHits bool   `yaml:"only_hits" json:"only_hits"`
	// Hunts narrows the push to the IPs these hunts named ("" = all).
	Hunts          []string `yaml:"hunts" json:"hunts"`
	RBACGroupNames []string `yaml:"rbac_group_names" json:"rbac_group_names"`
	// APIURL replaces the Defender API root (sovereign clouds, the lab);
	// C2SWEEP_DEFENDER_API_URL fills it when the file does not.
	APIURL string `yaml:"api_url" json:"api_url"`
}

// Stix is the STIX 2.1 bundle run and serve write after each sweep, as
// 'c2sweep export stix' does.
type Stix struct {
	File string `yaml:"file" json:"file"` // "" = none; resolved against the file's directory
	Org  string `yaml:"org" json:"org"`   // the identity of the sightings; "" = C2SWEEP_ORG
}

// checkPush checks the push: and stix: sections and fills its API root from the
// environment, which is checked like the file.
func (w *walker) checkPush(c *Config) {
	p := &c.Push
	if p.Action != "" && !slices.Contains(defender.Actions, p.Action) {
		w.fail(w.lines["push.action"], "push.action", fmt.Sprintf("%q is not an indicator action", p.Action),
			"one of "+strings.Join(defender.Actions, ", "))
	}
	if p.Severity != "" && !slices.Contains(defender.Severities, p.Severity) {
		w.fail(w.lines["push.severity"], "push.severity", fmt.Sprintf("%q is not an indicator severity", p.Severity),
			"one of "+strings.Join(defender.Severities, ", "))
	}
	for i, h := range p.Hunts {
		if !slices.ContainsFunc(c.Hunts, func(ch Hunt) bool { return ch.Name == h }) {
			k := fmt.Sprintf("push.hunts[%d]", i)
			w.fail(w.lines[k], k, fmt.Sprintf("no hunt is named %q", h), "name a hunt of this config (c2sweep hunts --config-only)")
		}
	}
	if c.Stix.File != "" {
		c.Stix.File = w.resolvePath(c.Stix.File)
		if c.Stix.Org == "" {
			c.Stix.Org = os.Getenv("C2SWEEP_ORG")
		}
		if strings.TrimSpace(c.Stix.Org) == "" {
			w.fail(w.lines["stix.file"], "stix.file", "the organisation whose devices made the sightings has no name", `set stix.org: "Contoso" (or C2SWEEP_ORG)`)
		}
	}
	w.checkURL(p.APIURL, "push.api_url")
	if p.APIURL == "" {
		p.APIURL = os.Getenv("C2SWEEP_DEFENDER_API_URL")
		if msg, hint := urlProblem(p.APIURL); msg != "" {
			w.errs = append(w.errs, &Error{File: "environment", Key: "C2SWEEP_DEFENDER_API_URL", Msg: msg, Hint: hint})
		}
	}
}
