// Package explore runs the lead protocol's actors (invocations parking
// leads, wake-ups, the status function's settle, resend and safety net, a
// redrive of the dead-letter queue; lost answers, refusals, leads Zoho
// does not have, a refused token, jobs that fail or that Zoho forgets,
// wake-ups SQS fails to take or loses, a throttled table, crashes) against a store one operation at a time, in an order a seeded
// scheduler chooses, and checks lead by lead that nothing acknowledged is
// stranded or sent twice. A failing schedule prints as a trace with its
// seed; the seed replays it.
//
// Each actor runs the real convert.Service (Sequential, so an invocation is
// one goroutine) over a store and a Zoho that block at every operation
// until the scheduler lets exactly one actor go. All other actors are then
// parked at an operation or finished, so the order is the seed's alone.
package explore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
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
	// LostWake is the chance that a wake-up goes astray when it is set,
	// by the convert function's timer or by the status function's safety
	// net, in one of the three ways SQS can lose it, alike: SendMessage
	// fails and nothing is sent (the timer's error: the convert function
	// answers TryLater, and the message's redelivery sets it again);
	// SendMessage's answer is lost after SQS took the message (an error,
	// and the wake-up comes all the same); or SQS takes it and later
	// moves it to the dead-letter queue, its receives spent on failures
	// the explorer does not model one by one (a throttled or timed-out
	// function). That last one no redrive brings back, the drain's
	// neither: the status function's safety net must make it good without
	// an operator.
	LostWake float64
	// RefuseRate is the chance that Zoho refuses a call's options (its
	// owner is inactive, say) until the drain, which mends the cause: the
	// refused batch's letter must then convert when redriven.
	RefuseRate float64
	// StoreFailRate is the chance that a store write fails (the table
	// throttles) while its actor lives on.
	StoreFailRate float64
	// StoreLostRate is the chance that a store write is applied and its
	// answer lost for good (the SDK's retries spent, the deadline met): the
	// actor lives on with an error for a write the table holds. (A lost
	// answer the SDK's retry makes good is make test-retried's.)
	StoreLostRate float64
	// StatusRuns is how many runs of the status function the scheduler may
	// start before the drain, at points it chooses; the drain runs it
	// until no job is open.
	StatusRuns int
	// Foreign is how many of the leads (the first ones) a job another
	// integration started holds in Zoho when the schedule starts: a job we
	// never recorded, which Zoho runs for zohoJobTakes, refusing its leads
	// to our calls meanwhile, and which then fails them: only our own
	// calls can convert them.
	Foreign int
	// Unknown is how many of the leads (the last ones, none of Foreign's)
	// Zoho does not have: it refuses every call naming one (INVALID_DATA
	// at $.ids[k], the whole call unscheduled) and reads it back as not
	// found. Each must end rejected, its message answered done: a refusal
	// for good of one lead of a call, which the table may fail to record.
	Unknown int
	// AuthRate is the chance that Zoho refuses the access token, even after
	// the client's refresh (401 INVALID_TOKEN, zoho.Auth), to a mass_convert
	// or to any call of the status function, until an operator mends the
	// grant (the drain): an answer that says nothing of the leads. The
	// convert function's read-back of a refusal meets it too: a lead it
	// cannot read then is held in doubt, never rejected on Zoho's refusal
	// alone, as another job may hold it and fail it later.
	AuthRate float64
	// FailRate is the chance that a job Zoho schedules for us fails its
	// leads when it ends, not converting them: the status function sends
	// them again until their attempts run out, and then rejects them.
	FailRate float64
	// ForgetRate is the chance that Zoho, asked for the status of a job it
	// has ended, no longer knows it (INVALID_DATA at job_id; the checker's
	// jobs.UnknownToZoho), then or ever after: only a read-back tells what
	// became of its leads.
	ForgetRate float64
	// Redrive lets the scheduler redrive the dead-letter queue before the
	// drain, at a point it chooses; the drain always redrives it. A
	// redrive racing the refusal that writes a letter once consumed the
	// letter (TestRedriveRacingARefusal).
	Redrive  bool
	MaxSteps int // operations before the drain; 0: 400
	// Frugal runs the status function as issue 19 made it: jobs of every
	// size have usually finished by their first check (the completion
	// times say so from the start), so each first check reads the leads
	// back before asking the status, and every read-back and resend is
	// under the job's check lease; all of it through the gates.
	Frugal bool
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

// actor is one process: an invocation, a wake-up, a status run or a redrive.
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

	queue      []convert.Submission // messages waiting for an invocation
	wakes      []convert.Wakeup     // wake-ups waiting for a delivery
	acked      map[string]bool      // leads whose message was answered done
	dlq        []letter             // the dead-letter queue
	redriving  bool                 // a redrive is under way
	statusLeft int                  // status runs the scheduler may still start
	checker    *jobcheck.Checker
	seed       int64
	sent       int               // messages the status function put on the queue
	jobIDs     []string          // jobs and calls in doubt the store recorded
	doubts     map[string]string // call in doubt id -> its name in the trace
	refused    []string          // letters the function's decoder refuses: they could never convert

	zohoJobs map[string][]string  // Zoho's jobs: id -> leads
	doneAt   map[string]time.Time // Zoho's jobs: id -> when it ends
	fails    map[string]bool      // Zoho's jobs that end without converting their leads
	inJob    map[string]string    // lead -> the Zoho job that has it
	recorded map[string]bool      // leads whose Zoho job the store recorded
	leadBase string               // this schedule's leads: leadBase and six digits
	unknown  map[string]bool      // leads Zoho does not have
	resent   []string             // leads sent again after their job was recorded

	forgotten map[string]bool // Zoho's jobs whose ids it no longer knows

	fingerprints map[string]bool // the accumulators this schedule parked leads in (or tried to)
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

