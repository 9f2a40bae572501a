package lab

// STUB: owned by the Shodan lab helper; replaced wholesale.

import (
	"math/rand/v2"
	"net/http"
)

// Banner is one banner as Shodan serves it.
type Banner struct {
	Server *Server // nil for unrelated banners
}

func genShodan(rng *rand.Rand, w *World) {}

type shodanService struct{}

func newShodanService(l *Lab) (*shodanService, error) { return &shodanService{}, nil }

func (s *shodanService) ServeHTTP(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
