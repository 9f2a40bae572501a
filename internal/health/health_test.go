package health

import "testing"

func runs(returned ...int) []Run {
	out := make([]Run, len(returned))
	for i, n := range returned {
		out[i] = Run{Returned: n, Fresh: n}
	}
	return out
}

func TestJudge(t *testing.T) {
	o := Options{SilentRuns: 3, SpikeX: 4}
	for _, tc := range []struct {
		runs []Run
		want string
	}{
		{runs(5, 6, 5), Healthy},
		{runs(5, 0, 0), Healthy},
		{runs(5, 0, 0, 0), Silent},
		{runs(5, 6, 4, 50), Spiking},
		{runs(5, 6, 4, 20), Healthy},
		{append(runs(5), Run{Failed: true}), Failing},
		{[]Run{{Returned: 10, Fresh: 10, Excluded: 6}}, Noisy},
		{[]Run{{Returned: 10, Fresh: 10, Excluded: 5}}, Healthy},
		{nil, TooSoon},
	} {
		if got := Judge(tc.runs, o); got.State != tc.want {
			t.Errorf("%+v: %+v, want %s", tc.runs, got, tc.want)
		}
	}
	if v := Judge(runs(1, 0, 0, 0, 0, 0, 0, 0), Options{}); v.State != Silent || v.Detail != "silent for 7 runs" {
		t.Errorf("default silent_runs 7: %+v", v)
	}
}

func TestSparkline(t *testing.T) {
	if got := Sparkline([]int{0, 5, 10}, true); got != "059" {
		t.Errorf("plain %q", got)
	}
	if got := []rune(Sparkline([]int{0, 1, 10}, false)); len(got) != 3 || got[0] != ' ' || got[2] != '█' {
		t.Errorf("blocks %q", string(got))
	}
}
