package lab

// STUB: owned by the Entra/hunting lab helper; replaced wholesale.

import (
	"fmt"
	"net/http"
)

type entraService struct{}

func newEntraService(l *Lab) (*entraService, error) { return &entraService{}, nil }

func (s *entraService) ServeHTTP(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }

func newCredentials(seed int64) Credentials {
	return Credentials{ShodanKey: fmt.Sprintf("labkey%d", seed)}
}
