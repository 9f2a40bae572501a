package hunting

import (
	"fmt"
	"slices"
	"strings"
)

// Backend is one hunting API a target can sweep.
type Backend struct {
	Name        string
	Description string
	// Legacy marks an API Microsoft is retiring: the CLI warns when a
	// target uses it.
	Legacy bool
	// Catalog names the table catalogue (schema) its queries are written
	// against: "defender" or "sentinel".
	Catalog string
	// MaxRows is the service's row cap: an answer that long may be cut
	// without an error.
	MaxRows int
	// Scope is the public-cloud token scope.
	Scope string
	New   func(Options) (Hunter, error)
}

var backends = []Backend{
	{
		Name:        "graph",
		Description: "Microsoft Graph runHuntingQuery: Defender XDR advanced hunting (default; permission ThreatHunting.Read.All)",
		Catalog:     "defender", MaxRows: MaxRows, Scope: GraphScope,
		New: func(o Options) (Hunter, error) { return NewGraph(o), nil },
	},
	{
		Name:        "mde",
		Description: "Defender for Endpoint advanced queries API (legacy: Microsoft is retiring it since January 2026, use graph; permission AdvancedQuery.Read.All)",
		Legacy:      true,
		Catalog:     "defender", MaxRows: MaxRows, Scope: MDEScope,
		New: func(o Options) (Hunter, error) { return NewMDE(o), nil },
	},
	{
		Name:        "sentinel",
		Description: "Microsoft Sentinel: the Log Analytics query API over one workspace (needs workspace_id; role Log Analytics Reader)",
		Catalog:     "sentinel", MaxRows: SentinelMaxRows, Scope: SentinelScope,
		New: NewSentinel,
	},
}

// Backends lists the hunting backends, the default first.
func Backends() []Backend { return slices.Clone(backends) }

// LookupBackend returns the named backend; the error lists the known ones.
func LookupBackend(name string) (Backend, error) {
	for _, b := range backends {
		if strings.EqualFold(b.Name, name) {
			return b, nil
		}
	}
	return Backend{}, fmt.Errorf("unknown hunting backend %q (known: %s)", name, strings.Join(BackendNames(), ", "))
}
