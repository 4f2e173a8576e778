// Row 8, scheduled sweeps (issue 17): a sweep's run over n matching leads,
// 10% of them already converted and 5% already claimed, from the
// schedule's tick through the status function (COQL, Get Records, claims,
// messages of up to 1,000 ids) and the conversion queue to the convert
// function's recorded jobs, at the template's settings; against the
// producer a user would write, Search pages of 200 and one Convert Lead
// call per lead (sweep_peer.go).

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// sweepSettings size row 8.
type sweepSettings struct {
	sizes []int // matching leads of each measured run
	// scale is how much faster than real time the timed run goes: Zoho's
	// latency is divided by it, and the clock every function, queue and
	// the simulator read runs that much faster, so the time measured on
	// it is real time multiplied back.
	scale int
}

func defaultSweepSettings() sweepSettings {
	return sweepSettings{sizes: []int{1000, 10_000, 100_000}, scale: 10}
}

// The workload: one sweep of the recipe, a share of its leads
// converted or claimed before the run, and leads that Search's "equals"
// finds though the condition does not match them.
const (
	sweepName         = "nightly-web"
	sweepCondition    = "Lead_Status = 'Qualified' and Lead_Source = 'Web'"
	sweepConvertedPct = 10 // matching leads already converted
	sweepClaimedPct   = 5  // matching leads already claimed, in a job Zoho is running
	sweepDecoyPct     = 5  // leads Pre-Qualified from the Web, as many as this share of n
	// sweepJobHold keeps every job scheduled: the row ends when the last
	// job is recorded, and a job that ended would turn claimed leads into
	// converted ones mid-run.
	sweepJobHold = 24 * time.Hour
	// sweepRealLimit bounds one timed run in real time.
	sweepRealLimit = 30 * time.Minute
)

// sweepOptions are the sweep's conversion options: a contact, owned by the
// org's user (Zoho's Mass Convert requires an owner).
var sweepOptions = json.RawMessage(`{"assign_to":{"id":"` + zohosim.DefaultUserID + `"}}`)

// sweepWorkload is the leads of one run, seeded in a simulator.
type sweepWorkload struct {
	matching    []string // match the condition (n)
	convertible []string // matching, neither converted nor claimed
	converted   []string
	claimed     []string
	decoys      []string        // Pre-Qualified: Search's equals finds them, the condition does not
	seedJobs    map[string]bool // the jobs that hold the claimed leads
}

// seedSweep seeds n matching leads and the decoys in sim, in one id range
// with the decoys spread through it; converts 10% of the matching ones and
// puts 5% in jobs Zoho runs, recorded with their claims in store when
// store is not nil. It uses a client of its own, before the run's
// counters are reset.
func seedSweep(ctx context.Context, sim *zohosim.Server, clock zohosim.Clock, tokens oauth.Store, store *memstore.Store, n int, rng *rand.Rand) (sweepWorkload, error) {
	decoys := n * sweepDecoyPct / 100
	all := sim.SeedLeadRange(n + decoys)
	w := sweepWorkload{seedJobs: map[string]bool{}}
	isDecoy := map[int]bool{}
	for _, i := range rng.Perm(len(all))[:decoys] {
		isDecoy[i] = true
	}
	for i, id := range all {
		if isDecoy[i] {
			w.decoys = append(w.decoys, id)
			sim.SetLeadFields(id, map[string]any{"Lead_Status": "Pre-Qualified", "Lead_Source": "Web"})
			continue
		}
		w.matching = append(w.matching, id)
		sim.SetLeadFields(id, map[string]any{"Lead_Status": "Qualified", "Lead_Source": "Web"})
	}
	conv, claim := n*sweepConvertedPct/100, n*sweepClaimedPct/100
	kind := make([]int, n) // 0 convertible, 1 converted, 2 claimed
	for k, i := range rng.Perm(n)[:conv+claim] {
		kind[i] = 1
		if k >= conv {
			kind[i] = 2
		}
	}
	for i, id := range w.matching {
		switch kind[i] {
		case 1:
			w.converted = append(w.converted, id)
		case 2:
			w.claimed = append(w.claimed, id)
		default:
			w.convertible = append(w.convertible, id)
		}
	}
	sim.SeedConvertedLeads(w.converted...)

	client, _, err := newZohoClient(sim, clock, tokens, zoho.RetryPolicy{Attempts: 1})
	if err != nil {
		return w, err
	}
	for chunk := range slices.Chunk(w.claimed, zoho.MaxIDsPerCall) {
		req := owned(chunk...)
		id, err := client.MassConvert(ctx, req)
		if err != nil {
			return w, fmt.Errorf("seeding claimed leads: %w", err)
		}
		w.seedJobs[id] = true
		if store == nil {
			continue
		}
		now := clock.Now()
		if err := store.RecordJob(ctx, jobs.Job{ID: id, State: jobs.Scheduled, LeadIDs: chunk, CreatedAt: now, UpdatedAt: now,
			NextCheckAt: now.Add(time.Minute)}, now.Add(30*24*time.Hour)); err != nil {
			return w, fmt.Errorf("seeding claimed leads: %w", err)
		}
	}
	return w, nil
}

