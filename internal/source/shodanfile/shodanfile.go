// Package shodanfile reads the banner files that `shodan download` writes:
// one full banner JSON object a line, gzip'd (.json.gz) or plain. Banners
// are decoded and checked exactly as the Shodan client's (shodan.Banner and
// its Sighting method; shodan.DecodeSightingBanner reads only what a sighting
// needs and gives the same result as encoding/json), so a file and a live
// search of the same banners give the same sightings and the same skip counts.
//
// Reading keeps up with decompression: one goroutine inflates (klauspost's
// gzip, faster than compress/gzip) and cuts the stream into blocks of whole
// lines, one goroutine per core decodes banners, and the
// caller's goroutine emits the sightings in file order.
package shodanfile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"

	"c2sweep/internal/shodan"
	"c2sweep/internal/source"
)

// Name is the registry name of the kind.
const Name = "shodan-file"

// hostURL links a sighting back to the address on Shodan.
const hostURL = "https://www.shodan.io/host/"

// MaxLine is the longest banner line read. Banners can exceed 64 KiB; one
// past this is an error, since the file is then no banner file.
const MaxLine = 64 << 20

// blockSize is how much inflated text a worker gets at a time.
const blockSize = 1 << 20

var (
	// ErrNoFiles is wrapped when a path or glob names no file.
	ErrNoFiles = errors.New("no banner file matches")
	// ErrTruncated is wrapped when a gzip stream ends early (a download
	// cut short): the banners read before it stand.
	ErrTruncated = errors.New("truncated: the gzip stream ends early")
	// ErrLineTooLong is wrapped when a line is longer than MaxLine.
	ErrLineTooLong = errors.New("line too long for a banner")
)

// Expand turns paths and globs into the files they name, in order, each
// once. A pattern that names no file wraps ErrNoFiles: a download that
// did not happen must not read as "no C2".
func Expand(patterns ...string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("banner file pattern %q: %w", p, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%w %q", ErrNoFiles, p)
		}
		slices.Sort(m)
		for _, f := range m {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// ReadFiles reads each file in turn (see Read). Stats.Requests counts the
// files opened. An error of a file names the file; emit's error and ctx's
// are returned as they are.
func ReadFiles(ctx context.Context, paths []string, hunt string, emit func(source.Sighting) error) (source.Stats, error) {
	var total source.Stats
	var emitErr error
	record := func(sg source.Sighting) error {
		emitErr = emit(sg)
		return emitErr
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return total, fmt.Errorf("banner file: %w", err)
		}
		total.Requests++
		st, err := Read(ctx, f, hunt, record)
		f.Close()
		total.Add(st)
		if err != nil {
			if err == emitErr || ctx.Err() != nil {
				return total, err
			}
			return total, fmt.Errorf("banner file %s: %w", p, err)
		}
	}
	return total, nil
}

// Read decodes a banner stream, gzip'd or plain (told apart by the gzip
// magic bytes), and hands each valid sighting to emit in stream order.
// Blank lines are ignored; a line that is no banner, or a banner with a bad
// ip_str or timestamp, is skipped and counted under the shodan.Skip*
// reasons. Sightings carry Source "shodan-file".
//
// Errors: a gzip stream cut short wraps ErrTruncated, a corrupt one the
// gzip package's error; emit's error and ctx's are returned as they are.
func Read(ctx context.Context, r io.Reader, hunt string, emit func(source.Sighting) error) (source.Stats, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return source.Stats{}, err
		}
		defer zr.Close()
		in = zr
	}
	return decode(ctx, in, hunt, emit)
}

// block is a run of whole lines, numbered in stream order.
type block struct {
	seq  int
	buf  *[]byte
	data []byte
}

// item is one decoded line: a sighting, or why not.
type item struct {
	sg   source.Sighting
	skip string
}

type result struct {
	seq   int
	items []item
}

// inFlight is how many blocks a core may have queued: enough that the
// inflating goroutine rarely waits for a decoder to be scheduled on a busy
// machine. The buffers are made once per stream and go round.
const inFlight = 4

