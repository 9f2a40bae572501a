// Package browsertest opens a page in headless Chromium for a test and
// says what the browser did: the DOM after load, the console messages, the
// network requests it tried, and a screenshot. Only _test.go files import
// it, so it is not linked into c2sweep.
package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Page is what the browser made of a page.
type Page struct {
	DOM        string   // serialized after load (--dump-dom)
	Console    []string // console messages, errors and CSP refusals included
	Requests   []string // network requests tried, "CONNECT host:port" or "GET URL"
	Screenshot image.Image
}

// Chromium returns the browser's path; without one the test is skipped,
// or fails in CI (CI=true), which must run it.
func Chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("chromium is not installed (apt-get install -y chromium); CI must run this test")
	}
	tb.Skip("chromium not installed")
	return ""
}

// background are the hosts Chromium itself calls on start (component
// updates, account checks) however it is told not to; a page's own
// requests go anywhere else.
var background = regexp.MustCompile(`(?i)^(?:CONNECT |[A-Z]+ https?://)(?:[a-z0-9-]+\.)*(?:google\.com|googleapis\.com|gvt1\.com|gstatic\.com)(?::\d+)?\b`)

var consoleLine = regexp.MustCompile(`:CONSOLE(?:\(\d+\)|:\d+)\]\s*(.*)$`)

// Open loads the file at path (absolute) in headless Chromium twice, once
// for the DOM and the console, once for a screenshot of width x height,
// with every request sent to a recording proxy on loopback that answers
// none.
func Open(tb testing.TB, path string, width, height int) Page {
	tb.Helper()
	bin := Chromium(tb)
	rec := startProxy(tb)
	url := "file://" + filepath.ToSlash(path)
	dir := tb.TempDir()
	base := []string{
		"--headless", "--disable-gpu", "--no-first-run", "--hide-scrollbars", "--mute-audio",
		"--user-data-dir=" + filepath.Join(dir, "profile"),
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
		"--disable-domain-reliability", "--disable-client-side-phishing-detection", "--no-pings", "--disable-breakpad",
		"--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,AutofillServerCommunication,Translate",
		// Every request, loopback included, goes to the recorder.
		"--proxy-server=http://" + rec.addr, "--proxy-bypass-list=<-loopback>",
		"--enable-logging=stderr", "--v=0",
	}
	if os.Geteuid() == 0 {
		base = append(base, "--no-sandbox") // Chromium's sandbox refuses root (CI containers)
	}
	run := func(args ...string) (stdout, stderr []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append(append(slices.Clone(base), args...), url)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Env = append(os.Environ(), "HOME="+dir) // no profile of the developer's
		if err := cmd.Run(); err != nil {
			tb.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errb.Bytes())
		}
		return out.Bytes(), errb.Bytes()
	}
	var p Page
	dom, logs := run("--dump-dom")
	p.DOM = string(dom)
	shot := filepath.Join(dir, "screenshot.png")
	_, logs2 := run("--screenshot="+shot, "--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height))
	for _, l := range strings.Split(string(logs)+"\n"+string(logs2), "\n") {
		if m := consoleLine.FindStringSubmatch(l); m != nil {
			p.Console = append(p.Console, m[1])
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		tb.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	if p.Screenshot, err = png.Decode(f); err != nil {
		tb.Fatalf("screenshot: %v", err)
	}
	p.Requests = rec.stop()
	return p
}

// Colors counts the distinct colours of img, up to limit: a blank
// screenshot has one.
func Colors(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

type recorder struct {
	addr string
	ln   net.Listener
	mu   sync.Mutex
	reqs []string
	done chan struct{}
}

// startProxy listens on loopback and records the request line of every
// connection, answering 403: nothing leaves the machine.
func startProxy(tb testing.TB) *recorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &recorder{addr: ln.Addr().String(), ln: ln, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		var wg sync.WaitGroup
		for {
			c, err := ln.Accept()
			if err != nil {
				wg.Wait()
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				line := req.Method + " " + req.RequestURI
				if !background.MatchString(line) {
					r.mu.Lock()
					r.reqs = append(r.reqs, line)
					r.mu.Unlock()
				}
				c.Write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			}()
		}
	}()
	tb.Cleanup(func() { r.stop() })
	return r
}

func (r *recorder) stop() []string {
	r.ln.Close()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}
