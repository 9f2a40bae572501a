// Package emulator starts the lab with every emulated service on its one
// listener. The `lab` and `demo` commands use it; tests use labtest.Start,
// which calls it.
//
// A new service (ThreatFox, Feodo, a feed, Log Analytics, Defender
// indicators, ...) is a new package under internal/lab (see package lab)
// and one more entry in Services.
package emulator

import (
	"context"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/cdnlab"
	"c2sweep/internal/lab/defenderlab"
	"c2sweep/internal/lab/entralab"
	"c2sweep/internal/lab/feedlab"
	"c2sweep/internal/lab/feodolab"
	"c2sweep/internal/lab/huntinglab"
	"c2sweep/internal/lab/loganalyticslab"
	"c2sweep/internal/lab/shodanlab"
	"c2sweep/internal/lab/threatfoxlab"
)

// Start starts a lab serving every service until ctx ends or Close is
// called.
func Start(ctx context.Context, opts lab.Options) (*lab.Lab, error) {
	return lab.Start(ctx, opts, Services)
}

// Services builds every emulated service over l. A service that needs
// another (hunting checks Entra's tokens) is built after it.
func Services(l *lab.Lab) ([]lab.Service, error) {
	shodan, err := shodanlab.New(l)
	if err != nil {
		return nil, err
	}
	entra, err := entralab.New(l)
	if err != nil {
		return nil, err
	}
	hunting, err := huntinglab.New(l, entra)
	if err != nil {
		return nil, err
	}
	logAnalytics, err := loganalyticslab.New(l, entra)
	if err != nil {
		return nil, err
	}
	threatfox, err := threatfoxlab.New(l)
	if err != nil {
		return nil, err
	}
	feodo, err := feodolab.New(l)
	if err != nil {
		return nil, err
	}
	feeds, err := feedlab.New(l)
	if err != nil {
		return nil, err
	}
	cdn, err := cdnlab.New(l)
	if err != nil {
		return nil, err
	}
	indicators, err := defenderlab.New(l, entra)
	if err != nil {
		return nil, err
	}
	return []lab.Service{shodan, entra, hunting, logAnalytics, threatfox, feodo, feeds, cdn, indicators}, nil
}
