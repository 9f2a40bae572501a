// Package hunting runs KQL against the hunting backends a sweep targets
// (Backends): Microsoft Graph runHuntingQuery (default, Defender XDR
// advanced hunting), the legacy Defender for Endpoint advancedqueries API,
// and Microsoft Sentinel's Log Analytics query API, signed in to Entra ID
// with azidentity.
//
// Sentinel goes through a small client of our own rather than the Azure
// SDK's azlogs: it is the same client as the other two (one limiter, the one
// retry helper, token renewal, body caps, rows streamed to the caller), so a
// 429, a truncated answer or a refusal means the same on every backend;
// azlogs reads a whole answer (up to ~104 MB) into memory, brings its own
// retry policy and a new module, and still leaves the PartialError inside a
// 200 to the caller.
package hunting

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Column is one column of a result schema.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Row is one result row, keyed by column name. Numbers arrive as
// json.Number so that large values survive.
type Row map[string]any

// Request is one query to run.
type Request struct {
	Query string
	// Start and End bound the data the query may see. Graph receives them
	// as Timespan; the query text carries the same bound for MDE.
	Start, End time.Time
}

// Stats describes one finished call.
type Stats struct {
	Rows      int
	Attempts  int // HTTP calls made, retries included
	Throttled int // 429s received
	Duration  time.Duration
}

// Hunter runs one query. It calls schema once, before the first row, then
// row for every result row in order, streaming: rows are never all held in
// memory. An error from row stops the call and is returned. Errors that the
// API reports are *APIError; ErrTooLarge marks a query that must be split.
type Hunter interface {
	Hunt(ctx context.Context, req Request, schema func([]Column) error, row func(Row) error) (Stats, error)
}

// SignInChecker is implemented by hunters that can sign in ahead of the
// first query.
type SignInChecker interface {
	SignIn(ctx context.Context) error
}

// MaxRows is the most rows any of the hunting APIs returns for one query;
// an answer that long may have been cut.
const MaxRows = 100000

// ErrTooLarge is matched (errors.Is) by an error for a query the service
// refused as too large or over its limits; the caller should split it.
var ErrTooLarge = errors.New("query too large or over the service's limits")

// ErrAuth is matched by sign-in and permission failures; retrying the same
// call will not help.
var ErrAuth = errors.New("not authorised")

// APIError is an error the hunting API returned.
type APIError struct {
	API        string // "graph" or "mde"
	Status     int
	Code       string
	Message    string
	RequestID  string
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.API, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}
