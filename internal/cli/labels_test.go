package cli

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"c2sweep/internal/catalog"
	"c2sweep/internal/indicator"
	"c2sweep/internal/store"
)

// The family and confidence of a server come from its source's labels,
// else from the catalog hunt that found it, in both the STIX bundle and
// the Defender push.
func TestLabelsFeedStixAndPush(t *testing.T) {
	seen := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	jarm, ok := catalog.Builtin().Lookup("CobaltStrikeJARM")
	if !ok {
		t.Fatal("the catalog lost CobaltStrikeJARM")
	}
	recs := []store.IndicatorRecord{
		{ // ThreatFox names the family and scores it
			IP: netip.MustParseAddr("198.51.100.7"), Hunts: []string{"tf"}, Sources: []string{"threatfox"}, FirstSeen: seen, LastSeen: seen,
			Sightings: []indicator.Sighting{{Hunt: "tf", Source: "threatfox", Labels: indicator.Labels{Malware: "QakBot", Confidence: 75, Tags: []string{"botnet"}}}},
		},
		{ // a catalog hunt without labels: its family and fidelity
			IP: netip.MustParseAddr("198.51.100.8"), Hunts: []string{"CobaltStrikeJARM"}, Sources: []string{"shodan"}, FirstSeen: seen, LastSeen: seen,
			Sightings: []indicator.Sighting{{Hunt: "CobaltStrikeJARM", Source: "shodan"}},
		},
		{ // a hunt of the user's own, no labels: nothing to say
			IP: netip.MustParseAddr("198.51.100.9"), Hunts: []string{"Mine"}, Sources: []string{"shodan"}, FirstSeen: seen, LastSeen: seen,
			Sightings: []indicator.Sighting{{Hunt: "Mine", Source: "shodan"}},
		},
	}
	type want struct {
		families []string
		conf     int
	}
	wants := []want{{[]string{"QakBot"}, 75}, {[]string{jarm.Family}, fidelityConfidence[jarm.Fidelity]}, {nil, 0}}
	if wants[1].conf == 0 {
		t.Fatalf("fidelity %q of CobaltStrikeJARM maps to no confidence", jarm.Fidelity)
	}

	in := stixInput("Contoso", time.Hour, time.Time{}, recs, nil)
	for i, s := range in.Servers {
		if !slices.Equal(s.Families, wants[i].families) || s.Confidence != wants[i].conf {
			t.Errorf("stix %s: families %v confidence %d, want %v %d", s.IP, s.Families, s.Confidence, wants[i].families, wants[i].conf)
		}
	}
	if !slices.Equal(in.Servers[0].Labels, []string{"botnet"}) {
		t.Errorf("stix labels %v, want the source's tags", in.Servers[0].Labels)
	}

	cds := pushCandidates(recs, nil, nil, false)
	if len(cds) != 3 {
		t.Fatalf("%d push candidates, want 3", len(cds))
	}
	for i, cd := range cds {
		fams := slices.DeleteFunc(slices.Clone(cd.Families), func(f string) bool { return f == "" })
		if len(fams) == 0 {
			fams = nil
		}
		if !slices.Equal(fams, wants[i].families) || cd.Confidence != wants[i].conf {
			t.Errorf("push %s: families %v confidence %d, want %v %d", cd.IP, cd.Families, cd.Confidence, wants[i].families, wants[i].conf)
		}
	}
}
