package schema_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/schema"
)

// A Sentinel target without sweep: sweeps the columns where the lab
// plants its contacts: one remote IP column per table the workspace holds.
func TestSentinelDefaultSweepMatchesTheLab(t *testing.T) {
	w := lab.NewWorld(lab.WorldConfig{Seed: 7, Now: time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)})
	_, contacts := w.SentinelRows()
	var planted []string
	for _, c := range contacts {
		if tc := c.Table + "." + c.Column; !slices.Contains(planted, tc) {
			planted = append(planted, tc)
		}
	}
	slices.Sort(planted)
	got := schema.Sentinel().DefaultSweep()
	if !slices.Equal(got, planted) {
		t.Errorf("default sweep\n %v\nlab's planted columns\n %v", got, planted)
	}
	if len(got) != len(lab.SentinelTables) {
		t.Errorf("%d columns for %d tables", len(got), len(lab.SentinelTables))
	}
	for _, tc := range got {
		table, col, _ := strings.Cut(tc, ".")
		if err := schema.Sentinel().CheckTarget(table, col); err != nil {
			t.Error(err)
		}
	}
	if d := schema.Defender().DefaultSweep(); d != nil {
		t.Errorf("defender default sweep %v, want none (the hunts' own apply)", d)
	}
}
