// Package app builds each function from its validated configuration and the
// outside things it talks to, given as the core's small interfaces: AWS
// adapters in Lambda (functions/*/main.go), in-memory ones in the local run
// and the tests (Embedded). Each function gets only what it uses.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/pkg/budget"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/credits"
	"github.com/zoho-bridge/leadconvert/pkg/httpapi"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/outcome"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// Shared are the dependencies both functions have.
type Shared struct {
	Secret     secret.Reader    // the Zoho secret
	Tokens     oauth.Store      // the access token all instances share
	Slots      budget.Slots     // the Zoho concurrency budget's slots (ZOHO_CONCURRENCY_BUDGET)
	Credits    credits.Store    // the org's credits as last seen, shared (MIN_ZOHO_CREDITS_LEFT); nil: this instance's own
	HTTPClient *http.Client     // for Zoho; default zoho.NewHTTPClient()
	Now        func() time.Time // default time.Now; the local run uses the simulator's clock
	Out        io.Writer        // logs and EMF metrics (stdout in Lambda)
}

// ConvertDeps are the convert function's dependencies.
type ConvertDeps struct {
	Shared
	Jobs       jobs.Store
	DeadLetter sqsbatch.DeadLetter
	// Queue is the conversion queue: API requests go on it, and wake-ups
	// when there is no Wakes. nil turns fleet-wide batching off (every
	// request converted at once).
	Queue Queue
	// Wakes, when set, takes the accumulators' wake-ups: a queue whose
	// event source has no batching window, so they arrive when due.
	Wakes convert.Timer
	// Sweeps, when set, lets GET /sweeps/{name} read sweeps and their runs.
	Sweeps outcome.Runs
}

// Queue is the convert function's own SQS intake, seen from the function.
type Queue interface {
	convert.Timer
	httpapi.Queue
}

// StatusStore is what the status function keeps in the table: the jobs it
// checks, and the parked batches its safety net wakes.
type StatusStore interface {
	jobs.CheckStore
	jobs.ParkedStore
}

// StatusDeps are the status function's dependencies.
type StatusDeps struct {
	Shared
	Jobs   StatusStore
	Events jobcheck.Publisher // nil: finished jobs are not announced
	Resend jobcheck.Resender  // the conversion queue; nil: leads Zoho did not convert are only released
	// Wakes sends the safety net's wake-ups (to the conversion queue, as
	// wake-ups, not requests); nil: the safety net is off.
	Wakes  convert.Timer
	Sweeps SweepStore // nil: the function runs no sweeps
	// SweepEvents announces the end of sweeps' runs; nil: not announced.
	SweepEvents sweep.Publisher
}

// SweepStore is what the status function reads and writes to run a sweep:
// the sweep and its runs, the claims of the leads it selects, and the
// request each of its messages is.
type SweepStore interface {
	sweep.Store
	sweep.Claims
	sweep.Requests
}

// observeZoho counts every request sent to the CRM by kind, retries
// included (ZohoRequests; the token refreshes are TokenRefreshes), and the
// org's remaining daily credits when Zoho says (ZohoCreditsLeft, the
// lowest of the invocation), which the credit floor takes too.
func observeZoho(floor *credits.Floor) func(context.Context, zoho.Call) {
	return func(ctx context.Context, c zoho.Call) {
		m := obs.MetricsFrom(ctx)
		m.CountBy("ZohoRequests", "Kind", c.Op, 1)
		if c.CreditsLeft >= 0 {
			m.Lowest("ZohoCreditsLeft", c.CreditsLeft)
		}
		if c.Status != 0 { // an answer: with the figure, or with none (more than half left)
			floor.Observe(ctx, c.CreditsLeft)
		}
	}
}

// creditFloor is the function's credit floor (off when
// MIN_ZOHO_CREDITS_LEFT is 0), shared through d.Credits.
func creditFloor(cfg config.Shared, d Shared, log *slog.Logger) *credits.Floor {
	return credits.New(cfg.MinZohoCreditsLeft, d.Credits, d.Now, log)
}

