package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// fixture is a simulator and what a function instance needs to reach it.
type fixture struct {
	sim    *zohosim.Server
	clock  *zohosim.ManualClock
	url    string
	secret string
}

func newFixture(t *testing.T, opts zohosim.Options) *fixture {
	t.Helper()
	clock := zohosim.NewManualClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	opts.Clock = clock
	sim := zohosim.New(opts)
	url, stop := sim.Start()
	t.Cleanup(stop)
	return &fixture{sim: sim, clock: clock, url: url, secret: zohotest.SecretJSON("")}
}

// countingSecret is a secret.Reader that counts reads and fresh reads.
type countingSecret struct {
	mu    sync.Mutex
	value string
	reads int
	fresh int
}

func (c *countingSecret) SecretString(_ context.Context, fresh bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	if fresh {
		c.fresh++
	}
	return c.value, nil
}

func (f *fixture) source(t *testing.T, store oauth.Store, mutate ...func(*oauth.Config)) *oauth.Source {
	t.Helper()
	cfg := oauth.Config{
		Secret:      &countingSecret{value: f.secret},
		Store:       store,
		AccountsURL: f.url,
		Now:         f.clock.Now,
		PollEvery:   time.Millisecond,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := oauth.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stores yields a fresh in-memory store and, when moto is available, a
// DynamoDB store on a table made from template.yaml, sealing with a KMS key.
func stores(t *testing.T) map[string]func(t *testing.T) oauth.Store {
	return map[string]func(t *testing.T) oauth.Store{
		"memory": func(*testing.T) oauth.Store { return oauth.NewMemoryStore() },
		"dynamodb": func(t *testing.T) oauth.Store {
			// The lease is a conditional write racing writers: each
			// atomic, as DynamoDB applies them and a threaded moto does not.
			cfg := awstest.RequireSerial(t)
			return table.NewTokenStore(awstest.CheckExpressions(t, table.NewClient(cfg)), awstest.CreateTableFromTemplate(t, cfg, "JobsTable"),
				kmsseal.New(kms.NewFromConfig(cfg), awstest.CreateKey(t, cfg)))
		},
	}
}

// TestInstancesShareOneToken is the lock-out guard: ten instances, two
// hundred concurrent callers, the clock moved past expiry twice, and Zoho
// sees exactly three refreshes.
func TestInstancesShareOneToken(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, zohosim.Options{})
			store := newStore(t)
			sources := make([]*oauth.Source, 10)
			for i := range sources {
				sources[i] = f.source(t, store)
			}
			for round := range 3 {
				if round > 0 {
					f.clock.Advance(61 * time.Minute)
				}
				tokens := make([]string, 200)
				errs := make([]error, 200)
				var wg sync.WaitGroup
				for i := range 200 {
					wg.Go(func() {
						tok, err := sources[i%len(sources)].Token(context.Background())
						tokens[i], errs[i] = tok.AccessToken, err
					})
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("round %d caller %d: %v", round, i, err)
					}
					if tokens[i] != tokens[0] {
						t.Fatalf("round %d: callers got different tokens", round)
					}
				}
			}
			if got := f.sim.Stats().TokensIssued; got != 3 {
				t.Fatalf("Zoho issued %d tokens, want exactly 3", got)
			}
		})
	}
}

func TestRefreshesAheadOfExpiry(t *testing.T) {
	f := newFixture(t, zohosim.Options{})
	s := f.source(t, oauth.NewMemoryStore())
	first, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(50 * time.Minute)
	if tok, _ := s.Token(context.Background()); tok.AccessToken != first.AccessToken {
		t.Fatal("refreshed 10 minutes before expiry; want reuse until the 5-minute margin")
	}
	f.clock.Advance(6 * time.Minute)
	second, err := s.Token(context.Background())
	if err != nil || second.AccessToken == first.AccessToken {
		t.Fatalf("4 minutes before expiry: %v, same token %v; want a new one", err, second.AccessToken == first.AccessToken)
	}
	if got := f.sim.Stats().TokensIssued; got != 2 {
		t.Fatalf("%d tokens issued, want 2", got)
	}
}

