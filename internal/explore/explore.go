// Package explore runs the lead protocol's actors (invocations parking
// leads, wake-ups, lost answers, crashes) against a store one operation at
// a time, in an order a seeded scheduler chooses, and checks lead by lead
// that nothing acknowledged is stranded or sent twice. A failing schedule
// prints as a trace with its seed; the seed replays it.
//
// Each actor runs the real convert.Service (Sequential, so an invocation is
// one goroutine) over a store and a Zoho that block at every operation
// until the scheduler lets exactly one actor go. All other actors are then
// parked at an operation or finished, so the order is the seed's alone.
package explore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// Config is one configuration to explore.
type Config struct {
	Leads        int     // one single-lead message each
	Invocations  int     // how many invocations take the first deliveries
	CrashRate    float64 // chance that an actor's process dies at an operation
	LostRate     float64 // chance that Zoho schedules a call and its answer is lost
	ThrottleRate float64 // chance that Zoho refuses a call with 429
	DoubleWake   float64 // chance that SQS delivers a wake-up twice
	MaxSteps     int     // operations before the drain; 0: 400
}

// Result is what one schedule did.
type Result struct {
	Seed  int64
	Steps int
	Trace []string
	// Violations are the broken promises, lead by lead; empty when the
	// schedule kept every one.
	Violations []string
}

func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, %d steps:\n", r.Seed, r.Steps)
	for i, s := range r.Trace {
		fmt.Fprintf(&b, "  %3d %s\n", i, s)
	}
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "VIOLATION: %s\n", v)
	}
	return b.String()
}

var errCrashed = errors.New("explore: this actor's process died")

type actorKey struct{}

// actor is one process: an invocation or a wake-up.
type actor struct {
	id      int
	name    string
	crashed bool
	release chan struct{}
	at      string // the operation it waits at
}

// world is one schedule's state. Between two gate releases exactly one
// actor goroutine runs, so the fields are handed from goroutine to
// goroutine through mu and the release channels.
type world struct {
	cfg   Config
	rng   chooser
	store testkit.JobStore
	svc   *convert.Service
	now   time.Time

	mu      sync.Mutex
	cond    *sync.Cond
	running int
	waiting []*actor
	nextID  int
	trace   []string

	queue   []convert.Submission // messages waiting for an invocation
	wakes   []convert.Wakeup     // wake-ups waiting for a delivery
	acked   map[string]bool      // messages answered done
	letters int

	zohoJobs map[string][]string  // Zoho's jobs: id -> leads
	doneAt   map[string]time.Time // Zoho's jobs: id -> when its leads are converted
	inJob    map[string]string    // lead -> the Zoho job that has it
	recorded map[string]bool      // leads whose Zoho job the store recorded
	leadBase string               // this schedule's leads: leadBase and six digits
	resent   []string             // leads sent again after their job was recorded
}

// chooser makes the schedule's choices: at random from a seed, or along a
// path when every schedule is explored.
type chooser interface {
	IntN(n int) int
	Chance(p float64) bool
}

type random struct{ r *rand.Rand }

func (c random) IntN(n int) int        { return c.r.IntN(n) }
func (c random) Chance(p float64) bool { return p > 0 && c.r.Float64() < p }

// path follows a prefix of choices, then takes the first option of each,
// and remembers every choice and how many options it had.
type path struct {
	prefix       []int
	made, counts []int
}

func (c *path) IntN(n int) int {
	k := 0
	if i := len(c.made); i < len(c.prefix) {
		k = c.prefix[i]
	}
	c.made, c.counts = append(c.made, k), append(c.counts, n)
	return k
}

func (c *path) Chance(p float64) bool { return p > 0 && c.IntN(2) == 1 }

// next is the prefix of the next schedule in depth-first order; false
// when every schedule was run.
func (c *path) next() ([]int, bool) {
	for i := len(c.made) - 1; i >= 0; i-- {
		if c.made[i]+1 < c.counts[i] {
			return append(slices.Clone(c.made[:i]), c.made[i]+1), true
		}
	}
	return nil, false
}

// Run explores one schedule of cfg on store (empty, its own) with seed.
func Run(seed int64, cfg Config, store testkit.JobStore) Result {
	return run(seed, random{rand.New(rand.NewPCG(uint64(seed), 0x5eed))}, cfg, store)
}

