package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// Token rules the floor follows: Zoho's access tokens live an hour, and the
// token source refreshes this long before expiry (oauth.Config.RefreshAhead default).
const (
	tokenLifetime = time.Hour
	refreshAhead  = 5 * time.Minute
)

// tokenCallsPerStep is how often every instance asks for a token in each
// step, besides the token its CRM call takes.
const tokenCallsPerStep = 3

// traffic is what one approach's instances saw over the simulated hours.
type traffic struct {
	refreshRequests int // calls to Accounts' token endpoint
	tokensIssued    int
	accessDenied    int
	invalidToken    int   // 401 answers to CRM calls
	crmCalls        int   // status calls made
	crmFailed       int64 // status calls that failed
}

// tokenTraffic runs s.instances instances for s.traffic of simulated time:
// each step, every instance (concurrently) asks for a token a few times and
// reads the status of a known job with the token. shared gives all of them
// one store (the DynamoDB table in production; here the in-memory store,
// which follows the same conditions); otherwise each has its own, as each
// process of Zoho's SDKs does.
func tokenTraffic(ctx context.Context, s settings, shared bool) (traffic, error) {
	clock := newClock()
	sim := zohosim.New(zohosim.Options{Clock: clock})
	lead := sim.SeedLeadRange(1)
	one := oauth.NewMemoryStore()
	type instance struct {
		client *zoho.Client
		tokens *oauth.Source
	}
	insts := make([]instance, s.instances)
	for i := range insts {
		store := one
		if !shared {
			store = oauth.NewMemoryStore()
		}
		// One attempt: a retry would only sleep in real time, and every
		// failure is counted here rather than hidden.
		client, tokens, err := newZohoClient(sim, clock, store, zoho.RetryPolicy{Attempts: 1})
		if err != nil {
			return traffic{}, err
		}
		insts[i] = instance{client, tokens}
	}
	jobID, err := insts[0].client.MassConvert(ctx, owned(lead...))
	if err != nil {
		return traffic{}, fmt.Errorf("scheduling the job the instances ask about: %w", err)
	}
	var t traffic
	for elapsed := time.Duration(0); elapsed < s.traffic; elapsed += s.step {
		var wg sync.WaitGroup
		for _, in := range insts {
			wg.Go(func() {
				for range tokenCallsPerStep {
					_, _ = in.tokens.Token(ctx) // a failure shows in the CRM call
				}
				if _, err := in.client.ConvertStatus(ctx, jobID); err != nil {
					atomic.AddInt64(&t.crmFailed, 1)
				}
			})
		}
		wg.Wait()
		t.crmCalls += len(insts)
		clock.Advance(s.step)
		if err := ctx.Err(); err != nil {
			return traffic{}, err
		}
	}
	st := sim.Stats()
	t.refreshRequests, t.tokensIssued = st.RefreshRequests, st.TokensIssued
	t.accessDenied, t.invalidToken = st.AccessDenied, st.InvalidTokenAnswers
	return t, nil
}

// refreshFloor is the fewest refreshes that keep a token valid for at least
// refreshAhead at every step: one at the start, then one per
// tokenLifetime-refreshAhead (3 over 2 hours).
func refreshFloor(s settings) int {
	last := s.traffic - s.step // time of the last step
	if last < 0 {
		last = 0
	}
	return 1 + int(last/(tokenLifetime-refreshAhead))
}

// rowTokens is row 2: one shared token store against one store per instance.
func rowTokens(ctx context.Context, s settings, _ int) ([]sample, error) {
	ours, err := tokenTraffic(ctx, s, true)
	if err != nil {
		return nil, err
	}
	naive, err := tokenTraffic(ctx, s, false)
	if err != nil {
		return nil, err
	}
	size := fmt.Sprintf("(%d instances, %s)", s.instances, human(s.traffic))
	floor := refreshFloor(s)
	var problem string
	if ours.accessDenied+ours.invalidToken > 0 || ours.crmFailed > 0 {
		problem = fmt.Sprintf("shared token: %d Access Denied, %d 401s, %d failed calls", ours.accessDenied, ours.invalidToken, ours.crmFailed)
	}
	return []sample{
		{key: "tokens/refreshes", measure: "token refreshes " + size, unit: "count",
			ours: float64(ours.refreshRequests), baseline: float64(naive.refreshRequests), floor: float64(floor),
			note: fmt.Sprintf("requests to Accounts; floor: every %s from the start; one shared in-memory store (DynamoDB's conditions); baseline: a store per instance, %d issued; unthrottled it would need %d (instances x floor, computed)",
				human(tokenLifetime-refreshAhead), naive.tokensIssued, s.instances*floor)},
		{key: "tokens/access_denied", measure: "Access Denied answers " + size, unit: "count",
			ours: float64(ours.accessDenied), baseline: float64(naive.accessDenied), floor: 0, problem: problem,
			note: "Zoho: 10 refreshes per 10 min, then refused for 15 min"},
		{key: "tokens/invalid_token", measure: "401 INVALID_TOKEN answers " + size, unit: "count",
			ours: float64(ours.invalidToken), baseline: float64(naive.invalidToken), floor: 0, problem: problem,
			note: "Zoho: a 16th live token silently invalidates the oldest"},
		{key: "tokens/failed_calls", measure: "CRM calls failed " + size, unit: "count",
			ours: float64(ours.crmFailed), baseline: float64(naive.crmFailed), floor: 0, problem: problem,
			note: fmt.Sprintf("of %s status calls: one per instance per simulated %s, after %d Token calls; no retries",
				thousands(int64(ours.crmCalls)), human(s.step), tokenCallsPerStep)},
	}, nil
}

// human writes d as "2 h" or "1 min" when it is whole hours or minutes.
func human(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d > 0 && d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.String()
}
