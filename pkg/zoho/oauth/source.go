// Package oauth provides Zoho access tokens to every function instance of a
// deployment while staying inside Zoho Accounts' limits: 10 new tokens per
// 10 minutes and 15 live tokens per refresh token. Instances share one token
// through a Store; only the holder of a lease refreshes, ahead of expiry.
package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"golang.org/x/sync/singleflight"
)

// Config configures a Source. Secret and Store are required.
type Config struct {
	Secret     secret.Reader
	Store      Store
	HTTPClient *http.Client // default zoho.NewHTTPClient()

	// DataCenter and Environment apply unless the secret names its own.
	DataCenter  zoho.DataCenter  // default us
	Environment zoho.Environment // default production
	// AccountsURL overrides the data centre's accounts server (the
	// simulator); check it with zoho.CheckOverrideURL first.
	AccountsURL string

	Now          func() time.Time // default time.Now; tests share the simulator's clock
	RefreshAhead time.Duration    // refresh this long before expiry; default 5m
	LeaseFor     time.Duration    // how long a refresher may take; default 30s
	PollEvery    time.Duration    // how often a waiting instance re-reads; default 100ms
	MaxWait      time.Duration    // how long to wait for another refresher; default 10s
	// ThrottleCooldown follows Zoho's Access Denied, which users report
	// clears only after 15 to 30 minutes; FailureCooldown follows any other
	// refusal (wrong client, revoked token) until an operator mends the secret.
	ThrottleCooldown time.Duration // default 15m
	FailureCooldown  time.Duration // default 1m
	// SaveCooldown follows a refresh whose token the store could not keep
	// (sealing failed: the key disabled, the key service throttling). The
	// refresher keeps its token; without a pause each other instance would
	// refresh in turn as the lease lapsed, one token per LeaseFor, and
	// exhaust Zoho's 10 per 10 minutes in five. The default, one token per
	// 5 minutes, stays within that and within the 15 live tokens per
	// refresh token (a token lives an hour), however long the key is out.
	SaveCooldown time.Duration // default 5m
	Logger       *slog.Logger
}

// Source is a zoho.TokenSource. It is safe for concurrent use; within a
// process at most one refresh or store read runs at a time.
type Source struct {
	cfg   Config
	owner string

	forceSecret atomic.Bool
	group       singleflight.Group

	mu  sync.Mutex
	tok zoho.Token
	key string // store key of the credentials last read
	// refused is the last token Zoho refused. Until the store drops it, a
	// concurrent read could adopt it again and spend a call on a sure 401.
	refused string
}

var _ zoho.TokenSource = (*Source)(nil)