// All runs every schedule of cfg, depth first, each on a store newStore
// makes, until one breaks a promise or limit schedules ran; it returns how
// many ran, whether that was all of them, and the first failure.
func All(cfg Config, newStore func() testkit.JobStore, limit int) (runs int, complete bool, failed *Result) {
	var prefix []int
	for runs < limit {
		p := &path{prefix: prefix}
		res := run(int64(runs), p, cfg, newStore())
		runs++
		if len(res.Violations) > 0 {
			return runs, false, &res
		}
		next, ok := p.next()
		if !ok {
			return runs, true, nil
		}
		prefix = next
	}
	return runs, false, nil
}

func run(seed int64, rng chooser, cfg Config, store testkit.JobStore) Result {
	if cfg.MaxSteps == 0 {
		cfg.MaxSteps = 400
	}
	w := &world{cfg: cfg, rng: rng, recorded: map[string]bool{}, doneAt: map[string]time.Time{},
		now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), acked: map[string]bool{},
		zohoJobs: map[string][]string{}, inJob: map[string]string{}}
	w.cond = sync.NewCond(&w.mu)
	w.store = &gatedStore{JobStore: store, w: w}
	svc, err := convert.New(convert.Config{Zoho: gatedZoho{w}, Leads: gatedZoho{w}, Store: w.store,
		Now: w.clock, Timer: timer{w}, MaxWait: time.Minute, Sequential: true, MaxConcurrency: 1, Pause: func(time.Duration) {},
		Refused: func(context.Context, *zoho.ConvertRequest, []string, string, string) { w.letters++ }})
	if err != nil {
		panic(err)
	}
	w.svc = svc
	// Leads and options of their own per seed, so that schedules may share
	// a table: the ids and the fingerprint (by the owner) are the seed's.
	w.leadBase = fmt.Sprintf("3652397%06d", uint64(seed)%1_000_000)
	owner := fmt.Sprintf("3652398%012d", uint64(seed)%1_000_000_000_000)
	for i := range cfg.Leads {
		id := w.lead(i)
		w.queue = append(w.queue, convert.Submission{Source: "msg-" + id,
			Request: &zoho.ConvertRequest{IDs: []string{id}, AssignTo: &zoho.Ref{ID: owner}}})
	}
	res := Result{Seed: seed}
	// The first deliveries, split over the invocations.
	for i := range max(cfg.Invocations, 1) {
		var mine []convert.Submission
		for k := i; k < len(w.queue); k += max(cfg.Invocations, 1) {
			mine = append(mine, w.queue[k])
		}
		w.invoke(mine)
	}
	w.queue = nil
	res.Steps = w.schedule(cfg.MaxSteps, true)
	// The drain: no more faults, an hour later (leases lapse), every
	// message redelivered and every wake-up delivered until nothing is left.
	w.cfg.CrashRate, w.cfg.LostRate, w.cfg.ThrottleRate, w.cfg.DoubleWake = 0, 0, 0, 0
	w.now = w.now.Add(time.Hour)
	w.trace = append(w.trace, "-- drain: no faults, an hour later --")
	for range 50 {
		if len(w.queue) == 0 && len(w.wakes) == 0 {
			break
		}
		w.startPending()
		res.Steps += w.schedule(10_000, false)
	}
	res.Trace = w.trace
	res.Violations = w.check()
	return res
}

func (w *world) clock() time.Time { return w.now }

// lead is the id of the i-th lead of this schedule.
func (w *world) lead(i int) string { return fmt.Sprintf("%s%06d", w.leadBase, i+1) }

// invoke starts an invocation for subs.
func (w *world) invoke(subs []convert.Submission) {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = short1(strings.TrimPrefix(s.Source, "msg-"))
	}
	w.start("invoke["+strings.Join(names, ",")+"]", func(ctx context.Context, a *actor) {
		res := w.svc.Accumulate(ctx, subs)
		for i, r := range res {
			switch {
			case a.crashed:
				w.queue = append(w.queue, subs[i]) // never answered: SQS delivers it again
			case r.Verdict == convert.Done || r.Verdict == convert.Permanent:
				w.acked[subs[i].Request.IDs[0]] = true
			default:
				w.queue = append(w.queue, subs[i])
			}
		}
	})
}

