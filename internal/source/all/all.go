// Package all registers every source kind: import it for its side effect
// where the registry is read (the CLI, configuration tests).
package all

import (
	_ "c2sweep/internal/source/feed"
	_ "c2sweep/internal/source/feodo"
	_ "c2sweep/internal/source/shodan"
	_ "c2sweep/internal/source/shodanfile"
	_ "c2sweep/internal/source/threatfox"
)