// The world's time scale. A status run sees a job first firstCheck after
// it was recorded, and a call in doubt doubtSettle after; Zoho takes
// zohoJobTakes to convert a job's leads, longer than the status function's
// doubtWindow, as a busy Zoho does: so a lead read back not converted may
// be sent again while a job Zoho is running still holds it (Zoho refuses
// it then). The schedule's clock moves a second a step, and these are
// short enough that status runs within a schedule find work.
const (
	firstCheck   = 10 * time.Second
	doubtSettle  = 10 * time.Second
	doubtWindow  = 20 * time.Second
	zohoJobTakes = 2 * time.Minute
	maxWait      = time.Minute
)

// apiVersion is the API version the function's decoder judges letters and
// resent requests by.
const apiVersion = "v8"

func run(seed int64, rng chooser, cfg Config, store testkit.JobStore) Result {
	if cfg.MaxSteps == 0 {
		cfg.MaxSteps = 400
	}
	w := &world{cfg: cfg, rng: rng, seed: seed, recorded: map[string]bool{}, doneAt: map[string]time.Time{},
		now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), acked: map[string]bool{},
		zohoJobs: map[string][]string{}, inJob: map[string]string{}, fails: map[string]bool{},
		doubts: map[string]string{}, statusLeft: cfg.StatusRuns, unknown: map[string]bool{},
		forgotten: map[string]bool{}, fingerprints: map[string]bool{}}
	w.cond = sync.NewCond(&w.mu)
	w.store = &gatedStore{JobStore: store, w: w}
	svc, err := convert.New(convert.Config{Zoho: gatedZoho{w}, Leads: gatedZoho{w}, Store: w.store,
		Now: w.clock, Timer: timer{w}, MaxWait: maxWait, Sequential: true, MaxConcurrency: 1, Pause: func(time.Duration) {},
		APIVersion: apiVersion, FirstCheck: firstCheck, DoubtSettle: doubtSettle,
		Refused: w.deadLetter})
	if err != nil {
		panic(err)
	}
	w.svc = svc
	// The status function as deployed, safety net and all, but checking one
	// job at a time: its workers would otherwise run side by side between
	// two gates.
	cc := jobcheck.Config{Zoho: gatedZoho{w}, Store: w.store, Concurrency: 1,
		Resend: resender{w}, DoubtWindow: doubtWindow, Now: w.clock,
		Parked: w.store.(*gatedStore), Wake: safetyNet{w}, MaxWait: maxWait}
	if cfg.Frugal {
		c := jobs.Completions{}
		for _, n := range []int{1, 50} {
			c.Add(jobcheck.SizeBucket(n), 0, 0, 0)
		}
		if err := store.(jobs.CompletionStats).AddCompletions(context.Background(), c); err != nil {
			panic(err)
		}
		gs := w.store.(*gatedStore)
		cc.Leases, cc.Completions = gs, gs
	}
	w.checker, err = jobcheck.New(cc)
	if err != nil {
		panic(err)
	}
	// Leads and options of their own per seed, so that schedules may share
	// a table: the ids and the fingerprint (by the owner) are the seed's.
	w.leadBase = fmt.Sprintf("3652397%06d", uint64(seed)%1_000_000)
	owner := fmt.Sprintf("3652398%012d", uint64(seed)%1_000_000_000_000)
	for i := range cfg.Leads {
		id := w.lead(i)
		w.queue = append(w.queue, convert.Submission{Source: "msg-" + id,
			Request: &zoho.ConvertRequest{IDs: []string{id}, AssignTo: &zoho.Ref{ID: owner}}})
	}
	for i := max(cfg.Leads-cfg.Unknown, cfg.Foreign); i < cfg.Leads; i++ {
		w.unknown[w.lead(i)] = true
	}
	if cfg.Foreign > 0 {
		var ids []string
		for i := range min(cfg.Foreign, cfg.Leads) {
			ids = append(ids, w.lead(i))
		}
		job := w.schedule1(ids)
		w.fails[job] = true
		w.trace = append(w.trace, fmt.Sprintf("    zoho: another integration's job %s has %v (it will fail them)", job, short(ids)))
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
	// The drain: no more faults (Zoho accepts the owner and the token
	// again), an hour later (leases lapse), every message redelivered,
	// every wake-up delivered (but those SQS dead-lettered), the
	// dead-letter queue redriven, and the status function run whenever
	// nothing else is left, later each time (past MaxWait and SafetyGrace,
	// so its safety net wakes what still waits), until no job is open and
	// nothing is parked. Zoho's jobs may still fail their leads, and Zoho
	// still forgets jobs: neither is a fault anyone mends.
	w.cfg.CrashRate, w.cfg.LostRate, w.cfg.ThrottleRate, w.cfg.DoubleWake = 0, 0, 0, 0
	w.cfg.RefuseRate, w.cfg.StoreFailRate, w.cfg.AuthRate, w.cfg.LostWake = 0, 0, 0, 0
	w.cfg.StoreLostRate = 0
	w.now = w.now.Add(time.Hour)
	w.trace = append(w.trace, "-- drain: no faults, an hour later --")
	for range 100 {
		switch {
		case len(w.queue)+len(w.wakes)+len(w.dlq) > 0:
			w.startPending()
		case w.openJobs() || w.parked():
			// Past every back-off, every call in doubt's window and the
			// safety net's grace.
			w.now = w.now.Add(20 * time.Minute)
			w.trace = append(w.trace, "-- drain: 20 minutes later --")
			w.status()
		default:
			res.Trace = w.trace
			res.Violations = w.check()
			return res
		}
		res.Steps += w.schedule(10_000, false)
	}
	res.Trace = w.trace
	res.Violations = append(w.check(), "the drain did not end: work kept coming after 100 rounds")
	return res
}