func (w *world) wake(wk convert.Wakeup) {
	w.start("wake["+wk.Key.String()+"]", func(ctx context.Context, a *actor) {
		v := w.svc.Wake(ctx, []convert.Wakeup{wk})
		if a.crashed || v[0] == convert.Retry {
			w.wakes = append(w.wakes, wk) // not deleted: SQS delivers it again
		}
	})
}

func (w *world) start(name string, f func(context.Context, *actor)) {
	w.mu.Lock()
	w.nextID++
	a := &actor{id: w.nextID, name: fmt.Sprintf("%s#%d", name, w.nextID)}
	w.running++
	w.mu.Unlock()
	ctx := context.WithValue(context.Background(), actorKey{}, a)
	go func() {
		defer func() {
			w.mu.Lock()
			w.running--
			w.cond.Broadcast()
			w.mu.Unlock()
		}()
		f(ctx, a)
	}()
}

// gate blocks the calling actor at operation op until the scheduler picks
// it; it reports errCrashed if its process died there or before.
func (w *world) gate(ctx context.Context, op string) error {
	a, _ := ctx.Value(actorKey{}).(*actor)
	if a == nil {
		panic("explore: an operation outside any actor: " + op)
	}
	if a.crashed {
		return errCrashed
	}
	w.mu.Lock()
	a.release, a.at = make(chan struct{}), op
	w.waiting = append(w.waiting, a)
	w.running--
	w.cond.Broadcast()
	ch := a.release
	w.mu.Unlock()
	<-ch
	if a.crashed {
		return errCrashed
	}
	return nil
}

// schedule lets one waiting actor go at a time until none is left or
// steps ran out (then the rest go in order, without faults being drawn
// anew). With more, it also starts actors for waiting messages and
// wake-ups, at points it chooses.
func (w *world) schedule(steps int, more bool) int {
	n := 0
	for {
		w.mu.Lock()
		for w.running > 0 {
			w.cond.Wait()
		}
		pending := len(w.queue) + len(w.wakes)
		if len(w.waiting) == 0 && (!more || pending == 0 || n >= steps) {
			w.mu.Unlock()
			return n
		}
		if more && n < steps && pending > 0 && (len(w.waiting) == 0 || w.rng.IntN(4) == 0) {
			w.mu.Unlock()
			w.startOne()
			n++
			continue
		}
		slices.SortFunc(w.waiting, func(x, y *actor) int { return x.id - y.id })
		k := 0 // the drain runs the oldest first: its order is not explored
		if more {
			k = w.rng.IntN(len(w.waiting))
		}
		a := w.waiting[k]
		w.waiting = slices.Delete(w.waiting, k, k+1)
		crash := n < steps && w.rng.Chance(w.cfg.CrashRate)
		step := fmt.Sprintf("%s: %s", a.name, a.at)
		if crash {
			a.crashed = true
			step += "  ** dies here **"
		}
		w.trace = append(w.trace, step)
		w.now = w.now.Add(time.Second)
		w.running++
		close(a.release)
		w.mu.Unlock()
		n++
	}
}

// startOne starts an actor for one waiting message or wake-up.
func (w *world) startOne() {
	if len(w.wakes) > 0 && (len(w.queue) == 0 || w.rng.IntN(2) == 0) {
		k := w.rng.IntN(len(w.wakes))
		wk := w.wakes[k]
		w.wakes = slices.Delete(w.wakes, k, k+1)
		w.wake(wk)
		return
	}
	k := w.rng.IntN(len(w.queue))
	sub := w.queue[k]
	w.queue = slices.Delete(w.queue, k, k+1)
	w.invoke([]convert.Submission{sub})
}

// startPending starts an actor for every waiting message and wake-up.
func (w *world) startPending() {
	q, wk := w.queue, w.wakes
	w.queue, w.wakes = nil, nil
	for _, s := range q {
		w.invoke([]convert.Submission{s})
	}
	for _, k := range wk {
		w.wake(k)
	}
}

// check tells, lead by lead, which promise the schedule broke.
func (w *world) check() []string {
	var out []string
	ctx := context.Background()
	for i := range w.cfg.Leads {
		id := w.lead(i)
		if !w.acked[id] {
			out = append(out, fmt.Sprintf("lead %s: its message was never answered done after the drain", id))
			continue
		}
		if _, ok := w.inJob[id]; ok {
			continue // in exactly one Zoho job (a second send is counted below)
		}
		cs, err := w.store.Claims(ctx, []string{id})
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("lead %s: reading its claim: %v", id, err))
		case len(cs) == 0:
			out = append(out, fmt.Sprintf("lead %s: acknowledged, in no Zoho job and without a claim: lost", id))
		case cs[0].State == jobs.Rejected || cs[0].State == jobs.Lettered:
		default:
			out = append(out, fmt.Sprintf("lead %s: acknowledged, in no Zoho job, stranded: %+v", id, cs[0]))
		}
	}
	for _, id := range w.resent {
		out = append(out, fmt.Sprintf("lead %s: sent to Zoho again after a call that scheduled it", id))
	}
	return out
}