func decode(ctx context.Context, in io.Reader, hunt string, emit func(source.Sighting) error) (source.Stats, error) {
	var st source.Stats
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Inflating has a core to itself and decoding the others: decoding a
	// block takes about half the time inflating it does, so one core
	// decoding keeps up with one inflating, and the inflater, the slowest
	// step, never waits for a core its own decoders hold.
	procs := runtime.GOMAXPROCS(0)
	workers := max(1, procs-1)
	n := procs * inFlight
	blocks := make(chan block, n)
	results := make(chan result, n)
	free := make(chan *[]byte, n)
	for range n {
		b := make([]byte, 0, blockSize+64<<10)
		free <- &b
	}
	readErr := make(chan error, 1)

	go func() { readErr <- split(ctx, in, free, blocks) }()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range blocks {
				items := parseBlock(b.data, hunt)
				free <- b.buf
				select {
				case results <- result{b.seq, items}:
				case <-ctx.Done():
				}
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	// Emit in order: hold results that arrive early.
	pending := map[int][]item{}
	next := 0
	var emitErr error
	for res := range results {
		if emitErr != nil {
			continue // drain so the workers can stop
		}
		pending[res.seq] = res.items
		for {
			items, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			for i := range items {
				if items[i].skip != "" {
					st.Skip(items[i].skip)
					continue
				}
				st.Keep()
				if err := emit(items[i].sg); err != nil {
					emitErr = err
					cancel()
					break
				}
			}
			if emitErr != nil {
				break
			}
		}
	}
	err := <-readErr
	switch {
	case emitErr != nil:
		return st, emitErr
	case err != nil:
		return st, err
	case ctx.Err() != nil:
		// Cancelled after the last block was read: workers may have
		// dropped results.
		return st, ctx.Err()
	}
	return st, nil
}

// split cuts the inflated stream into blocks of whole lines and closes
// blocks when done. When the stream fails, the whole lines before the
// failure are still sent.
func split(ctx context.Context, in io.Reader, free chan *[]byte, blocks chan<- block) error {
	defer close(blocks)
	seq := 0
	send := func(bp *[]byte, data []byte) bool {
		select {
		case blocks <- block{seq: seq, buf: bp, data: data}:
			seq++
			return true
		case <-ctx.Done():
			return false
		}
	}
	var carry []byte // the start of a line cut by the end of a block
	for {
		var bp *[]byte
		select {
		case bp = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		buf := append((*bp)[:0], carry...)
		// Read up to blockSize past the carried part, so that a long line
		// always makes progress.
		want := len(buf) + blockSize
		buf = slices.Grow(buf, want-len(buf))
		var err error
		for len(buf) < want && err == nil {
			var n int
			n, err = in.Read(buf[len(buf):want])
			buf = buf[:len(buf)+n]
		}
		*bp = buf
		if err == io.EOF {
			// The last line may lack its end.
			if len(buf) == 0 {
				free <- bp
				return nil
			}
			if !send(bp, buf) {
				return ctx.Err()
			}
			return nil
		}
		i := bytes.LastIndexByte(buf, '\n')
		if err != nil {
			// Keep the whole lines read before the failure; the cut one
			// is lost with the rest of the stream.
			if i >= 0 && !send(bp, buf[:i+1]) {
				return ctx.Err()
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return ErrTruncated
			}
			return err
		}
		if i < 0 {
			// No line end in a whole block: carry it all on.
			if len(buf) > MaxLine {
				free <- bp
				return fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, MaxLine)
			}
			carry = append(carry[:0:0], buf...)
			free <- bp
			continue
		}
		carry = append(carry[:0:0], buf[i+1:]...)
		if !send(bp, buf[:i+1]) {
			return ctx.Err()
		}
	}
}

// parseBlock decodes every line of data exactly as the Shodan client does
// (shodan.DecodeSightingBanner reads only what a sighting needs).
func parseBlock(data []byte, hunt string) []item {
	items := make([]item, 0, bytes.Count(data, []byte{'\n'})+1)
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var b shodan.Banner
		if err := shodan.DecodeSightingBanner(line, &b); err != nil {
			items = append(items, item{skip: shodan.SkipUndecodableMatch})
			continue
		}
		ip, sg, err := b.Sighting("")
		if err != nil {
			items = append(items, item{skip: shodan.SkipReason(err)})
			continue
		}
		sg.Hunt, sg.Source = hunt, Name
		items = append(items, item{sg: source.Sighting{
			IP: ip, Sighting: sg, Tags: b.Tags, Reference: hostURL + ip.String(),
		}})
	}
	return items
}

func init() {
	source.Register(source.Kind{
		Name:   Name,
		Doc:    "banner files written by `shodan download` (gzip or plain JSON lines), a path or a glob",
		Fields: []string{"path"},
		New:    func(source.Settings) (source.Source, error) { return Source{}, nil },
	})
}

// Source reads a hunt's banner files: Hunt.Path, a path or a glob
// (relative paths are the caller's to resolve). It has no settings.
type Source struct{}

// Name implements source.Source.
func (Source) Name() string { return Name }

// Collect implements source.Source: Expand then ReadFiles.
func (Source) Collect(ctx context.Context, h source.Hunt, emit func(source.Sighting) error) (source.Stats, error) {
	if h.Path == "" {
		return source.Stats{}, errors.New("shodan-file hunt has no path: set path: to a banner file or a glob")
	}
	paths, err := Expand(h.Path)
	if err != nil {
		return source.Stats{}, err
	}
	return ReadFiles(ctx, paths, h.Name, emit)
}
