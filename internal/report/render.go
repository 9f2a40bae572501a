package report

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"c2sweep/internal/textsafe"
)

//go:embed report.html.tmpl
var pageText string

//go:embed report.css
var styleText string

// The page allows nothing but its own stylesheet: no script, font, image
// or connection, so a report opened from a mail or a share cannot call
// out, whatever its data holds.
var csp = "default-src 'none'; style-src 'sha256-" + hashOf(styleText) + "'; base-uri 'none'; form-action 'none'"

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(h[:])
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	// Data is attacker-controlled: control and bidi characters are made
	// visible before html/template escapes the rest.
	"text": textsafe.Terminal,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"day":   func(t time.Time) string { return t.UTC().Format("Jan 2") },
	"date":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05") },
	"join":  func(s []string) string { return textsafe.Terminal(strings.Join(s, ", ")) },
	"ports": joinInts,
	"add":   func(a, b int) int { return a + b },
	"plural": func(n int, one, many string) string {
		return plural(n, one, many)
	},
	"css": func() template.CSS { return template.CSS(styleText) },
}).Parse(pageText))

func joinInts(p []int) string {
	s := make([]string, len(p))
	for i, v := range p {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

// Render writes m as one self-contained HTML page.
func Render(w io.Writer, m Model) error {
	return page.Execute(w, struct {
		Model
		CSP string
	}{m, csp})
}

// WriteFile renders m to path atomically: a reader (a mail client, a
// browser) never sees half a report. This is the function a run uses to
// write report.html into its directory.
func WriteFile(path string, m Model) error {
	var b bytes.Buffer
	if err := Render(&b, m); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".report-*.html")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o640)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