// TestAccessDeniedPausesRefreshing: after Zoho's throttle no instance asks
// again until the cool-down has passed, since asking prolongs the lock-out.
func TestAccessDeniedPausesRefreshing(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, zohosim.Options{})
			store := newStore(t)
			a, b := f.source(t, store), f.source(t, store)
			f.sim.Script(zohosim.EndpointToken, zohosim.Fault{Kind: zohosim.AccessDenied})
			_, err := a.Token(context.Background())
			var apiErr *zoho.APIError
			if !errors.As(err, &apiErr) || !apiErr.Retryable() {
				t.Fatalf("err = %v, want a retryable token error", err)
			}
			for _, s := range []*oauth.Source{a, b, a} {
				if _, err := s.Token(context.Background()); err == nil {
					t.Fatal("got a token during the cool-down")
				}
			}
			if got := f.sim.Stats().RefreshRequests; got != 1 {
				t.Fatalf("%d refresh requests during the cool-down, want 1", got)
			}
			f.clock.Advance(16 * time.Minute)
			if _, err := b.Token(context.Background()); err != nil {
				t.Fatalf("after the cool-down: %v", err)
			}
		})
	}
}

// TestStaleInstanceKeepsFreshToken: an instance holding an old token that
// Zoho refuses must not throw away the token another instance just made.
func TestStaleInstanceKeepsFreshToken(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, zohosim.Options{})
			store := newStore(t)
			a, b := f.source(t, store), f.source(t, store)
			old, err := a.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Zoho revokes the token; b notices first and refreshes.
			f.sim.InvalidateToken(old.AccessToken)
			if err := b.Invalidate(context.Background(), old); err != nil {
				t.Fatal(err)
			}
			fresh, err := b.Token(context.Background())
			if err != nil || fresh.AccessToken == old.AccessToken {
				t.Fatalf("b: %v; want a new token", err)
			}
			// Now a, still holding the old token, is refused too.
			if err := a.Invalidate(context.Background(), old); err != nil {
				t.Fatal(err)
			}
			got, err := a.Token(context.Background())
			if err != nil || got.AccessToken != fresh.AccessToken {
				t.Fatalf("a: %v; want b's fresh token", err)
			}
			if n := f.sim.Stats().TokensIssued; n != 2 {
				t.Fatalf("%d tokens issued, want 2", n)
			}
		})
	}
}

func TestAPIDomainTrustedOnlyForZohoHosts(t *testing.T) {
	tests := []struct {
		apiDomain string
		env       zoho.Environment
		want      string
	}{
		{"https://www.zohoapis.eu", zoho.Production, "https://www.zohoapis.eu"},
		{"https://www.zohoapis.eu", zoho.Sandbox, "https://sandbox.zohoapis.eu"},
		{"https://www.zohoapis.ca", zoho.Developer, "https://developer.zohoapis.ca"},
		{"https://www.zohoapis.com.evil.test", zoho.Production, "https://www.zohoapis.com"},
		{"http://169.254.169.254", zoho.Production, "https://www.zohoapis.com"},
		{"https://www.zohoapis.com:444", zoho.Production, "https://www.zohoapis.com"},
	}
	for _, tt := range tests {
		f := newFixture(t, zohosim.Options{APIDomain: tt.apiDomain})
		s := f.source(t, oauth.NewMemoryStore(), func(c *oauth.Config) { c.Environment = tt.env })
		tok, err := s.Token(context.Background())
		if err != nil || tok.APIURL != tt.want {
			t.Errorf("api_domain %s in %s: API URL %q, %v; want %q", tt.apiDomain, tt.env, tok.APIURL, err, tt.want)
		}
	}
}

func TestSecretDataCentreWins(t *testing.T) {
	f := newFixture(t, zohosim.Options{APIDomain: "http://127.0.0.1"}) // ignored: not a Zoho host
	f.secret = `{"client_id":"1000.SIMCLIENT","client_secret":"simsecret","refresh_token":"1000.simrefresh","data_center":"ca","environment":"sandbox"}`
	s := f.source(t, oauth.NewMemoryStore(), func(c *oauth.Config) { c.DataCenter = zoho.EU })
	tok, err := s.Token(context.Background())
	if err != nil || tok.APIURL != "https://sandbox.zohoapis.ca" {
		t.Fatalf("API URL %q, %v; want the secret's data centre and environment", tok.APIURL, err)
	}
}

