// Row 7, fleet-wide batching: leads arriving one at a time over simulated
// time, as webhooks and SQS messages, converted by ours (accumulators in
// the table), by the same functions with fleet-wide batching off
// (per-invocation batching, the design before it) and by the
// one-call-per-lead peer.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// The goals for fleet-wide batching.
const (
	goalLeadsPerCall = 45               // when an option set receives 50 leads within MAX_WAIT_SECONDS
	goalWaitSlack    = 10 * time.Second // p99 added wait at most MAX_WAIT_SECONDS plus this
)

// fleetCell is one workload of row 7.
type fleetCell struct {
	sets    int           // option sets, optionSet(0..sets-1)
	maxWait time.Duration // MAX_WAIT_SECONDS
	rate    float64       // leads per second, all option sets together
}

var fleetMatrix = func() []fleetCell {
	var cs []fleetCell
	for _, sets := range []int{1, 3} {
		for _, wait := range []time.Duration{60 * time.Second, 300 * time.Second} {
			for _, rate := range []float64{0.1, 1, 10, 100} {
				cs = append(cs, fleetCell{sets, wait, rate})
			}
		}
	}
	return cs
}()

func (c fleetCell) key() string {
	return fmt.Sprintf("fleet/%dset-%ds-%sps", c.sets, int(c.maxWait.Seconds()), strconv.FormatFloat(c.rate, 'f', -1, 64))
}

func (c fleetCell) String() string {
	sets := "1 set"
	if c.sets > 1 {
		sets = fmt.Sprintf("%d sets", c.sets)
	}
	return fmt.Sprintf("%s/s, %s, wait %ds", strconv.FormatFloat(c.rate, 'f', -1, 64), sets, int(c.maxWait.Seconds()))
}

// span is how long leads arrive for: long enough for s.fleetLeads of them,
// and at least s.fleetMinSpan, so that fast cells see several batching
// windows and not one burst.
func (c fleetCell) span(s settings) time.Duration {
	return max(time.Duration(float64(s.fleetLeads)/c.rate*float64(time.Second)), s.fleetMinSpan)
}

// goalApplies: each option set receives, at its mean rate, 50 leads or
// more within MAX_WAIT_SECONDS.
func (c fleetCell) goalApplies() bool {
	return c.rate/float64(c.sets)*c.maxWait.Seconds() >= zoho.MaxIDsPerCall
}

// arrival is one lead's arrival, since the start of the cell.
type arrival struct {
	at      time.Duration
	set     int
	webhook bool // a webhook (POST /conversions) or else an SQS message
}

// arrivals are a Poisson stream of single-lead requests at rate per second
// over span: each of a random option set, webhooks and SQS messages in turn.
func arrivals(rng *rand.Rand, rate float64, span time.Duration, sets int) []arrival {
	var out []arrival
	for t := time.Duration(0); ; {
		t += time.Duration(rng.ExpFloat64() / rate * float64(time.Second))
		if t >= span {
			return out
		}
		out = append(out, arrival{at: t, set: rng.IntN(sets), webhook: len(out)%2 == 0})
	}
}

