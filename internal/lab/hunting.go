package lab

// STUB: owned by the Entra/hunting lab helper; replaced wholesale.

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// Device is one device of the organisation.
type Device struct{ ID, Name string }

// Event is one telemetry row.
type Event struct {
	Table string
	Time  time.Time
}

// Contact is a planted event of a device talking to a C2 server.
type Contact struct{}

func genTelemetry(rng *rand.Rand, w *World) {}

type huntingService struct{}

func newHuntingService(l *Lab) (*huntingService, error) { return &huntingService{}, nil }

func (s *huntingService) ServeHTTP(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
