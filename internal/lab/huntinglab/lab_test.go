package huntinglab

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
)

// startLab starts a lab with Entra and the hunting APIs for one test.
// labtest.Start (every service) would import this package.
func startLab(t testing.TB, o lab.Options) *lab.Lab {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l, err := lab.Start(ctx, o, func(l *lab.Lab) ([]lab.Service, error) {
		e, err := entralab.New(l)
		if err != nil {
			return nil, err
		}
		h, err := New(l, e)
		return []lab.Service{e, h}, err
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := l.HTTPClient()
	testClients.Store(l, c)
	t.Cleanup(func() { c.CloseIdleConnections(); cancel(); l.Close(); testClients.Delete(l) })
	return l
}

var testClients sync.Map // *lab.Lab -> *http.Client

// client is the lab's one client in a test.
func client(l *lab.Lab) *http.Client {
	c, _ := testClients.Load(l)
	return c.(*http.Client)
}

// huntingOf is the hunting service of a lab startLab started.
func huntingOf(l *lab.Lab) *Service { return l.Services()[1].(*Service) }

// testClock is a settable clock shared by a lab and its clients.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type tokenAnswer struct {
	status int
	body   map[string]any
}

func postForm(t *testing.T, l *lab.Lab, path string, form url.Values) tokenAnswer {
	t.Helper()
	resp, err := client(l).PostForm(l.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: body is not JSON: %v", path, err)
	}
	return tokenAnswer{resp.StatusCode, body}
}
