// One timed status run over the due jobs, in process and time-compressed.

package main

import (
	"context"
	"net/http"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// statusRun is one status run over open jobs.
type statusRun struct {
	rep   jobcheck.Report
	calls int           // status calls the simulator answered
	wall  time.Duration // real time, multiplied back by statusTimeScale when timed
	reads meterReading
}

// timeStatusRun runs the real checker over the open jobs in the in-memory
// store, metered by estimatingStore, with the simulator's latency, the
// function's deadline and its stop margin all divided by statusTimeScale.
// The checker is configured as app.NewStatus configures it, but for the
// scaled margin; a warm token is in the shared token store, as in a
// running deployment, and the run's own token source reads it once.
func timeStatusRun(ctx context.Context, s settings, o *openJobs) (statusRun, error) {
	cfg, err := statusConfig("embedded")
	if err != nil {
		return statusRun{}, err
	}
	est, err := newEstimatingStore(ctx, o)
	if err != nil {
		return statusRun{}, err
	}
	tokens := oauth.NewMemoryStore()
	if err := warmTokens(ctx, o.sim, o.clock, tokens); err != nil {
		return statusRun{}, err
	}
	hc := &http.Client{Transport: delayed{next: o.sim.Transport(), latency: s.latency / statusTimeScale}, Timeout: 30 * time.Second}
	source, err := oauth.NewSource(oauth.Config{Secret: secret.Static(simSecret), Store: meteredTokens{tokens, &est.meter},
		HTTPClient: hc, AccountsURL: simURL, Now: o.clock.Now})
	if err != nil {
		return statusRun{}, err
	}
	client, err := zoho.New(zoho.Config{HTTPClient: hc, Tokens: source, APIURL: simURL})
	if err != nil {
		return statusRun{}, err
	}
	checker, err := jobcheck.New(jobcheck.Config{Zoho: client, Store: est, Concurrency: cfg.Concurrency,
		StaleAfter: cfg.StaleAfter, Retention: cfg.JobRetention, StopMargin: statusStopMargin / statusTimeScale, Now: o.clock.Now})
	if err != nil {
		return statusRun{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, statusTimeout/statusTimeScale)
	defer cancel()
	before := o.sim.Stats().Calls[zohosim.EndpointStatus]
	t0 := time.Now()
	rep := checker.Run(rctx, jobcheck.Request{})
	wall := time.Since(t0)
	return statusRun{rep: rep, calls: o.sim.Stats().Calls[zohosim.EndpointStatus] - before,
		wall: wall * statusTimeScale, reads: est.meter.reading()}, nil
}

// delayed adds latency to every request, as the simulator's Latency does
// (the seeding goes without).
type delayed struct {
	next    http.RoundTripper
	latency time.Duration
}

func (d delayed) RoundTrip(r *http.Request) (*http.Response, error) {
	if d.latency > 0 {
		t := time.NewTimer(d.latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			return nil, r.Context().Err()
		case <-t.C:
		}
	}
	return d.next.RoundTrip(r)
}
