// The naive peer row 1 runs against ours: one call per lead.

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// peerInFlight is the naive peer's calls in flight: Zoho's own limit for
// the org, more than one instance of ours uses (MAX_ZOHO_CONCURRENCY), so
// that the peer's time is the best a one-call-per-lead client can get.
const peerInFlight = zohoSubConcurrency

// naiveResult is what the naive peer's run showed, read from its simulator.
type naiveResult struct {
	calls        int // mass_convert calls the simulator received
	refused      int // calls that failed: Zoho refuses a lead already converted
	dupSubmitted int // the simulator's DuplicateSubmissions
	notOnce      int // leads not in exactly one job, and job entries naming no lead sent
	maxInFlight  int
	rejected     int // 429s for more than Zoho's calls in flight
	wall         time.Duration
}

// runNaive converts msgs as a Zoho workflow rule, a Zapier zap or Deluge's
// convertLead does: every lead of every message is a mass_convert call of
// its own, with its message's options, with no claims, no de-duplication
// and no retries, inFlight calls at a time. sim must hold the leads ids.
// Like ours, the peer holds a token before its clock starts.
func runNaive(ctx context.Context, sim *zohosim.Server, clock zohosim.Clock, msgs []message, ids []string, inFlight int) (naiveResult, error) {
	var reqs []zoho.ConvertRequest
	for _, m := range msgs {
		var req zoho.ConvertRequest
		if err := json.Unmarshal([]byte(m.body), &req); err != nil {
			return naiveResult{}, fmt.Errorf("naive peer: message %s: %w", m.id, err)
		}
		for _, id := range req.IDs {
			one := req
			one.IDs = []string{id}
			reqs = append(reqs, one)
		}
	}
	client, tokens, err := newZohoClient(sim, clock, oauth.NewMemoryStore(), zoho.RetryPolicy{Attempts: 1})
	if err != nil {
		return naiveResult{}, err
	}
	if _, err := tokens.Token(ctx); err != nil {
		return naiveResult{}, fmt.Errorf("naive peer: first token: %w", err)
	}
	work := make(chan *zoho.ConvertRequest)
	var mu sync.Mutex
	var refused int
	var errs []error
	start := time.Now()
	var wg sync.WaitGroup
	for range inFlight {
		wg.Go(func() {
			for req := range work {
				if _, err := client.MassConvert(ctx, req); err != nil {
					mu.Lock()
					refused++
					if len(errs) < 3 {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range reqs {
		work <- &reqs[i]
	}
	close(work)
	wg.Wait()
	r := naiveResult{refused: refused, wall: time.Since(start)}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	st := sim.Stats()
	r.calls, r.dupSubmitted = st.Calls[zohosim.EndpointMassConvert], st.DuplicateSubmissions
	r.maxInFlight, r.rejected = st.MaxInFlight, st.ConcurrencyRejected
	notOnce, unknown := scheduledOnce(sim, ids)
	r.notOnce = len(notOnce) + unknown
	// Zoho refuses a repeat of a lead it has converted, and nothing else
	// here: any other failure is the harness's, and would flatter ours.
	if r.refused != r.dupSubmitted {
		return r, fmt.Errorf("naive peer: %d calls failed for %d repeated leads: %w", r.refused, r.dupSubmitted, errors.Join(errs...))
	}
	return r, nil
}
