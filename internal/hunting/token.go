package hunting

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// tokenSource hands out the bearer token for one scope. azidentity caches
// tokens until shortly before the expiry Entra advertised; a token the API
// refuses earlier (revoked, clock skew, early expiry) would be handed out
// again. renew therefore asks for a token issued after now, with the claims
// challenge a service sends in that case ({"access_token":{"nbf":...}}),
// which makes azidentity bypass its cache.
type tokenSource struct {
	cred  azcore.TokenCredential
	scope string
	now   func() time.Time

	mu  sync.Mutex
	tok azcore.AccessToken
}

// token returns a cached token valid for at least another minute, or a new one.
func (s *tokenSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok.Token != "" && s.now().Add(time.Minute).Before(s.tok.ExpiresOn) {
		return s.tok.Token, nil
	}
	tok, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.scope}})
	if err != nil {
		return "", authError(err)
	}
	s.tok = tok
	return tok.Token, nil
}

// renew replaces a token the API refused. It fails when no different token
// can be had.
func (s *tokenSource) renew(ctx context.Context, refused string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok.Token != "" && s.tok.Token != refused {
		return s.tok.Token, nil // another call renewed it already
	}
	claims := `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(s.now().Unix(), 10) + `"}}}`
	tok, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.scope}, Claims: claims})
	if err != nil || tok.Token == refused {
		// Credentials that cannot take claims (Azure CLI) may still hold a
		// newer token.
		tok, err = s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.scope}})
	}
	if err != nil {
		return "", authError(err)
	}
	if tok.Token == refused {
		return "", fmt.Errorf("%w: the service refused the token and the credential gave no other", ErrAuth)
	}
	s.tok = tok
	return tok.Token, nil
}

// authError makes a credential's failure match ErrAuth. A *SignInError
// says what failed itself; "not authorised" would mislabel a network or
// TLS failure.
func authError(err error) error {
	var se *SignInError
	if errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrAuth, err)
}