// floorCalls is the fewest calls that send leads arriving at times (sorted)
// with none waiting longer than maxWait: each call takes every lead that
// arrived within maxWait of its first lead, up to perCall. Taking as many
// as possible into each call is optimal: a call that took fewer would
// leave its successor starting no later.
func floorCalls(times []time.Duration, maxWait time.Duration, perCall int) int {
	calls := 0
	for i := 0; i < len(times); calls++ {
		first, n := times[i], 0
		for i < len(times) && n < perCall && times[i]-first <= maxWait {
			i, n = i+1, n+1
		}
	}
	return calls
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of xs, or
// none when xs is empty.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return none
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

// fleetDesign is a way of converting the row's leads.
type fleetDesign int

const (
	designOurs          fleetDesign = iota // fleet-wide batching: accumulators in the table
	designPerInvocation                    // the same functions without a queue (ConvertDeps.Queue nil)
	designPeer                             // one call per lead, as it arrives
)

// fleetResult is one design's run of one cell.
type fleetResult struct {
	calls        int
	waits        []float64 // seconds from each lead's acceptance to its Zoho call
	idsSubmitted int
	dupSubmitted int
	notOnce      int // leads not in exactly one job, and job entries naming no lead sent
	invocations  int
	handedBack   int // SQS messages handed back for a retry
	deadLetters  int
	wcu          wcuReading // DynamoDB write units, estimated (ours and per-invocation)
}

func (r fleetResult) leadsPerCall() float64 {
	if r.calls == 0 {
		return none
	}
	return float64(r.idsSubmitted) / float64(r.calls)
}

// problem is what broke in the run: a lead sent twice or lost.
func (r fleetResult) problem(leads int) string {
	switch {
	case r.dupSubmitted > 0 || r.notOnce > 0:
		return fmt.Sprintf("%d duplicate submissions, %d leads not in exactly one job", r.dupSubmitted, r.notOnce)
	case r.idsSubmitted != leads:
		return fmt.Sprintf("%d ids submitted for %d leads", r.idsSubmitted, leads)
	case r.deadLetters > 0:
		return fmt.Sprintf("%d dead letters", r.deadLetters)
	}
	return ""
}

// fleetConfig is the convert function's configuration with the template's
// defaults for fleet-wide batching and the concurrency budget.
func fleetConfig(s settings, maxWait time.Duration) (config.Convert, error) {
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
		"ZOHO_ACCOUNTS_URL": simURL, "ZOHO_API_URL": simURL,
		"MAX_ZOHO_CONCURRENCY": strconv.Itoa(s.concurrency), "ZOHO_CONCURRENCY_BUDGET": strconv.Itoa(templateBudget),
		"MAX_WAIT_SECONDS":        strconv.Itoa(int(maxWait.Seconds())),
		"BATCHING_WINDOW_SECONDS": strconv.Itoa(int(batchingWindow.Seconds()))}
	return config.LoadConvert(func(k string) string { return env[k] })
}

// templateBudget is ZohoConcurrencyBudget's default in template.yaml.
const templateBudget = 8

// requestBody is one lead's conversion request with option set k.
func requestBody(id string, k int) string {
	req := optionSet(k)
	req.IDs = []string{id}
	b, _ := json.Marshal(req) // a request built here always marshals
	return string(b)
}

// webhookEvent is a POST /conversions as API Gateway's HTTP API hands it over.
func webhookEvent(requestID, body string) json.RawMessage {
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "POST /conversions", RawPath: "/conversions",
		Headers: map[string]string{"authorization": "Bearer bench-webhook-key", "content-type": "application/json"}, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: requestID, Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/conversions"}}}
	raw, _ := json.Marshal(ev) // strings and maps of strings always marshal
	return raw
}

// drainLimit bounds the simulated time after the last arrival: every lead
// is on its way long before (MAX_WAIT_SECONDS, or a visibility timeout
// for a message handed back).
const drainLimit = 6 * time.Hour

