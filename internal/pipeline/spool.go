package pipeline

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"

	"c2sweep/internal/hunting"
)

// spool holds a query's rows on disk while they stream in, so a 100,000-row
// answer never sits in memory whole, and nothing is committed before the
// call has succeeded.
type spool struct {
	f   *os.File
	w   *bufio.Writer
	enc *json.Encoder
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "c2sweep-rows-*.jsonl")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // gone with the process, even after a crash
	w := bufio.NewWriterSize(f, 64<<10)
	return &spool{f: f, w: w, enc: json.NewEncoder(w)}, nil
}

func (s *spool) add(row hunting.Row) error { return s.enc.Encode(row) }

// each replays the rows in order.
func (s *spool) each(fn func(hunting.Row) error) error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec := json.NewDecoder(bufio.NewReaderSize(s.f, 64<<10))
	dec.UseNumber()
	for {
		var row hunting.Row
		err := dec.Decode(&row)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

func (s *spool) close() { s.f.Close() }
