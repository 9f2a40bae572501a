package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"c2sweep/internal/clock"
	"c2sweep/internal/hunting"
	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/shodan"
	"c2sweep/internal/store"
)

// tokenRecorder remembers every bearer token the lab issued to the sweep.
type tokenRecorder struct {
	azcore.TokenCredential
	mu     sync.Mutex
	tokens []string
}

func (r *tokenRecorder) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := r.TokenCredential.GetToken(ctx, o)
	if tok.Token != "" {
		r.mu.Lock()
		r.tokens = append(r.tokens, tok.Token)
		r.mu.Unlock()
	}
	return tok, err
}

// A sweep writes its secrets nowhere: not in logs (at debug level), the
// returned error, the summary (JSON and text), the result files or the
// state database, whether it succeeds, meets faults, or is refused.
func TestRunLeaksNoSecrets(t *testing.T) {
	for _, tc := range []struct {
		name      string
		faults    lab.Faults
		shodanKey string // "" for the lab's
		secret    string // "" for the lab's
		wantErr   bool
		wantToken bool // the lab issued tokens
	}{
		// The faults draw from one seeded sequence that Shodan's counts share:
		// 5xx at 0.9 makes sure the few hunting calls meet them.
		{name: "faults", faults: lab.Faults{Rate5xx: 0.9, Only: "graph", Error200Rate: 0.5}, wantToken: true},
		{name: "token refused", faults: lab.Faults{TokenExpiry: time.Nanosecond}, wantErr: true, wantToken: true},
		{name: "client secret refused", secret: "abc8Q~WrongSecretWrongSecretWrongSecret00", wantErr: true},
		// The pre-flight signs in before Shodan is asked anything.
		{name: "shodan key refused", shodanKey: "WrongShodanKeyWrongShodanKey0000", wantErr: true, wantToken: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}, Faults: tc.faults})
			var logs bytes.Buffer
			var logMu sync.Mutex
			log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))

			secrets := []string{l.Creds.ShodanKey, l.Creds.ClientSecret}
			key, secret := l.Creds.ShodanKey, l.Creds.ClientSecret
			if tc.shodanKey != "" {
				key = tc.shodanKey
				secrets = append(secrets, key)
			}
			if tc.secret != "" {
				secret = tc.secret
				secrets = append(secrets, secret)
			}
			sc := l.shodanClient(t, func(o *shodan.Options) { o.Key, o.Logger, o.Backoff = key, log, time.Millisecond })
			cred, err := hunting.NewCredential(l.auth(secret))
			if err != nil {
				t.Fatal(err)
			}
			rec := &tokenRecorder{TokenCredential: cred}
			hunter := hunting.NewGraph(hunting.Options{BaseURL: l.URL, Credential: rec, HTTPClient: l.client, PerMinute: ptHuntingPerMin,
				Logger: log, Clock: noWait{clock.Real}})
			dir := t.TempDir()
			stateDir := filepath.Join(dir, "state")
			st, err := store.Open(context.Background(), filepath.Join(stateDir, "state.db"), store.Options{KeepRows: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Lock(context.Background(), false); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "results")
			p := &pipeline.Pipeline{Sources: viaShodan(sc), Hunter: hunter, Store: st, Log: log}
			s, runErr := p.Run(context.Background(), pipeline.Options{Hunts: ptHunts(), API: "graph", OutDir: out, Limits: kql.Limits{MaxIPs: 5}})
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			if (runErr != nil) != tc.wantErr {
				t.Fatalf("run error %v, want error: %v", runErr, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(runErr, pipeline.ErrCannotRun) {
				t.Errorf("error %v is not ErrCannotRun", runErr)
			}
			rec.mu.Lock()
			tokens := append([]string(nil), rec.tokens...)
			rec.mu.Unlock()
			if tc.wantToken != (len(tokens) > 0) {
				t.Fatalf("the lab issued %d tokens", len(tokens))
			}
			for _, tok := range tokens {
				secrets = append(secrets, tok)
				// The signature alone is as secret as the token.
				if i := strings.LastIndexByte(tok, '.'); i >= 0 && len(tok)-i > 16 {
					secrets = append(secrets, tok[i+1:])
				}
			}

			// Everything the run produced.
			artifacts := map[string][]byte{}
			logMu.Lock()
			artifacts["log"] = bytes.Clone(logs.Bytes())
			logMu.Unlock()
			if runErr != nil {
				artifacts["error"] = []byte(runErr.Error())
			}
			if s != nil {
				b, err := json.Marshal(s)
				if err != nil {
					t.Fatal(err)
				}
				artifacts["summary json"] = b
				var text bytes.Buffer
				s.WriteText(&text, true)
				artifacts["summary text"] = text.Bytes()
				if b, err = json.Marshal(s.NewHits); err != nil {
					t.Fatal(err)
				}
				artifacts["hits"] = b
			}
			for _, root := range []string{out, stateDir} {
				filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					b, err := os.ReadFile(path)
					if err != nil {
						t.Errorf("%s: %v", path, err)
						return nil
					}
					artifacts[path] = b
					return nil
				})
			}
			if _, ok := artifacts[filepath.Join(stateDir, "state.db")]; !ok {
				t.Fatalf("no state database among %d artifacts", len(artifacts))
			}
			if !tc.wantErr && len(artifacts) < 5 {
				t.Fatalf("too few artifacts to check: %d", len(artifacts))
			}
			if tc.faults.Rate5xx > 0 && (s.Totals.HuntingCalls <= s.Totals.Queries || sc.Stats().Retries == 0) {
				t.Errorf("the faults did not bite: %d hunting calls for %d queries, %d Shodan retries",
					s.Totals.HuntingCalls, s.Totals.Queries, sc.Stats().Retries)
			}
			if len(artifacts["log"]) == 0 {
				t.Fatal("nothing was logged")
			}
			for name, b := range artifacts {
				for _, sec := range secrets {
					if bytes.Contains(b, []byte(sec)) {
						t.Errorf("%s contains a secret (%d bytes, starts %.6q)", name, len(sec), sec)
					}
				}
			}
			t.Logf("%d artifacts (%d log bytes) checked against %d secrets (%d tokens); outcome %v, error %v",
				len(artifacts), len(artifacts["log"]), len(secrets), len(tokens), outcomeOf(s), runErr)
		})
	}
}

func outcomeOf(s *pipeline.Summary) pipeline.Outcome {
	if s == nil {
		return ""
	}
	return s.Outcome
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
