// Package zohotest wires a Zoho simulator to a client the way the functions
// wire Zoho: a shared-token source over the simulator's accounts endpoint
// and a client over its CRM. Import it only from tests.
package zohotest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// T0 is when every simulated clock of the tests starts.
var T0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// SecretJSON is the Zoho secret that holds the simulator's credentials and,
// when webhookKey is not empty, the API's webhook key.
func SecretJSON(webhookKey string) string {
	s := fmt.Sprintf(`{"client_id":%q,"client_secret":%q,"refresh_token":%q`,
		zohosim.DefaultClientID, zohosim.DefaultClientSecret, zohosim.DefaultRefreshToken)
	if webhookKey != "" {
		s += fmt.Sprintf(`,"webhook_key":%q`, webhookKey)
	}
	return s + "}"
}

// Owner is the assign_to of the tests' requests: the simulator's user.
// Zoho's Mass Convert requires an owner, and the simulator refuses a call
// without one.
const Owner = zohosim.DefaultUserID

// Request returns a conversion request for ids, owned by Owner.
func Request(ids ...string) *zoho.ConvertRequest {
	return &zoho.ConvertRequest{IDs: ids, AssignTo: &zoho.Ref{ID: Owner}}
}

// Body returns Request(ids...) as the JSON a producer sends.
func Body(ids ...string) string {
	b, err := json.Marshal(Request(ids...))
	if err != nil {
		panic(err) // strings always marshal
	}
	return string(b)
}

// Zoho is a running simulator and a client wired to it.
type Zoho struct {
	Sim    *zohosim.Server
	Clock  *zohosim.ManualClock
	URL    string
	Client *zoho.Client
}

// Start runs a simulator on 127.0.0.1 with a manual clock at T0 (opts.Clock
// is replaced) until the test ends, and builds a client for it that makes
// at most attempts tries per call.
func Start(t testing.TB, opts zohosim.Options, attempts int) *Zoho {
	t.Helper()
	return StartWith(t, opts, attempts, nil)
}

// StartWith is Start with the client's configuration passed through edit
// (may be nil) before the client is built.
func StartWith(t testing.TB, opts zohosim.Options, attempts int, edit func(*zoho.Config)) *Zoho {
	t.Helper()
	clock := zohosim.NewManualClock(T0)
	opts.Clock = clock
	sim := zohosim.New(opts)
	url, stop := sim.Start()
	t.Cleanup(stop)
	tokens, err := oauth.NewSource(oauth.Config{
		Secret: secret.Static(SecretJSON("")), Store: oauth.NewMemoryStore(), AccountsURL: url, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := zoho.Config{Tokens: tokens, APIURL: url,
		Retry: zoho.RetryPolicy{Attempts: attempts, Base: time.Millisecond, Max: time.Millisecond}}
	if edit != nil {
		edit(&cfg)
	}
	client, err := zoho.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Zoho{Sim: sim, Clock: clock, URL: url, Client: client}
}
