package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// Deployment facts the rows reproduce (template.yaml).
const (
	lambdaTimeout       = 60 * time.Second // Globals.Function.Timeout of the convert function
	sqsBatchSize        = 1000             // the SQS event's BatchSize
	maxPayloadBytes     = 6 << 20          // Lambda's invocation payload limit (6 MB)
	maxReceiveCount     = 10               // RedrivePolicy.maxReceiveCount (template.yaml): then the DLQ
	queueMaxConcurrency = 2                // QueueMaximumConcurrency default: convert instances at once
	zohoSubConcurrency  = 10               // Zoho's calls in flight for "complex" APIs, per org
)

// simURL is what the functions are configured with. It is never dialled:
// the simulator's Transport serves every request, so nothing leaves the process.
const simURL = "http://127.0.0.1:1"

var simSecret = zohotest.SecretJSON("bench-webhook-key")

func simHTTPClient(sim *zohosim.Server) *http.Client {
	return &http.Client{Transport: sim.Transport(), Timeout: 30 * time.Second}
}

// newClock is the simulated time every row starts at. Token lifetimes and
// claims follow it; the simulator's latency is real time.
func newClock() *zohosim.ManualClock {
	return zohosim.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
}

// convertConfig is the convert function's configuration as Lambda would
// load it, with Zoho pointed at the simulator and MAX_ZOHO_CONCURRENCY set
// when concurrency > 0.
func convertConfig(concurrency int) (config.Convert, error) {
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
		"ZOHO_ACCOUNTS_URL": simURL, "ZOHO_API_URL": simURL}
	if concurrency > 0 {
		env["MAX_ZOHO_CONCURRENCY"] = strconv.Itoa(concurrency)
	}
	return config.LoadConvert(func(k string) string { return env[k] })
}

// defaultConcurrency is MAX_ZOHO_CONCURRENCY when the variable is unset.
func defaultConcurrency() int {
	cfg, err := convertConfig(0)
	if err != nil {
		panic(err) // a fixed, valid environment
	}
	return cfg.MaxZohoConcurrency
}

// function is one instance of the convert function: the real handler with
// embedded dependencies. Instances given the same stores behave like
// instances sharing the DynamoDB table.
type function struct {
	*app.Convert
	dead *sqsbatch.MemoryDeadLetter
}

func newFunction(sim *zohosim.Server, clock zohosim.Clock, concurrency int, tokens oauth.Store, store jobs.Store) (function, error) {
	cfg, err := convertConfig(concurrency)
	if err != nil {
		return function{}, err
	}
	dead := &sqsbatch.MemoryDeadLetter{}
	fn, err := app.NewConvert(cfg, app.ConvertDeps{
		Shared: app.Shared{Secret: secret.Static(simSecret), Tokens: tokens,
			HTTPClient: simHTTPClient(sim), Now: clock.Now, Out: io.Discard},
		Jobs: store, DeadLetter: dead,
	})
	if err != nil {
		return function{}, err
	}
	return function{Convert: fn, dead: dead}, nil
}

// newTokenSource is one instance's token source, configured as the
// functions configure theirs.
func newTokenSource(sim *zohosim.Server, clock zohosim.Clock, store oauth.Store) (*oauth.Source, error) {
	return oauth.NewSource(oauth.Config{Secret: secret.Static(simSecret), Store: store,
		HTTPClient: simHTTPClient(sim), AccountsURL: simURL, Now: clock.Now})
}

// newZohoClient is a Zoho client of its own, with its own token source on store.
func newZohoClient(sim *zohosim.Server, clock zohosim.Clock, store oauth.Store, retry zoho.RetryPolicy) (*zoho.Client, *oauth.Source, error) {
	tokens, err := newTokenSource(sim, clock, store)
	if err != nil {
		return nil, nil, err
	}
	client, err := zoho.New(zoho.Config{HTTPClient: simHTTPClient(sim), Tokens: tokens, APIURL: simURL, Retry: retry})
	return client, tokens, err
}

// warmTokens puts a fresh shared token in store, as a running deployment
// has one: timed rows then measure conversions, not the first refresh.
func warmTokens(ctx context.Context, sim *zohosim.Server, clock zohosim.Clock, store oauth.Store) error {
	tokens, err := newTokenSource(sim, clock, store)
	if err != nil {
		return err
	}
	_, err = tokens.Token(ctx)
	return err
}