func (w *world) clock() time.Time { return w.now }

// lead is the id of the i-th lead of this schedule.
func (w *world) lead(i int) string { return fmt.Sprintf("%s%06d", w.leadBase, i+1) }

// invoke starts an invocation for subs.
func (w *world) invoke(subs []convert.Submission) {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = strings.Join(short(s.Request.IDs), "+")
	}
	w.start("invoke["+strings.Join(names, ",")+"]", func(ctx context.Context, a *actor) {
		res := w.svc.Accumulate(ctx, subs)
		for i, r := range res {
			switch {
			case a.crashed:
				w.queue = append(w.queue, subs[i]) // never answered: SQS delivers it again
			case r.Verdict == convert.Done:
				for _, id := range subs[i].Request.IDs {
					w.acked[id] = true
				}
			case r.Verdict == convert.Permanent:
				// The queue's handler dead-letters the message with its reason.
				for _, id := range subs[i].Request.IDs {
					w.acked[id] = true
				}
				w.dlq = append(w.dlq, letter{req: subs[i].Request, source: subs[i].Source})
			default:
				w.queue = append(w.queue, subs[i])
			}
		}
	})
}

func (w *world) wake(wk convert.Wakeup) {
	w.start("wake["+wk.Key.String()+"]", func(ctx context.Context, a *actor) {
		v := w.svc.Wake(ctx, []convert.Wakeup{wk})
		if a.crashed || v[0] == convert.TryLater {
			w.wakes = append(w.wakes, wk) // not deleted: SQS delivers it again
		}
	})
}

// status starts a run of the status function: every due job.
func (w *world) status() {
	w.start("status", func(ctx context.Context, _ *actor) {
		w.checker.Run(ctx, jobcheck.Request{})
	})
}

// letter is a message on the dead-letter queue: a request, as the queue's
// handler or Config.Refused put it there.
type letter struct {
	req    *zoho.ConvertRequest
	source string
}

// deadLetter is Config.Refused: a refused batch's request goes to the
// dead-letter queue, as pkg/app sends it (the body is the request as JSON).
func (w *world) deadLetter(ctx context.Context, req *zoho.ConvertRequest, sources []string, _, _ string) error {
	if err := w.gate(ctx, fmt.Sprintf("sqs dead-letter %v", short(req.IDs))); err != nil {
		return err
	}
	w.dlq = append(w.dlq, letter{req: req, source: strings.Join(sources, " ")})
	return nil
}

// redrive starts what `leadconvert redrive --apply` does: each letter
// the function's decoder accepts goes back to the conversion queue, as its
// body, and leaves the dead-letter queue.
func (w *world) redrive() {
	w.redriving = true
	w.start("redrive", func(ctx context.Context, _ *actor) {
		defer func() { w.redriving = false }()
		for len(w.dlq) > 0 {
			l := w.dlq[0]
			if err := w.gate(ctx, fmt.Sprintf("redrive letter %v", short(l.req.IDs))); err != nil {
				return // the letter stays: the command moves a letter only once sent
			}
			w.dlq = w.dlq[1:]
			body, err := json.Marshal(l.req)
			if err != nil {
				w.refused = append(w.refused, fmt.Sprintf("letter %v: %v", short(l.req.IDs), err))
				continue
			}
			dec := convert.Decoder{APIVersion: apiVersion}
			req, err := dec.JSON(body)
			if err != nil {
				// redrive leaves it in the DLQ; here it is a broken promise.
				w.refused = append(w.refused, fmt.Sprintf("letter %v: the decoder refuses it: %v", short(l.req.IDs), err))
				continue
			}
			w.queue = append(w.queue, convert.Submission{Source: l.source, Request: req})
		}
	})
}

// resender is the status function's conversion queue.
type resender struct{ w *world }