// runFleetDesign converts the leads ids, arriving as arr says (ids[i]
// arrives as arr[i]), with design d, on a fresh simulator and clock.
func runFleetDesign(ctx context.Context, s settings, c fleetCell, arr []arrival, ids []string, d fleetDesign) (fleetResult, error) {
	clock := newClock()
	start := clock.Now()
	sim := rowSim(clock, 0) // the calls' timing is the simulated clock's
	sim.SeedLeads(ids...)
	accepted := make(map[string]time.Time, len(ids))
	var r fleetResult

	if d == designPeer {
		client, tokens, err := newZohoClient(sim, clock, oauth.NewMemoryStore(), zoho.RetryPolicy{Attempts: 1})
		if err != nil {
			return r, err
		}
		if _, err := tokens.Token(ctx); err != nil {
			return r, fmt.Errorf("peer: first token: %w", err)
		}
		for i, a := range arr {
			clock.Set(start.Add(a.at))
			req := optionSet(a.set)
			req.IDs = []string{ids[i]}
			accepted[ids[i]] = clock.Now()
			if _, err := client.MassConvert(ctx, &req); err != nil {
				return r, fmt.Errorf("peer: lead %s: %w", ids[i], err)
			}
		}
	} else {
		cfg, err := fleetConfig(s, c.maxWait)
		if err != nil {
			return r, err
		}
		deps := app.NewEmbedded(simSecret, clock.Now, io.Discard)
		deps.Shared.HTTPClient = simHTTPClient(sim)
		if err := warmTokens(ctx, sim, clock, deps.Tokens); err != nil {
			return r, err
		}
		cd, queue := deps.Convert(), deps.Queue
		var meter *wcuStore
		if c.wcuReported() { // metering every cell would add seconds for lines not printed
			meter = newWCUStore(deps.Jobs)
			cd.Jobs, cd.Slots = meter, wcuSlots{Slots: cd.Slots, w: meter}
		}
		if d == designPerInvocation {
			// The design before fleet-wide batching: webhooks converted at
			// once, SQS batches grouped within themselves. SQS messages
			// still come through a queue and its event source.
			cd.Queue, cd.Wakes, queue = nil, nil, sqsbatch.NewMemoryQueue(clock.Now)
		}
		var fns []*app.Convert
		for range fleetInstances {
			fn, err := app.NewConvert(cfg, cd)
			if err != nil {
				return r, err
			}
			fns = append(fns, fn)
		}
		src := &eventSource{queue: queue, fns: fns}
		if d == designPerInvocation {
			src.window = perInvocationWindow
		}
		wakes := &eventSource{queue: deps.Wakes, fns: fns, batchSize: 10, noWindow: true}
		hooks := 0
		for i := 0; ; {
			now := clock.Now()
			for ; i < len(arr) && !start.Add(arr[i].at).After(now); i++ {
				body := requestBody(ids[i], arr[i].set)
				accepted[ids[i]] = now
				if !arr[i].webhook {
					if err := queue.Enqueue(ctx, body, ""); err != nil {
						return r, err
					}
					continue
				}
				// Webhooks go to the instances in turn, as API Gateway
				// spreads them; each is answered before the next arrives.
				hooks++
				res, err := fns[hooks%len(fns)].Invoke(ctx, webhookEvent(fmt.Sprintf("hook-%06d", i), body))
				if err != nil {
					return r, err
				}
				if a, ok := res.(events.APIGatewayV2HTTPResponse); !ok || a.StatusCode/100 != 2 {
					return r, fmt.Errorf("webhook %d: %+v", i, res)
				}
			}
			for _, es := range []*eventSource{src, wakes} {
				if err := es.poll(ctx, now); err != nil {
					return r, err
				}
				if err := es.closeDue(ctx, now); err != nil {
					return r, err
				}
			}
			next := src.next()
			if w := wakes.next(); !w.IsZero() && (next.IsZero() || w.Before(next)) {
				next = w
			}
			if i < len(arr) && (next.IsZero() || start.Add(arr[i].at).Before(next)) {
				next = start.Add(arr[i].at)
			}
			if next.IsZero() {
				break
			}
			if next.Sub(start) > c.span(s)+drainLimit {
				return r, fmt.Errorf("%s: %d messages still queued %s after the last arrival", c, queue.Len(), drainLimit)
			}
			if next.After(now) {
				clock.Set(next)
			}
		}
		r.invocations, r.handedBack = src.invocations+wakes.invocations+hooks, src.handedBack+wakes.handedBack
		r.deadLetters = len(deps.DeadLetters.Letters())
		if meter != nil {
			r.wcu = meter.reading()
		}
	}

	st := sim.Stats()
	r.calls, r.idsSubmitted, r.dupSubmitted = st.Calls[zohosim.EndpointMassConvert], st.IDsSubmitted, st.DuplicateSubmissions
	notOnce, unknown := scheduledOnce(sim, ids)
	r.notOnce = len(notOnce) + unknown
	for _, j := range sim.Jobs() {
		for _, id := range j.IDs {
			if at, ok := accepted[id]; ok {
				r.waits = append(r.waits, j.ScheduledAt.Sub(at).Seconds())
			}
		}
	}
	return r, nil
}

