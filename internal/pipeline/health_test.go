package pipeline_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
	"c2sweep/internal/lab/shodanlab"
	"c2sweep/internal/notify"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/store"
)

// A hunt the lab makes silent is reported silent on the run that reaches
// health.silent_runs silent runs, and only then: the next run, still
// silent, says nothing again. The state keeps each hunt's runs.
func TestSilentHuntWarnsOnce(t *testing.T) {
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}})
	sink, err := labtest.StartWebhookSink(labtest.WebhookSinkOptions{Kind: "webhook"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	target, err := notify.New("soc", "webhook", sink.URL, sink.HTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), store.Options{AlertTargets: []string{"soc"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Lock(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: st,
		Notify: []notify.Target{target}}
	// alerted is how many messages told the alert channel DeimosC2 is silent.
	alerted := func() int {
		n := 0
		for _, r := range sink.Accepted() {
			var b notify.WebhookBody
			if err := json.Unmarshal(r.Body, &b); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(b.Summary, "hunt DeimosC2 is silent: silent for 2 runs") {
				n++
			}
		}
		return n
	}
	o := pipeline.Options{Hunts: ptHunts(), API: "graph", SilentRuns: 2}
	warned := func(s *pipeline.Summary) bool {
		for _, c := range s.Health {
			if c.Hunt == "DeimosC2" {
				return c.Verdict == "silent" && c.Detail == "silent for 2 runs"
			}
		}
		return false
	}
	if s := ptRun(t, p, o); warned(s) || s.Hunts[len(s.Hunts)-1].Read == 0 {
		t.Fatalf("run 1: DeimosC2 read %d, warnings %+v", s.Hunts[len(s.Hunts)-1].Read, s.Health)
	}
	shodanlab.Silence(l.Lab, "Deimos")
	if s := ptRun(t, p, o); warned(s) || alerted() != 0 {
		t.Errorf("run 2 (silent once): warned %+v", s.Health)
	}
	s := ptRun(t, p, o)
	if !warned(s) || alerted() != 1 {
		t.Errorf("run 3 (silent twice): warning %+v, %d alerts", s.Health, alerted())
	}
	var text strings.Builder
	s.WriteText(&text, true)
	if !strings.Contains(text.String(), "warning: hunt DeimosC2 is silent: silent for 2 runs") {
		t.Errorf("summary does not warn:\n%s", text.String())
	}
	if s := ptRun(t, p, o); warned(s) || alerted() != 1 {
		t.Errorf("run 4: warned again %+v, %d alerts", s.Health, alerted())
	}
	hist, err := st.HuntRuns(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	d := hist["DeimosC2"]
	if len(d) != 4 || d[0].Returned == 0 || d[1].Returned != 0 || d[3].Returned != 0 || d[0].Fresh == 0 {
		t.Errorf("DeimosC2's runs in the state: %+v", d)
	}
}
