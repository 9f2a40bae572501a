package lab

// Tenants in the world: with several, the organisation's devices are split
// across them (device i belongs to tenant i % n), and each tenant's hunting
// APIs answer only its devices' rows.

// splitTenants records that the world is served to n tenants and marks
// each contact with its device's tenant. The world itself (devices,
// events, contacts) does not change with n.
func (w *World) splitTenants(n int) {
	w.tenants = max(n, 1)
	idx := make(map[string]int32, len(w.Devices))
	for i := range w.Devices {
		idx[w.Devices[i].ID] = int32(i)
	}
	for i := range w.Contacts {
		w.Contacts[i].Tenant = w.TenantOf(idx[w.Contacts[i].DeviceID])
	}
}

// Tenants is the number of tenants the world's devices are split across
// (1 for a world no lab serves).
func (w *World) Tenants() int { return max(w.tenants, 1) }

// TenantOf is the tenant (index in Credentials.Tenants) a device belongs to.
func (w *World) TenantOf(device int32) int { return int(device) % w.Tenants() }

// TenantContacts are the planted contacts of tenant t's devices: the ground
// truth of a sweep of that tenant's Defender (Graph or MDE).
func (w *World) TenantContacts(t int) []Contact {
	var out []Contact
	for _, c := range w.Contacts {
		if c.Tenant == t {
			out = append(out, c)
		}
	}
	return out
}