// newSweepSim is a simulator whose jobs stay scheduled, with Zoho's calls
// in flight per org.
func newSweepSim(clock zohosim.Clock) *zohosim.Server {
	return zohosim.New(zohosim.Options{Clock: clock, ConcurrencyLimit: zohoSubConcurrency, ScheduledFor: sweepJobHold})
}

// putSweep stores the row's sweep, max_leads above what it converts.
func putSweep(ctx context.Context, store *memstore.Store, n int, now time.Time) error {
	return store.PutSweep(ctx, sweep.Sweep{Name: sweepName, Schedule: "cron(0 2 * * ? *)", TimeZone: "Europe/Berlin",
		Condition: sweepCondition, Options: sweepOptions, MaxLeads: min(max(n, 1), sweep.MaxMaxLeads), Enabled: true, CreatedAt: now})
}

// scaledClock runs scale times faster than real time from start.
type scaledClock struct {
	start, real0 time.Time
	scale        time.Duration
}

func newScaledClock(start time.Time, scale int) *scaledClock {
	return &scaledClock{start: start, real0: time.Now(), scale: time.Duration(scale)}
}

func (c *scaledClock) Now() time.Time { return c.start.Add(time.Since(c.real0) * c.scale) }

// paced makes every Zoho call take latency in all (the simulator's own
// work included, so that its scans of 100,000 leads do not add to the
// scaled time) and counts the calls in flight.
type paced struct {
	next             http.RoundTripper
	latency          time.Duration
	inFlight, maxNow atomic.Int64
}

func (p *paced) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	for m := p.maxNow.Load(); n > m && !p.maxNow.CompareAndSwap(m, n); m = p.maxNow.Load() {
	}
	resp, err := p.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	if rest := p.latency - time.Since(start); rest > 0 {
		if err := pause(r.Context(), rest); err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	return resp, nil
}

// sweepEnv is the environment of both functions as the template sets it,
// with Zoho pointed at the simulator.
func sweepEnv(s settings) func(string) string {
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
		"ZOHO_ACCOUNTS_URL": simURL, "ZOHO_API_URL": simURL,
		"MAX_ZOHO_CONCURRENCY": strconv.Itoa(s.concurrency), "ZOHO_CONCURRENCY_BUDGET": strconv.Itoa(templateBudget),
		"MAX_WAIT_SECONDS": "60", "BATCHING_WINDOW_SECONDS": strconv.Itoa(int(batchingWindow.Seconds()))}
	return func(k string) string { return env[k] }
}

// sweepEvent is the schedule's invocation of the status function: the
// sweep's name and the tick as the run's id.
func sweepEvent(tick time.Time) json.RawMessage {
	raw, _ := json.Marshal(map[string]string{"sweep": sweepName, "run": tick.UTC().Format(time.RFC3339)})
	return raw
}

