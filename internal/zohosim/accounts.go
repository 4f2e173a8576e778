package zohosim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Zoho Accounts' rations per refresh token (doc section 3).
const (
	tokenLifetime      = time.Hour
	refreshWindow      = 10 * time.Minute
	refreshesPerWindow = 10
	maxLiveTokens      = 15
)

var accessDeniedBody = obj{
	"error":             "Access Denied",
	"error_description": "You have made too many requests continuously. Please try again after some time.",
	"status":            "failure",
}

// token answers a refresh or the exchange of a grant code. Like Accounts,
// it reports every error with HTTP 200 except the throttle, whose status is
// configurable. The client is checked first: a client id is registered in
// one data centre, so another data centre's server answers invalid_client
// whatever else the request holds, and its own server answers
// invalid_client_secret or invalid_code to a request with the right id and
// anything else wrong (zoho-crm-api.md section 3). connect tells the data
// centres apart by exactly this, without sending the secret or the code.
func (s *Server) token(r *http.Request) (int, any) {
	r.ParseForm() // a malformed body leaves the form empty, which fails below
	f := r.Form
	switch {
	case f.Get("client_id") != s.opts.ClientID:
		return http.StatusOK, obj{"error": "invalid_client"}
	case f.Get("client_secret") != s.opts.ClientSecret:
		return http.StatusOK, obj{"error": "invalid_client_secret"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock.Now()
	var refreshToken string
	switch f.Get("grant_type") {
	case "refresh_token":
		if s.revoked || f.Get("refresh_token") != s.opts.RefreshToken {
			return http.StatusOK, obj{"error": "invalid_code"}
		}
	case "authorization_code":
		c, ok := s.codes[f.Get("code")]
		if !ok || !now.Before(c.expires) {
			return http.StatusOK, obj{"error": "invalid_code"}
		}
		if !c.used {
			// Only the first exchange yields the refresh token (doc section 3).
			refreshToken = s.opts.RefreshToken
		}
		c.used = true
	default:
		return http.StatusOK, obj{"error": "unsupported_grant_type"}
	}
	if s.throttledLocked(now) {
		s.stats.AccessDenied++
		return s.opts.AccessDeniedStatus, accessDeniedBody
	}
	s.refreshes = append(s.refreshes, now)
	s.stats.TokensIssued++
	body := obj{
		"access_token": s.issueLocked(now),
		"api_domain":   s.opts.APIDomain,
		"token_type":   "Bearer",
		"expires_in":   int(tokenLifetime / time.Second),
	}
	if refreshToken != "" {
		body["refresh_token"] = refreshToken
	}
	if s.opts.LegacyTokenResponse {
		body["expires_in_sec"] = int(tokenLifetime / time.Second)
		body["expires_in"] = int(tokenLifetime / time.Millisecond)
	}
	return http.StatusOK, body
}

// TokenRequest is a request the token endpoint received, as it arrived.
type TokenRequest struct {
	Form url.Values // the query and the form body together
	// Raw is the request line, headers and body as text, so that a test can
	// tell whether a value reached this server in any part of the request.
	Raw string
}

// recordToken keeps what a token request carried, before any fault, since
// a request that gets no answer has still been received.
func (s *Server) recordToken(r *http.Request, body []byte) {
	form := r.URL.Query()
	if posted, err := url.ParseQuery(string(body)); err == nil {
		for k, v := range posted {
			form[k] = append(form[k], v...)
		}
	}
	var raw strings.Builder
	fmt.Fprintf(&raw, "%s %s\n", r.Method, r.URL.RequestURI())
	_ = r.Header.Write(&raw)
	raw.Write(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, TokenRequest{Form: form, Raw: raw.String()})
}

// TokenRequests returns every request the token endpoint received since New,
// in order: tests check what a client sent to which data centre.
func (s *Server) TokenRequests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// grantCode is a self-client's grant code: good until it expires, and for
// one refresh token.
type grantCode struct {
	expires time.Time
	used    bool
}

// GrantCode mints a grant code, as the API console's Self Client > Generate
// Code does, valid for the given simulated time (Zoho offers 3 to 10
// minutes). Exchanged with grant_type=authorization_code, it yields an
// access token and, the first time only, the refresh token of Options. It
// belongs to this server alone: another simulator, standing for another data
// centre, answers invalid_code (or invalid_client, not knowing the client).
func (s *Server) GrantCode(valid time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := "1000." + randomHex() + "." + randomHex()
	s.codes[code] = &grantCode{expires: s.opts.Clock.Now().Add(valid)}
	return code
}

// throttledLocked reports whether a refresh at now is refused, tripping
// the cool-down when it is the one too many for the sliding window.
func (s *Server) throttledLocked(now time.Time) bool {
	if now.Before(s.deniedUntil) {
		return true
	}
	kept := s.refreshes[:0]
	for _, t := range s.refreshes {
		if now.Sub(t) < refreshWindow {
			kept = append(kept, t)
		}
	}
	s.refreshes = kept
	if len(s.refreshes) < refreshesPerWindow {
		return false
	}
	s.deniedUntil = now.Add(s.opts.AccessDeniedCooldown)
	return true
}

// issueLocked mints an access token, silently invalidating the oldest live
// one when the refresh token already has its fill of them.
func (s *Server) issueLocked(now time.Time) string {
	live := s.issued[:0]
	for _, tok := range s.issued {
		if s.liveLocked(tok, now) {
			live = append(live, tok)
		} else {
			delete(s.tokens, tok)
		}
	}
	s.issued = live
	if len(s.issued) >= maxLiveTokens {
		delete(s.tokens, s.issued[0])
		s.issued = s.issued[1:]
	}
	tok := "1000." + randomHex() + "." + randomHex()
	s.tokens[tok] = now.Add(tokenLifetime)
	s.issued = append(s.issued, tok)
	s.everIssued = append(s.everIssued, tok)
	return tok
}

// IssuedTokens returns every access token ever issued, live or not, so that
// tests can scan logs and answers for leaks.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.everIssued...)
}

func randomHex() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) liveLocked(tok string, now time.Time) bool {
	exp, ok := s.tokens[tok]
	return ok && now.Before(exp)
}

// IssueToken mints a live access token without a refresh call. It counts
// toward the 15 live tokens but not toward the refresh window or Stats.
func (s *Server) IssueToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(s.opts.Clock.Now())
}

// LiveTokens reports how many access tokens the CRM would accept now.
func (s *Server) LiveTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock.Now()
	n := 0
	for tok := range s.tokens {
		if s.liveLocked(tok, now) {
			n++
		}
	}
	return n
}

// InvalidateToken makes the CRM refuse tok from now on.
func (s *Server) InvalidateToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, tok)
}

// ExpireAllTokens ends every access token at once, as if an hour had passed
// for all of them.
func (s *Server) ExpireAllTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
	s.issued = nil
}

// RevokeRefreshToken makes every later refresh answer invalid_code.
// Access tokens already issued stay live until they expire.
func (s *Server) RevokeRefreshToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// authorize checks a CRM call's Authorization header, which must use the
// Zoho-oauthtoken scheme exactly.
func (s *Server) authorize(header string) *apiError {
	const scheme = "Zoho-oauthtoken "
	tok, ok := strings.CutPrefix(header, scheme)
	if !ok || tok == "" {
		return errAuthFailure
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.liveLocked(tok, s.opts.Clock.Now()) {
		return errInvalidToken
	}
	return nil
}
