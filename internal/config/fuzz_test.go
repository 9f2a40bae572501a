package config

import (
	"strings"
	"testing"
)

// A config file is outside data: any bytes parse or fail with their
// problems, never panic; an inline secret never shows in the problems.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"shodan:\n  api_key: {env: SHODAN_API_KEY}\nazure:\n  client_secret: {file: /nonexistent/secret}\n",
		"azure:\n  client_secret: {command: [\"pass\", \"show\", \"x\"]}\n  certificate_password: {command: \"pass show y\"}\n",
		"shodan:\n  api_key: INLINESECRET123\nsweep:\n  lookback: 7d\n  api_url: http://example.com\n",
		"hunts:\n  - name: X\n    query: 'product:\"x\"'\n    sweep: [DeviceNetworkEvents.RemoteIP]\n    max_age: -1d\n",
		"notify:\n  - name: soc\n    type: webhook\n    url: {env: [1, 2]}\n",
		"{", "- [", "a: &a [*a]\n", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, warns, err := Parse("c.yaml", []byte(src))
		text := warns.Error()
		if err != nil {
			text += err.Error()
		}
		if strings.Contains(src, "INLINESECRET123") && strings.Contains(text, "INLINESECRET123") {
			t.Fatalf("an inline secret shows in the problems: %s", text)
		}
	})
}