// oursSweep is what one timed run of ours showed.
type oursSweep struct {
	w            sweepWorkload
	rep          sweep.Report // the last invocation's
	statusCalls  int          // status function invocations the run took
	stats        zohosim.Stats
	elapsed      time.Duration // scaled: from the tick to the last job recorded
	jobs         int
	meter        *requestMeter
	invocations  int // convert function invocations
	handedBack   int
	deadLetters  int
	notOnce      int // convertible leads not in exactly one job
	wrong        int // ids in our jobs that were not convertible
	maxInFlight  int64
	deadlineStop int // invocations that stopped at their deadline
}

// runSweepOurs runs the sweep from its tick to its last job, time
// compressed by s.sweep.scale.
func runSweepOurs(ctx context.Context, s settings, n int, rng *rand.Rand) (oursSweep, error) {
	r := oursSweep{meter: newRequestMeter()}
	clock := newScaledClock(newClock().Now(), s.sweep.scale)
	sim := newSweepSim(clock)
	deps := app.NewEmbedded(simSecret, clock.Now, io.Discard)
	if err := warmTokens(ctx, sim, clock, deps.Tokens); err != nil {
		return r, err
	}
	var err error
	if r.w, err = seedSweep(ctx, sim, clock, deps.Tokens, deps.Jobs, n, rng); err != nil {
		return r, err
	}
	if err := putSweep(ctx, deps.Jobs, n, clock.Now()); err != nil {
		return r, err
	}

	m := r.meter
	table := &sweepTable{Store: deps.Jobs, m: m, now: clock.Now}
	pace := &paced{next: sim.Transport(), latency: s.latency / time.Duration(s.sweep.scale)}
	shared := app.Shared{Secret: secret.Static(simSecret), Tokens: sweepTokens{deps.Tokens, m},
		Slots: sweepSlots{deps.Shared.Slots, m}, HTTPClient: &http.Client{Transport: pace, Timeout: 30 * time.Second},
		Now: clock.Now, Out: io.Discard}
	conv, wakes := sweepQueue{deps.Queue, m}, sweepQueue{deps.Wakes, m}
	ccfg, err := config.LoadConvert(sweepEnv(s))
	if err != nil {
		return r, err
	}
	scfg, err := config.LoadStatus(sweepEnv(s))
	if err != nil {
		return r, err
	}
	cd := app.ConvertDeps{Shared: shared, Jobs: table, DeadLetter: deps.DeadLetters, Queue: conv, Wakes: wakes}
	pool := func(k int) (chan *app.Convert, error) {
		ch := make(chan *app.Convert, k)
		for range k {
			fn, err := app.NewConvert(ccfg, cd)
			if err != nil {
				return nil, err
			}
			ch <- fn
		}
		return ch, nil
	}
	convFns, err := pool(queueMaxConcurrency)
	if err != nil {
		return r, err
	}
	wakeFns, err := pool(2) // the Wakeups event's MaximumConcurrency
	if err != nil {
		return r, err
	}
	statusFn, err := app.NewStatus(scfg, app.StatusDeps{Shared: shared, Jobs: table, Resend: conv, Sweeps: table})
	if err != nil {
		return r, err
	}
	sim.ResetStats()

	// The schedule's tick: the status function runs the sweep; an
	// invocation that nears its deadline saves the run's cursor and the
	// next goes on from it (here at once).
	tick := clock.Now()
	var sweepDone atomic.Bool
	sweepErr := make(chan error, 1)
	go func() {
		defer sweepDone.Store(true)
		for {
			ictx, cancel := context.WithTimeout(ctx, statusTimeout)
			res, err := statusFn.Invoke(ictx, sweepEvent(tick))
			cancel()
			r.statusCalls++
			if err != nil {
				sweepErr <- fmt.Errorf("sweep invocation %d: %w", r.statusCalls, err)
				return
			}
			rep, ok := res.(sweep.Report)
			switch {
			case !ok:
				sweepErr <- fmt.Errorf("sweep invocation %d: answer %T", r.statusCalls, res)
				return
			case rep.End == sweep.EndDone:
				r.rep = rep
				sweepErr <- nil
				return
			case rep.End != "":
				sweepErr <- fmt.Errorf("sweep ended %s: %s", rep.End, rep.Reason)
				return
			case rep.Stopped != "deadline":
				sweepErr <- fmt.Errorf("sweep invocation %d stopped %q", r.statusCalls, rep.Stopped)
				return
			}
			r.deadlineStop++
		}
	}()

	src := &sweepSource{q: deps.Queue, fns: convFns, window: batchingWindow, size: sqsBatchSize, m: m}
	wk := &sweepSource{q: deps.Wakes, fns: wakeFns, size: 10, m: m}
	limit := time.Now().Add(sweepRealLimit)
	for {
		now := clock.Now()
		for _, es := range []*sweepSource{src, wk} {
			es.poll(now)
			es.dispatch(ctx)
		}
		if sweepDone.Load() && deps.Queue.Len() == 0 && deps.Wakes.Len() == 0 && !src.busy() && !wk.busy() {
			break
		}
		if time.Now().After(limit) {
			return r, fmt.Errorf("%d leads: still running after %s (queued %d, wake-ups %d)", n, sweepRealLimit, deps.Queue.Len(), deps.Wakes.Len())
		}
		if err := pause(ctx, time.Millisecond); err != nil {
			return r, err
		}
	}
	if err := <-sweepErr; err != nil {
		return r, err
	}
	for _, es := range []*sweepSource{src, wk} {
		if err := es.err(); err != nil {
			return r, err
		}
		r.invocations += es.invocations
		r.handedBack += es.handedBack
	}
	r.deadLetters = len(deps.DeadLetters.Letters())
	r.stats = sim.Stats()
	r.maxInFlight = pace.maxNow.Load()
	m.mu.Lock()
	r.elapsed, r.jobs = m.lastJob.Sub(tick), m.jobs
	m.mu.Unlock()
	r.notOnce, r.wrong = jobsCover(sim, r.w)
	return r, nil
}