func (r resender) Enqueue(ctx context.Context, body, _ string) error {
	dec := convert.Decoder{APIVersion: apiVersion}
	req, err := dec.JSON([]byte(body))
	if err != nil {
		panic("explore: the status function sent a request the decoder refuses: " + err.Error())
	}
	if err := r.w.gate(ctx, fmt.Sprintf("sqs send again %v", short(req.IDs))); err != nil {
		return err
	}
	r.w.sent++
	r.w.queue = append(r.w.queue, convert.Submission{Source: fmt.Sprintf("resent-%d", r.w.sent), Request: req})
	return nil
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

// errThrottled is a table write that failed without a crash.
var errThrottled = errors.New("explore: ProvisionedThroughputExceededException: the table is throttling")

// write is gate for a store write, which may also fail as a throttled
// table fails it: the actor lives on with the error.
func (w *world) write(ctx context.Context, op string) error {
	if err := w.gate(ctx, op); err != nil {
		return err
	}
	if w.rng.Chance(w.cfg.StoreFailRate) {
		w.trace = append(w.trace, "    table: throttled, nothing written")
		return errThrottled
	}
	return nil
}

// errAnswerLost is a store write the table applied whose answer was lost.
var errAnswerLost = errors.New("explore: the table applied the write, but its answer was lost: context deadline exceeded")

// answer is what the actor hears of a store write that returned err: with
// StoreLostRate's chance, a write that went through is heard as failed.
func (w *world) answer(err error) error {
	if err == nil && w.rng.Chance(w.cfg.StoreLostRate) {
		w.trace = append(w.trace, "    table: applied, answer lost")
		return errAnswerLost
	}
	return err
}

// pending is how many kinds of work the scheduler may start an actor for.
func (w *world) pending() int {
	n := len(w.queue) + len(w.wakes) + w.statusLeft
	if w.cfg.Redrive && len(w.dlq) > 0 && !w.redriving {
		n++
	}
	return n
}

// schedule lets one waiting actor go at a time until none is left or
// steps ran out (then the rest go in order, without faults being drawn
// anew). With more, it also starts actors for waiting messages, wake-ups,
// letters and status runs, at points it chooses.
func (w *world) schedule(steps int, more bool) int {
	n := 0
	for {
		w.mu.Lock()
		for w.running > 0 {
			w.cond.Wait()
		}
		pending := w.pending()
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

// startOne starts an actor for one waiting message, wake-up, the
// dead-letter queue's redrive or a status run, as the schedule chooses.
func (w *world) startOne() {
	var kinds []func()
	if len(w.wakes) > 0 {
		kinds = append(kinds, func() {
			k := w.rng.IntN(len(w.wakes))
			wk := w.wakes[k]
			w.wakes = slices.Delete(w.wakes, k, k+1)
			w.wake(wk)
		})
	}
	if len(w.queue) > 0 {
		kinds = append(kinds, func() {
			k := w.rng.IntN(len(w.queue))
			sub := w.queue[k]
			w.queue = slices.Delete(w.queue, k, k+1)
			w.invoke([]convert.Submission{sub})
		})
	}
	if w.cfg.Redrive && len(w.dlq) > 0 && !w.redriving {
		kinds = append(kinds, w.redrive)
	}
	if w.statusLeft > 0 {
		kinds = append(kinds, func() {
			w.statusLeft--
			w.status()
		})
	}
	k := 0
	if len(kinds) > 1 {
		k = w.rng.IntN(len(kinds))
	}
	kinds[k]()
}

// startPending starts an actor for every waiting message and wake-up, and
// a redrive of the dead-letter queue.
func (w *world) startPending() {
	q, wk := w.queue, w.wakes
	w.queue, w.wakes = nil, nil
	for _, s := range q {
		w.invoke([]convert.Submission{s})
	}
	for _, k := range wk {
		w.wake(k)
	}
	if len(w.dlq) > 0 && !w.redriving {
		w.redrive()
	}
}

// openJobs reports whether a job or call in doubt of this schedule is
// still open in the store: the status function has work left.
func (w *world) openJobs() bool {
	for _, id := range w.jobIDs {
		if j, err := w.store.Job(context.Background(), id); err == nil && j.State.Open() {
			return true
		}
	}
	return false
}

// parked reports whether an accumulator or batch of this schedule is
// still open in the store: the status function's safety net has work.
func (w *world) parked() bool {
	all, err := w.store.Parked(context.Background())
	if err != nil {
		panic(err)
	}
	return slices.ContainsFunc(all, func(b jobs.ParkedBatch) bool { return w.fingerprints[b.Fingerprint] })
}

// check tells, lead by lead, which promise the schedule broke. A lead Zoho
// does not have must end rejected, whoever rejected it. Zoho has every
// other lead and, once the drain mended its cause, refuses none for good,
// so every other acknowledged lead must end converted by a Zoho job, or
// rejected with Zoho's reason (not converted after its attempts); and no
// lead may be left in a job or call in doubt that the status function did
// not close. A converted lead's claim may lag behind (a job that could not
// be recorded; a refusal read back as converted whose write failed): Zoho
// has done the work.
func (w *world) check() []string {
	var out []string
	ctx := context.Background()
	for i := range w.cfg.Leads {
		id := w.lead(i)
		if !w.acked[id] {
			out = append(out, fmt.Sprintf("lead %s: its message was never answered done after the drain", id))
			continue
		}
		cs, err := w.store.Claims(ctx, []string{id})
		if err != nil {
			out = append(out, fmt.Sprintf("lead %s: reading its claim: %v", id, err))
			continue
		}
		converted := w.converted(id)
		var c jobs.Claim
		if len(cs) > 0 {
			c = cs[0]
		}
		if w.unknown[id] {
			// Zoho's refusal stands however often the lead goes: only a
			// rejection the table lost leaves it anything else.
			if c.State != jobs.Rejected {
				out = append(out, fmt.Sprintf("lead %s: Zoho has no such lead, and it ended %q %q (owner %s), not rejected", id, c.State, c.Reason, c.Owner))
			}
			continue
		}
		switch {
		case len(cs) == 0 && !converted:
			out = append(out, fmt.Sprintf("lead %s: acknowledged, not converted and without a claim: lost", id))
		case c.State == jobs.ClaimScheduled, c.State == jobs.ClaimInDoubt:
			j, err := w.store.Job(ctx, c.JobID)
			switch {
			case err != nil || j.State.Open():
				out = append(out, fmt.Sprintf("lead %s: its claim's job %s is still open after the drain (%s, %v)", id, w.name(c.JobID), j.State, err))
			case !converted:
				out = append(out, fmt.Sprintf("lead %s: its claim's job %s ended %s, and Zoho has not converted it", id, w.name(c.JobID), j.State))
			}
		case converted:
		case c.State == jobs.Rejected && zohoVerdict(c.Reason):
		default:
			out = append(out, fmt.Sprintf("lead %s: acknowledged, not converted after the drain and its redrive: %s %q (owner %s)", id, c.State, c.Reason, c.Owner))
		}
	}
	for _, id := range w.jobIDs {
		if j, err := w.store.Job(ctx, id); err == nil && j.State.Open() {
			out = append(out, fmt.Sprintf("job %s: still %s after the drain", w.name(id), j.State))
		}
	}
	for _, id := range w.resent {
		out = append(out, fmt.Sprintf("lead %s: sent to Zoho again after a call that scheduled it", id))
	}
	out = append(out, w.refused...)
	return out
}

// zohoVerdict reports whether a rejection's reason is Zoho's own verdict,
// as the status function words it: not converted after the lead's
// attempts, or not found. (A refused call's options are no verdict on the
// lead: its letter must convert it once redriven.)
func zohoVerdict(reason string) bool {
	return strings.HasPrefix(reason, "not converted by Zoho") || strings.HasPrefix(reason, "not found in Zoho")
}

// name is how the trace calls a job: a call in doubt's id is random, so it
// is named by the order it was first seen in, and a seed's trace replays
// to the letter.
func (w *world) name(id string) string {
	if !strings.HasPrefix(id, jobs.DoubtPrefix) {
		return id
	}
	n, ok := w.doubts[id]
	if !ok {
		n = fmt.Sprintf("doubt#%d", len(w.doubts)+1)
		w.doubts[id] = n
	}
	return n
}

// gatedStore makes every store operation of an actor a step of the
// schedule; the checker's own reads, outside any actor, go straight
// through.
type gatedStore struct {
	testkit.JobStore
	w *world
}

// read gates a read made by an actor; the checker's own go through.
func (g *gatedStore) read(ctx context.Context, op string) error {
	if ctx.Value(actorKey{}) == nil {
		return nil
	}
	return g.w.gate(ctx, op)
}

func (g *gatedStore) Acc(ctx context.Context, fp string) (jobs.Acc, error) {
	if err := g.w.gate(ctx, "read accumulator"); err != nil {
		return jobs.Acc{}, err
	}
	return g.JobStore.Acc(ctx, fp)
}

func (g *gatedStore) Park(ctx context.Context, owner jobs.Owner, acc jobs.Acc, ids, srcs []string, now, exp time.Time) ([]string, []jobs.Claim, error) {
	if err := g.w.write(ctx, fmt.Sprintf("park %v in gen %d (as read: %d leads)", short(ids), acc.Gen, len(acc.LeadIDs))); err != nil {
		return nil, nil, err
	}
	g.w.fingerprints[acc.Fingerprint] = true
	parked, held, err := g.JobStore.Park(ctx, owner, acc, ids, srcs, now, exp)
	if err := g.w.answer(err); err != nil {
		return nil, nil, err
	}
	return parked, held, nil
}

func (g *gatedStore) Take(ctx context.Context, acc jobs.Acc, taker string, until time.Time) (jobs.Batch, error) {
	if err := g.w.write(ctx, fmt.Sprintf("take gen %d (as read: %d leads)", acc.Gen, len(acc.LeadIDs))); err != nil {
		return jobs.Batch{}, err
	}
	b, err := g.JobStore.Take(ctx, acc, taker, until)
	if err := g.w.answer(err); err != nil {
		return jobs.Batch{}, err
	}
	return b, nil
}

func (g *gatedStore) Batch(ctx context.Context, key jobs.BatchKey) (jobs.Batch, error) {
	if err := g.w.gate(ctx, "read batch "+key.String()); err != nil {
		return jobs.Batch{}, err
	}
	return g.JobStore.Batch(ctx, key)
}

func (g *gatedStore) Lease(ctx context.Context, key jobs.BatchKey, taker string, now, until time.Time) error {
	op := "lease batch "
	if !until.After(now) {
		op = "release the lease of batch "
	}
	if err := g.w.write(ctx, op+key.String()); err != nil {
		return err
	}
	return g.w.answer(g.JobStore.Lease(ctx, key, taker, now, until))
}

func (g *gatedStore) DropBatch(ctx context.Context, key jobs.BatchKey) error {
	if err := g.w.write(ctx, "drop batch "+key.String()); err != nil {
		return err
	}
	return g.w.answer(g.JobStore.DropBatch(ctx, key))
}

func (g *gatedStore) Claim(ctx context.Context, owner jobs.Owner, ids []string, now, until time.Time) ([]string, []jobs.Claim, error) {
	if err := g.w.write(ctx, fmt.Sprintf("claim %v", short(ids))); err != nil {
		return nil, nil, err
	}
	claimed, held, err := g.JobStore.Claim(ctx, owner, ids, now, until)
	if err := g.w.answer(err); err != nil {
		return nil, nil, err
	}
	return claimed, held, nil
}

func (g *gatedStore) Release(ctx context.Context, owner jobs.Owner, ids []string) error {
	if err := g.w.write(ctx, fmt.Sprintf("release %v", short(ids))); err != nil {
		return err
	}
	return g.w.answer(g.JobStore.Release(ctx, owner, ids))
}

func (g *gatedStore) Reject(ctx context.Context, owner jobs.Owner, id, reason string, exp time.Time) error {
	if err := g.w.write(ctx, "reject "+short1(id)); err != nil {
		return err
	}
	return g.w.answer(g.JobStore.Reject(ctx, owner, id, reason, exp))
}

func (g *gatedStore) Letter(ctx context.Context, owner jobs.Owner, id, reason string, exp time.Time) error {
	if err := g.w.write(ctx, "letter "+short1(id)); err != nil {
		return err
	}
	return g.w.answer(g.JobStore.Letter(ctx, owner, id, reason, exp))
}

func (g *gatedStore) RecordJob(ctx context.Context, job jobs.Job, exp time.Time) error {
	what := "record"
	if job.State == jobs.InDoubt {
		what = "hold in doubt as"
	}
	if err := g.w.write(ctx, fmt.Sprintf("%s %s %v batch %q", what, g.w.name(job.ID), short(job.LeadIDs), job.Batch.String())); err != nil {
		return err
	}
	err := g.JobStore.RecordJob(ctx, job, exp)
	if err == nil && !slices.Contains(g.w.jobIDs, job.ID) {
		g.w.jobIDs = append(g.w.jobIDs, job.ID)
	}
	if _, zohos := g.w.zohoJobs[job.ID]; err == nil && zohos {
		for _, id := range job.LeadIDs {
			g.w.recorded[id] = true
		}
	}
	return g.w.answer(err)
}

func (g *gatedStore) Claims(ctx context.Context, ids []string) ([]jobs.Claim, error) {
	if err := g.read(ctx, fmt.Sprintf("read claims %v", short(ids))); err != nil {
		return nil, err
	}
	return g.JobStore.Claims(ctx, ids)
}

func (g *gatedStore) Job(ctx context.Context, id string) (jobs.Job, error) {
	if err := g.read(ctx, "read job "+g.w.name(id)); err != nil {
		return jobs.Job{}, err
	}
	return g.JobStore.Job(ctx, id)
}

// The status function's operations.

func (g *gatedStore) Parked(ctx context.Context) ([]jobs.ParkedBatch, error) {
	if err := g.read(ctx, "read the parked batches"); err != nil {
		return nil, err
	}
	return g.JobStore.Parked(ctx)
}

func (g *gatedStore) DueJobs(ctx context.Context, now time.Time, limit int, cursor string) ([]string, string, error) {
	if err := g.w.gate(ctx, "read due jobs"); err != nil {
		return nil, "", err
	}
	return g.JobStore.DueJobs(ctx, now, limit, cursor)
}

func (g *gatedStore) CountDue(ctx context.Context, now time.Time, cursor string) (int, error) {
	if err := g.w.gate(ctx, "count due jobs"); err != nil {
		return 0, err
	}
	return g.JobStore.CountDue(ctx, now, cursor)
}

func (g *gatedStore) Jobs(ctx context.Context, ids []string) ([]jobs.Job, error) {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = g.w.name(id)
	}
	if err := g.w.gate(ctx, fmt.Sprintf("read jobs %v", names)); err != nil {
		return nil, err
	}
	return g.JobStore.Jobs(ctx, ids)
}

func (g *gatedStore) SaveCheck(ctx context.Context, job jobs.Job, prevVersion int64) error {
	if err := g.w.write(ctx, fmt.Sprintf("save check of %s: %s", g.w.name(job.ID), job.State)); err != nil {
		return err
	}
	return g.w.answer(g.JobStore.SaveCheck(ctx, job, prevVersion))
}

func (g *gatedStore) LeaseCheck(ctx context.Context, id string, version int64, owner string, now, until time.Time) error {
	if err := g.w.write(ctx, "lease the check of "+g.w.name(id)); err != nil {
		return err
	}
	return g.w.answer(g.JobStore.(jobs.CheckLeaser).LeaseCheck(ctx, id, version, owner, now, until))
}

func (g *gatedStore) Completions(ctx context.Context) (jobs.Completions, error) {
	if err := g.w.gate(ctx, "read the completion times"); err != nil {
		return nil, err
	}
	return g.JobStore.(jobs.CompletionStats).Completions(ctx)
}

func (g *gatedStore) AddCompletions(ctx context.Context, add jobs.Completions) error {
	if err := g.w.write(ctx, "add completion times"); err != nil {
		return err
	}
	return g.w.answer(g.JobStore.(jobs.CompletionStats).AddCompletions(ctx, add))
}

func (g *gatedStore) SettleLeads(ctx context.Context, job jobs.Job, results []jobs.LeadResult, p jobs.SettlePolicy) ([]string, error) {
	var rs []string
	for _, r := range results {
		rs = append(rs, short1(r.LeadID)+":"+string(r.Conversion))
	}
	if err := g.w.write(ctx, fmt.Sprintf("settle %s %v", g.w.name(job.ID), rs)); err != nil {
		return nil, err
	}
	retry, err := g.JobStore.SettleLeads(ctx, job, results, p)
	if err := g.w.answer(err); err != nil {
		return nil, err
	}
	return retry, nil
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
// at once and converts its leads zohoJobTakes later, refuses a lead
// another job has or one it does not have (as Zoho does), refuses the
// call's owner or the token, throttles, or schedules and loses the answer;
// a job may fail its leads, and Zoho may forget an ended job. It answers
// the status function too.
type gatedZoho struct{ w *world }

// tokenRefused draws whether Zoho refuses the token to this call: the
// client refreshed it once and the new one was refused too.
func (z gatedZoho) tokenRefused(op string) error {
	if !z.w.rng.Chance(z.w.cfg.AuthRate) {
		return nil
	}
	z.w.trace = append(z.w.trace, "    zoho: 401 INVALID_TOKEN, after the refresh too")
	return &zoho.APIError{Op: op, HTTPStatus: 401, Code: "INVALID_TOKEN", Class: zoho.Auth, IDIndex: -1, Message: "invalid oauth token"}
}

func (z gatedZoho) MassConvert(ctx context.Context, req *zoho.ConvertRequest) (string, error) {
	w := z.w
	if err := w.gate(ctx, fmt.Sprintf("zoho mass_convert %v", short(req.IDs))); err != nil {
		return "", &zoho.APIError{Op: "mass_convert", Class: zoho.Retryable, IDIndex: -1, Message: "the process died", Err: err}
	}
	if err := z.tokenRefused("mass_convert"); err != nil {
		return "", err
	}
	if w.rng.Chance(w.cfg.RefuseRate) {
		// The owner was deactivated: Zoho refuses the options, for every
		// lead alike, until an administrator mends it (the drain).
		w.trace = append(w.trace, "    zoho: refuses the owner (INVALID_DATA at $.assign_to)")
		return "", &zoho.APIError{Op: "mass_convert", HTTPStatus: 400, Code: "INVALID_DATA", Class: zoho.Permanent, IDIndex: -1,
			Message: "the user is inactive", Details: json.RawMessage(`{"api_name":"assign_to","json_path":"$.assign_to"}`)}
	}
	for k, id := range req.IDs {
		if w.unknown[id] {
			w.trace = append(w.trace, fmt.Sprintf("    zoho: refuses %s (it has no such lead)", short1(id)))
			return "", &zoho.APIError{Op: "mass_convert", HTTPStatus: 400, Code: "INVALID_DATA", Class: zoho.InvalidID, IDIndex: k, ID: id, Message: "invalid data"}
		}
		if w.held(id) {
			if w.recorded[id] {
				// A crash between Zoho's answer and the record may send a
				// lead again (Zoho refuses it); once recorded, never.
				w.resent = append(w.resent, id)
			}
			w.trace = append(w.trace, fmt.Sprintf("    zoho: refuses %s (job %s has it)", short1(id), w.inJob[id]))
			return "", &zoho.APIError{Op: "mass_convert", HTTPStatus: 400, Code: "INVALID_DATA", Class: zoho.InvalidID, IDIndex: k, ID: id, Message: "invalid data"}
		}
	}
	switch {
	case w.rng.Chance(w.cfg.ThrottleRate):
		w.trace = append(w.trace, "    zoho: 429")
		return "", &zoho.APIError{Op: "mass_convert", HTTPStatus: 429, Code: "TOO_MANY_REQUESTS", Class: zoho.Retryable, IDIndex: -1}
	case w.rng.Chance(w.cfg.LostRate):
		id := w.schedule1(req.IDs)
		w.trace = append(w.trace, "    zoho: scheduled "+id+w.failMaybe(id)+", answer lost")
		return "", &zoho.APIError{Op: "mass_convert", Class: zoho.Retryable, IDIndex: -1, Ambiguous: true, Message: "connection reset"}
	}
	id := w.schedule1(req.IDs)
	w.trace = append(w.trace, "    zoho: scheduled "+id+w.failMaybe(id))
	return id, nil
}

// failMaybe draws whether Zoho's job id will fail its leads, and says so
// for the trace.
func (w *world) failMaybe(id string) string {
	if !w.rng.Chance(w.cfg.FailRate) {
		return ""
	}
	w.fails[id] = true
	return " (it will fail them)"
}

// schedule1 makes a Zoho job of ids. Its id is the seed's, so that
// schedules sharing a table never record one job twice.
func (w *world) schedule1(ids []string) string {
	id := fmt.Sprintf("3652399%06d%06d", uint64(w.seed)%1_000_000, len(w.zohoJobs)+1)
	w.zohoJobs[id] = slices.Clone(ids)
	w.doneAt[id] = w.now.Add(zohoJobTakes)
	for _, l := range ids {
		w.inJob[l] = id
	}
	return id
}

// converted reports whether Zoho has converted lead id by now.
func (w *world) converted(id string) bool {
	job, ok := w.inJob[id]
	return ok && !w.fails[job] && !w.now.Before(w.doneAt[job])
}

// held reports whether Zoho refuses lead id to a new call: a running job
// has it, or it is converted.
func (w *world) held(id string) bool {
	job, ok := w.inJob[id]
	return ok && (w.now.Before(w.doneAt[job]) || !w.fails[job])
}

func (z gatedZoho) GetLeads(ctx context.Context, ids []string) ([]zoho.Lead, error) {
	if err := z.w.gate(ctx, fmt.Sprintf("zoho get leads %v", short(ids))); err != nil {
		return nil, err
	}
	if err := z.tokenRefused("get_leads"); err != nil {
		return nil, err
	}
	out := make([]zoho.Lead, len(ids))
	for i, id := range ids {
		out[i] = zoho.Lead{ID: id, Found: !z.w.unknown[id], Known: !z.w.unknown[id], Converted: z.w.converted(id)}
	}
	return out, nil
}

// ConvertStatus is Zoho's status of a job: in progress until its leads
// are converted, then completed, every lead converted.
func (z gatedZoho) ConvertStatus(ctx context.Context, jobID string) (zoho.JobStatus, error) {
	w := z.w
	if err := w.gate(ctx, "zoho status of "+jobID); err != nil {
		return zoho.JobStatus{}, &zoho.APIError{Op: "convert_status", Class: zoho.Retryable, IDIndex: -1, Message: "the process died", Err: err}
	}
	if err := z.tokenRefused("convert_status"); err != nil {
		return zoho.JobStatus{}, err
	}
	ids, ok := w.zohoJobs[jobID]
	if ok && (w.forgotten[jobID] || !w.now.Before(w.doneAt[jobID]) && w.rng.Chance(w.cfg.ForgetRate)) {
		if !w.forgotten[jobID] {
			w.trace = append(w.trace, "    zoho: no longer knows job "+jobID)
		}
		w.forgotten[jobID], ok = true, false
	}
	switch {
	case !ok:
		return zoho.JobStatus{}, &zoho.APIError{Op: "convert_status", HTTPStatus: 400, Code: "INVALID_DATA", Class: zoho.Permanent, IDIndex: -1,
			Message: "invalid job id", Details: json.RawMessage(`{"param_name":"job_id"}`)}
	case w.now.Before(w.doneAt[jobID]):
		return zoho.JobStatus{RawStatus: "in progress", State: zoho.StateInProgress, Total: len(ids), Waiting: len(ids)}, nil
	case w.fails[jobID]:
		return zoho.JobStatus{RawStatus: "failed", State: zoho.StateFailed, Total: len(ids), Failed: len(ids)}, nil
	}
	return zoho.JobStatus{RawStatus: "completed", State: zoho.StateCompleted, Total: len(ids), Converted: len(ids)}, nil
}

// timer is the conversion queue's delayed wake-ups: the scheduler delivers
// them when it chooses (their delay only orders them in time), sometimes
// twice, as SQS may; a wake-up may go astray (Config.LostWake).
type timer struct{ w *world }

func (t timer) Wake(ctx context.Context, wk convert.Wakeup, _ time.Duration) error {
	if err := t.w.gate(ctx, "set wake-up "+wk.Key.String()); err != nil {
		return err
	}
	return t.w.sendWake(wk)
}

// safetyNet is the status function's Waker: as pkg/app's, the wake-up its
// timer would have sent, at once and on the same queue.
type safetyNet struct{ w *world }

func (s safetyNet) Wake(ctx context.Context, key jobs.BatchKey) error {
	if err := s.w.gate(ctx, "wake again "+key.String()); err != nil {
		return err
	}
	return s.w.sendWake(convert.Wakeup{Key: key})
}

// errSendFailed is a SendMessage that failed, or whose answer was lost.
var errSendFailed = errors.New("explore: SQS SendMessage: ServiceUnavailable")

// sendWake puts wk on the queue as SQS takes it: delivered once, twice,
// or, once in a while, not at all.
func (w *world) sendWake(wk convert.Wakeup) error {
	if w.rng.Chance(w.cfg.LostWake) {
		switch w.rng.IntN(3) {
		case 0:
			w.trace = append(w.trace, "    sqs: SendMessage fails, nothing sent")
			return errSendFailed
		case 1:
			w.trace = append(w.trace, "    sqs: takes the wake-up, SendMessage's answer is lost")
			w.wakes = append(w.wakes, wk)
			return errSendFailed
		default:
			w.trace = append(w.trace, "    sqs: takes the wake-up, and will dead-letter it unreceived: lost")
			return nil
		}
	}
	w.wakes = append(w.wakes, wk)
	if w.rng.Chance(w.cfg.DoubleWake) {
		w.wakes = append(w.wakes, wk)
	}
	return nil
}