// rowFleet is row 7: per cell, leads per Zoho call of the three designs
// against the floor, and the added wait against MAX_WAIT_SECONDS; the
// write units per lead of two cells; the most Zoho calls in flight across
// a busy deployment; what waiting for a budget slot costs and how soon a
// freed one is taken; the largest batch's answer.
func rowFleet(ctx context.Context, s settings, rep int) ([]sample, error) {
	// The largest batch waits in real time (claims at DynamoDB's pace,
	// the 60 s deadline) where the cells run on simulated clocks: it runs
	// beside them, so the row takes about a minute and not a minute more.
	type largest struct {
		s   sample
		err error
	}
	big := make(chan largest, 1)
	go func() {
		smp, err := largestSample(ctx, s)
		big <- largest{smp, err}
	}()
	out, err := fleetCells(ctx, s, rep)
	if err == nil {
		var b sample
		if b, err = budgetSample(ctx, s); err == nil {
			out = append(out, b)
		}
	}
	if err == nil {
		var w []sample
		if w, err = budgetWaitSamples(ctx, rep); err == nil {
			out = append(out, w...)
		}
	}
	l := <-big
	if err != nil {
		return nil, err
	}
	if l.err != nil {
		return nil, fmt.Errorf("largest batch: %w", l.err)
	}
	return append(out, l.s), nil
}

