package lab

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// WorldConfig sizes the deterministic world a lab serves. The same config
// (seed and Now included) always gives the same world.
type WorldConfig struct {
	Seed int64
	// Now anchors every timestamp (default: the lab's clock at start).
	Now time.Time
	// Servers is the number of C2 servers Shodan knows (default 60).
	Servers int
	// Banners is the number of unrelated banners Shodan also holds, so
	// that queries have something not to match (default 200).
	Banners int
	// Devices is the size of the organisation (default 50).
	Devices int
	// Events is the number of ordinary telemetry events (default 5000).
	Events int
	// Contacts is the number of device-to-C2 contacts planted in the
	// telemetry (default 12).
	Contacts int
	// Beacons plants, besides the contacts, a beacon: one device calling
	// one C2 server this many times over three days, and the same device
	// calling a second server twice (default 0: none). Its own random
	// stream, so the rest of the world stays as it is.
	Beacons int
}

// World is what the lab serves: what Shodan has seen and what the
// organisation's devices did. It is read-only once built.
type World struct {
	Config WorldConfig
	// Servers are the C2 servers, in a fixed order.
	Servers []*Server
	// CatalogServers are the servers of the hunt catalog's other families
	// (see shodan_catalog.go): no planted contacts, some behind CDNs.
	CatalogServers []*Server
	// Banners are every banner Shodan holds, C2 and unrelated, newest first.
	Banners []*Banner
	// Devices and Events are the organisation's telemetry.
	Devices []Device
	Events  []Event
	// Contacts are the planted device-to-C2 events: the ground truth a
	// sweep must find (when the server is fresh and some hunt matches it).
	Contacts []Contact
	// Intel is what the free intelligence sources (ThreatFox, Feodo, the
	// feeds, the banner file) publish about this world.
	Intel Intel

	tenants int // see Tenants
}

// NewWorld builds the world for cfg.
func NewWorld(cfg WorldConfig) *World {
	cfg = cfg.withDefaults()
	w := &World{Config: cfg}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xc25eed))
	genShodan(rng, w)
	genTelemetry(rng, w)
	genIntel(w)
	genCatalogServers(w)
	return w
}

func (c WorldConfig) withDefaults() WorldConfig {
	if c.Now.IsZero() {
		c.Now = time.Now()
	}
	c.Now = c.Now.UTC()
	if c.Servers == 0 {
		c.Servers = 60
	}
	if c.Banners == 0 {
		c.Banners = 200
	}
	if c.Devices == 0 {
		c.Devices = 50
	}
	if c.Events == 0 {
		c.Events = 5000
	}
	if c.Contacts == 0 {
		c.Contacts = 12
	}
	return c
}

// Server is one C2 server as Shodan knows it.
type Server struct {
	IP        netip.Addr
	Framework string // "Cobalt Strike", "Sliver", "PoshC2", "Empire", "Deimos", ...
	Banners   []*Banner
	LastSeen  time.Time
	Stale     bool // last seen long ago: a sweep with a 7d max age drops it
	// CDN names the CDN front end the server hides behind ("" for none):
	// its address is the CDN's shared edge (catalog servers only).
	CDN string
}
