package hunting

import (
	"context"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"c2sweep/internal/clock"
)

// TokenSource is the one bearer-token cache of c2sweep's Entra-signed
// clients (hunting here, Defender indicators in package defender): a token
// kept until a minute before its expiry, renewed past azidentity's cache
// when a service refuses it.
type TokenSource struct{ s tokenSource }

// NewTokenSource hands out cred's tokens for scope, timed by clk.
func NewTokenSource(cred azcore.TokenCredential, scope string, clk clock.Clock) *TokenSource {
	return &TokenSource{tokenSource{cred: cred, scope: scope, now: clock.Or(clk).Now}}
}

// Token returns a cached token valid for at least another minute, or a
// new one; a failure matches ErrAuth.
func (t *TokenSource) Token(ctx context.Context) (string, error) { return t.s.token(ctx) }

// Renew replaces a token the service refused; it fails when no different
// token can be had.
func (t *TokenSource) Renew(ctx context.Context, refused string) (string, error) {
	return t.s.renew(ctx, refused)
}

// Limiter keeps calls at most n over any sliding window of length per, the
// way the Microsoft APIs count them.
type Limiter struct{ w *window }

// NewLimiter allows n calls over any window of per, timed by clk.
func NewLimiter(n int, per time.Duration, clk clock.Clock) *Limiter {
	return &Limiter{newWindow(n, per, clock.Or(clk))}
}

// Wait blocks until a call may be sent and reserves it; call done when its
// answer has arrived.
func (l *Limiter) Wait(ctx context.Context) (done func(), err error) { return l.w.wait(ctx) }
