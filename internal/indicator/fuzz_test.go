package indicator

import "testing"

// An IP as Shodan or a telemetry row spells it: parsed or refused, and a
// parsed one is valid and reads back the same.
func FuzzParseIP(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "::ffff:203.0.113.7", "2001:db8::1", "fe80::1%eth0", "010.1.1.1", " 1.2.3.4", "", "1.2.3.4/24"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ip, err := ParseIP(s)
		if err != nil {
			return
		}
		if !ip.IsValid() {
			t.Fatalf("%q: invalid address without an error", s)
		}
		back, err := ParseIP(ip.String())
		if err != nil || back != ip {
			t.Fatalf("%q -> %v does not read back (%v, %v)", s, ip, back, err)
		}
	})
}
