package config

import _ "embed"

//go:embed starter.yaml
var starter string

// StarterConfig is the commented config `c2sweep init` writes: every option
// explained, with the values that Default() uses.
func StarterConfig() string { return starter }