func TestReadyAccessToken(t *testing.T) {
	f := newFixture(t, zohosim.Options{})
	sec := &countingSecret{value: `{"access_token":"1000.external"}`}
	s := f.source(t, oauth.NewMemoryStore(), func(c *oauth.Config) { c.Secret = sec })
	tok, err := s.Token(context.Background())
	if err != nil || tok.AccessToken != "1000.external" {
		t.Fatalf("got %v; want the secret's token", err)
	}
	if err := s.Invalidate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	sec.value = `{"access_token":"1000.rotated"}`
	tok, err = s.Token(context.Background())
	if err != nil || tok.AccessToken != "1000.rotated" || sec.fresh != 1 {
		t.Fatalf("after a 401: %v, fresh reads %d; want the rotated token from a fresh read", err, sec.fresh)
	}
	if n := f.sim.Stats().RefreshRequests; n != 0 {
		t.Fatalf("%d refreshes; a ready token must never be refreshed here", n)
	}
}

func TestBrokenSecretIsAnError(t *testing.T) {
	f := newFixture(t, zohosim.Options{})
	f.secret = `{"client_id":"x"}`
	s := f.source(t, oauth.NewMemoryStore())
	_, err := s.Token(context.Background())
	var ce *secret.ConfigError
	if !errors.As(err, &ce) || ce.Field != "client_secret" {
		t.Fatalf("err = %v, want a *secret.ConfigError naming client_secret", err)
	}
	var apiErr *zoho.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != secret.CodeInvalid || !apiErr.Retryable() {
		t.Fatalf("err = %v, want a retryable %s", err, secret.CodeInvalid)
	}
	if n := f.sim.Stats().RefreshRequests; n != 0 {
		t.Fatalf("%d refreshes with broken credentials", n)
	}
}

func TestRevokedRefreshTokenPausesBriefly(t *testing.T) {
	f := newFixture(t, zohosim.Options{})
	f.sim.RevokeRefreshToken()
	s := f.source(t, oauth.NewMemoryStore())
	for range 3 {
		_, err := s.Token(context.Background())
		var apiErr *zoho.APIError
		if !errors.As(err, &apiErr) || !apiErr.Retryable() {
			t.Fatalf("err = %v", err)
		}
	}
	if n := f.sim.Stats().RefreshRequests; n != 1 {
		t.Fatalf("%d refresh requests, want 1 before the pause ends", n)
	}
	f.clock.Advance(2 * time.Minute)
	if _, err := s.Token(context.Background()); err == nil {
		t.Fatal("revoked token produced an access token")
	}
	if n := f.sim.Stats().RefreshRequests; n != 2 {
		t.Fatalf("%d refresh requests, want 2 after the pause", n)
	}
}

// flakyFetcher is a secret.Fetcher that fails while down and counts reads.
type flakyFetcher struct {
	mu    sync.Mutex
	value string
	down  bool
	reads int
}

func (f *flakyFetcher) Fetch(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.down {
		return "", errors.New("secrets manager is down")
	}
	return f.value, nil
}

