// Package jobcheck follows Zoho mass-convert jobs to their end. A scheduled
// run reads the open jobs that are due from the store (the sparse
// open-checks index), oldest due first and a page at a time, asks Zoho's status API about each with
// bounded concurrency, and stores what Zoho said with a write conditional on
// the version it read, so that overlapping runs never go backwards or count
// twice. Open jobs are looked at again later (1, 2, 5, 10, then every 15
// minutes); terminal ones leave the index and expire after the retention.
//
// Zoho's status reports counts, never per-lead results. So when a job ends
// (completed, failed, unknown to Zoho, stale) the checker reads its leads
// back with Get Records, at most 50 a call, stores each lead's result with
// the job, and settles the claims: a converted lead is never sent again; a
// lead Zoho has and did not convert goes back on the conversion queue with
// its job's options until it has had MaxLeadAttempts calls, then is
// rejected with the job named; a lead Zoho no longer has is rejected. A
// call in doubt (IN_DOUBT: its answer was lost, or Zoho refused leads it
// has) is read back the same way once its leads had time to settle. When
// the grant lacks ZohoCRM.modules.leads.READ, the leads of a job that failed
// some are released for a request sent again by hand, as Zoho's counts
// cannot say which to send.
package jobcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// Zoho is the part of the Zoho client the checker needs.
type Zoho interface {
	ConvertStatus(ctx context.Context, jobID string) (zoho.JobStatus, error)
	GetLeads(ctx context.Context, ids []string) ([]zoho.Lead, error)
}

var _ Zoho = (*zoho.Client)(nil)

// Resender puts a conversion request on the conversion queue.
type Resender interface {
	Enqueue(ctx context.Context, body, requestID string) error
}

// retryClaimFor bounds a retry claim: a lead whose resent request never
// arrives can be claimed by any request after that anyway.
const retryClaimFor = 7 * 24 * time.Hour

// Waker sends a wake-up for a batch: the message a timer would have sent.
type Waker interface {
	Wake(ctx context.Context, key jobs.BatchKey) error
}

// SafetyGrace is how long past MaxWait a batch may wait before a status
// run wakes it again: longer than a late timer, a batching window and a
// sender's call.
const SafetyGrace = 2 * time.Minute

// Publisher announces jobs that reached a terminal state.
type Publisher interface {
	Publish(ctx context.Context, ev Event) error
}

// Config configures a Checker. Zoho and Store are required.
type Config struct {
	Zoho   Zoho
	Store  jobs.CheckStore
	Events Publisher // nil: no events

	// Concurrency bounds the status calls in flight. Zoho's sub-concurrency
	// for complex APIs is 10 per org, shared with the convert function.
	Concurrency int           // default 5
	StaleAfter  time.Duration // an open job this old is given up as STALE; default 24h
	Retention   time.Duration // terminal jobs expire this long after; default 30 days
	// StopMargin: no job is taken when less than this, or a tenth of the
	// time the run started with, remains before the context's deadline.
	StopMargin time.Duration // default 10s
	// Resend puts leads Zoho did not convert back on the conversion queue;
	// nil: they are released for a request sent again by hand.
	Resend Resender
	// MaxLeadAttempts is how many calls may carry a lead before one Zoho
	// did not convert is rejected instead of sent again.
	MaxLeadAttempts int // default 2
	// RejectionMemory is how long such a rejection is remembered, as the
	// convert function remembers Zoho's refusals.
	RejectionMemory time.Duration // default 24h
	// DoubtWindow is how long the leads of a call in doubt may read as not
	// converted before they are taken as such: Zoho may still be running
	// an untracked job with them.
	DoubtWindow time.Duration // default 10m
	// Parked and Wake are the safety net for work a lost or late timer
	// left behind: each run lists the open accumulators and batches and
	// wakes again those whose first lead has waited longer than MaxWait
	// and SafetyGrace. Either nil: no safety net.
	Parked  jobs.ParkedStore
	Wake    Waker
	MaxWait time.Duration // MAX_WAIT_SECONDS of the convert function; default 60s
	// MaxZohoErrors consecutive retryable errors (429, 5xx, no answer) end
	// the run's intake: Zoho is throttling or down, and more calls prolong it.
	MaxZohoErrors int // default 5
	PageSize      int // due jobs read per page; default 100 (one BatchGetItem)

	// Leases, when set, is taken on a job before its leads are read back
	// or sent again, so that overlapping runs never both pay for them.
	Leases   jobs.CheckLeaser
	LeaseFor time.Duration // how long a lease holds; default 2m
	// Completions, when set, keeps the completion times the checker sees;
	// from them, a job's first check waits until recent jobs of its size
	// have usually finished (within FirstCheckMin and FirstCheckMax), and
	// then reads the leads back first: all converted, the job is done
	// without a status call. Nil: the fixed schedule, status first.
	Completions   jobs.CompletionStats
	FirstCheckMin time.Duration // default 30s
	FirstCheckMax time.Duration // default 15m
	// Floor, when set, is the deployment's credit floor: below it the
	// leads of an ended job that need sending again are held (the job
	// stays open, checked without a Zoho call) until the org is above it.
	Floor CreditFloor

	Now    func() time.Time // default time.Now
	Logger *slog.Logger
}

