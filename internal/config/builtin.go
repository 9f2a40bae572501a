package config

import "strings"

// builtins are the five hunts of the blog post that started c2sweep, with
// its names and queries unchanged so results stay comparable with it.
var builtins = [...]struct{ name, query string }{
	{"CobaltStrikeJARM", "ssl.jarm:07d14d16d21d21d00042d41d00041de5fb3038104f457d92ba02e9311512c2"},
	{"CobaltStrikeProductName", `product:"Cobalt Strike Beacon"`},
	{"PoshC2", `ssl:"P18055077"`},
	{"EmpireC2", `product:"Empire C2"`},
	{"DeimosC2", "http.html_hash:-14029177"},
}

// Builtins returns the built-in hunts with the default settings: enabled,
// max age 7d, all pages, sweeping DeviceNetworkEvents.RemoteIP.
func Builtins() []Hunt {
	d := defaultFile().Defaults
	out := make([]Hunt, 0, len(builtins))
	for _, b := range builtins {
		out = append(out, withDefaults(Hunt{Name: b.name, Query: b.query}, d))
	}
	return out
}

func isBuiltinName(name string) bool {
	for _, b := range builtins {
		if strings.EqualFold(b.name, name) {
			return true
		}
	}
	return false
}