// zohoClient builds the Zoho client of a function, with its token source.
func zohoClient(cfg config.Shared, d Shared, floor *credits.Floor, log *slog.Logger) (*zoho.Client, error) {
	hc := d.HTTPClient
	if hc == nil {
		hc = zoho.NewHTTPClient()
	}
	tokens, err := oauth.NewSource(oauth.Config{
		Secret: d.Secret, Store: d.Tokens, HTTPClient: hc,
		DataCenter: cfg.DataCenter, Environment: cfg.Environment, AccountsURL: cfg.AccountsURL,
		Now: d.Now, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("token source: %w", err)
	}
	zc := zoho.Config{HTTPClient: hc, Tokens: tokens, APIVersion: cfg.APIVersion, APIURL: cfg.APIURL, Logger: log,
		Observe: observeZoho(floor)}
	if cfg.ConcurrencyBudget > 0 {
		if d.Slots == nil {
			return nil, errors.New("ZOHO_CONCURRENCY_BUDGET is set but the function has no budget slots")
		}
		if zc.Limiter, err = budget.New(budget.Config{Slots: d.Slots, Size: cfg.ConcurrencyBudget, Now: d.Now}); err != nil {
			return nil, err
		}
	}
	client, err := zoho.New(zc)
	if err != nil {
		return nil, fmt.Errorf("zoho client: %w", err)
	}
	return client, nil
}

// webhookKey reads the API's key from the Zoho secret, through the secret's
// cache. It reads the secret itself, not the token source: the key is the
// API's business, so a bad key closes the API and nothing else, and the
// token source's reads have side effects of their own (a forced fresh read
// after a 401). A secret without a usable key refuses every caller (401);
// only a secret that cannot be read makes the API unavailable (503).
func webhookKey(s secret.Reader, log *slog.Logger) httpapi.KeyFunc {
	return func(ctx context.Context, fresh bool) (httpapi.Keys, error) {
		raw, err := s.SecretString(ctx, fresh)
		if err != nil {
			return httpapi.Keys{}, err
		}
		keys, bad := ParseWebhookKeys(raw)
		if bad != nil {
			obs.MetricsFrom(ctx).Count("SecretInvalid", 1)
			log.ErrorContext(ctx, "the webhook key in the secret is unusable: refusing every API request",
				"code", secret.CodeInvalid, "field", bad.Field, "error", bad.Error())
			return httpapi.Keys{}, nil
		}
		return keys, nil
	}
}

// ParseWebhookKey reads "webhook_key" from the secret's JSON, as the API
// and the authorizer do (leadconvert doctor checks a secret with it).
// Whatever else the secret holds is the token source's to judge.
func ParseWebhookKey(raw string) (string, *secret.ConfigError) {
	k, bad := ParseWebhookKeys(raw)
	return k.Current, bad
}

// ParseWebhookKeys reads "webhook_key" and, during a rotation,
// "webhook_key_previous" (optional; if present, a non-empty string).
func ParseWebhookKeys(raw string) (httpapi.Keys, *secret.ConfigError) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil || fields == nil {
		return httpapi.Keys{}, &secret.ConfigError{Reason: "is not a JSON object"}
	}
	var k httpapi.Keys
	if err := json.Unmarshal(fields["webhook_key"], &k.Current); err != nil || strings.TrimSpace(k.Current) == "" {
		return httpapi.Keys{}, &secret.ConfigError{Field: "webhook_key", Reason: "must be a non-empty string"}
	}
	if prev, ok := fields["webhook_key_previous"]; ok {
		if err := json.Unmarshal(prev, &k.Previous); err != nil || strings.TrimSpace(k.Previous) == "" {
			return httpapi.Keys{}, &secret.ConfigError{Field: "webhook_key_previous", Reason: "must be a non-empty string when present"}
		}
	}
	k.Current, k.Previous = strings.TrimSpace(k.Current), strings.TrimSpace(k.Previous)
	return k, nil
}

// Embedded are dependencies that need no AWS account, shared by both
// functions the way one table and one secret are: in-memory stores, a fixed
// secret and an in-memory dead-letter queue (the local run, tests).
type Embedded struct {
	Jobs        *memstore.Store
	Tokens      *oauth.MemoryStore
	DeadLetters *sqsbatch.MemoryDeadLetter
	Queue       *sqsbatch.MemoryQueue // the conversion queue, on the clock now
	Wakes       *sqsbatch.MemoryQueue // the wake-up queue, on the clock now
	Shared      Shared
}

// NewEmbedded returns empty embedded dependencies around secretJSON.
func NewEmbedded(secretJSON string, now func() time.Time, out io.Writer) *Embedded {
	tokens, jobStore := oauth.NewMemoryStore(), memstore.New()
	return &Embedded{
		Jobs:        jobStore,
		Tokens:      tokens,
		DeadLetters: &sqsbatch.MemoryDeadLetter{},
		Queue:       sqsbatch.NewMemoryQueue(now),
		Wakes:       sqsbatch.NewMemoryQueue(now),
		Shared: Shared{Secret: secret.Static(secretJSON), Tokens: tokens, Slots: budget.NewMemorySlots(), Credits: jobStore,
			Now: now, Out: out},
	}
}

// Convert returns the convert function's share, with fleet-wide batching
// through the in-memory queue.
func (e *Embedded) Convert() ConvertDeps {
	return ConvertDeps{Shared: e.Shared, Jobs: e.Jobs, DeadLetter: e.DeadLetters, Queue: e.Queue, Wakes: e.Wakes, Sweeps: e.Jobs}
}

// Status returns the status function's share; it announces nothing, and
// runs the sweeps stored in Jobs.
func (e *Embedded) Status() StatusDeps {
	return StatusDeps{Shared: e.Shared, Jobs: e.Jobs, Resend: e.Queue, Wakes: e.Queue, Sweeps: e.Jobs}
}

// Deliver hands both queues' visible messages to fn, wake-ups last, at
// most batch per invocation, as the SQS event sources would, until none is
// visible, and deletes those fn did not hand back. It returns the
// invocations made.
func (e *Embedded) Deliver(ctx context.Context, fn *Convert, batch int) (int, error) {
	n, err := deliver(ctx, e.Queue, fn, batch)
	if err != nil {
		return n, err
	}
	m, err := deliver(ctx, e.Wakes, fn, batch)
	return n + m, err
}

// DeliverWakes is Deliver for the wake-up queue alone, whose event source
// has no batching window: called as often as the clock moves.
func (e *Embedded) DeliverWakes(ctx context.Context, fn *Convert) (int, error) {
	return deliver(ctx, e.Wakes, fn, 10)
}

func deliver(ctx context.Context, q *sqsbatch.MemoryQueue, fn *Convert, batch int) (int, error) {
	n := 0
	for {
		raw, ids := q.Receive(batch)
		if raw == nil {
			return n, nil
		}
		res, err := fn.Invoke(ctx, raw)
		if err != nil {
			return n, err
		}
		resp, _ := res.(events.SQSEventResponse)
		q.Delete(ids, resp)
		n++
	}
}
