package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// A cell is one workload of row 1's matrix.
type cell struct {
	idsPerMsg  int // ids in every message
	dupPercent int // share of the ids that repeat an id sent elsewhere
	optionSets int // distinct option sets, see optionSet
}

var matrix = func() []cell {
	var cs []cell
	for _, per := range []int{1, 5, 50} {
		for _, dup := range []int{0, 10} {
			for _, sets := range []int{1, 3} {
				cs = append(cs, cell{per, dup, sets})
			}
		}
	}
	return cs
}()

func (c cell) key() string {
	return fmt.Sprintf("%did-%ddup-%dset", c.idsPerMsg, c.dupPercent, c.optionSets)
}

func (c cell) String() string {
	sets := "1 option set"
	if c.optionSets > 1 {
		sets = fmt.Sprintf("%d option sets", c.optionSets)
	}
	return fmt.Sprintf("%d id/msg, %d%% dup, %s", c.idsPerMsg, c.dupPercent, sets)
}

// optionSet returns request k of the three option sets: no deal, a deal,
// another owner.
func optionSet(k int) zoho.ConvertRequest {
	switch k % 3 {
	case 1:
		deal := zoho.Deal{}
		deal.SetString(zoho.DealName, "Website enquiry")
		deal.SetString(zoho.DealStage, "Qualification")
		deal.SetString(zoho.DealClosingDate, "2026-12-31")
		return zoho.ConvertRequest{Deals: &deal}
	case 2:
		return zoho.ConvertRequest{AssignTo: &zoho.Ref{ID: zohosim.DefaultUserID}}
	}
	return zoho.ConvertRequest{}
}

// workload is a cell's messages, in the order they reach the queue.
type workload struct {
	msgs        []message
	ids         []string // every distinct lead, seeded in the simulator
	uniqueBySet []int
	duplicates  int // ids sent more than once, counted once per extra send
}

// floor is the fewest calls Zoho could take: ceil(unique/50) per option set.
func (w workload) floor() int {
	n := 0
	for _, u := range w.uniqueBySet {
		n += (u + zoho.MaxIDsPerCall - 1) / zoho.MaxIDsPerCall
	}
	return n
}

// newWorkload seeds the cell's distinct leads in sim and lays out leads ids
// (duplicates included) in messages. Lead i belongs to option set i mod
// optionSets; a duplicate repeats a random lead with its options; messages
// of all option sets arrive shuffled together.
func newWorkload(sim *zohosim.Server, c cell, leads int, rng *rand.Rand) (workload, error) {
	dups := leads * c.dupPercent / 100
	w := workload{ids: sim.SeedLeadRange(leads - dups), uniqueBySet: make([]int, c.optionSets), duplicates: dups}
	bySet := make([][]string, c.optionSets)
	for i, id := range w.ids {
		bySet[i%c.optionSets] = append(bySet[i%c.optionSets], id)
		w.uniqueBySet[i%c.optionSets]++
	}
	for _, i := range rng.Perm(len(w.ids))[:dups] {
		bySet[i%c.optionSets] = append(bySet[i%c.optionSets], w.ids[i])
	}
	var groups [][]byte // message bodies
	for k, ids := range bySet {
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, chunk := range cut(ids, c.idsPerMsg) {
			req := optionSet(k)
			req.IDs = chunk
			body, err := json.Marshal(req)
			if err != nil {
				return w, err
			}
			groups = append(groups, body)
		}
	}
	rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	for i, body := range groups {
		w.msgs = append(w.msgs, message{id: fmt.Sprintf("5b7f2c1e-8a4d-4e6f-9b3a-%012d", i), body: string(body)})
	}
	return w, nil
}

// cut splits ids into messages of per ids without repeating an id within
// a message (the function refuses such a message as DUPLICATE_DATA): a
// repeat is held back for a later message.
func cut(ids []string, per int) [][]string {
	var msgs [][]string
	var cur []string
	in := map[string]bool{}
	flush := func() {
		if len(cur) > 0 {
			msgs = append(msgs, cur)
		}
		cur = nil
		clear(in)
	}
	for len(ids) > 0 {
		var held []string
		for _, id := range ids {
			if in[id] {
				held = append(held, id)
				continue
			}
			cur = append(cur, id)
			in[id] = true
			if len(cur) == per {
				flush()
			}
		}
		if len(held) > 0 {
			flush()
		}
		ids = held
	}
	flush()
	return msgs
}

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

// scheduledOnce returns the leads that are not in exactly one of the
// simulator's jobs, and how many job entries name a lead not in ids.
func scheduledOnce(sim *zohosim.Server, ids []string) (notOnce []string, unknown int) {
	seen := make(map[string]int, len(ids))
	for _, id := range ids {
		seen[id] = 0
	}
	for _, j := range sim.Jobs() {
		for _, id := range j.IDs {
			if _, ok := seen[id]; !ok {
				unknown++
				continue
			}
			seen[id]++
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			notOnce = append(notOnce, id)
		}
	}
	return notOnce, unknown
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
