package pipeline

// Progress shows long work as it happens. The terminal one redraws a line;
// in cron there is none. A line quotes hunt names and targets as they are:
// an implementation that prints it shows it with textsafe.Terminal.
type Progress interface {
	Update(line string)
	Done()
}

type quiet struct{}

func (quiet) Update(string) {}
func (quiet) Done()         {}
