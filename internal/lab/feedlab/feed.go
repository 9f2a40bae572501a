// Package feedlab serves the world's C2 feeds and banner file under
// lab.FeedsPath, each with an ETag and Last-Modified (304 to a matching
// conditional GET):
//
//	/feeds/c2.txt                  text feed: comments, blank lines, an ip:port, a bad address
//	/feeds/IPC2s.csv               CSV feed: commented header "# ip, ioc, first_seen",
//	                               spaces after commas, a label column, None, a bad address
//	/feeds/frozen.txt              a text feed last modified 40 days ago (stale)
//	/feeds/gone.txt                404, a feed that vanished
//	/feeds/shodan-download.json.gz a `shodan download` banner file (gzip JSON lines)
package feedlab

import (
	"bytes"
	"net/http"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/feodolab"
)

// The feeds' names under lab.FeedsPath.
const (
	TextFeed   = "c2.txt"
	CSVFeed    = "IPC2s.csv"
	StaleFeed  = "frozen.txt"
	GoneFeed   = "gone.txt"
	BannerFile = "shodan-download.json.gz"
)

type file struct {
	body     []byte
	ctype    string
	modified time.Time
	etag     string
}

// Service serves the feeds.
type Service struct{ files map[string]file }

// New builds the service over l.
func New(l *lab.Lab) (*Service, error) {
	in := &l.World.Intel
	s := &Service{files: map[string]file{}}
	add := func(name, ctype string, body []byte, mod time.Time) {
		s.files[lab.FeedsPath+name] = file{body, ctype, mod, feodolab.ETag(body)}
	}
	add(TextFeed, "text/plain; charset=utf-8", in.TextFeed, in.FeedModified)
	add(CSVFeed, "text/csv; charset=utf-8", in.CSVFeed, in.FeedModified)
	add(StaleFeed, "text/plain; charset=utf-8", in.StaleFeed, in.StaleFeedModified)
	add(BannerFile, "application/gzip", l.World.BannerFile(), in.FeedModified)
	return s, nil
}

// Routes implements lab.Service.
func (s *Service) Routes() []lab.Route {
	return []lab.Route{{Path: lab.FeedsPath, Name: "feed", Handler: s}}
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := s.files[r.URL.Path]
	if !ok {
		// GoneFeed and any other name: the way GitHub's raw host answers.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("404: Not Found"))
		return
	}
	w.Header().Set("Content-Type", f.ctype)
	w.Header().Set("ETag", f.etag)
	http.ServeContent(w, r, "", f.modified, bytes.NewReader(f.body))
}
