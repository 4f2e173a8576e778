// Row 1, Zoho calls per lead.

package main

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
	"github.com/zoho-bridge/leadconvert/pkg/zohosim"
)

// cellResult is what one cell's run showed.
type cellResult struct {
	workload
	drained
	calls         int
	dupSubmitted  int      // simulator's DuplicateSubmissions
	notOnce       []string // leads not in exactly one job
	idsSubmitted  int
	unknownInJobs int
}

// runCell sends a cell's leads through one convert instance (the real
// handler), one SQS batch after another, against a fresh simulator.
func runCell(ctx context.Context, s settings, c cell, latency time.Duration, seed uint64) (cellResult, error) {
	clock := newClock()
	sim := zohosim.New(zohosim.Options{Clock: clock, Latency: latency})
	w, err := newWorkload(sim, c, s.leads, rand.New(rand.NewPCG(seed, uint64(c.idsPerMsg*100+c.dupPercent*10+c.optionSets))))
	if err != nil {
		return cellResult{}, err
	}
	tokens := oauth.NewMemoryStore()
	if err := warmTokens(ctx, sim, clock, tokens); err != nil {
		return cellResult{}, err
	}
	fn, err := newFunction(sim, clock, s.concurrency, tokens, jobs.NewMemoryStore())
	if err != nil {
		return cellResult{}, err
	}
	d, err := drain(ctx, []function{fn}, w.msgs)
	if err != nil {
		return cellResult{}, fmt.Errorf("%s: %w", c, err)
	}
	st := sim.Stats()
	r := cellResult{workload: w, drained: d, calls: st.Calls[zohosim.EndpointMassConvert],
		dupSubmitted: st.DuplicateSubmissions, idsSubmitted: st.IDsSubmitted}
	r.notOnce, r.unknownInJobs = scheduledOnce(sim, w.ids)
	return r, nil
}

// rowCalls is row 1: the calls every cell of the matrix takes (with zero
// latency: the count does not depend on it), the checks that every lead
// went to Zoho exactly once, and the time one cell takes with latency
// against the naive one-call-per-lead client.
func rowCalls(ctx context.Context, s settings, rep int) ([]sample, error) {
	seed := uint64(rep) + 1
	var out []sample
	var dupSent, dupNaive, notOnce int
	var problem string
	for _, c := range matrix {
		r, err := runCell(ctx, s, c, 0, seed)
		if err != nil {
			return nil, err
		}
		out = append(out, sample{
			key: "calls/" + c.key(), measure: "Zoho calls: " + c.String(), unit: "calls",
			ours: float64(r.calls), baseline: float64(s.leads), floor: float64(r.floor()),
			note: fmt.Sprintf("%s leads (%s unique) in %s msgs, %d invocation(s); baseline: one call per lead",
				thousands(int64(s.leads)), thousands(int64(len(r.ids))), thousands(int64(len(r.msgs))), r.invocations) + r.redeliveries(),
		})
		dupSent += r.dupSubmitted
		dupNaive += r.duplicates
		notOnce += len(r.notOnce) + r.unknownInJobs
		if r.idsSubmitted != len(r.ids) && problem == "" {
			problem = fmt.Sprintf("%s: %d ids submitted for %d leads", c, r.idsSubmitted, len(r.ids))
		}
	}
	if problem == "" && (dupSent > 0 || notOnce > 0) {
		problem = fmt.Sprintf("%d duplicate submissions, %d leads not in exactly one job", dupSent, notOnce)
	}
	out = append(out,
		sample{key: "calls/duplicates", measure: "duplicate ids sent to Zoho (all 12 cells)", unit: "count",
			ours: float64(dupSent), baseline: float64(dupNaive), floor: 0, problem: problem,
			note: "simulator's DuplicateSubmissions; the naive client sends every duplicate"},
		sample{key: "calls/once", measure: "leads not in exactly one job (all 12 cells)", unit: "count",
			ours: float64(notOnce), baseline: none, floor: 0, problem: problem,
			note: "checked lead by lead against the simulator's jobs"})

	timed, err := timeCell(ctx, s, seed)
	if err != nil {
		return nil, err
	}
	return append(out, timed), nil
}

// timedCell is the cell whose scheduling time is measured with latency.
var timedCell = cell{idsPerMsg: 1, dupPercent: 0, optionSets: 1}

// timeCell measures how long one instance takes to schedule the timed
// cell's leads, against the naive client's time for a sample of them,
// scaled to the same number of leads.
func timeCell(ctx context.Context, s settings, seed uint64) (sample, error) {
	r, err := runCell(ctx, s, timedCell, s.latency, seed)
	if err != nil {
		return sample{}, err
	}
	naive, err := naiveTime(ctx, s, s.naiveSample)
	if err != nil {
		return sample{}, err
	}
	scaled := naive.Seconds() * float64(s.leads) / float64(s.naiveSample)
	var problem string
	if r.dupSubmitted > 0 || len(r.notOnce)+r.unknownInJobs > 0 {
		problem = fmt.Sprintf("%d duplicate submissions, %d leads not in exactly one job", r.dupSubmitted, len(r.notOnce)+r.unknownInJobs)
	}
	rounds := (r.floor() + s.concurrency - 1) / s.concurrency
	floor := (time.Duration(rounds) * s.latency).Seconds()
	return sample{
		key: "time/" + timedCell.key(), measure: "time to schedule all leads: " + timedCell.String(), unit: "s",
		ours: r.wall.Seconds(), baseline: scaled, floor: floor, problem: problem,
		note: fmt.Sprintf("%s leads, 1 instance, %d invocations in turn, %d calls in flight; floor ceil(%d/%d) x latency; baseline timed on %d leads, x%g",
			thousands(int64(s.leads)), r.invocations, s.concurrency, r.floor(), s.concurrency, s.naiveSample, float64(s.leads)/float64(s.naiveSample)) + r.redeliveries(),
	}, nil
}

// naiveTime is how long a naive client takes to convert n leads with one
// call per lead (Zoho's single Convert Lead, as Zapier, Make and Deluge's
// convertLead do), s.concurrency calls at a time, against the same latency.
// It holds a token before the clock starts, as the measured instance does.
func naiveTime(ctx context.Context, s settings, n int) (time.Duration, error) {
	clock := newClock()
	sim := zohosim.New(zohosim.Options{Clock: clock, Latency: s.latency})
	ids := sim.SeedLeadRange(n)
	client, tokens, err := newZohoClient(sim, clock, oauth.NewMemoryStore(), zoho.RetryPolicy{})
	if err != nil {
		return 0, err
	}
	if _, err := tokens.Token(ctx); err != nil {
		return 0, err
	}
	work := make(chan string)
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	var wg sync.WaitGroup
	for range s.concurrency {
		wg.Go(func() {
			for id := range work {
				if _, err := client.MassConvert(ctx, &zoho.ConvertRequest{IDs: []string{id}}); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return 0, fmt.Errorf("naive client: %w", firstErr)
	}
	if got := sim.Stats().Calls[zohosim.EndpointMassConvert]; got != n {
		return 0, fmt.Errorf("naive client: %d calls for %d leads", got, n)
	}
	return elapsed, nil
}