// jobsCover checks the jobs the run scheduled (the seeded ones left out):
// how many convertible leads are not in exactly one, and how many ids in
// them are not convertible leads.
func jobsCover(sim *zohosim.Server, w sweepWorkload) (notOnce, wrong int) {
	seen := make(map[string]int, len(w.convertible))
	for _, id := range w.convertible {
		seen[id] = 0
	}
	for _, j := range sim.Jobs() {
		if w.seedJobs[j.ID] {
			continue
		}
		for _, id := range j.IDs {
			if _, ok := seen[id]; !ok {
				wrong++
				continue
			}
			seen[id]++
		}
	}
	for _, k := range seen {
		if k != 1 {
			notOnce++
		}
	}
	return notOnce, wrong
}

// sweepSource is an SQS event source in real time on the scaled clock:
// gatherers collect the visible messages (in turn, as fleet_source.go's
// do) and close their batch a window after its first message or when
// full; a closed batch waits for a free instance of fns, so no more run at
// once than the pool holds (the event's MaximumConcurrency).
type sweepSource struct {
	q      *sqsbatch.MemoryQueue
	fns    chan *app.Convert
	window time.Duration
	size   int
	m      *requestMeter

	gs    [fleetGatherers]gatherer
	nextG int
	ready []gatherer

	mu          sync.Mutex
	running     int
	invocations int
	handedBack  int
	firstErr    error
}

func (e *sweepSource) poll(now time.Time) {
	for {
		raw, ids := e.q.Receive(1)
		if raw == nil {
			break
		}
		var ev events.SQSEvent
		if json.Unmarshal(raw, &ev) != nil || len(ev.Records) != 1 {
			e.fail(fmt.Errorf("event source: the queue handed over %s", raw))
			return
		}
		g := &e.gs[e.nextG]
		e.nextG = (e.nextG + 1) % len(e.gs)
		if len(g.recs) == 0 {
			g.closeAt = now.Add(e.window)
		}
		g.recs, g.ids = append(g.recs, ev.Records[0]), append(g.ids, ids...)
		if len(g.recs) == e.size {
			e.ready, *g = append(e.ready, *g), gatherer{}
		}
	}
	for i := range e.gs {
		if g := &e.gs[i]; len(g.recs) > 0 && !g.closeAt.After(now) {
			e.ready, *g = append(e.ready, *g), gatherer{}
		}
	}
}

