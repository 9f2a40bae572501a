package plan_test

import (
	"math/rand/v2"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"c2sweep/internal/plan"
)

func pages(p plan.Plan) string {
	var s []string
	for _, h := range p.Hunts {
		s = append(s, h.Name+"="+strconv.Itoa(h.Pages))
	}
	return strings.Join(s, " ")
}

var four = []plan.Hunt{
	{Name: "A", Total: 250, Fidelity: 3},
	{Name: "B", Total: 50, Fidelity: 3},
	{Name: "C", Total: 1000, Fidelity: 2},
	{Name: "D", Total: 0, Fidelity: 3},
}

func TestMakeExact(t *testing.T) {
	for _, tc := range []struct {
		name              string
		hunts             []plan.Hunt
		available, budget int
		want              string
		credits           int
		unplanned         []plan.Unplanned
	}{
		{"budget 5", four, 100, 5, "D=0 B=1 A=2 C=2", 5,
			[]plan.Unplanned{{Name: "A", Pages: 1, Credits: 1}, {Name: "C", Pages: 8, Credits: 8}}},
		{"first pages first", four, 100, 2, "D=0 B=1 A=1 C=0", 2,
			[]plan.Unplanned{{Name: "A", Pages: 2, Credits: 2}, {Name: "C", Pages: 10, Credits: 10}}},
		{"no budget: all pages", four, 100, -1, "D=0 B=1 A=3 C=10", 14, nil},
		{"available below budget", four, 3, 10, "D=0 B=1 A=1 C=1", 3,
			[]plan.Unplanned{{Name: "A", Pages: 2, Credits: 2}, {Name: "C", Pages: 9, Credits: 9}}},
		{"nothing to spend", four, 0, 10, "D=0 B=0 A=0 C=0", 0,
			[]plan.Unplanned{{Name: "B", Pages: 1, Credits: 1}, {Name: "A", Pages: 3, Credits: 3}, {Name: "C", Pages: 10, Credits: 10}}},
		{"remainder by priority", []plan.Hunt{{Name: "Y", Total: 600, Fidelity: 3}, {Name: "X", Total: 500, Fidelity: 3}}, 100, 5, "X=3 Y=2", 5,
			[]plan.Unplanned{{Name: "X", Pages: 2, Credits: 2}, {Name: "Y", Pages: 4, Credits: 4}}},
		{"free first page", []plan.Hunt{{Name: "E", Total: 300, Fidelity: 1, Unfiltered: true}, {Name: "F", Total: 100, Fidelity: 1}}, 100, 0, "F=0 E=1", 0,
			[]plan.Unplanned{{Name: "F", Pages: 1, Credits: 1}, {Name: "E", Pages: 2, Credits: 2}}},
		{"max pages", []plan.Hunt{{Name: "G", Total: 10000, Fidelity: 2, MaxPages: 2}, {Name: "H", Total: 101, Fidelity: 2}}, 100, 100, "H=2 G=2", 4, nil},
		{"fidelity before size", []plan.Hunt{{Name: "low", Total: 1, Fidelity: 1}, {Name: "high", Total: 900, Fidelity: 3}}, 100, 1, "high=1 low=0", 1,
			[]plan.Unplanned{{Name: "high", Pages: 8, Credits: 8}, {Name: "low", Pages: 1, Credits: 1}}},
	} {
		p := plan.Make(tc.hunts, tc.available, tc.budget)
		if got := pages(p); got != tc.want {
			t.Errorf("%s: plan %s, want %s", tc.name, got, tc.want)
		}
		if p.Credits != tc.credits {
			t.Errorf("%s: %d credits, want %d", tc.name, p.Credits, tc.credits)
		}
		if !reflect.DeepEqual(p.Unplanned, tc.unplanned) {
			t.Errorf("%s: unplanned %+v, want %+v", tc.name, p.Unplanned, tc.unplanned)
		}
	}
}

// naive walks the round-robin page by page, as the rule reads.
func naive(hunts []plan.Hunt, allowed int) map[string]int {
	order := make([]plan.Hunt, len(hunts))
	copy(order, hunts)
	sort.SliceStable(order, func(a, b int) bool {
		x, y := order[a], order[b]
		if x.Fidelity != y.Fidelity {
			return x.Fidelity > y.Fidelity
		}
		if x.Total != y.Total {
			return x.Total < y.Total
		}
		return strings.ToLower(x.Name) < strings.ToLower(y.Name)
	})
	got := map[string]int{}
	for round := 1; ; round++ {
		anyLeft := false
		for _, h := range order {
			if h.Pages() < round || got[h.Name] != round-1 {
				continue
			}
			anyLeft = true
			if round == 1 && h.Unfiltered {
				got[h.Name] = 1
			} else if allowed > 0 {
				got[h.Name] = round
				allowed--
			}
		}
		if !anyLeft {
			return got
		}
	}
}

// The plan is the round-robin, spends exactly min(allowed, what all pages
// cost), and names every page it leaves out.
func TestMakeMatchesRoundRobin(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		n := 1 + rng.IntN(12)
		hunts := make([]plan.Hunt, n)
		need := 0
		for j := range hunts {
			hunts[j] = plan.Hunt{Name: "h" + strconv.Itoa(j), Total: []int{0, 1, 99, 100, 101, 350, 2000}[rng.IntN(7)] + rng.IntN(3),
				Fidelity: 1 + rng.IntN(3), Unfiltered: rng.IntN(6) == 0}
			if rng.IntN(4) == 0 {
				hunts[j].MaxPages = 1 + rng.IntN(4)
			}
			need += hunts[j].Pages()
			if hunts[j].Unfiltered && hunts[j].Pages() > 0 {
				need--
			}
		}
		available, budget := rng.IntN(60), rng.IntN(60)-10
		p := plan.Make(hunts, available, budget)
		allowed := available
		if budget >= 0 {
			allowed = min(allowed, budget)
		}
		want := naive(hunts, allowed)
		spent, left := 0, 0
		for _, h := range p.Hunts {
			if h.Pages != want[h.Name] {
				t.Fatalf("case %d: %s gets %d pages, round-robin gives %d: %+v", i, h.Name, h.Pages, want[h.Name], hunts)
			}
			spent += h.Credits
		}
		for _, u := range p.Unplanned {
			left += u.Credits
		}
		if p.Credits != spent || spent != min(allowed, need) || spent+left != need {
			t.Fatalf("case %d: spent %d (sum %d), unplanned %d, allowed %d, all pages cost %d", i, p.Credits, spent, left, allowed, need)
		}
	}
}

// BenchmarkMake500 plans 500 hunts of up to 20,000 results each.
func BenchmarkMake500(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	hunts := make([]plan.Hunt, 500)
	for i := range hunts {
		hunts[i] = plan.Hunt{Name: "hunt" + strconv.Itoa(i), Total: rng.IntN(20000), Fidelity: 1 + rng.IntN(3)}
	}
	for b.Loop() {
		plan.Make(hunts, 100000, 3000)
	}
}
