package shodan_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
	"c2sweep/internal/lab/shodanlab"
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

// Reserve counts every hunt (free) and plans the pages within the budget
// instead of refusing; Collect fetches only the plan's pages, so the lab's
// balance falls by exactly the plan. after: is added to filtered queries
// from the day before the freshness cut, for the count and the search.
func TestBudgetAndAfter(t *testing.T) {
	l := start(t)
	s := shodansource.New(client(t, l, l.Creds.ShodanKey))
	ctx := context.Background()
	since := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	two := []source.Hunt{{Name: "A", Query: `product:"Cobalt Strike Beacon"`, Since: since, Fidelity: 2}, {Name: "B", Query: `product:"Empire C2"`}}
	credits := shodanlab.Credits(l)
	bal, err := s.Reserve(ctx, two, 1)
	if err != nil || bal.Left != credits || bal.Requests != 3 || bal.Plan == nil {
		t.Fatalf("Reserve = %+v, %v; want /api-info and two counts", bal, err)
	}
	if bal.Plan.Credits != 1 || len(bal.Plan.Unplanned) == 0 || bal.Plan.Unplanned[len(bal.Plan.Unplanned)-1].Name != "B" {
		t.Fatalf("plan %+v: want A's first page only, B named as not fetched", *bal.Plan)
	}
	if shodanlab.Credits(l) != credits {
		t.Fatalf("counting spent credits: %d -> %d", credits, shodanlab.Credits(l))
	}
	st, err := s.Collect(ctx, two[0], discard)
	if err != nil || st.Cost != 1 || st.Pages != 1 || st.Query != two[0].Query+" after:23/11/2026" {
		t.Fatalf("Collect = %+v, %v", st, err)
	}
	if st.Read != st.Kept+st.Skipped.Total() || st.Kept == 0 {
		t.Errorf("stats %+v", st)
	}
	// The plan gave B no page: it is left out, not failed, and asks nothing.
	st, err = s.Collect(ctx, two[1], discard)
	if err != nil || st.Requests != 0 || st.Pages != 0 || !st.Truncated {
		t.Errorf("second hunt: %+v, %v; want no request, truncated", st, err)
	}
	if got := credits - shodanlab.Credits(l); got != 1 {
		t.Errorf("the run spent %d credits, want exactly the plan's 1", got)
	}
}