// dispatch hands the closed batches to free instances.
func (e *sweepSource) dispatch(ctx context.Context) {
	for len(e.ready) > 0 {
		var fn *app.Convert
		select {
		case fn = <-e.fns:
		default:
			return
		}
		g := e.ready[0]
		e.ready = e.ready[1:]
		e.mu.Lock()
		e.running++
		e.mu.Unlock()
		go func() {
			defer func() { e.fns <- fn }()
			e.invoke(ctx, fn, g)
		}()
	}
}

func (e *sweepSource) invoke(ctx context.Context, fn *app.Convert, g gatherer) {
	defer func() {
		e.mu.Lock()
		e.running--
		e.mu.Unlock()
	}()
	raw, err := json.Marshal(events.SQSEvent{Records: g.recs})
	if err != nil {
		e.fail(err)
		return
	}
	ictx, cancel := context.WithTimeout(ctx, lambdaTimeout)
	defer cancel()
	res, err := fn.Invoke(ictx, raw)
	if err != nil {
		e.fail(fmt.Errorf("event source: invoke: %w", err))
		return
	}
	answer, ok := res.(events.SQSEventResponse)
	if !ok {
		e.fail(fmt.Errorf("event source: answer %T, want events.SQSEventResponse", res))
		return
	}
	e.q.Delete(g.ids, answer)
	e.m.add("DeleteMessageBatch", chunks(len(g.ids)-len(answer.BatchItemFailures), 10))
	e.mu.Lock()
	e.invocations++
	e.handedBack += len(answer.BatchItemFailures)
	e.mu.Unlock()
}

func (e *sweepSource) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.firstErr == nil {
		e.firstErr = err
	}
}

func (e *sweepSource) err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.firstErr
}

