package lab

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// newCredentials makes the lab's identities. Identifiers are GUIDs derived
// from the seed (so a world is recognisable across runs); the secrets come
// from crypto/rand, so knowing the seed does not sign anyone in.
// Tenant 0 keeps the identifiers a one-tenant lab always had; tenant i > 0
// has its own tenant and app ids and secret.
func newCredentials(seed int64, tenants int) Credentials {
	c := Credentials{
		ShodanKey:      RandomString(32, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
		TenantID:       SeedGUID(seed, 1),
		ClientID:       SeedGUID(seed, 2),
		ClientSecret:   clientSecret(),
		CertClientID:   SeedGUID(seed, 3),
		AbuseCHKey:     RandomString(48, "abcdef0123456789"),
		IdentityHeader: RandomString(36, "abcdef0123456789"),
		// Random, unlike the other ids: MSAL caches managed identity tokens
		// process-wide by client id, so a seed-derived id would hand one
		// lab's token to the next lab of a test binary.
		ManagedIdentityClientID: RandomGUID(),
	}
	c.Tenants = make([]Tenant, max(tenants, 1))
	c.Tenants[0] = Tenant{TenantID: c.TenantID, ClientID: c.ClientID, ClientSecret: c.ClientSecret}
	for i := 1; i < len(c.Tenants); i++ {
		c.Tenants[i] = Tenant{
			TenantID:     SeedGUID(seed, 1000+2*uint64(i)),
			ClientID:     SeedGUID(seed, 1001+2*uint64(i)),
			ClientSecret: clientSecret(),
		}
	}
	return c
}

// clientSecret is shaped like an Entra client secret value.
func clientSecret() string {
	return RandomString(3, "abcdefghijklmnopqrstuvwxyz0123456789") + "8Q~" + RandomString(37, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
}

// RandomString draws n letters of alphabet from crypto/rand.
func RandomString(n int, alphabet string) string {
	b := make([]byte, n)
	buf := make([]byte, 1)
	for i := range b {
		for {
			if _, err := rand.Read(buf); err != nil {
				panic("lab: crypto/rand: " + err.Error())
			}
			// Reject the tail so that every letter is equally likely.
			if int(buf[0]) < 256-256%len(alphabet) {
				b[i] = alphabet[int(buf[0])%len(alphabet)]
				break
			}
		}
	}
	return string(b)
}

// SeedGUID is a version-4-shaped GUID made from the seed and a purpose.
func SeedGUID(seed int64, purpose uint64) string {
	h := sha256.New()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(seed))
	binary.BigEndian.PutUint64(b[8:], purpose)
	h.Write([]byte("c2sweep lab guid"))
	h.Write(b[:])
	g := h.Sum(nil)[:16]
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", g[0:4], g[4:6], g[6:8], g[8:10], g[10:16])
}

// RandomGUID is a random version-4 GUID, for request and trace ids.
func RandomGUID() string {
	var g [16]byte
	rand.Read(g[:])
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", g[0:4], g[4:6], g[6:8], g[8:10], g[10:16])
}
