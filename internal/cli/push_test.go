package cli_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"c2sweep/internal/cli"
	"c2sweep/internal/lab/defenderlab"
)

// indicators push against the lab: a dry run sends nothing, a push
// creates the state's C2 IPs, a second push sends nothing, narrowing to
// one hunt deletes the other's, and `indicators` still lists.
func TestIndicatorsPushAgainstTheLab(t *testing.T) {
	state, out := runEnv(t)
	l := shared(t)
	svc := defenderlab.Of(l)
	st := func(args ...string) []string { return append([]string{"--state", state}, args...) }
	mustCode(t, cli.ExitHits, st("run", "--hunt", "CobaltStrikeJARM", "--hunt", "DeimosC2", "--out", out)...)

	before := svc.Calls()
	r := mustCode(t, 0, st("indicators", "push", "--dry-run")...)
	if !strings.Contains(r.stdout, "would create") || !strings.Contains(r.stdout, "nothing sent") {
		t.Fatalf("dry run:\n%s", r)
	}
	if c := svc.Calls(); c.Import != before.Import || c.Delete != before.Delete {
		t.Fatalf("a dry run wrote: %+v", c)
	}
	r = mustCode(t, 0, st("indicators", "push")...)
	m := regexp.MustCompile(`pushed (\d+) C2 IPs: (\d+) created, 0 updated, 0 deleted, 0 failed`).FindStringSubmatch(r.stdout)
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Fatalf("push:\n%s", r)
	}
	r = mustCode(t, 0, st("indicators", "push")...)
	if !strings.Contains(r.stdout, ": 0 created, 0 updated, 0 deleted, 0 failed") {
		t.Fatalf("second push sent something:\n%s", r)
	}
	r = mustCode(t, 0, st("indicators", "push", "--hunt", "DeimosC2")...)
	if regexp.MustCompile(` 0 deleted`).MatchString(r.stdout) {
		t.Fatalf("narrowing to one hunt deleted nothing:\n%s", r)
	}
	for _, args := range [][]string{{"indicators"}, {"indicators", "--active"}} {
		r = mustCode(t, 0, st(args...)...)
		if !strings.Contains(r.stdout, "LAST SEEN BY SHODAN") {
			t.Fatalf("%v no longer lists:\n%s", args, r)
		}
	}
	// A plain-http root is refused before anything is sent.
	r = mustCode(t, cli.ExitCannotRun, st("indicators", "push", "--api-url", "http://"+strings.TrimPrefix(l.URL, "https://"))...)
	if !strings.Contains(r.stderr, "C2SWEEP_DEFENDER_API_URL") {
		t.Fatalf("http root:\n%s", r)
	}
}

// Without Ti.ReadWrite.All the push fails with exit 3 and a hint that
// names the permission.
func TestIndicatorsPushPermissionHint(t *testing.T) {
	state, out := runEnv(t)
	l := shared(t)
	st := func(args ...string) []string { return append([]string{"--state", state}, args...) }
	mustCode(t, cli.ExitHits, st("run", "--hunt", "DeimosC2", "--out", out)...)
	defenderlab.Of(l).Deny(true)
	defer defenderlab.Of(l).Deny(false)
	r := mustCode(t, cli.ExitCannotRun, st("indicators", "push", "--api-url", l.URL)...)
	if !strings.Contains(r.stderr, "hint: grant the app registration the application permission Ti.ReadWrite.All") {
		t.Fatalf("no permission hint:\n%s", r)
	}
}

// A refused sign-in: exit 3, the message names Ti.ReadWrite.All, a hint,
// and no secret anywhere (c2sweep checks every output).
func TestIndicatorsPushSignInNamesThePermission(t *testing.T) {
	state, out := runEnv(t)
	st := func(args ...string) []string { return append([]string{"--state", state}, args...) }
	mustCode(t, cli.ExitHits, st("run", "--hunt", "DeimosC2", "--out", out)...)
	t.Setenv("AZURE_CLIENT_SECRET", "Wr0ng~secret-value-456")
	secretsMu.Lock()
	secrets = append(secrets, "Wr0ng~secret-value-456")
	secretsMu.Unlock()
	r := mustCode(t, cli.ExitCannotRun, st("indicators", "push")...)
	if !strings.Contains(r.stderr, "Ti.ReadWrite.All") || !strings.Contains(r.stderr, "\nhint: ") {
		t.Fatalf("sign-in failure:\n%s", r)
	}
}

// An IP the service refuses inside its answer: reported with its reason,
// exit 2, and sent again (and accepted) by the next push.
func TestIndicatorsPushPerItemFailureExitsTwoAndIsRetried(t *testing.T) {
	state, out := runEnv(t)
	l := shared(t)
	st := func(args ...string) []string { return append([]string{"--state", state}, args...) }
	mustCode(t, cli.ExitHits, st("run", "--hunt", "DeimosC2", "--out", out)...)
	mustCode(t, 0, st("indicators", "push", "--hunt", "DeimosC2", "--ttl", "20d")...)
	var inds []struct {
		IP string `json:"ip"`
	}
	if err := json.Unmarshal([]byte(mustCode(t, 0, st("indicators", "--active", "--hunt", "DeimosC2", "--json")...).stdout), &inds); err != nil || len(inds) == 0 {
		t.Fatalf("indicators: %v", err)
	}
	ip := inds[0].IP
	defenderlab.Of(l).FailOnce(ip, "Internal error while saving the indicator.")
	r := mustCode(t, cli.ExitPartial, st("indicators", "push", "--hunt", "DeimosC2", "--ttl", "21d")...)
	if !strings.Contains(r.stdout, "failed  "+ip+": Internal error while saving the indicator. (sent again by the next push)") ||
		!strings.Contains(r.stdout, " 1 failed") {
		t.Fatalf("per-item failure:\n%s", r)
	}
	r = mustCode(t, 0, st("indicators", "push", "--hunt", "DeimosC2", "--ttl", "21d")...)
	if !strings.Contains(r.stdout, ": 0 created, 1 updated, 0 deleted, 0 failed") {
		t.Fatalf("retry:\n%s", r)
	}
}