// gatedStore makes every store operation a step of the schedule.
type gatedStore struct {
	testkit.JobStore
	w *world
}

func (g *gatedStore) Acc(ctx context.Context, fp string) (jobs.Acc, error) {
	if err := g.w.gate(ctx, "read accumulator"); err != nil {
		return jobs.Acc{}, err
	}
	return g.JobStore.Acc(ctx, fp)
}

func (g *gatedStore) Park(ctx context.Context, owner string, acc jobs.Acc, ids, srcs []string, now, exp time.Time) ([]string, []jobs.Claim, error) {
	if err := g.w.gate(ctx, fmt.Sprintf("park %v in gen %d (as read: %d leads)", short(ids), acc.Gen, len(acc.LeadIDs))); err != nil {
		return nil, nil, err
	}
	return g.JobStore.Park(ctx, owner, acc, ids, srcs, now, exp)
}

func (g *gatedStore) Take(ctx context.Context, acc jobs.Acc, taker string, until time.Time) (jobs.Batch, error) {
	if err := g.w.gate(ctx, fmt.Sprintf("take gen %d (as read: %d leads)", acc.Gen, len(acc.LeadIDs))); err != nil {
		return jobs.Batch{}, err
	}
	return g.JobStore.Take(ctx, acc, taker, until)
}

func (g *gatedStore) Batch(ctx context.Context, key jobs.BatchKey) (jobs.Batch, error) {
	if err := g.w.gate(ctx, "read batch "+key.String()); err != nil {
		return jobs.Batch{}, err
	}
	return g.JobStore.Batch(ctx, key)
}

func (g *gatedStore) Lease(ctx context.Context, key jobs.BatchKey, taker string, now, until time.Time) error {
	if err := g.w.gate(ctx, "lease batch "+key.String()); err != nil {
		return err
	}
	return g.JobStore.Lease(ctx, key, taker, now, until)
}

func (g *gatedStore) DropBatch(ctx context.Context, key jobs.BatchKey) error {
	if err := g.w.gate(ctx, "drop batch "+key.String()); err != nil {
		return err
	}
	return g.JobStore.DropBatch(ctx, key)
}

func (g *gatedStore) Claim(ctx context.Context, owner string, ids []string, now, until time.Time) ([]string, []jobs.Claim, error) {
	if err := g.w.gate(ctx, fmt.Sprintf("claim %v", short(ids))); err != nil {
		return nil, nil, err
	}
	return g.JobStore.Claim(ctx, owner, ids, now, until)
}

func (g *gatedStore) Release(ctx context.Context, owner string, ids []string) error {
	if err := g.w.gate(ctx, fmt.Sprintf("release %v", short(ids))); err != nil {
		return err
	}
	return g.JobStore.Release(ctx, owner, ids)
}

func (g *gatedStore) Reject(ctx context.Context, owner, id, reason string, exp time.Time) error {
	if err := g.w.gate(ctx, "reject "+short1(id)); err != nil {
		return err
	}
	return g.JobStore.Reject(ctx, owner, id, reason, exp)
}

func (g *gatedStore) Letter(ctx context.Context, owner, id, reason string, exp time.Time) error {
	if err := g.w.gate(ctx, "letter "+short1(id)); err != nil {
		return err
	}
	return g.JobStore.Letter(ctx, owner, id, reason, exp)
}

func (g *gatedStore) RecordJob(ctx context.Context, job jobs.Job, exp time.Time) error {
	if err := g.w.gate(ctx, fmt.Sprintf("record %s %v batch %q", job.ID, short(job.LeadIDs), job.Batch.String())); err != nil {
		return err
	}
	err := g.JobStore.RecordJob(ctx, job, exp)
	if _, zohos := g.w.zohoJobs[job.ID]; err == nil && zohos {
		for _, id := range job.LeadIDs {
			g.w.recorded[id] = true
		}
	}
	return err
}