// fleetCells are row 7's cells: leads per call and added wait of each,
// write units of some, and the verdicts over all.
func fleetCells(ctx context.Context, s settings, rep int) ([]sample, error) {
	var out []sample
	var lost [3]int
	var problem string
	var leadsMet, leadsApply, waitMet int
	for ci, c := range fleetMatrix {
		rng := rand.New(rand.NewPCG(uint64(rep)+1, uint64(ci)))
		arr := arrivals(rng, c.rate, c.span(s), c.sets)
		ids := zohosim.New(zohosim.Options{}).SeedLeadRange(len(arr))
		bySet := make([][]time.Duration, c.sets)
		for _, a := range arr {
			bySet[a.set] = append(bySet[a.set], a.at)
		}
		floor := 0
		for _, ts := range bySet {
			floor += floorCalls(ts, c.maxWait, zoho.MaxIDsPerCall)
		}
		var res [3]fleetResult
		for d := range res {
			r, err := runFleetDesign(ctx, s, c, arr, ids, fleetDesign(d))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c, err)
			}
			res[d] = r
			if p := r.problem(len(ids)); p != "" {
				lost[d]++
				if problem == "" {
					problem = fmt.Sprintf("%s, %s: %s", c, [...]string{"ours", "per-invocation", "peer"}[d], p)
				}
			}
		}
		ours, per, peer := res[designOurs], res[designPerInvocation], res[designPeer]
		floorPerCall := float64(len(ids)) / float64(floor)

		// The verdicts are counted per repetition; a cell's own verdict is
		// read from its medians (the note is the first repetition's).
		goal := "goal >=45 n/a (under 50 leads per set within the wait)"
		if c.goalApplies() {
			goal = "goal >=45 applies"
			leadsApply++
			if ours.leadsPerCall() >= goalLeadsPerCall {
				leadsMet++
			}
		}
		capWait := (c.maxWait + goalWaitSlack).Seconds()
		oursP99 := percentile(ours.waits, 99)
		if oursP99 <= capWait {
			waitMet++
		}
		redelivered := ""
		if n := ours.handedBack + per.handedBack; n > 0 {
			redelivered = fmt.Sprintf("; %d msgs handed back", n)
		}
		out = append(out,
			sample{key: c.key() + "/leads-per-call", measure: "leads/call: " + c.String(), unit: "leads",
				ours: ours.leadsPerCall(), baseline: per.leadsPerCall(), floor: floorPerCall,
				note: fmt.Sprintf("%s; floor/cap: the floor's; rep 1: %d leads over %s, calls ours %d, floor %d, per-invocation %d, peer %d (%.1f/call); invocations %d, %d%s",
					goal, len(ids), fmtSpan(c.span(s)), ours.calls, floor, per.calls, peer.calls, peer.leadsPerCall(),
					ours.invocations, per.invocations, redelivered)},
			sample{key: c.key() + "/wait-p99", measure: "p99 added wait: " + c.String(), unit: "s",
				ours: oursP99, baseline: percentile(per.waits, 99), floor: capWait,
				note: fmt.Sprintf("cap: the goal, MAX_WAIT+10 s; rep 1: p50 ours %.0f s, per-invocation %.0f s, peer %.0f s (p99 %.0f s); longest ours %.0f s, per-invocation %.0f s",
					percentile(ours.waits, 50), percentile(per.waits, 50), percentile(peer.waits, 50), percentile(peer.waits, 99),
					percentile(ours.waits, 100), percentile(per.waits, 100))},
		)
		if c.wcuReported() {
			out = append(out, wcuSample(c, len(ids), ours, per))
		}
	}
	out = append(out,
		sample{key: "fleet/not-once", measure: "cells with a lead sent twice or lost (16 cells)", unit: "cells",
			ours: float64(lost[designOurs]), baseline: float64(lost[designPerInvocation]), floor: 0, problem: problem,
			note: fmt.Sprintf("DuplicateSubmissions 0, IDsSubmitted = leads, each lead in exactly one job, no dead letter; the peer: %d", lost[designPeer])},
		sample{key: "fleet/goal-leads", measure: "cells with >=45 leads/call where a set gets 50 per wait", unit: "cells",
			ours: float64(leadsMet), baseline: none, floor: float64(leadsApply),
			note: "counted in each repetition (median shown); the goal applies where rate/sets x MAX_WAIT >= 50; floor/cap: the cells it applies to"},
		sample{key: "fleet/goal-wait", measure: "cells with p99 added wait <= MAX_WAIT+10 s", unit: "cells",
			ours: float64(waitMet), baseline: none, floor: float64(len(fleetMatrix)),
			note: "counted in each repetition (median shown); added wait: the Zoho call's ScheduledAt less the lead's acceptance (202 or SQS send)"},
	)
	return out, nil
}

// fmtSpan writes a cell's span briefly: 2h0m, 12m0s, 1m0s.
func fmtSpan(d time.Duration) string {
	return d.Round(time.Second).String()
}

// wcuReported: the cells whose write units per lead are printed, where
// the accumulator fills from many small parks (1/s) and from a few
// larger ones (10/s).
func (c fleetCell) wcuReported() bool {
	return c.sets == 1 && c.maxWait == 60*time.Second && (c.rate == 1 || c.rate == 10)
}

// wcuSample is a cell's DynamoDB write units per lead, ours against
// per-invocation batching, estimated by the wcuStore meter.
func wcuSample(c fleetCell, leads int, ours, per fleetResult) sample {
	perLead := func(r fleetResult) float64 { return float64(r.wcu.total()) / float64(leads) }
	return sample{key: c.key() + "/wcu-per-lead", measure: "DynamoDB write units/lead: " + c.String(), unit: "WCU",
		ours: perLead(ours), baseline: perLead(per), floor: none,
		note: fmt.Sprintf("estimated from item sizes (1 KB steps, transactions x2, updates on the larger of before/after, failed conditions billed); rep 1: ours %s WCU (%s), per-invocation %s (%s); slot writes %d, %d",
			thousands(int64(ours.wcu.total())), ours.wcu.breakdown(leads), thousands(int64(per.wcu.total())), per.wcu.breakdown(leads),
			ours.wcu.calls[wSlots], per.wcu.calls[wSlots])}
}
