package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// rowConcurrency is row 3: a burst of s.leads single-lead messages handled
// by queueMaxConcurrency instances at once, sharing the job store and the
// token, against a simulator with latency (so calls overlap) that refuses
// calls beyond Zoho's sub-concurrency with 429.
func rowConcurrency(ctx context.Context, s settings, rep int) ([]sample, error) {
	clock := newClock()
	sim := zohosim.New(zohosim.Options{Clock: clock, Latency: s.latency, ConcurrencyLimit: zohoSubConcurrency})
	c := cell{idsPerMsg: 1, dupPercent: 0, optionSets: 3}
	w, err := newWorkload(sim, c, s.leads, rand.New(rand.NewPCG(uint64(rep)+1, 3)))
	if err != nil {
		return nil, err
	}
	tokens, store := oauth.NewMemoryStore(), memstore.New()
	if err := warmTokens(ctx, sim, clock, tokens); err != nil {
		return nil, err
	}
	fns := make([]function, queueMaxConcurrency)
	for i := range fns {
		if fns[i], err = newFunction(sim, clock, s.concurrency, tokens, store); err != nil {
			return nil, err
		}
	}
	d, err := drain(ctx, fns, w.msgs)
	if err != nil {
		return nil, err
	}
	st := sim.Stats()
	capacity := queueMaxConcurrency * s.concurrency
	var problem string
	if st.MaxInFlight > capacity || st.ConcurrencyRejected > 0 {
		problem = fmt.Sprintf("%d calls in flight (cap %d), %d refused with 429", st.MaxInFlight, capacity, st.ConcurrencyRejected)
	}
	size := fmt.Sprintf("(%s-lead burst)", thousands(int64(s.leads)))
	return []sample{
		{key: "concurrency/max_in_flight", measure: "most Zoho calls in flight " + size, unit: "count",
			ours: float64(st.MaxInFlight), baseline: none, floor: float64(capacity), problem: problem,
			note: fmt.Sprintf("cap: %d instances (QueueMaximumConcurrency) x MAX_ZOHO_CONCURRENCY %d; Zoho allows %d; %d calls, %d invocations, %.1f s",
				queueMaxConcurrency, s.concurrency, zohoSubConcurrency, st.Calls[zohosim.EndpointMassConvert], d.invocations, d.wall.Seconds()) + d.redeliveries()},
		{key: "concurrency/rejected", measure: "calls refused with 429 " + size, unit: "count",
			ours: float64(st.ConcurrencyRejected), baseline: none, floor: 0, problem: problem,
			note: fmt.Sprintf("the simulator refuses a call beyond %d in flight, as Zoho does", zohoSubConcurrency)},
	}, nil
}