// busy reports whether a batch is gathering, waiting or running.
func (e *sweepSource) busy() bool {
	if len(e.ready) > 0 {
		return true
	}
	for _, g := range e.gs {
		if len(g.recs) > 0 {
			return true
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.running > 0
}

// rowSweep is row 8: for each size, ours (timed, metered), the producer
// and ours alone for its heap, each on the same workload.
func rowSweep(ctx context.Context, s settings, rep int) ([]sample, error) {
	var out []sample
	for _, n := range s.sweep.sizes {
		seed := func() *rand.Rand { return rand.New(rand.NewPCG(uint64(rep)+1, uint64(n))) }
		ours, err := runSweepOurs(ctx, s, n, seed())
		if err != nil {
			return nil, fmt.Errorf("%d leads, ours: %w", n, err)
		}
		peer, err := runSweepPeer(ctx, s, n, seed())
		if err != nil {
			return nil, fmt.Errorf("%d leads, the producer: %w", n, err)
		}
		heap, alone, err := sweepAloneHeap(ctx, s, n, seed())
		if err != nil {
			return nil, fmt.Errorf("%d leads, ours alone: %w", n, err)
		}
		out = append(out, sweepSamples(s, n, ours, peer, heap, alone)...)
	}
	return out, nil
}

func sweepSamples(s settings, n int, ours oursSweep, peer peerSweep, heap heapUse, alone sweep.Report) []sample {
	w := ours.w
	key := func(k string) string { return fmt.Sprintf("sweep/%d/%s", n, k) }
	size := fmt.Sprintf("(%s leads)", thousands(int64(n)))
	st, rp := ours.stats, ours.rep
	var problems []string
	if ours.notOnce > 0 || ours.wrong > 0 {
		problems = append(problems, fmt.Sprintf("%d convertible leads not in exactly one job, %d other ids in jobs", ours.notOnce, ours.wrong))
	}
	if rp.Queued != len(w.convertible) || rp.SkippedConverted != len(w.converted) || rp.SkippedClaimed != len(w.claimed) || rp.Matched != n {
		problems = append(problems, fmt.Sprintf("run matched %d, skipped %d converted and %d claimed, queued %d; want %d, %d, %d, %d",
			rp.Matched, rp.SkippedConverted, rp.SkippedClaimed, rp.Queued, n, len(w.converted), len(w.claimed), len(w.convertible)))
	}
	if ours.deadLetters > 0 || ours.handedBack > 0 {
		problems = append(problems, fmt.Sprintf("%d dead letters, %d messages handed back", ours.deadLetters, ours.handedBack))
	}
	if st.ConcurrencyRejected > 0 {
		problems = append(problems, fmt.Sprintf("%d calls refused with 429", st.ConcurrencyRejected))
	}
	problem := func(extra ...string) string {
		p := slices.DeleteFunc(append(slices.Clone(problems), extra...), func(x string) bool { return x == "" })
		if len(p) == 0 {
			return ""
		}
		return fmt.Sprint(p)
	}
	calls := func(ep zohosim.Endpoint) float64 { return float64(st.Calls[ep]) }
	perCall := func(k int) int { return (k + zoho.MaxIDsPerCall - 1) / zoho.MaxIDsPerCall }
	coqlFloor := (n + zoho.MaxCOQLRows - 1) / zoho.MaxCOQLRows
	readFloor := perCall(n)
	lat := s.latency
	readsFloor := time.Duration(coqlFloor+readFloor) * lat
	mix := fmt.Sprintf("%s matching: %s already converted, %s claimed (in jobs Zoho runs), %s convertible; %s Pre-Qualified leads besides",
		thousands(int64(n)), thousands(int64(len(w.converted))), thousands(int64(len(w.claimed))), thousands(int64(len(w.convertible))), thousands(int64(len(w.decoys))))
	var twice, sent string
	if st.DuplicateSubmissions > 0 {
		twice = fmt.Sprintf("%d leads converted twice", st.DuplicateSubmissions)
	}
	if st.ConvertedSubmissions > 0 {
		sent = fmt.Sprintf("%d converted leads sent", st.ConvertedSubmissions)
	}
	ddb := ours.meter.total(dynamoAPIs...)
	sqs := ours.meter.total(sqsAPIs...)
	return []sample{
		{key: key("coql-calls"), measure: "sweep: COQL calls " + size, unit: "calls",
			ours: calls(zohosim.EndpointCOQL), baseline: float64(peer.searchCalls), floor: float64(coqlFloor), problem: problem(),
			note: fmt.Sprintf("floor ceil(n/2,000): keyset pages of 2,000 (id > cursor); ours took %d status invocations, each after the first selects again from the saved cursor; baseline: Search pages of 200, %d searches from page 1 (2,000 leads each, then LIMIT_REACHED); %s",
				ours.statusCalls, peer.passes, mix)},
		{key: key("get-records-calls"), measure: "sweep: Get Records calls " + size, unit: "calls",
			ours: calls(zohosim.EndpointGetLeads), baseline: 0, floor: float64(readFloor), problem: problem(),
			note: fmt.Sprintf("floor ceil(n/50): every candidate read back (converted=both), 50 a call; above it: a message that reaches 1,000 ids ends on a short read, and a page ends its last message; %s messages; the producer reads nothing back",
				thousands(int64(rp.Messages)))},
		{key: key("convert-calls"), measure: "sweep: mass_convert calls " + size, unit: "calls",
			ours: calls(zohosim.EndpointMassConvert), baseline: float64(peer.convertCalls), floor: float64(perCall(len(w.convertible))), problem: problem(),
			note: fmt.Sprintf("floor ceil(convertible/50), one option set; baseline: Convert Lead calls, one per lead Search found (%s converted, %s refused as converted); %s convert invocations (wake-ups included), %s jobs recorded",
				thousands(int64(peer.stats.LeadsConverted)), thousands(int64(peer.stats.ConvertedSubmissions)), thousands(int64(ours.invocations)), thousands(int64(ours.jobs)))},
		{key: key("converted-twice"), measure: "sweep: leads converted twice " + size, unit: "count",
			ours: float64(st.DuplicateSubmissions), baseline: float64(peer.stats.DuplicateSubmissions), floor: 0, problem: problem(twice),
			note: fmt.Sprintf("the simulator's DuplicateSubmissions: a lead sent while a job holds it; the producer converts the %s claimed leads again (it cannot see claims)", thousands(int64(len(w.claimed))))},
		{key: key("converted-sent"), measure: "sweep: converted leads sent to Zoho " + size, unit: "count",
			ours: float64(st.ConvertedSubmissions), baseline: float64(peer.stats.ConvertedSubmissions), floor: 0, problem: problem(sent),
			note: "the simulator's ConvertedSubmissions (one fails a whole mass_convert call); Search hides converted leads (unconfirmed), so the producer sends none"},
		{key: key("wrong-leads"), measure: "sweep: non-matching leads converted " + size, unit: "count",
			ours: float64(ours.wrong), baseline: float64(peer.decoysConverted), floor: 0, problem: problem(),
			note: fmt.Sprintf("of %s Pre-Qualified leads: COQL's = is exact, Search's equals matches like contains; matching leads the producer left unconverted: %d", thousands(int64(len(w.decoys))), peer.leftOver)},
		{key: key("time"), measure: "sweep: tick to last job recorded " + size, unit: "s",
			ours: ours.elapsed.Seconds(), baseline: peer.time.Seconds(), floor: readsFloor.Seconds(), problem: problem(),
			note: fmt.Sprintf("at %s per Zoho call; ours measured %dx faster than real time (latency, clock and queues scaled; Lambda deadlines real): %d status invocations (%d stopped at the deadline and went on), most calls in flight %d (budget %d); floor: the run's COQL and Get Records floors one at a time; baseline computed from its calls: Search pages one at a time, Convert Lead %d in flight",
				lat, s.sweep.scale, ours.statusCalls, ours.deadlineStop, ours.maxInFlight, templateBudget, zohoSubConcurrency)},
		{key: key("heap"), measure: "sweep: peak heap of the run " + size, unit: "MB",
			ours: mib(heap.live), baseline: mib(peer.heap.live), floor: none, problem: problem(),
			note: fmt.Sprintf("most live heap a collection found during the run (GOGC %d), above the heap before it; the run alone, without latency, in process with the simulator, whose answers in flight count (and what is allocated while a collection marks: an upper bound that grows a little with the simulator's heap); ours: one status invocation, %d COQL and %d Get Records calls; HeapInuse peak (garbage included, which grows with the simulator's heap): ours %.1f MB, the producer %.1f MB",
				heapRunGOGC, alone.COQLCalls, alone.ReadCalls, mib(heap.inuse), mib(peer.heap.inuse))},
		{key: key("dynamodb"), measure: "sweep: DynamoDB requests per 1,000 leads " + size, unit: "count",
			ours: float64(ddb) * 1000 / float64(n), baseline: 0, floor: none, problem: problem(),
			note: "requests pkg/aws/table would make, counted on the in-memory table (sweep, claims, budget slots, token, jobs); the producer keeps nothing: " + ours.meter.breakdown(dynamoAPIs, n)},
		{key: key("sqs"), measure: "sweep: SQS requests per 1,000 leads " + size, unit: "count",
			ours: float64(sqs) * 1000 / float64(n), baseline: 0, floor: none, problem: problem(),
			note: "SendMessage (the sweep's messages of up to 1,000 ids, wake-ups) and the event source's DeleteMessageBatch; its ReceiveMessage polls go on whatever comes: " + ours.meter.breakdown(sqsAPIs, n)},
	}
}

// parseSizes reads -sweep-leads: a comma-separated list of lead counts.
func (ss *sweepSettings) parseSizes(v string) error {
	var sizes []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 20 || n > sweep.MaxMaxLeads {
			return fmt.Errorf("%q is not a number of leads from 20 to %d", f, sweep.MaxMaxLeads)
		}
		sizes = append(sizes, n)
	}
	ss.sizes = sizes
	return nil
}
