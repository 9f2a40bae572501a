package shodan_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
	shodanapi "c2sweep/internal/shodan"
	"c2sweep/internal/source"
	shodansource "c2sweep/internal/source/shodan"
)

func client(t *testing.T, l *lab.Lab, key string) *shodanapi.Client {
	t.Helper()
	c, err := shodanapi.New(shodanapi.Options{BaseURL: l.URL, Key: key, HTTPClient: labtest.Client(l), Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func start(t *testing.T) *lab.Lab {
	return labtest.Start(t, lab.Options{ShodanRate: 10 * time.Millisecond, World: lab.WorldConfig{Seed: 8, Now: time.Now().UTC()}})
}

var discard = func(source.Sighting) error { return nil }

// A refused key is a refusal of the kind's credentials (the pipeline stops
// the kind's other hunts), and the key never shows.
func TestRefusedKey(t *testing.T) {
	l := start(t)
	s := shodansource.New(client(t, l, "not-the-lab-key"))
	_, err := s.Collect(context.Background(), source.Hunt{Name: "A", Query: `product:"Cobalt Strike Beacon"`}, discard)
	if !errors.Is(err, source.ErrCredentials) || !errors.Is(err, shodanapi.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrCredentials and ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), "not-the-lab-key") {
		t.Errorf("error shows the key: %v", err)
	}
	_, err = s.Reserve(context.Background(), []source.Hunt{{Name: "A", Query: "x"}}, 0)
	if !errors.Is(err, source.ErrCredentials) {
		t.Errorf("Reserve err = %v, want ErrCredentials", err)
	}
}

// Reserve refuses hunts the budget cannot pay for before any is run;
// after it, hunts share the budget, and after: is added to filtered
// queries from the day before the freshness cut.
func TestBudgetAndAfter(t *testing.T) {
	l := start(t)
	s := shodansource.New(client(t, l, l.Creds.ShodanKey))
	ctx := context.Background()
	two := []source.Hunt{{Name: "A", Query: `product:"Cobalt Strike Beacon"`}, {Name: "B", Query: `product:"Empire C2"`}}
	_, err := s.Reserve(ctx, two, 1)
	var ce *shodansource.CreditsError
	if !errors.As(err, &ce) || ce.Need != 2 || ce.Budget != 1 {
		t.Fatalf("Reserve = %v, want a CreditsError for 2 credits over 1", err)
	}
	bal, err := s.Reserve(ctx, two[:1], 1)
	if err != nil || bal.Left <= 0 || bal.Requests != 1 {
		t.Fatalf("Reserve = %+v, %v", bal, err)
	}
	since := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	st, err := s.Collect(ctx, source.Hunt{Name: "A", Query: two[0].Query, Since: since}, discard)
	if err != nil || st.Cost != 1 || st.Pages != 1 || st.Query != two[0].Query+" after:23/11/2026" {
		t.Fatalf("Collect = %+v, %v", st, err)
	}
	if st.Read != st.Kept+st.Skipped.Total() || st.Kept == 0 {
		t.Errorf("stats %+v", st)
	}
	// The budget of 1 is spent: the next hunt does not run.
	if _, err := s.Collect(ctx, two[1], discard); !errors.Is(err, shodansource.ErrNoCredits) {
		t.Errorf("second hunt: %v, want ErrNoCredits", err)
	}
}