func (f *flakyFetcher) set(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *flakyFetcher) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// TestRefusedTokensSpareAFailingSecretStore: a 401 forces a fresh read of
// the secret, but while Secrets Manager fails, refused tokens in a row make
// one read, not one each, and the last good credentials keep refreshing.
func TestRefusedTokensSpareAFailingSecretStore(t *testing.T) {
	f := newFixture(t, zohosim.Options{})
	src := &flakyFetcher{value: f.secret}
	s := f.source(t, oauth.NewMemoryStore(), func(c *oauth.Config) {
		c.Secret = secret.NewCache(src, secret.CacheConfig{Now: f.clock.Now})
	})
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(6 * time.Minute) // past the secret's TTL
	src.set(true)
	for i := range 5 {
		f.sim.InvalidateToken(tok.AccessToken)
		if err := s.Invalidate(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		if tok, err = s.Token(context.Background()); err != nil {
			t.Fatalf("refusal %d: %v; want a token from the last good credentials", i, err)
		}
	}
	if n := src.count(); n != 2 {
		t.Fatalf("%d reads of the secret, want 2 (the first, one failed fresh read)", n)
	}
	if n := f.sim.Stats().RefreshRequests; n != 6 {
		t.Fatalf("%d refreshes, want 6 (the first, one per refusal)", n)
	}
}

func TestUnreadableSecretIsUnavailable(t *testing.T) {
	f := newFixture(t, zohosim.Options{})
	s := f.source(t, oauth.NewMemoryStore(), func(c *oauth.Config) {
		c.Secret = secret.NewCache(&flakyFetcher{down: true}, secret.CacheConfig{Now: f.clock.Now})
	})
	_, err := s.Token(context.Background())
	var apiErr *zoho.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != secret.CodeUnavailable || !apiErr.Retryable() {
		t.Fatalf("err = %v, want a retryable %s", err, secret.CodeUnavailable)
	}
}

// TestSharedReadsWithoutRefreshing: an operator's check sees the shared
// record (a pause, a live token) and never makes Zoho refresh.
func TestSharedReadsWithoutRefreshing(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, zohosim.Options{})
			s := f.source(t, newStore(t))
			ctx := context.Background()
			shared := func() oauth.Record {
				t.Helper()
				rec, err := s.Shared(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return rec
			}
			if rec := shared(); rec.Version != 0 || rec.UsableAt(f.clock.Now()) {
				t.Fatalf("before any refresh: version %d", rec.Version)
			}
			f.sim.Script(zohosim.EndpointToken, zohosim.Fault{Kind: zohosim.AccessDenied})
			if _, err := s.Token(ctx); err == nil {
				t.Fatal("a token despite Access Denied")
			}
			if rec := shared(); !rec.BlockedUntil.After(f.clock.Now()) {
				t.Fatalf("after Access Denied: blocked until %v, want a pause", rec.BlockedUntil)
			}
			f.clock.Advance(16 * time.Minute)
			if _, err := s.Token(ctx); err != nil {
				t.Fatal(err)
			}
			if rec := shared(); !rec.UsableAt(f.clock.Now()) {
				t.Fatal("after a refresh: no usable shared token")
			}
			if got := f.sim.Stats().RefreshRequests; got != 2 {
				t.Fatalf("%d refresh requests, want 2 (Shared made none)", got)
			}
		})
	}
}

// errKeyDisabled is what KMS answers while the key is disabled.
var errKeyDisabled = errors.New("KMSInvalidStateException: the key is disabled")

// switchSealer is a Sealer that fails every call while down, as KMS does
// with the key disabled or throttling, and otherwise passes to Sealer.
type switchSealer struct {
	oauth.Sealer
	down atomic.Bool
}

func (s *switchSealer) Seal(ctx context.Context, p []byte, bind map[string]string) ([]byte, error) {
	if s.down.Load() {
		return nil, errKeyDisabled
	}
	return s.Sealer.Seal(ctx, p, bind)
}

func (s *switchSealer) Open(ctx context.Context, c []byte, bind map[string]string) ([]byte, error) {
	if s.down.Load() {
		return nil, errKeyDisabled
	}
	return s.Sealer.Open(ctx, c, bind)
}

// plainSealer seals nothing: the memory store's stand-in for a key.
type plainSealer struct{}

func (plainSealer) Seal(_ context.Context, p []byte, _ map[string]string) ([]byte, error) {
	return p, nil
}
func (plainSealer) Open(_ context.Context, c []byte, _ map[string]string) ([]byte, error) {
	return c, nil
}

// sealedMemory is a MemoryStore that seals before it saves, as the table
// store does, so that a failing Sealer fails its Save the same way.
type sealedMemory struct {
	*oauth.MemoryStore
	sealer oauth.Sealer
}

func (m sealedMemory) Save(ctx context.Context, key, owner string, rec oauth.Record) (bool, error) {
	if _, err := m.sealer.Seal(ctx, []byte(rec.AccessToken), nil); err != nil {
		return false, fmt.Errorf("sealing the shared token: %w: %w", oauth.ErrSealing, err)
	}
	return m.MemoryStore.Save(ctx, key, owner, rec)
}