func (g *gatedStore) Claims(ctx context.Context, ids []string) ([]jobs.Claim, error) {
	if ctx.Value(actorKey{}) == nil {
		return g.JobStore.Claims(ctx, ids) // the checker's own read
	}
	if err := g.w.gate(ctx, fmt.Sprintf("read claims %v", short(ids))); err != nil {
		return nil, err
	}
	return g.JobStore.Claims(ctx, ids)
}

func short(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = short1(id)
	}
	return out
}

// short1 is a lead's number within its schedule.
func short1(id string) string { return strings.TrimLeft(id[max(len(id)-6, 0):], "0") }

// gatedZoho is Zoho as the scheduler lets it answer: it schedules a call
// at once and converts its leads, refuses a lead another job has (as Zoho
// does), throttles, or schedules and loses the answer.
type gatedZoho struct{ w *world }

func (z gatedZoho) MassConvert(ctx context.Context, req *zoho.ConvertRequest) (string, error) {
	w := z.w
	if err := w.gate(ctx, fmt.Sprintf("zoho mass_convert %v", short(req.IDs))); err != nil {
		return "", &zoho.APIError{Op: "mass_convert", Class: zoho.Retryable, IDIndex: -1, Message: "the process died", Err: err}
	}
	for k, id := range req.IDs {
		if _, ok := w.inJob[id]; ok {
			if w.recorded[id] {
				// A crash between Zoho's answer and the record may send a
				// lead again (Zoho refuses it); once recorded, never.
				w.resent = append(w.resent, id)
			}
			return "", &zoho.APIError{Op: "mass_convert", HTTPStatus: 400, Code: "INVALID_DATA", Class: zoho.InvalidID, IDIndex: k, ID: id, Message: "invalid data"}
		}
	}
	switch {
	case w.rng.Chance(w.cfg.ThrottleRate):
		w.trace = append(w.trace, "    zoho: 429")
		return "", &zoho.APIError{Op: "mass_convert", HTTPStatus: 429, Code: "TOO_MANY_REQUESTS", Class: zoho.Retryable, IDIndex: -1}
	case w.rng.Chance(w.cfg.LostRate):
		id := w.schedule1(req.IDs)
		w.trace = append(w.trace, "    zoho: scheduled "+id+", answer lost")
		return "", &zoho.APIError{Op: "mass_convert", Class: zoho.Retryable, IDIndex: -1, Ambiguous: true, Message: "connection reset"}
	}
	id := w.schedule1(req.IDs)
	w.trace = append(w.trace, "    zoho: scheduled "+id)
	return id, nil
}

func (w *world) schedule1(ids []string) string {
	id := fmt.Sprintf("3652397999%09d", len(w.zohoJobs)+1)
	w.zohoJobs[id] = slices.Clone(ids)
	w.doneAt[id] = w.now.Add(zohoJobTakes)
	for _, l := range ids {
		w.inJob[l] = id
	}
	return id
}

// zohoJobTakes is how long Zoho takes to convert a job's leads: meanwhile
// it refuses them to another call and reads them back not converted.
const zohoJobTakes = 30 * time.Second

func (z gatedZoho) GetLeads(ctx context.Context, ids []string) ([]zoho.Lead, error) {
	if err := z.w.gate(ctx, fmt.Sprintf("zoho get leads %v", short(ids))); err != nil {
		return nil, err
	}
	out := make([]zoho.Lead, len(ids))
	for i, id := range ids {
		job, ok := z.w.inJob[id]
		converted := ok && !z.w.now.Before(z.w.doneAt[job])
		out[i] = zoho.Lead{ID: id, Found: true, Known: true, Converted: converted}
	}
	return out, nil
}

// timer is the conversion queue's delayed wake-ups: the scheduler delivers
// them when it chooses (their delay only orders them in time), sometimes
// twice, as SQS may.
type timer struct{ w *world }

func (t timer) Wake(ctx context.Context, wk convert.Wakeup, _ time.Duration) error {
	if err := t.w.gate(ctx, "set wake-up "+wk.Key.String()); err != nil {
		return err
	}
	t.w.wakes = append(t.w.wakes, wk)
	if t.w.rng.Chance(t.w.cfg.DoubleWake) {
		t.w.wakes = append(t.w.wakes, wk)
	}
	return nil
}
