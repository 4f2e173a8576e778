// Row 1, Zoho calls per lead: ours and the naive peer on the same messages.

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// cellResult is what ours showed on one cell.
type cellResult struct {
	workload
	drained
	calls         int
	dupSubmitted  int      // simulator's DuplicateSubmissions
	notOnce       []string // leads not in exactly one job
	idsSubmitted  int
	unknownInJobs int
	rejected      int // 429s for more than Zoho's calls in flight
}

// rowSim is the simulator of every run of row 1, ours and the peer's
// alike: a fresh one per run, since a run converts the leads it holds.
func rowSim(clock zohosim.Clock, latency time.Duration) *zohosim.Server {
	return zohosim.New(zohosim.Options{Clock: clock, Latency: latency, ConcurrencyLimit: zohoSubConcurrency})
}

// runCell sends a cell's leads through one convert instance (the real
// handler), one SQS batch after another, against a fresh simulator. With
// peer set, the naive peer then converts the same messages against a
// fresh simulator with the same options and the same leads.
func runCell(ctx context.Context, s settings, c cell, latency time.Duration, seed uint64, peer bool) (cellResult, naiveResult, error) {
	clock := newClock()
	sim := rowSim(clock, latency)
	w, err := newWorkload(sim, c, s.leads, rand.New(rand.NewPCG(seed, uint64(c.idsPerMsg*100+c.dupPercent*10+c.optionSets))))
	if err != nil {
		return cellResult{}, naiveResult{}, err
	}
	tokens := oauth.NewMemoryStore()
	if err := warmTokens(ctx, sim, clock, tokens); err != nil {
		return cellResult{}, naiveResult{}, err
	}
	fn, err := newFunction(sim, clock, s.concurrency, tokens, memstore.New())
	if err != nil {
		return cellResult{}, naiveResult{}, err
	}
	d, err := drain(ctx, []function{fn}, w.msgs)
	if err != nil {
		return cellResult{}, naiveResult{}, fmt.Errorf("%s: %w", c, err)
	}
	st := sim.Stats()
	r := cellResult{workload: w, drained: d, calls: st.Calls[zohosim.EndpointMassConvert],
		dupSubmitted: st.DuplicateSubmissions, idsSubmitted: st.IDsSubmitted, rejected: st.ConcurrencyRejected}
	r.notOnce, r.unknownInJobs = scheduledOnce(sim, w.ids)
	if !peer {
		return r, naiveResult{}, nil
	}
	peerClock := newClock()
	peerSim := rowSim(peerClock, latency)
	peerSim.SeedLeads(w.ids...)
	n, err := runNaive(ctx, peerSim, peerClock, w.msgs, w.ids, peerInFlight)
	if err != nil {
		return r, n, fmt.Errorf("%s: %w", c, err)
	}
	return r, n, nil
}

// problem is what broke in a cell's runs, or "".
func (r cellResult) problem(c cell, n naiveResult) string {
	switch {
	case r.idsSubmitted != len(r.ids):
		return fmt.Sprintf("%s: %d ids submitted for %d leads", c, r.idsSubmitted, len(r.ids))
	case r.dupSubmitted > 0 || len(r.notOnce)+r.unknownInJobs > 0:
		return fmt.Sprintf("%s: %d duplicate submissions, %d leads not in exactly one job", c, r.dupSubmitted, len(r.notOnce)+r.unknownInJobs)
	case r.rejected+n.rejected > 0:
		return fmt.Sprintf("%s: %d of our calls and %d of the peer's refused with 429", c, r.rejected, n.rejected)
	}
	return ""
}