// sealingStores yields, for each store, the sealer that works and a
// function that makes one instance's store, sealing with the sealer given.
func sealingStores() map[string]func(t *testing.T) (oauth.Sealer, func(oauth.Sealer) oauth.Store) {
	return map[string]func(t *testing.T) (oauth.Sealer, func(oauth.Sealer) oauth.Store){
		"memory": func(*testing.T) (oauth.Sealer, func(oauth.Sealer) oauth.Store) {
			shared := oauth.NewMemoryStore()
			return plainSealer{}, func(s oauth.Sealer) oauth.Store { return sealedMemory{shared, s} }
		},
		"dynamodb": func(t *testing.T) (oauth.Sealer, func(oauth.Sealer) oauth.Store) {
			cfg := awstest.RequireSerial(t) // leases race: one request at a time, as DynamoDB applies them
			api, tbl := awstest.CheckExpressions(t, table.NewClient(cfg)), awstest.CreateTableFromTemplate(t, cfg, "JobsTable")
			return kmsseal.New(kms.NewFromConfig(cfg), awstest.CreateKey(t, cfg)),
				func(s oauth.Sealer) oauth.Store { return table.NewTokenStore(api, tbl, s) }
		},
	}
}

// TestKeyServiceFailureDoesNotLockZohoOut: while the key cannot seal (KMS
// disabled or throttling) and no token is stored, 14 instances calling
// every 10 s for 7 minutes make at most one refresh per SaveCooldown,
// never Zoho's Access Denied; the refresher keeps serving its own token;
// once the key is back, one refresh is shared by every instance. Before
// the fix, the unsaved refresh left its lease to lapse, each next
// instance refreshed 30 s later, and the 11th refresh was Access Denied.
func TestKeyServiceFailureDoesNotLockZohoOut(t *testing.T) {
	const (
		instances = 14
		step      = 10 * time.Second
		outage    = 7 * time.Minute
		cooldown  = 5 * time.Minute // Config.SaveCooldown's default
	)
	for name, newStores := range sealingStores() {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, zohosim.Options{}) // Accounts' real 10 per 10 minutes
			good, instance := newStores(t)
			sealer := &switchSealer{Sealer: good}
			sealer.down.Store(true)
			sources := make([]*oauth.Source, instances)
			for i := range sources {
				sources[i] = f.source(t, instance(sealer), func(c *oauth.Config) { c.MaxWait = time.Millisecond })
			}
			metrics := obs.NewMetrics("test")
			ctx := obs.WithMetrics(context.Background(), metrics)
			// round has every instance ask for a token at once and says
			// how many got one.
			round := func() int {
				var served atomic.Int32
				var wg sync.WaitGroup
				for _, s := range sources {
					wg.Go(func() {
						if _, err := s.Token(ctx); err == nil {
							served.Add(1)
						}
					})
				}
				wg.Wait()
				return int(served.Load())
			}
			for at := time.Duration(0); at < outage; at += step {
				if n := round(); n == 0 {
					t.Fatalf("at %s no instance had a token; the refresher must keep its own", at)
				}
				f.clock.Advance(step)
			}
			st := f.sim.Stats()
			if most := 1 + int(outage/cooldown); st.AccessDenied > 0 || st.TokensIssued > most {
				t.Fatalf("over %s of a failing key: %d tokens issued, %d Access Denied; want at most %d (one per %s) and none",
					outage, st.TokensIssued, st.AccessDenied, most, cooldown)
			}
			if got := metrics.Value("TokenSealErrors"); got != float64(st.TokensIssued) {
				t.Fatalf("TokenSealErrors = %v, want one per unsaved refresh (%d)", got, st.TokensIssued)
			}

			sealer.down.Store(false)
			f.clock.Advance(cooldown)
			issued := st.TokensIssued
			deadline := time.Now().Add(30 * time.Second)
			for round() < instances {
				if time.Now().After(deadline) {
					t.Fatal("once the key is back, not every instance got a token")
				}
			}
			if got := f.sim.Stats().TokensIssued - issued; got != 1 {
				t.Fatalf("once the key is back: %d refreshes, want 1 shared by every instance", got)
			}
		})
	}
}