// NewSource returns a Source for cfg.
func NewSource(cfg Config) (*Source, error) {
	if cfg.Secret == nil || cfg.Store == nil {
		return nil, errors.New("oauth: Config.Secret and Config.Store are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.RefreshAhead, 5*time.Minute)
	def(&cfg.LeaseFor, 30*time.Second)
	def(&cfg.PollEvery, 100*time.Millisecond)
	def(&cfg.MaxWait, 10*time.Second)
	def(&cfg.ThrottleCooldown, 15*time.Minute)
	def(&cfg.FailureCooldown, time.Minute)
	def(&cfg.SaveCooldown, 5*time.Minute)
	if cfg.DataCenter == "" {
		cfg.DataCenter = zoho.US
	}
	if cfg.Environment == "" {
		cfg.Environment = zoho.Production
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = zoho.NewHTTPClient()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var id [8]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	return &Source{cfg: cfg, owner: hex.EncodeToString(id[:])}, nil
}

// Token returns an access token valid for at least RefreshAhead, or, while
// another instance is refreshing, the current one if it is still valid.
func (s *Source) Token(ctx context.Context) (zoho.Token, error) {
	s.mu.Lock()
	tok := s.tok
	s.mu.Unlock()
	if tok.AccessToken != "" && s.cfg.Now().Add(s.cfg.RefreshAhead).Before(tok.Expiry) {
		return tok, nil
	}
	v, err, _ := s.group.Do("", func() (any, error) { return s.obtain(ctx) })
	if err != nil {
		return zoho.Token{}, err
	}
	return v.(zoho.Token), nil
}

// Invalidate drops tok after Zoho refused it: from this process, from the
// store if it is still the shared token there, and it forces the next secret
// read to bypass the cache, since the secret may have been rotated.
func (s *Source) Invalidate(ctx context.Context, tok zoho.Token) error {
	s.forceSecret.Store(true)
	s.mu.Lock()
	s.refused = tok.AccessToken
	if s.tok.AccessToken == tok.AccessToken {
		s.tok = zoho.Token{}
	}
	key := s.key
	s.mu.Unlock()
	if key == "" {
		return nil
	}
	if err := s.cfg.Store.Drop(ctx, key, tok.AccessToken); err != nil {
		return fmt.Errorf("oauth: dropping the refused token: %w", err)
	}
	return nil
}

// Credentials returns the parsed secret, through the secret cache. Both
// kinds of failure are retryable *zoho.APIError: a request can succeed once
// the secret is mended or readable again; their codes are secret.CodeInvalid
// and secret.CodeUnavailable. A broken secret's error wraps
// *secret.ConfigError, which names the field.
func (s *Source) Credentials(ctx context.Context) (Credentials, error) {
	raw, err := s.cfg.Secret.SecretString(ctx, s.forceSecret.Swap(false))
	if err != nil {
		return Credentials{}, &zoho.APIError{Op: "token", Code: secret.CodeUnavailable, Class: zoho.Retryable, IDIndex: -1,
			Message: "reading the secret", Err: err}
	}
	c, err := ParseSecret(raw)
	if err != nil {
		obs.MetricsFrom(ctx).Count("SecretInvalid", 1)
		field := "" // the first field at fault; the error names them all
		if ce := (*secret.ConfigError)(nil); errors.As(err, &ce) {
			field = ce.Field
		}
		s.cfg.Logger.ErrorContext(ctx, "the Zoho secret is unusable: no access token until it is mended",
			"code", secret.CodeInvalid, "field", field, "error", err)
		return Credentials{}, &zoho.APIError{Op: "token", Code: secret.CodeInvalid, Class: zoho.Retryable, IDIndex: -1,
			Message: "the secret is unusable", Err: err}
	}
	return c, nil
}

// Shared reads the record the store keeps for the secret's credentials,
// as Token would find it, without taking the lease or refreshing: an
// operator's check sees a refresh pause before anything could hit it. It is
// the zero Record for credentials that cannot refresh (a ready token).
func (s *Source) Shared(ctx context.Context) (Record, error) {
	creds, err := s.Credentials(ctx)
	if err != nil || !creds.CanRefresh() {
		return Record{}, err
	}
	rec, err := s.cfg.Store.Load(ctx, s.storeKey(creds))
	if err != nil {
		return Record{}, retryable("reading the shared token", err)
	}
	return rec, nil
}

func (s *Source) obtain(ctx context.Context) (zoho.Token, error) {
	creds, err := s.Credentials(ctx)
	if err != nil {
		return zoho.Token{}, err
	}
	if !creds.CanRefresh() {
		// Someone else refreshes this token; look at the secret again soon.
		return s.adopt("", creds, Record{AccessToken: creds.AccessToken,
			ExpiresAt: s.cfg.Now().Add(s.cfg.RefreshAhead + time.Minute)}), nil
	}
	key := s.storeKey(creds)
	giveUp := time.Now().Add(s.cfg.MaxWait)
	for {
		rec, err := s.cfg.Store.Load(ctx, key)
		if err != nil {
			if errors.Is(err, ErrSealing) {
				obs.MetricsFrom(ctx).Count("TokenSealErrors", 1)
			}
			if tok, ok := s.own(key, s.cfg.Now()); ok {
				return tok, nil // still good, whatever the store or the key service says
			}
			return zoho.Token{}, retryable("reading the shared token", err)
		}
		s.mu.Lock()
		if rec.AccessToken != "" && rec.AccessToken == s.refused {
			rec.AccessToken = "" // refused here; as good as gone, whatever the store says yet
		}
		s.mu.Unlock()
		now := s.cfg.Now()
		switch {
		case rec.UsableAt(now.Add(s.cfg.RefreshAhead)):
			return s.adopt(key, creds, rec), nil
		case now.Before(rec.BlockedUntil):
			if rec.UsableAt(now) {
				return s.adopt(key, creds, rec), nil
			}
			if tok, ok := s.own(key, now); ok {
				return tok, nil
			}
			return zoho.Token{}, &zoho.APIError{Op: "token", Class: zoho.Retryable, IDIndex: -1,
				Message: fmt.Sprintf("refreshing is paused until %s after Zoho refused a refresh or its token could not be stored", rec.BlockedUntil.UTC().Format(time.RFC3339))}
		case rec.LeaseOwner == "" || rec.LeaseOwner == s.owner || !now.Before(rec.LeaseUntil):
			won, err := s.cfg.Store.TryLease(ctx, key, s.owner, rec.Version, now, now.Add(s.cfg.LeaseFor))
			if err != nil {
				return zoho.Token{}, retryable("taking the refresh lease", err)
			}
			if won {
				return s.refreshUnderLease(ctx, key, creds)
			}
			continue // another instance moved first: read what it did
		case rec.UsableAt(now):
			return s.adopt(key, creds, rec), nil // still valid while the other one refreshes
		}
		if tok, ok := s.own(key, now); ok {
			return tok, nil // still valid while the other one refreshes
		}
		if time.Now().After(giveUp) {
			return zoho.Token{}, &zoho.APIError{Op: "token", Class: zoho.Retryable, IDIndex: -1,
				Message: "another instance holds the refresh lease and no token is valid"}
		}
		t := time.NewTimer(s.cfg.PollEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return zoho.Token{}, retryable("waiting for another instance's refresh", ctx.Err())
		case <-t.C:
		}
	}
}

func (s *Source) refreshUnderLease(ctx context.Context, key string, creds Credentials) (zoho.Token, error) {
	g, throttled, err := refresh(ctx, s.cfg.HTTPClient, s.accountsURL(creds), creds)
	m := obs.MetricsFrom(ctx)
	m.Count("TokenRefreshes", 1)
	if err != nil {
		m.Count("TokenRefreshErrors", 1)
	}
	// Finish the bookkeeping even if the caller's context is gone, or the
	// lease would block every instance until it lapses.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := s.cfg.Now()
	if err != nil {
		var blocked time.Time
		var apiErr *zoho.APIError
		switch {
		case throttled:
			blocked = now.Add(s.cfg.ThrottleCooldown)
		case errors.As(err, &apiErr) && apiErr.Code != "":
			blocked = now.Add(s.cfg.FailureCooldown)
		}
		s.cfg.Logger.ErrorContext(ctx, "zoho token refresh failed", "error", err, "paused_until", blocked)
		if rerr := s.cfg.Store.Release(bg, key, s.owner, blocked); rerr != nil {
			s.cfg.Logger.WarnContext(ctx, "releasing the refresh lease failed", "error", rerr)
		}
		return zoho.Token{}, err
	}
	apiDomain := g.apiDomain
	if _, _, ok := zoho.LookupAPIDomain(apiDomain); !ok && apiDomain != "" {
		s.cfg.Logger.WarnContext(ctx, "ignoring api_domain that is not a known Zoho host", "api_domain", apiDomain)
		apiDomain = ""
	}
	rec := Record{AccessToken: g.accessToken, APIDomain: apiDomain, ExpiresAt: now.Add(g.lifetime)}
	saved, err := s.cfg.Store.Save(bg, key, s.owner, rec)
	switch {
	case err != nil:
		// The token is good and this instance keeps it. The lease must not
		// just lapse: the next instance would refresh, fail to store in
		// turn, and so on until Zoho locks every instance out. So release
		// it with a pause, as after a refused refresh.
		if errors.Is(err, ErrSealing) {
			m.Count("TokenSealErrors", 1)
		}
		blocked := now.Add(s.cfg.SaveCooldown)
		s.cfg.Logger.ErrorContext(ctx, "storing the new token failed: other instances wait for it", "error", err, "paused_until", blocked)
		if rerr := s.cfg.Store.Release(bg, key, s.owner, blocked); rerr != nil {
			s.cfg.Logger.WarnContext(ctx, "releasing the refresh lease failed", "error", rerr)
		}
	case !saved:
		// Another instance took the lapsed lease; its save will share a token.
		s.cfg.Logger.WarnContext(ctx, "sharing the new token failed: the lease was lost")
	}
	s.cfg.Logger.InfoContext(ctx, "zoho access token refreshed", "expires_at", rec.ExpiresAt)
	return s.adopt(key, creds, rec), nil
}

// own returns this process's token for key while it is valid at now: the
// refresher's, when the store could not keep it, or one about to expire
// while another instance refreshes or refreshing is paused.
func (s *Source) own(key string, now time.Time) (zoho.Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != key || s.tok.AccessToken == "" || s.tok.AccessToken == s.refused || !now.Before(s.tok.Expiry) {
		return zoho.Token{}, false
	}
	return s.tok, true
}

func (s *Source) adopt(key string, creds Credentials, rec Record) zoho.Token {
	tok := zoho.Token{AccessToken: rec.AccessToken, APIURL: s.apiURL(creds, rec.APIDomain), Expiry: rec.ExpiresAt}
	s.mu.Lock()
	s.tok, s.key = tok, key
	s.mu.Unlock()
	return tok
}

// apiURL picks the CRM host: the data centre of a trusted api_domain, else
// the one the secret or configuration names, in the configured environment.
func (s *Source) apiURL(creds Credentials, apiDomain string) string {
	env := creds.Environment
	if env == "" {
		env = s.cfg.Environment
	}
	if dc, _, ok := zoho.LookupAPIDomain(apiDomain); ok {
		return dc.APIURL(env)
	}
	return s.dataCenter(creds).APIURL(env)
}

func (s *Source) accountsURL(creds Credentials) string {
	if s.cfg.AccountsURL != "" {
		return s.cfg.AccountsURL
	}
	return s.dataCenter(creds).AccountsURL()
}

func (s *Source) dataCenter(creds Credentials) zoho.DataCenter {
	if creds.DataCenter != "" {
		return creds.DataCenter
	}
	return s.cfg.DataCenter
}

// storeKey names the shared record without revealing the credentials.
func (s *Source) storeKey(creds Credentials) string {
	h := sha256.Sum256([]byte(creds.ClientID + "\x00" + creds.RefreshToken + "\x00" + s.accountsURL(creds)))
	return hex.EncodeToString(h[:16])
}

func retryable(what string, err error) error {
	return &zoho.APIError{Op: "token", Class: zoho.Retryable, IDIndex: -1, Message: what, Err: err}
}
