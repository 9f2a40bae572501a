package pipeline

import (
	"fmt"
	"io"
	"text/tabwriter"

	"c2sweep/internal/textsafe"
)

// writePlan prints the Shodan credit plan: in full for --dry-run, else
// only what it left out, so no hunt goes unfetched unseen.
func (s *Summary) writePlan(w io.Writer) {
	p := s.Plan
	if p == nil {
		return
	}
	if s.PlanOnly {
		fmt.Fprintf(w, "Shodan credit plan: %d of %d credits allowed (counting is free; nothing was fetched):\n", p.Credits, p.Allowed)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "hunt\tresults\tpages\tof\tcredits\t")
		for _, h := range p.Hunts {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", textsafe.Terminal(h.Name), h.Total, h.Pages, h.Needed, h.Credits)
		}
		tw.Flush()
	}
	if len(p.Unplanned) == 0 {
		return
	}
	fmt.Fprintf(w, "Not fetched within the credits (%d credits more would fetch all):\n", p.UnplannedCredits())
	for _, u := range p.Unplanned {
		fmt.Fprintf(w, "  %s: %s, %d credits\n", textsafe.Terminal(u.Name), plural(u.Pages, "page", "pages"), u.Credits)
	}
}
