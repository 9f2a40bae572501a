package cli

import (
	"c2sweep/internal/catalog"
	"c2sweep/internal/indicator"
)

// fidelityConfidence turns a catalog hunt's fidelity into the 0-100
// confidence STIX and Defender rank by, when the source gave no score of
// its own: high 85, medium 60, low 30 (STIX 2.1 appendix A's "high",
// "medium" and "low" bands).
var fidelityConfidence = map[catalog.Fidelity]int{
	catalog.High:   85,
	catalog.Medium: 60,
	catalog.Low:    30,
}

// familyOf is the malware family a sighting names: the source's own label
// (ThreatFox's malware), else the family of the catalog hunt that found
// it; "" when neither says.
func familyOf(sg indicator.Sighting) string {
	if sg.Labels.Malware != "" {
		return sg.Labels.Malware
	}
	if h, ok := catalog.Builtin().Lookup(sg.Hunt); ok {
		return h.Family
	}
	return ""
}

// confidenceOf is how sure the sighting's source is, 0-100: the source's
// score (ThreatFox's confidence_level), else the fidelity of the catalog
// hunt mapped by fidelityConfidence; 0 when neither says.
func confidenceOf(sg indicator.Sighting) int {
	if sg.Labels.Confidence > 0 {
		return min(sg.Labels.Confidence, 100)
	}
	if h, ok := catalog.Builtin().Lookup(sg.Hunt); ok {
		return fidelityConfidence[h.Fidelity]
	}
	return 0
}