// rowCalls is row 1. Every cell of the matrix runs ours and the naive peer
// on the same messages with zero latency (the calls do not depend on it):
// their calls, the ids sent twice, the leads not in exactly one job. Then
// the timed cell: ours alone at -latency against its floor, and ours and
// the peer head to head at -peer-latency.
func rowCalls(ctx context.Context, s settings, rep int) ([]sample, error) {
	seed := uint64(rep) + 1
	var out []sample
	var dupOurs, dupPeer, notOnceOurs, notOncePeer, refused int
	var problem string
	for _, c := range matrix {
		r, n, err := runCell(ctx, s, c, 0, seed, true)
		if err != nil {
			return nil, err
		}
		out = append(out, sample{
			key: "calls/" + c.key(), measure: "Zoho calls: " + c.String(), unit: "calls",
			ours: float64(r.calls), baseline: float64(n.calls), floor: float64(r.floor()),
			note: fmt.Sprintf("%s leads (%s unique) in %s msgs, %d invocation(s); floor ceil(unique/50) per option set; baseline: the peer run on the same msgs",
				thousands(int64(s.leads)), thousands(int64(len(r.ids))), thousands(int64(len(r.msgs))), r.invocations) + r.redeliveries(),
		})
		dupOurs += r.dupSubmitted
		dupPeer += n.dupSubmitted
		notOnceOurs += len(r.notOnce) + r.unknownInJobs
		notOncePeer += n.notOnce
		refused += n.refused
		if problem == "" {
			problem = r.problem(c, n)
		}
	}
	out = append(out,
		sample{key: "calls/duplicates", measure: "duplicate ids sent to Zoho (all 12 cells)", unit: "count",
			ours: float64(dupOurs), baseline: float64(dupPeer), floor: 0, problem: problem,
			note: fmt.Sprintf("each simulator's DuplicateSubmissions; Zoho refused %s of the peer's calls (a lead already converted)", thousands(int64(refused)))},
		sample{key: "calls/once", measure: "leads not in exactly one job (all 12 cells)", unit: "count",
			ours: float64(notOnceOurs), baseline: float64(notOncePeer), floor: 0, problem: problem,
			note: "checked lead by lead against each simulator's jobs"})

	timed, err := timeCell(ctx, s, seed)
	if err != nil {
		return nil, err
	}
	vs, err := raceCell(ctx, s, seed)
	if err != nil {
		return nil, err
	}
	return append(out, timed, vs), nil
}

// timedCell is the cell whose scheduling time is measured with latency.
var timedCell = cell{idsPerMsg: 1, dupPercent: 0, optionSets: 1}

// timeFloor is the least time ours can take to make its calls at latency:
// rounds of s.concurrency calls.
func timeFloor(s settings, calls int, latency time.Duration) float64 {
	rounds := (calls + s.concurrency - 1) / s.concurrency
	return (time.Duration(rounds) * latency).Seconds()
}

// timeCell measures how long one instance takes to schedule the timed
// cell's leads at -latency, against its floor. The naive peer would take
// minutes per repetition at this latency: it runs head to head in raceCell.
func timeCell(ctx context.Context, s settings, seed uint64) (sample, error) {
	r, n, err := runCell(ctx, s, timedCell, s.latency, seed, false)
	if err != nil {
		return sample{}, err
	}
	return sample{
		key: "time/" + timedCell.key(), measure: "time to schedule all leads: " + timedCell.String(), unit: "s",
		ours: r.wall.Seconds(), baseline: none, floor: timeFloor(s, r.floor(), s.latency), problem: r.problem(timedCell, n),
		note: fmt.Sprintf("ours alone at %s per call: %s leads, 1 instance, %d invocations in turn, %d calls in flight; floor ceil(%d/%d) x latency; the peer races on the next line",
			s.latency, thousands(int64(s.leads)), r.invocations, s.concurrency, r.floor(), s.concurrency) + r.redeliveries(),
	}, nil
}

// raceCell runs ours and the naive peer on the timed cell's messages in
// this run, both at -peer-latency: each on a fresh simulator with the same
// options and leads, each holding a token first, the peer with Zoho's
// limit of calls in flight. The ratio is what the row claims; the times
// themselves belong to the shorter latency.
func raceCell(ctx context.Context, s settings, seed uint64) (sample, error) {
	r, n, err := runCell(ctx, s, timedCell, s.peerLatency, seed, true)
	if err != nil {
		return sample{}, err
	}
	serial := time.Duration(n.calls) * s.latency
	return sample{
		key: "time/vs-peer-" + timedCell.key(), measure: fmt.Sprintf("time, ours vs the peer at %s/call: %s", s.peerLatency, timedCell.String()), unit: "s",
		ours: r.wall.Seconds(), baseline: n.wall.Seconds(), floor: timeFloor(s, r.floor(), s.peerLatency), problem: r.problem(timedCell, n),
		note: fmt.Sprintf("both run here at %s per call (-peer-latency; the peer's %s calls would take %s one at a time at %s): ours %d in flight, %d calls; the peer %d in flight (Zoho's per-org limit), %s calls; floor ceil(%d/%d) x %s",
			s.peerLatency, thousands(int64(n.calls)), serial.Round(time.Second), s.latency, s.concurrency, r.calls, peerInFlight, thousands(int64(n.calls)), r.floor(), s.concurrency, s.peerLatency) + r.redeliveries(),
	}, nil
}
