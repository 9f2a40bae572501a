package pipeline

// Progress shows long work as it happens. The terminal one redraws a line;
// in cron there is none.
type Progress interface {
	Update(line string)
	Done()
}

type quiet struct{}

func (quiet) Update(string) {}
func (quiet) Done()         {}
