package threatfoxlab_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func post(t *testing.T, l *lab.Lab, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, l.URL+lab.ThreatFoxPath, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Auth-Key", key)
	}
	resp, err := labtest.Client(l).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestThreatFoxContract(t *testing.T) {
	l := labtest.Start(t, lab.Options{World: lab.WorldConfig{Seed: 3, Now: now}})
	if code, body := post(t, l, "", `{"query":"get_iocs","days":3}`); code != http.StatusUnauthorized || !strings.Contains(body, "Auth-Key") {
		t.Errorf("no key: %d %q", code, body)
	}
	if code, body := post(t, l, "nope-nope-nope", `{"query":"get_iocs","days":3}`); code != http.StatusForbidden || !strings.Contains(body, `"unknown_auth_key"`) {
		t.Errorf("wrong key: %d %q", code, body)
	}
	key := l.Creds.AbuseCHKey
	if _, body := post(t, l, key, `{"query":"get_iocs","days":8}`); !strings.Contains(body, `"illegal_days"`) {
		t.Errorf("days 8: %q", body)
	}
	var env struct {
		QueryStatus string          `json:"query_status"`
		Data        json.RawMessage `json:"data"`
	}
	_, body := post(t, l, key, `{"query":"get_iocs","days":1}`)
	if json.Unmarshal([]byte(body), &env); env.QueryStatus != "no_result" || !bytes.HasPrefix(env.Data, []byte(`"`)) {
		t.Errorf("days 1: %q, want no_result with a string data", body)
	}
	_, body = post(t, l, key, `{"query":"get_iocs","days":7}`)
	var items []map[string]any
	if json.Unmarshal([]byte(body), &env); env.QueryStatus != "ok" || json.Unmarshal(env.Data, &items) != nil {
		t.Fatalf("days 7: %.200q", body)
	}
	if len(items) != len(l.World.Intel.ThreatFox) {
		t.Errorf("%d items, want %d", len(items), len(l.World.Intel.ThreatFox))
	}
	for _, want := range []string{`"None"`, `"last_seen": null`, lab.IntelBadIOC, `"ioc_type": "domain"`, `"ioc_type": "url"`, l.World.Intel.Shared.String()} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %s", want)
		}
	}
}

// --write-env points c2sweep at the free sources too.
func TestWriteEnv(t *testing.T) {
	l := labtest.Start(t, lab.Options{World: lab.WorldConfig{Seed: 3, Now: now}})
	p := filepath.Join(t.TempDir(), "lab.env")
	if err := l.WriteEnv(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	for _, want := range []string{
		"export ABUSECH_AUTH_KEY='" + l.Creds.AbuseCHKey + "'",
		"export THREATFOX_API_URL='" + l.URL + lab.ThreatFoxPath + "'",
		"export FEODO_URL='" + l.URL + lab.FeodoPath + "'",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("env file lacks %s", want)
		}
	}
}