// Checker checks open jobs. It is safe for concurrent use.
type Checker struct{ cfg Config }

// New returns a Checker for cfg.
func New(cfg Config) (*Checker, error) {
	if cfg.Zoho == nil || cfg.Store == nil {
		return nil, errors.New("jobcheck: Config.Zoho and Config.Store are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.StaleAfter, 24*time.Hour)
	def(&cfg.Retention, 30*24*time.Hour)
	def(&cfg.StopMargin, 10*time.Second)
	def(&cfg.RejectionMemory, 24*time.Hour)
	def(&cfg.DoubtWindow, 10*time.Minute)
	def(&cfg.MaxWait, time.Minute)
	def(&cfg.LeaseFor, DefaultLeaseFor)
	def(&cfg.FirstCheckMin, DefaultFirstCheckMin)
	def(&cfg.FirstCheckMax, DefaultFirstCheckMax)
	cfg.FirstCheckMax = max(cfg.FirstCheckMax, cfg.FirstCheckMin)
	if cfg.MaxLeadAttempts <= 0 {
		cfg.MaxLeadAttempts = 2
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 5
	}
	if cfg.MaxZohoErrors <= 0 {
		cfg.MaxZohoErrors = 5
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{cfg: cfg}, nil
}

// Report is what a run did. It is the status function's invocation result.
type Report struct {
	Checked  int `json:"checked"`  // checks stored
	Changed  int `json:"changed"`  // of those, jobs whose status or counts changed
	Finished int `json:"finished"` // jobs that reached a terminal state, whichever
	Failed   int `json:"failed"`   // of those, FAILED by Zoho
	Unknown  int `json:"unknown"`  // of those, unknown to Zoho
	Stale    int `json:"stale"`    // of those, given up after StaleAfter
	Doubts   int `json:"doubts"`   // of those, calls in doubt settled by reading their leads back
	// Ended jobs whose leads were read back, the Get Records calls that
	// took, the leads found converted (never sent again) and not, and of
	// those the leads sent again (the rest had used up their attempts, or
	// Zoho has no such lead).
	ReadBack          int `json:"read_back"`
	ReadBackCalls     int `json:"read_back_calls"`
	LeadsConverted    int `json:"leads_converted"`
	LeadsNotConverted int `json:"leads_not_converted"`
	LeadsResent       int `json:"leads_resent"`
	Conflicts         int `json:"conflicts"` // checks another run stored first
	Errors            int `json:"errors"`    // jobs left due after an error, events not published
	LeftDue           int `json:"left_due"`  // due jobs this run did not reach
	// Parked counts the open accumulators and batches the run saw, and
	// Rewoken those it woke again, their timers late or lost.
	Parked  int `json:"parked"`
	Rewoken int `json:"rewoken"`
	Skipped int `json:"skipped,omitempty"` // named jobs that are unknown or already terminal
	// DoneByReadBack counts jobs ended by a first check whose read-back
	// found every lead converted, without a status call; Deferred, first
	// checks put off until jobs of the size have usually finished.
	DoneByReadBack int `json:"done_by_read_back,omitempty"`
	Deferred       int `json:"deferred,omitempty"`
	// Held counts jobs whose resends wait for the org to be above the
	// credit floor; BelowCreditFloor says the run saw it below.
	Held             int  `json:"held,omitempty"`
	BelowCreditFloor bool `json:"below_credit_floor,omitempty"`
	// Stopped says why the run stopped taking jobs early: "deadline" or
	// "zoho_errors"; empty when it reached every due job.
	Stopped    string `json:"stopped,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Why a run stops early.
const (
	StoppedDeadline   = "deadline"
	StoppedZohoErrors = "zoho_errors"
	// StoppedZohoRefused: Zoho refused a status call for good (a grant
	// without the scope, a user without the permission): every other call
	// would be refused alike, so the run ends and the jobs wait.
	StoppedZohoRefused = "zoho_refused"
)

// refusedPause is how far a permanent refusal pushes the next check of the
// jobs a run had in hand: an operator has to mend the grant first.
const refusedPause = time.Hour

// backoff spaces the checks of an open job by how often it was checked:
// Zoho finishes most jobs within minutes, a few take much longer.
var backoff = [...]time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute}

// NextCheckAfter is how long after its n-th check (n >= 1) a job that is
// still open is checked again.
func NextCheckAfter(n int) time.Duration { return backoff[min(max(n, 1), len(backoff))-1] }

// run is the state of one Run.
type run struct {
	c      *Checker
	req    Request
	m      *obs.Metrics
	now    time.Time // due jobs are those due at the start
	stopAt time.Time // zero without a deadline

	feed   sync.Mutex // guards the page state below
	buf    []jobs.Job
	cursor string
	more   bool
	seen   map[string]bool

	mu         sync.Mutex // guards rep and zohoErrors
	rep        Report
	zohoErrors int  // consecutive retryable errors
	refused    bool // Zoho refused a status call for good

	warnOnce sync.Once // for reads of leads Zoho refuses

	below     bool   // the org is below the credit floor
	owner     string // names the run's check leases
	statsOnce sync.Once
	stats     jobs.Completions // read once a run, when a first check needs it
	doneMu    sync.Mutex
	done      jobs.Completions // completion times seen, stored at the end
}

// Run checks every due job, or the jobs req names, until done or until the
// deadline is near. It never fails as a whole: every problem is counted in
// the report and logged.
func (c *Checker) Run(ctx context.Context, req Request) Report {
	start := time.Now()
	r := &run{c: c, req: req, m: obs.MetricsFrom(ctx), now: c.cfg.Now(), seen: map[string]bool{},
		more: true, owner: runOwner()}
	if dl, ok := ctx.Deadline(); ok {
		r.stopAt = dl.Add(-max(c.cfg.StopMargin, time.Until(dl)/10))
	}
	if c.cfg.Floor != nil {
		r.below, _ = c.cfg.Floor.Below(ctx)
		r.rep.BelowCreditFloor = r.below
		// Every run, 0 or 1, so the alarm sees a datum each run.
		reached := 0
		if r.below {
			reached = 1
		}
		r.m.Count("CreditFloorReached", reached)
	}
	var wg sync.WaitGroup
	for range c.cfg.Concurrency {
		wg.Go(func() {
			for {
				j, ok := r.next(ctx)
				if !ok {
					return
				}
				r.checkSurviving(ctx, j)
			}
		})
	}
	wg.Wait()
	r.flushCompletions(ctx)
	r.countLeft(ctx)
	if len(req.JobIDs) == 0 {
		r.sweep(ctx)
	}

	rep := r.rep
	rep.DurationMS = time.Since(start).Milliseconds()
	r.m.Duration("RunDuration", time.Since(start))
	r.m.Count("JobsLeftDue", rep.LeftDue)
	c.cfg.Logger.InfoContext(ctx, "jobcheck: run done", "report", rep, "job_ids", len(req.JobIDs))
	return rep
}

// next hands a worker the next job, reading a page when the last is used
// up, unless the run must stop taking jobs.
func (r *run) next(ctx context.Context) (jobs.Job, bool) {
	r.feed.Lock()
	defer r.feed.Unlock()
	for {
		if len(r.buf) == 0 && !r.more || r.stopping(ctx) {
			return jobs.Job{}, false
		}
		if len(r.buf) > 0 {
			j := r.buf[0]
			r.buf = r.buf[1:]
			return j, true
		}
		if err := r.readPage(ctx); err != nil {
			r.more = false
			r.count(func(rep *Report) { rep.Errors++ })
			r.c.cfg.Logger.ErrorContext(ctx, "jobcheck: reading due jobs", "error", err)
		}
	}
}

// stopping reports whether the run must take no more jobs, and records why.
func (r *run) stopping(ctx context.Context) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.rep.Stopped != "":
	case r.refused:
		r.rep.Stopped = StoppedZohoRefused
	case r.zohoErrors >= r.c.cfg.MaxZohoErrors:
		r.rep.Stopped = StoppedZohoErrors
	case ctx.Err() != nil, !r.stopAt.IsZero() && !time.Now().Before(r.stopAt):
		r.rep.Stopped = StoppedDeadline
	}
	return r.rep.Stopped != ""
}

// readPage fills buf with the next page of jobs to check. A job already
// seen in this run is never taken again: one whose check moved it may show
// up again on a later page while the index catches up.
func (r *run) readPage(ctx context.Context) error {
	var ids []string
	if len(r.req.JobIDs) > 0 {
		ids, r.more = r.req.JobIDs, false
	} else {
		page, next, err := r.c.cfg.Store.DueJobs(ctx, r.now, r.c.cfg.PageSize, r.cursor)
		if err != nil {
			return err
		}
		ids, r.cursor, r.more = page, next, next != ""
	}
	var fresh []string
	for _, id := range ids {
		if !r.seen[id] {
			r.seen[id] = true
			fresh = append(fresh, id)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	js, err := r.c.cfg.Store.Jobs(ctx, fresh)
	if err != nil {
		return err
	}
	for _, j := range js {
		switch {
		case !j.State.Open():
			if len(r.req.JobIDs) > 0 {
				r.count(func(rep *Report) { rep.Skipped++ })
			}
		case len(r.req.JobIDs) == 0 && j.NextCheckAt.Unix() > r.now.Unix():
			// Another run checked it since the index was read.
		default:
			r.buf = append(r.buf, j)
		}
	}
	if n := len(fresh) - len(js); n > 0 && len(r.req.JobIDs) > 0 {
		r.count(func(rep *Report) { rep.Skipped += n })
	}
	return nil
}

// countLeft counts the due jobs the run did not reach: what is left of the
// page in hand and what the index holds beyond it.
func (r *run) countLeft(ctx context.Context) {
	left := len(r.buf)
	if r.more && len(r.req.JobIDs) == 0 {
		// A count reads keys only; it may run a little past the deadline
		// margin, which is what the margin is for.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		n, err := r.c.cfg.Store.CountDue(cctx, r.now, r.cursor)
		if err != nil {
			r.c.cfg.Logger.WarnContext(ctx, "jobcheck: counting the jobs left due", "error", err)
		}
		left += n
	}
	r.rep.LeftDue = left
}

func (r *run) count(f func(*Report)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.rep)
}

// checkSurviving checks one job; a panic on the way fails that job only.
// It is logged with its stack and counted as an error, the job stays due
// unless its save went through, and the run goes on to the next job and
// answers its report: a panic on a worker's goroutine would end the
// process, the report with it.
func (r *run) checkSurviving(ctx context.Context, j jobs.Job) {
	defer func() {
		if p := recover(); p != nil {
			obs.Panicked(ctx, r.c.cfg.Logger.With("job_id", j.ID), p)
			r.count(func(rep *Report) { rep.Errors++ })
		}
	}()
	r.check(ctx, j)
}

// check asks Zoho about one job and stores the answer.
func (r *run) check(ctx context.Context, j jobs.Job) {
	log := r.c.cfg.Logger.With("job_id", j.ID)
	if j.Reason == HeldReason {
		if r.below {
			r.hold(ctx, log, j, j)
			return
		}
		j.Reason = ""
	}
	if j.State == jobs.InDoubt {
		r.checkDoubt(ctx, log, j)
		return
	}
	if j.Checks == 0 && r.first(ctx, log, j) {
		return
	}
	before := j
	st, err := r.c.cfg.Zoho.ConvertStatus(ctx, j.ID)
	now := r.c.cfg.Now()
	var apiErr *zoho.APIError
	switch {
	case err == nil:
		r.zohoAnswered()
		r.m.Count("JobsChecked", 1)
		r.apply(ctx, log, &j, st, now)
	case errors.As(err, &apiErr) && apiErr.UnknownJob():
		r.zohoAnswered()
		r.m.Count("JobsChecked", 1)
		r.zohoError(err)
		j.State, j.Reason = jobs.UnknownToZoho, apiErr.Public()
		j.Checks, j.CheckedAt = j.Checks+1, now
	default:
		retryable := r.zohoError(err)
		r.count(func(rep *Report) { rep.Errors++ })
		if retryable {
			log.WarnContext(ctx, "jobcheck: no status from Zoho; the job stays due", "error", err)
			return
		}
		if !r.stale(j, now) {
			r.refusedForGood(ctx, log, j, now, err)
			return
		}
		// Zoho refuses to answer for a job long past its time: give it up.
		// The reason is shown by the API and announced: Zoho's answer only;
		// the whole error goes to the log.
		why := "the status call failed"
		if apiErr, ok := errors.AsType[*zoho.APIError](err); ok {
			why = apiErr.Public()
		}
		log.WarnContext(ctx, "jobcheck: no status from Zoho for a job past its time; given up", "error", err)
		j.State, j.Reason = jobs.Stale, fmt.Sprintf("no status after %s: %s", now.Sub(j.CreatedAt).Round(time.Minute), why)
	}
	j.UpdatedAt = now
	if j.State.Open() {
		j.NextCheckAt = now.Add(NextCheckAfter(j.Checks))
	} else {
		j.NextCheckAt, j.ExpiresAt = time.Time{}, now.Add(r.c.cfg.Retention)
	}
	r.save(ctx, log, before, j)
}

// refusedForGood ends the run after Zoho refused a status call for good:
// the job, and those the run holds but has not asked about, are checked
// again after refusedPause instead of costing a refused call each on every
// run. The metric StatusRefused raises the alarm.
func (r *run) refusedForGood(ctx context.Context, log *slog.Logger, j jobs.Job, now time.Time, err error) {
	r.mu.Lock()
	first := !r.refused
	r.refused = true
	r.mu.Unlock()
	r.m.Count("StatusRefused", 1)
	if first {
		log.ErrorContext(ctx, "jobcheck: Zoho refused a status call for good; the run stops and the jobs wait an hour (check the grant's scopes and the user's permissions)",
			"error", err)
	}
	r.feed.Lock()
	held := append([]jobs.Job{j}, r.buf...)
	r.buf = nil
	r.feed.Unlock()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, h := range held {
		before := h
		h.NextCheckAt, h.UpdatedAt = now.Add(refusedPause), now
		if err := r.c.cfg.Store.SaveCheck(wctx, h, before.Version); err != nil && !errors.Is(err, jobs.ErrConflict) {
			log.WarnContext(ctx, "jobcheck: pushing back the next check of a job", "job_id", h.ID, "error", err)
		}
	}
}

// checkDoubt reads back the leads of a call whose outcome was in doubt. It
// settles them once all are converted or the call is older than
// DoubtWindow; until then a lead that reads as not converted may still be
// in a job Zoho is running, and sending it again would only be refused.
func (r *run) checkDoubt(ctx context.Context, log *slog.Logger, j jobs.Job) {
	before := j
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if !r.lease(ctx, wctx, log, j) {
		return
	}
	out, err := r.readBack(wctx, log, j)
	if err != nil {
		r.count(func(rep *Report) { rep.Errors++ })
		log.WarnContext(ctx, "jobcheck: reading the leads of a call in doubt back; it stays due", "error", err)
		return
	}
	now := r.c.cfg.Now()
	j.Checks, j.CheckedAt, j.UpdatedAt = j.Checks+1, now, now
	notConverted := len(out.notConverted())
	if !out.unread && notConverted > 0 && now.Sub(j.CreatedAt) < r.c.cfg.DoubtWindow {
		j.NextCheckAt = now.Add(NextCheckAfter(j.Checks))
		r.store(ctx, wctx, log, before, j, readout{}, 0)
		return
	}
	if r.below && notConverted > 0 && r.c.cfg.Resend != nil {
		r.hold(ctx, log, before, j)
		return
	}
	j.State, j.NextCheckAt, j.ExpiresAt = jobs.Settled, time.Time{}, now.Add(r.c.cfg.Retention)
	j.Total, j.Converted, j.NotConverted = len(out.results), len(out.results)-notConverted, notConverted
	j.Reason = "read back after the call was in doubt"
	if out.unread {
		j.Reason = "the call was in doubt and its leads could not be read back"
	}
	resent, err := r.settle(wctx, j, out)
	if err != nil {
		r.count(func(rep *Report) { rep.Errors++ })
		log.ErrorContext(ctx, "jobcheck: settling the leads of a call in doubt; it stays due", "error", err)
		return
	}
	r.store(ctx, wctx, log, before, j, out, resent)
}

// apply takes Zoho's answer into j.
func (r *run) apply(ctx context.Context, log *slog.Logger, j *jobs.Job, st zoho.JobStatus, now time.Time) {
	j.ZohoStatus, j.Total, j.Converted, j.Waiting, j.FailedCount = st.RawStatus, st.Total, st.Converted, st.Waiting, st.Failed
	j.Checks, j.CheckedAt = j.Checks+1, now
	switch st.State {
	case zoho.StateScheduled:
		j.State = jobs.Scheduled
	case zoho.StateInProgress:
		j.State = jobs.InProgress
	case zoho.StateCompleted:
		j.State = jobs.Completed
	case zoho.StateFailed:
		j.State = jobs.Failed
	default:
		// A status Zoho may invent later: kept raw, the job stays open.
		log.WarnContext(ctx, "jobcheck: unknown Zoho status; the job stays open", "zoho_status", st.RawStatus)
	}
	if j.State.Open() && r.stale(*j, now) {
		j.State = jobs.Stale
		j.Reason = fmt.Sprintf("still %q %s after it was scheduled", st.RawStatus, now.Sub(j.CreatedAt).Round(time.Minute))
	}
}

func (r *run) stale(j jobs.Job, now time.Time) bool {
	return !j.CreatedAt.IsZero() && now.Sub(j.CreatedAt) >= r.c.cfg.StaleAfter
}

// save stores a check. When the job has ended, its leads are read back
// and settled first: settling repeats harmlessly, so a failure leaves the
// job due and the next run does it again, while the reverse order could end
// the job with its leads neither converted nor sent again.
func (r *run) save(ctx context.Context, log *slog.Logger, before, j jobs.Job) {
	// The answer is in hand: store it even if the deadline passes meanwhile.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	terminal := !j.State.Open()
	var out readout
	resent := 0
	if terminal && r.below && r.c.cfg.Resend != nil && failedLeads(j) {
		// Zoho's counts say some leads may need sending again: optional
		// work, which waits for the org to be above the credit floor.
		r.hold(ctx, log, before, j)
		return
	}
	if terminal {
		if !r.lease(ctx, wctx, log, before) {
			return
		}
		var err error
		if out, err = r.readBack(wctx, log, j); err != nil {
			r.count(func(rep *Report) { rep.Errors++ })
			log.WarnContext(ctx, "jobcheck: reading the leads of an ended job back; it stays due", "error", err)
			return
		}
		if resent, err = r.settle(wctx, j, out); err != nil {
			r.count(func(rep *Report) { rep.Errors++ })
			log.ErrorContext(ctx, "jobcheck: settling the leads of an ended job; it stays due", "error", err)
			return
		}
	}
	r.store(ctx, wctx, log, before, j, out, resent)
}

// store writes the check and announces a job that ended; it reports
// whether the check was stored.
func (r *run) store(ctx, wctx context.Context, log *slog.Logger, before, j jobs.Job, out readout, resent int) bool {
	switch err := r.c.cfg.Store.SaveCheck(wctx, j, before.Version); {
	case errors.Is(err, jobs.ErrConflict):
		r.count(func(rep *Report) { rep.Conflicts++ })
		r.m.Count("Conflicts", 1)
		log.InfoContext(ctx, "jobcheck: another run stored this job first")
		return false
	case err != nil:
		r.count(func(rep *Report) { rep.Errors++ })
		log.ErrorContext(ctx, "jobcheck: storing a check", "error", err)
		return false
	}
	j.Version = before.Version + 1
	changed := j.State != before.State || j.Total != before.Total || j.Converted != before.Converted ||
		j.Waiting != before.Waiting || j.NotConverted != before.NotConverted || j.FailedCount != before.FailedCount
	terminal := !j.State.Open()
	converted, notConverted := out.converted(), out.notConverted()
	r.count(func(rep *Report) {
		rep.Checked++
		if changed {
			rep.Changed++
		}
		if !terminal {
			return
		}
		if !out.unread {
			rep.ReadBack++
			rep.LeadsConverted += len(converted)
			rep.LeadsNotConverted += len(notConverted)
		}
		rep.LeadsResent += resent
		rep.Finished++
		switch j.State {
		case jobs.Failed:
			rep.Failed++
		case jobs.UnknownToZoho:
			rep.Unknown++
		case jobs.Stale:
			rep.Stale++
		case jobs.Settled:
			rep.Doubts++
		}
	})
	if !terminal {
		log.DebugContext(ctx, "jobcheck: checked", "status", j.State, "zoho_status", j.ZohoStatus, "checks", j.Checks,
			"next_check_at", j.NextCheckAt)
		return true
	}
	r.completed(before, j, out)
	r.m.CountBy("JobsFinished", "Status", string(j.State), 1)
	if !out.unread {
		// Per lead, as read back: a job's counts say nothing of which leads
		// Zoho converted, and the dashboard graphs leads, not jobs.
		r.m.Count("LeadsConverted", len(converted))
		r.m.Count("LeadsNotConverted", len(notConverted))
	}
	if j.State == jobs.Stale {
		r.m.Count("JobsStale", 1)
	}
	r.m.Count("LeadsResent", resent)
	log.InfoContext(ctx, "jobcheck: job finished", "status", j.State, "zoho_status", j.ZohoStatus,
		"total", j.Total, "converted", j.Converted, "failed", j.FailedCount, "checks", j.Checks,
		"reason", j.Reason, "leads_converted", len(converted), "leads_not_converted", len(notConverted), "leads_resent", resent)
	if r.c.cfg.Events == nil {
		return true
	}
	// Only the run whose save succeeded gets here, so each job is announced once.
	ev := NewEvent(j, out.unread && failedLeads(j) || resent > 0, converted, notConverted)
	if err := r.c.cfg.Events.Publish(wctx, ev); err != nil {
		r.count(func(rep *Report) { rep.Errors++ })
		r.m.Count("EventErrors", 1)
		log.ErrorContext(ctx, "jobcheck: announcing a finished job", "error", err)
	}
	return true
}

// zohoAnswered resets the run of consecutive Zoho errors.
func (r *run) zohoAnswered() {
	r.mu.Lock()
	r.zohoErrors = 0
	r.mu.Unlock()
}

// zohoError counts an error by Zoho's code and reports whether it is
// retryable (and so counts towards stopping the run).
func (r *run) zohoError(err error) bool {
	code, retryable := "NO_ANSWER", true
	var apiErr *zoho.APIError
	if errors.As(err, &apiErr) {
		retryable = apiErr.Retryable()
		switch {
		case apiErr.Code != "":
			code = apiErr.Code
		case apiErr.HTTPStatus != 0:
			code = "HTTP_" + strconv.Itoa(apiErr.HTTPStatus)
		}
	}
	r.m.CountBy("ZohoErrors", "Code", code, 1)
	if retryable {
		r.mu.Lock()
		r.zohoErrors++
		r.mu.Unlock()
	}
	return retryable
}

// sweep is the safety net: it reads the parked entries of the open index
// (one query, about 60 bytes an entry), reports the age of the oldest
// parked lead, and wakes again every accumulator and batch whose first
// lead has waited past MaxWait and SafetyGrace. A wake-up is harmless when
// the batch is on its way: it finds it taken and leased, and comes back.
func (r *run) sweep(ctx context.Context) {
	cfg := r.c.cfg
	if cfg.Parked == nil || cfg.Wake == nil {
		return
	}
	log := cfg.Logger
	all, err := cfg.Parked.Parked(ctx)
	if err != nil {
		r.count(func(rep *Report) { rep.Errors++ })
		log.ErrorContext(ctx, "jobcheck: listing the parked batches", "error", err)
		return
	}
	var oldest time.Duration
	woken := 0
	for _, b := range all {
		age := r.now.Sub(b.OpenedAt)
		oldest = max(oldest, age)
		if age < cfg.MaxWait+SafetyGrace || r.stopping(ctx) {
			continue
		}
		key := jobs.BatchKey{Fingerprint: b.Fingerprint, Gen: b.Gen}
		if !b.Taken {
			acc, err := cfg.Parked.Acc(ctx, b.Fingerprint)
			if err != nil {
				r.count(func(rep *Report) { rep.Errors++ })
				log.ErrorContext(ctx, "jobcheck: reading an overdue accumulator", "fingerprint", b.Fingerprint, "error", err)
				continue
			}
			if len(acc.LeadIDs) == 0 {
				continue // sent since the listing
			}
			key.Gen = acc.Gen
		}
		if err := cfg.Wake.Wake(ctx, key); err != nil {
			r.count(func(rep *Report) { rep.Errors++ })
			log.ErrorContext(ctx, "jobcheck: waking an overdue batch", "batch", key.String(), "error", err)
			continue
		}
		woken++
		log.WarnContext(ctx, "jobcheck: woke a batch its timer left behind", "batch", key.String(), "taken", b.Taken,
			"waited_s", int(age.Seconds()))
	}
	r.count(func(rep *Report) { rep.Parked, rep.Rewoken = len(all), woken })
	r.m.Count("BatchesRewoken", woken)
	// Reported every run, zero when nothing waits, so the alarm sees a
	// datum each run and a missing datum means the function did not run.
	r.m.Duration("OldestParkedLeadAge", oldest)
}
