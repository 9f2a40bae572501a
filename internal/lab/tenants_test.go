package lab_test

import (
	"testing"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
)

// Every contact belongs to exactly one tenant, its device's, and the world
// does not change with the number of tenants.
func TestTenantContacts(t *testing.T) {
	one := labtest.Start(t, lab.Options{World: lab.WorldConfig{Seed: 3}})
	many := labtest.Start(t, lab.Options{World: lab.WorldConfig{Seed: 3, Now: one.World.Config.Now}, Tenants: 50})
	if len(many.Creds.Tenants) != 50 || len(one.Creds.Tenants) != 1 {
		t.Fatalf("tenants: %d, %d", len(many.Creds.Tenants), len(one.Creds.Tenants))
	}
	if len(many.World.Contacts) != len(one.World.Contacts) || len(many.World.Events) != len(one.World.Events) {
		t.Fatal("the number of tenants changed the world")
	}
	if got := len(one.World.TenantContacts(0)); got != len(one.World.Contacts) {
		t.Errorf("one tenant sees %d of %d contacts", got, len(one.World.Contacts))
	}
	devs := map[string]int{}
	for i, d := range many.World.Devices {
		devs[d.ID] = i
	}
	n := 0
	for ti := range 50 {
		for _, c := range many.World.TenantContacts(ti) {
			n++
			if i := devs[c.DeviceID]; i%50 != ti || many.World.TenantOf(int32(i)) != ti {
				t.Errorf("contact of device %d is tenant %d's", i, ti)
			}
		}
	}
	if n != len(many.World.Contacts) {
		t.Errorf("%d contacts across tenants, want %d", n, len(many.World.Contacts))
	}
}
