// Package convert turns conversion requests into as few Zoho mass_convert
// calls as possible: requests with identical options are merged, ids are
// de-duplicated and claimed, cut into calls of 50, and sent with bounded
// concurrency. Every job Zoho schedules is recorded; every lead ends
// scheduled, rejected with Zoho's reason, or handed back for a retry.
package convert

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// Zoho is the part of the Zoho client the service needs.
type Zoho interface {
	MassConvert(ctx context.Context, req *zoho.ConvertRequest) (string, error)
}

var _ Zoho = (*zoho.Client)(nil)

// LeadReader reads leads back from Zoho (zoho.Client.GetLeads).
type LeadReader interface {
	GetLeads(ctx context.Context, ids []string) ([]zoho.Lead, error)
}

var _ LeadReader = (*zoho.Client)(nil)

// ConvertedElsewhere starts the reason of a lead Zoho refused because it had
// already converted it: by a job whose answer was lost or never recorded,
// or by hand. The lead is done, not rejected.
const ConvertedElsewhere = "already converted in Zoho: "

// Config configures a Service. Zoho and Store are required.
type Config struct {
	Zoho           Zoho
	Store          jobs.Store
	MaxConcurrency int    // mass_convert calls in flight; default 4
	APIVersion     string // recorded with each job
	Now            func() time.Time
	Logger         *slog.Logger

	// Leads, when set, reads back a lead Zoho refuses with INVALID_DATA:
	// Zoho refuses a lead it has converted exactly as one it never had.
	Leads LeadReader

	// StopMargin: no new call starts when less time than this remains
	// before the deadline; its leads are handed back for a retry.
	StopMargin time.Duration // default 5s
	// ClaimFor bounds a claim when the context has no deadline.
	ClaimFor time.Duration // default 15m
	// RejectionMemory is how long a lead Zoho refused is not asked about again.
	RejectionMemory time.Duration // default 24h
	// JobRetention is how long finished jobs (and the claims of their leads) are kept.
	JobRetention time.Duration // default 30 days
	// FirstCheck is when the status function first looks at a new job.
	FirstCheck time.Duration // default 1m
	// DoubtSettle is when the status function first reads back the leads
	// of a call in doubt: long enough for a job Zoho did schedule to end.
	DoubtSettle time.Duration // default 3m
	// Unrecorded, when set, receives a job Zoho scheduled that could not be
	// stored, so that it is kept somewhere an operator will see it (the
	// dead-letter queue) and not only in a log line. The store's error is in
	// that log line, not here: it names AWS operations and resources.
	Unrecorded func(ctx context.Context, job jobs.Job)

	// Timer, when set, turns on fleet-wide batching (Accumulate): it wakes
	// an accumulator's generation MaxWait after its first lead arrived.
	Timer Timer
	// MaxWait bounds how long a parked lead waits for its call to fill.
	MaxWait time.Duration // default 60s
	// WakeEarly is taken off MaxWait when setting a timer: the time a
	// wake-up message spends in the event source's batching window.
	WakeEarly time.Duration
	// ParkedFor is how long past MaxWait a parked claim stands if its batch
	// is never sent (its wake-ups dead-lettered): then it may be parked again.
	ParkedFor time.Duration // default 24h
	// Refused, when set, receives a batch whose options Zoho refused, with
	// the submissions that asked for its leads, to dead-letter it: their
	// own messages were acknowledged when the leads were parked.
	// An error means the letter was not sent: the batch is kept, and the
	// wake-up that takes it over sends the letter again.
	Refused func(ctx context.Context, req *zoho.ConvertRequest, sources []string, code, reason string) error

	// Pause waits between tries of a write that must happen (a job's
	// record); default time.Sleep.
	Pause func(time.Duration)
	// Sequential runs an invocation's sends one after another on its own
	// goroutine instead of side by side: for the schedule explorer
	// (internal/explore), which interleaves invocations one store
	// operation at a time and must know which invocation makes each.
	Sequential bool
}

// answerReserve is kept free at the end of an invocation for bookkeeping.
const answerReserve = 3 * time.Second

// Service converts leads. It is safe for concurrent use.
type Service struct{ cfg Config }

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Zoho == nil || cfg.Store == nil {
		return nil, errors.New("convert: Config.Zoho and Config.Store are required")
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.StopMargin, 5*time.Second)
	def(&cfg.ClaimFor, 15*time.Minute)
	def(&cfg.RejectionMemory, 24*time.Hour)
	def(&cfg.DoubtSettle, 3*time.Minute)
	def(&cfg.JobRetention, 30*24*time.Hour)
	def(&cfg.FirstCheck, time.Minute)
	def(&cfg.MaxWait, time.Minute)
	def(&cfg.ParkedFor, 24*time.Hour)
	if cfg.Pause == nil {
		cfg.Pause = time.Sleep
	}
	return &Service{cfg: cfg}, nil
}

// RequestSource is the Source of a request that carries requestID: "api:"
// and the id for the API's requests, queued or not; a sweep's message is
// named by its own id, which already says where it came from
// (sweep.MessageRequestID: sweep:NAME:RUN:N).
func RequestSource(requestID string) string {
	if strings.HasPrefix(requestID, "sweep:") {
		return requestID
	}
	return "api:" + requestID
}

// Submission is one conversion request and where it came from.
type Submission struct {
	Source  string // the SQS message's id, or RequestSource of the request id it carries
	Request *zoho.ConvertRequest
	// Accepted is when the request was accepted (SQS's SentTimestamp); a
	// parked lead's wait counts from it. Zero means now.
	Accepted time.Time
}

// Verdict is what the caller should do with a submission.
type Verdict int

const (
	// Done: every lead is scheduled (now or earlier) or rejected by Zoho.
	Done Verdict = iota
	// TryLater: some leads can succeed later (throttling, faults, deadline):
	// the message comes again. (jobs.Retry is a lead's claim state.)
	TryLater
	// Permanent: Zoho refused the request as a whole; resending cannot help.
	Permanent
)

func (v Verdict) String() string {
	return [...]string{"done", "retry", "permanent"}[v]
}

// Result is the outcome of one submission.
type Result struct {
	Source   string
	Verdict  Verdict
	Code     string // for TryLater and Permanent: Zoho's code or our own
	Reason   string
	Jobs     []JobRef
	Rejected []Rejection
	// AlreadyConverted are leads Zoho refused because it had converted
	// them already (read back): done, like a job's leads.
	AlreadyConverted []string
	// Queued are leads parked in an accumulator, waiting to fill a call.
	Queued []string
}

// JobRef names a job that holds some of a submission's leads.
type JobRef struct {
	JobID   string   `json:"job_id"`
	LeadIDs []string `json:"ids"`
	// Earlier is set when the job was scheduled by an earlier request
	// (a redelivery or a duplicate), not by this call.
	Earlier bool `json:"earlier,omitempty"`
}

// Rejection is a lead Zoho refused, with Zoho's reason.
type Rejection struct {
	LeadID string `json:"id"`
	Reason string `json:"reason"`
}

// leadOutcome is where one lead ended in this call.
type leadOutcome struct {
	verdict Verdict
	jobID   string
	code    string
	reason  string
	earlier bool
	parked  bool // Done: waiting in an accumulator
}

// group is the leads of all submissions with identical options.
type group struct {
	options *zoho.ConvertRequest // the first submission's request, ids aside
	fp      string
	optJSON string   // Options(options), recorded with each job
	ids     []string // unique, in order of arrival
	// more holds the submissions that asked for a lead after the first
	// (rare: a lead asked for twice in one batch); run.first has the first.
	more map[string][]string
	// batch is set when the leads come from an accumulator: its parked
	// claims are held by batch.Owner(), and batchSources says who asked.
	batch        jobs.BatchKey
	batchSources map[string]string

	mu     sync.Mutex
	failed *leadOutcome // set once Zoho refuses the options themselves
}

// run is the state of one Convert call.
type run struct {
	s       *Service
	runID   string     // takes batches' leases
	owner   jobs.Owner // holds the run's claims: jobs.RunOwner(runID)
	until   time.Time
	metrics *obs.Metrics

	mu       sync.Mutex
	outcomes map[string]leadOutcome

	first map[string]firstAsk // lead id -> the group that sends it and who asked first
	subFP []string            // fingerprint of each submission
	subs  []Submission

	deadline time.Time              // the invocation's; zero without one
	sem      chan struct{}          // bounds the Zoho calls in flight
	woken    map[jobs.BatchKey]bool // generations this run has set a timer for
}

// Convert handles a batch of submissions together, so that leads of
// different submissions share calls, and returns one Result per submission
// in the same order. It counts into the invocation's metrics (obs.WithMetrics).
func (s *Service) Convert(ctx context.Context, subs []Submission) []Result {
	r, ctx, cancel := s.newRun(ctx, subs)
	defer cancel()
	groups := r.group(subs)
	var wg sync.WaitGroup
	defer wg.Wait() // on a panic too: no send outlives the invocation's answer
	for _, g := range groups {
		if rest := r.feed(ctx, &wg, g); len(rest) > 0 {
			r.spawn(&wg, func() { r.sendLimited(ctx, g, rest) })
		}
	}
	wg.Wait()
	return r.results(subs)
}

// newRun starts the state of one call. Its context ends Zoho calls a
// little before the invocation does, so that there is time to record jobs,
// release claims and answer: an invocation that times out has every
// message of its batch delivered again.
func (s *Service) newRun(ctx context.Context, subs []Submission) (*run, context.Context, context.CancelFunc) {
	leads := 0
	for _, sub := range subs {
		leads += len(sub.Request.IDs)
	}
	id := newID()
	r := &run{s: s, runID: id, owner: jobs.RunOwner(id), until: s.claimUntil(ctx), metrics: obs.MetricsFrom(ctx),
		outcomes: make(map[string]leadOutcome, leads), first: make(map[string]firstAsk, leads), subs: subs,
		subFP: make([]string, 0, len(subs)), sem: make(chan struct{}, s.cfg.MaxConcurrency), woken: map[jobs.BatchKey]bool{}}
	if dl, ok := ctx.Deadline(); ok {
		r.deadline = dl
		ctx, cancel := context.WithDeadline(ctx, dl.Add(-answerReserve))
		return r, ctx, cancel
	}
	return r, ctx, func() {}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// claimUntil is when this call's claims lapse: after its deadline, so a
// crashed invocation's leads become free again, but never before it ends.
func (s *Service) claimUntil(ctx context.Context) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return s.cfg.Now().Add(time.Until(dl) + time.Minute)
	}
	return s.cfg.Now().Add(s.cfg.ClaimFor)
}

// firstAsk is where a lead goes: the fingerprint of its group, and the
// submission that asked for it first.
type firstAsk struct {
	fp  string
	sub int
}

// group merges submissions by options. A lead asked for by several
// submissions goes to Zoho once, with the first; the others share its outcome.
func (r *run) group(subs []Submission) []*group {
	byFP := map[string]*group{}
	var order []*group
	var fps fingerprints
	for i, sub := range subs {
		fp, opts := fps.of(sub.Request)
		r.subFP = append(r.subFP, fp)
		g := byFP[fp]
		if g == nil {
			o := *sub.Request
			o.IDs = nil
			g = &group{options: &o, fp: fp, optJSON: opts}
			byFP[fp] = g
			order = append(order, g)
		}
		for _, id := range sub.Request.IDs {
			f, taken := r.first[id]
			switch {
			case !taken:
				r.first[id] = firstAsk{fp: fp, sub: i}
				g.ids = append(g.ids, id)
			case subs[f.sub].Source != sub.Source:
				owner := byFP[f.fp] // the group that sends the lead keeps its sources
				if !slices.Contains(owner.more[id], sub.Source) {
					if owner.more == nil {
						owner.more = map[string][]string{}
					}
					owner.more[id] = append(owner.more[id], sub.Source)
				}
			}
		}
	}
	return order
}

// sources lists the submissions that asked for ids, each once.
func (r *run) sources(g *group, ids []string) []string {
	var out []string
	add := func(src string) {
		if src != "" && !slices.Contains(out, src) {
			out = append(out, src)
		}
	}
	for _, id := range ids {
		if g.batchSources != nil {
			add(g.batchSources[id])
			continue
		}
		if f, ok := r.first[id]; ok {
			add(r.subs[f.sub].Source)
		}
		for _, src := range g.more[id] {
			add(src)
		}
	}
	return out
}

// claimSize is how many leads one claim transaction takes (DynamoDB's cap
// on a transaction's items).
const claimSize = 100

// feed claims g's leads a transaction at a time, as calls are made, and
// sends each full call on the side (wg) while it claims the next: a batch of
// any size makes its first call at once and ends in time. It stops
// claiming when the deadline is near; the leads it did not reach are
// handed back untouched. It returns the claimed leads that did not fill a
// call, for the caller to send or park.
func (r *run) feed(ctx context.Context, wg *sync.WaitGroup, g *group) []string {
	var buf []string
	for i := 0; i < len(g.ids); i += claimSize {
		if r.stopping(ctx) {
			r.answer(append(buf, g.ids[i:]...), leadOutcome{verdict: TryLater, code: "DEADLINE", reason: "not enough time left in this invocation"})
			return nil
		}
		ids := g.ids[i:min(i+claimSize, len(g.ids))]
		claimed, held, err := r.s.cfg.Store.Claim(ctx, r.owner, ids, r.s.cfg.Now(), r.until)
		if err != nil {
			r.s.cfg.Logger.ErrorContext(ctx, "claiming leads failed", "leads", len(ids), "error", err)
			r.metrics.CountBy("StoreErrors", "Operation", "claim", 1)
			r.answer(append(buf, g.ids[i:]...), leadOutcome{verdict: TryLater, code: "STORE_UNAVAILABLE", reason: "the table could not be written"})
			return nil
		}
		r.answerClaimed(ctx, held)
		buf = append(buf, claimed...)
		for len(buf) >= zoho.MaxIDsPerCall {
			chunk := buf[:zoho.MaxIDsPerCall:zoho.MaxIDsPerCall]
			buf = buf[zoho.MaxIDsPerCall:]
			r.spawn(wg, func() { r.sendLimited(ctx, g, chunk) })
		}
	}
	return buf
}

// spawn runs f on the side (wg), or at once under Config.Sequential.
func (r *run) spawn(wg *sync.WaitGroup, f func()) {
	if r.s.cfg.Sequential {
		f()
		return
	}
	wg.Go(f)
}

// stopping reports whether too little time is left to start another step.
func (r *run) stopping(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < r.s.cfg.StopMargin
}

// answerClaimed answers for leads whose claims another holds, and those
// parked already.
func (r *run) answerClaimed(ctx context.Context, held []jobs.Claim) {
	now := r.s.cfg.Now()
	var parked []jobs.Claim
	for _, c := range held {
		switch {
		case c.State == jobs.Parked:
			parked = append(parked, c)
		case c.State == jobs.ClaimScheduled:
			r.answer([]string{c.LeadID}, leadOutcome{verdict: Done, jobID: c.JobID, earlier: true})
			r.metrics.Count("DuplicatesPrevented", 1)
		case c.State == jobs.ClaimInDoubt:
			r.answer([]string{c.LeadID}, leadOutcome{verdict: Done, jobID: c.JobID, earlier: true})
			r.metrics.Count("DuplicatesPrevented", 1)
		case c.State == jobs.Rejected:
			r.answer([]string{c.LeadID}, leadOutcome{verdict: Done, code: "REJECTED", reason: c.Reason})
			r.metrics.Count("DuplicatesPrevented", 1)
		default:
			r.answer([]string{c.LeadID}, leadOutcome{verdict: TryLater, code: "LEAD_BUSY",
				reason: fmt.Sprintf("another invocation is converting this lead (claim lapses in %s)", c.Until.Sub(now).Round(time.Second))})
		}
	}
	r.answerParked(ctx, parked)
}

// maxCallsPerChunk bounds the mass_convert calls one chunk may cost when
// Zoho keeps refusing its leads: Zoho names one bad id per answer.
const maxCallsPerChunk = 3

// A chunk is the leads of one send and what its calls have decided of them.
type chunk struct {
	ids   []string // still to send
	calls int      // mass_convert calls made
	// doubtful are leads only a read-back can settle: Zoho refused them
	// though it has them unconverted (another job may hold them), or the
	// answer to their call was lost; why says which.
	doubtful []string
	why      string
	lost     bool // the last call's answer was lost: Zoho may or may not have its leads
	// heldBack are leads Zoho never named, held because their chunk was
	// refused too often: the calls did not carry them, so holding them
	// uses none of their attempts.
	heldBack []string
	// ended: no lead of the chunk is handed back, so a batch it came from
	// is done with, unless a lead is unrecorded (close decides);
	// scheduled: a job took the leads still to send.
	ended, scheduled bool
	// read: the chunk was read back once, after Zoho's first refusal of a
	// lead; doubting: that read found the refused lead unconverted, or
	// could not be made for now, so a lead Zoho refuses from then on is
	// held in doubt for the status function's read-back.
	read, doubting bool
	// unrecorded: Zoho refused a lead whose rejection could not be
	// written, so its claim still holds it (parked, for a batch's lead):
	// it goes again, and a batch it came from must outlive the chunk.
	unrecorded bool
}

// next says whether a chunk's attempt leaves leads to call Zoho with again.
type next bool

const (
	callAgain next = true  // refused leads were sorted out; the rest goes in another call
	done      next = false // every lead has its outcome, or is left for close
)

// send schedules one chunk. Zoho names one refused id per answer; the first
// refusal reads the whole chunk back, so that every unknown or converted id
// goes at once and a chunk costs at most maxCallsPerChunk calls whatever
// number of its ids are bad. Leads Zoho has, did not convert and still
// refuses (another job may hold them), and the leads of a call whose answer
// was lost, are held in doubt until the status function reads them back.
func (r *run) send(ctx context.Context, g *group, ids []string) {
	c := &chunk{ids: ids, why: "Zoho refused leads it has and has not converted; another job may hold them"}
	for len(c.ids) > 0 && r.attempt(ctx, g, c) == callAgain {
		c.calls++
	}
	r.close(ctx, g, c)
}

// attempt makes one mass_convert call with the chunk's leads, unless the
// group has failed, time is short or the chunk was refused too often, and
// settles what the answer tells.
func (r *run) attempt(ctx context.Context, g *group, c *chunk) next {
	log := r.s.cfg.Logger
	if out := g.failure(); out != nil {
		c.ended = r.release(ctx, g, c.ids, *out) // a batch's leads are lettered: settled
		return done
	}
	if r.stopping(ctx) {
		r.answer(c.ids, leadOutcome{verdict: TryLater, code: "DEADLINE", reason: "not enough time left in this invocation"})
		return done
	}
	if c.doubting && c.calls == maxCallsPerChunk {
		r.metrics.Count("ChunksRefusedTooOften", 1)
		c.heldBack, c.ended = c.ids, true
		return done
	}
	req := *g.options
	req.IDs = c.ids
	r.metrics.Count("ZohoCalls", 1)
	jobID, err := r.s.cfg.Zoho.MassConvert(ctx, &req)
	if err == nil {
		// The job ends the batch only if no lead of the chunk is left to
		// record in doubt: that record ends it instead. A job that could not be
		// recorded leaves its leads to be sent again: the batch does not
		// end with it.
		c.ended, c.scheduled = r.recordJob(ctx, g, c.ids, jobID, len(c.doubtful) == 0 && !c.unrecorded), true
		return done
	}
	var apiErr *zoho.APIError
	if !errors.As(err, &apiErr) {
		apiErr = &zoho.APIError{Op: "mass_convert", Class: zoho.Retryable, IDIndex: -1, Message: "the call failed", Err: err}
	}
	r.metrics.CountBy("ZohoErrors", "Code", codeOrClass(apiErr), 1)
	// The reason reaches the caller, the dead letter and the lead's claim;
	// the whole error, cause included, only the log lines below.
	reason := apiErr.Public()
	switch {
	case apiErr.Class == zoho.InvalidID:
		r.refused(ctx, g, c, apiErr, reason)
		c.ended = len(c.ids) == 0 // close keeps the batch of a lead left unrecorded
		if c.ended {
			return done
		}
		return callAgain
	case apiErr.Class == zoho.Permanent:
		out := leadOutcome{verdict: Permanent, code: apiErr.Code, reason: reason}
		g.fail(out)
		log.WarnContext(ctx, "zoho refused the request", "code", apiErr.Code, "json_path", apiErr.JSONPath(), "leads", len(c.ids), "error", err)
		c.ended = r.release(ctx, g, c.ids, out) // a batch's leads are lettered: settled
	case apiErr.Ambiguous:
		// Zoho may have scheduled them: sending them again now would be
		// refused, or convert them twice over in the counts.
		r.metrics.Count("AmbiguousCalls", 1)
		log.WarnContext(ctx, "mass_convert answer lost; leads held until they are read back",
			"status", apiErr.HTTPStatus, "leads", len(c.ids), "error", err)
		c.doubtful, c.ended, c.lost = append(c.doubtful, c.ids...), true, true
		c.why = "the answer to the call was lost: " + reason
	default:
		log.WarnContext(ctx, "mass_convert failed, leads handed back for a retry",
			"code", apiErr.Code, "status", apiErr.HTTPStatus, "leads", len(c.ids), "error", err)
		r.release(ctx, g, c.ids, leadOutcome{verdict: TryLater, code: codeOrClass(apiErr), reason: reason})
	}
	return done
}

// refused takes the lead Zoho named out of the chunk and settles it: an
// id Zoho calls INVALID_DATA may be unknown, converted, or held by another
// job, so the first such refusal reads the whole chunk back to tell them
// apart (sortRefused); any other code rejects the lead.
func (r *run) refused(ctx context.Context, g *group, c *chunk, apiErr *zoho.APIError, reason string) {
	id := apiErr.ID
	c.ids = slices.Delete(slices.Clone(c.ids), apiErr.IDIndex, apiErr.IDIndex+1)
	switch {
	case apiErr.Code != "INVALID_DATA":
		r.recordRejection(ctx, g, c, id, apiErr.Code, reason)
	case !c.read:
		c.read = true
		keep, doubt, err := r.sortRefused(ctx, g, c, id, c.ids, reason)
		switch {
		case err == nil:
			c.ids, c.doubting, c.doubtful = keep, true, append(c.doubtful, doubt...)
		case errors.Is(err, errNoReader) || zoho.RefusedForGood(err):
			// Unreadable for good (no reader, no leads.READ scope): Zoho's refusal
			// is all there will ever be; the rest goes again, one refused
			// id a call, as nothing can tell them apart.
			r.recordRejection(ctx, g, c, id, apiErr.Code, reason)
		default:
			// Unreadable for now (Zoho busy, the token refused): another
			// job may hold the lead, and would fail it later. The status
			// function's read-back decides it, and every lead Zoho refuses
			// in this chunk after it.
			c.doubting, c.doubtful = true, append(c.doubtful, id)
		}
	case c.doubting:
		c.doubtful = append(c.doubtful, id)
	default:
		r.recordRejection(ctx, g, c, id, apiErr.Code, reason)
	}
}

// close holds the chunk's leads in doubt and drops the batch they came
// from once nothing is left of it. A batch ends with the last write that
// settles its leads, never before: a lead whose hold fails stays parked in
// a batch that still exists, for the next wake-up to send.
func (r *run) close(ctx context.Context, g *group, c *chunk) {
	// A lead whose rejection could not be written is still parked in the
	// batch, however the rest of the chunk ended: no record may end it.
	ends := c.ended && !c.unrecorded
	if len(c.heldBack) > 0 && !r.recordDoubt(ctx, g, c.heldBack, "held with leads Zoho kept refusing in the same call", ends && len(c.doubtful) == 0, false) {
		ends = false
	}
	if len(c.doubtful) > 0 {
		// A lead Zoho named is one it refused: an attempt. A lost answer may
		// hide a job that converts them, or no job at all: the read-back
		// decides, and only a job that fails them counts.
		r.recordDoubt(ctx, g, c.doubtful, c.why, ends, !c.lost)
	}
	if ends && !c.scheduled && len(c.heldBack)+len(c.doubtful) == 0 && g.batch != (jobs.BatchKey{}) {
		// Every lead was refused or found converted: nothing is left.
		r.dropBatch(ctx, g)
	}
	if c.unrecorded && g.batch != (jobs.BatchKey{}) {
		// A lead is still parked in the batch: the next wake-up takes it
		// over at once and sends it again.
		bg, cancel := r.bookkeeping(ctx, 5*time.Second)
		defer cancel()
		r.releaseBatch(ctx, bg, g)
	}
}

// recordRejection writes that Zoho refused lead id for good (its claim
// becomes REJECTED) and answers for it: done. If the write fails, the
// refusal is nowhere but in this invocation, so the lead goes again
// (TryLater; c.unrecorded keeps its batch) and Zoho refuses it again then.
func (r *run) recordRejection(ctx context.Context, g *group, c *chunk, id, code, reason string) {
	if code != "ALREADY_CONVERTED" {
		r.metrics.Count("LeadsRejected", 1)
	}
	r.s.cfg.Logger.InfoContext(ctx, "zoho rejected a lead", "lead_id", id, "code", code, "holder", r.holder(g), "run", r.runID)
	if err := r.s.cfg.Store.Reject(ctx, r.holder(g), id, reason, r.s.cfg.Now().Add(r.s.cfg.RejectionMemory)); err != nil {
		r.s.cfg.Logger.WarnContext(ctx, "recording a rejection failed; the lead goes again", "lead_id", id, "error", err)
		c.unrecorded = true
		r.answer([]string{id}, leadOutcome{verdict: TryLater, code: "STORE_UNAVAILABLE",
			reason: "Zoho refused the lead (" + code + ") but the refusal could not be recorded; it is sent again"})
		return
	}
	r.answer([]string{id}, leadOutcome{verdict: Done, code: code, reason: reason})
}

// sortRefused reads back the refused lead and the rest of its chunk in one
// Get Records call (Zoho refuses a converted lead exactly as an unknown
// one): converted leads are done, leads Zoho does not have are rejected, and
// the refused lead, which Zoho has and has not converted, is held in doubt.
// It returns the leads to send again and those to hold, or why the read
// failed: errNoReader when the function has no reader, a refusal for good.
func (r *run) sortRefused(ctx context.Context, g *group, c *chunk, refused string, rest []string, reason string) (keep, doubt []string, err error) {
	if r.s.cfg.Leads == nil {
		return nil, nil, errNoReader
	}
	chunk := append([]string{refused}, rest...)
	leads, err := r.s.cfg.Leads.GetLeads(ctx, chunk)
	if err != nil {
		r.metrics.CountBy("ReadBackErrors", "Code", readErrorCode(err), 1)
		r.s.cfg.Logger.DebugContext(ctx, "reading refused leads back failed", "leads", len(chunk), "error", err)
		return nil, nil, err
	}
	r.metrics.Count("RefusalReadBacks", 1)
	for _, l := range leads {
		switch {
		case l.Found && l.Known && l.Converted:
			r.metrics.Count("LeadsFoundConverted", 1)
			r.recordRejection(ctx, g, c, l.ID, "ALREADY_CONVERTED", ConvertedElsewhere+reason)
		case !l.Found:
			why := reason
			if l.ID != refused {
				why = "Zoho has no lead " + l.ID + " (read back after it refused another lead of the call)"
			}
			r.recordRejection(ctx, g, c, l.ID, "INVALID_DATA", why)
		case l.ID == refused:
			doubt = append(doubt, l.ID)
		default:
			keep = append(keep, l.ID)
		}
	}
	return keep, doubt, nil
}

// errNoReader is sortRefused's answer when nothing can read leads: as final
// as a grant without the scope.
var errNoReader = errors.New("no lead reader configured")

// recordDoubt writes leads whose outcome is in doubt as a call in doubt: their
// claims hold them, so no request sends them again, until the status
// function reads them back and settles them (converted, or sent again).
// If even that cannot be written, they are released as before, and
// recordDoubt reports false. ended says no other lead of the chunk is left to
// settle, so the batch it came from, if any, ends with this record.
// attempt says the record counts as one of the leads' attempts: Zoho named
// them in a refusal; otherwise it counts as a doubt.
func (r *run) recordDoubt(ctx context.Context, g *group, ids []string, reason string, ended, attempt bool) bool {
	now := r.s.cfg.Now()
	job := jobs.Job{
		ID: jobs.DoubtPrefix + newID(), State: jobs.InDoubt, LeadIDs: ids, Fingerprint: g.fp,
		Options: g.optJSON, Sources: r.sources(g, ids), APIVersion: r.s.cfg.APIVersion,
		CreatedAt: now, UpdatedAt: now, NextCheckAt: now.Add(r.s.cfg.DoubtSettle), Reason: reason,
		NoAttempt: !attempt,
	}
	if ended {
		job.Batch = g.batch
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.s.cfg.Store.RecordJob(bg, job, now.Add(r.s.cfg.JobRetention+48*time.Hour)); err != nil {
		r.s.cfg.Logger.WarnContext(ctx, "recording a call in doubt failed; its leads are handed back", "leads", len(ids), "error", err)
		r.release(ctx, g, ids, leadOutcome{verdict: TryLater, code: "IN_DOUBT", reason: reason})
		return false
	}
	r.metrics.Count("LeadsInDoubt", len(ids))
	r.s.cfg.Logger.InfoContext(ctx, "leads held in doubt", "doubt_id", job.ID, "leads", len(ids), "reason", reason)
	r.answer(ids, leadOutcome{verdict: Done, jobID: job.ID})
	return true
}

func readErrorCode(err error) string {
	var apiErr *zoho.APIError
	if errors.As(err, &apiErr) {
		return codeOrClass(apiErr)
	}
	return "NETWORK"
}

func codeOrClass(e *zoho.APIError) string {
	if e.Code != "" {
		return e.Code
	}
	if e.Class == zoho.Retryable {
		return "NETWORK"
	}
	return e.Class.String()
}

// recordJob writes a job Zoho scheduled and answers for its leads. Zoho has the leads now whatever
// happens here, so a failure to record is logged with everything needed to
// recover the job by hand, and the leads still count as scheduled.
// endsBatch says the job ends the batch its leads came from, if any. It
// reports whether the job was recorded.
func (r *run) recordJob(ctx context.Context, g *group, ids []string, jobID string, endsBatch bool) bool {
	now := r.s.cfg.Now()
	sources := r.sources(g, ids)
	job := jobs.Job{
		ID: jobID, State: jobs.Scheduled, LeadIDs: ids, Fingerprint: g.fp,
		Options: g.optJSON, Sources: sources, APIVersion: r.s.cfg.APIVersion,
		CreatedAt: now, UpdatedAt: now, NextCheckAt: now.Add(r.s.cfg.FirstCheck),
	}
	if endsBatch {
		job.Batch = g.batch
	}
	claimsExpire := now.Add(r.s.cfg.JobRetention + 48*time.Hour)
	// The write must happen even if the caller's deadline is about to pass.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var err error
	for attempt := range 3 {
		err = r.s.cfg.Store.RecordJob(bg, job, claimsExpire)
		if err == nil || attempt > 0 && errors.Is(err, jobs.ErrJobExists) {
			// A write that committed but answered an error finds its own
			// job on the next try: recorded, not a failure.
			err = nil
			break
		}
		r.s.cfg.Pause(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	r.metrics.Count("JobsScheduled", 1)
	r.metrics.Count("LeadsSubmitted", len(ids))
	if err != nil {
		r.metrics.Count("JobsNotRecorded", 1)
		r.s.cfg.Logger.ErrorContext(ctx, "zoho scheduled a job that could not be recorded; record it by hand",
			"job_id", jobID, "lead_ids", ids, "error", err)
		if r.s.cfg.Unrecorded != nil {
			r.s.cfg.Unrecorded(bg, job)
		}
		// Zoho has the leads, but nothing would follow them to an outcome.
		// They go again as if this invocation had died after Zoho's answer:
		// their claims lapse, or their batch is taken over, and the next
		// call finds Zoho refusing them while its job holds them; the
		// read-back then settles them (converted, or held in doubt).
		if g.batch != (jobs.BatchKey{}) {
			r.releaseBatch(ctx, bg, g)
		}
		r.answer(ids, leadOutcome{verdict: TryLater, code: "JOB_NOT_RECORDED",
			reason: "Zoho scheduled the leads but the job could not be recorded; they are sent again to be followed"})
		return false
	}
	r.s.cfg.Logger.InfoContext(ctx, "mass convert scheduled", "job_id", jobID, "leads", len(ids))
	r.answer(ids, leadOutcome{verdict: Done, jobID: jobID})
	return true
}

// bookkeeping is a context for writes that must happen after the calls'
// context has ended, such as releasing claims: at most d, and never past
// the invocation's own deadline, or Lambda cuts the answer off.
func (r *run) bookkeeping(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	bg := context.WithoutCancel(ctx)
	if !r.deadline.IsZero() {
		if until := time.Until(r.deadline) - 500*time.Millisecond; until < d {
			d = max(until, 0)
		}
	}
	return context.WithTimeout(bg, d)
}

// holder is who holds the claims of g's leads: this run, or g's batch.
func (r *run) holder(g *group) jobs.Owner {
	if g.batch != (jobs.BatchKey{}) {
		return g.batch.Owner()
	}
	return r.owner
}

// release frees the claims of leads that were not scheduled (or, for a
// batch's leads, the batch's lease), and answers for them. A batch's
// leads stay parked in it for the next try, unless Zoho refused the
// options, which no try can mend. It reports whether Zoho refused the
// options and every lead is settled by that (lettered, for a batch): a
// batch lead whose letter could not be written stays parked in the batch,
// which must then outlive this call for a wake-up to send it again.
func (r *run) release(ctx context.Context, g *group, ids []string, out leadOutcome) (settled bool) {
	bg, cancel := r.bookkeeping(ctx, 5*time.Second)
	defer cancel()
	if g.batch != (jobs.BatchKey{}) {
		if out.verdict != Permanent {
			r.releaseBatch(ctx, bg, g)
			r.answer(ids, out)
			return false
		}
		unsettled := r.letterBatch(bg, g, ids, out)
		r.answer(ids, out)
		if len(unsettled) == 0 {
			return true
		}
		// Not lettered, or lettered without a letter: the batch stays, and
		// the next wake-up sends them again or sends their letter.
		r.releaseBatch(ctx, bg, g)
		r.answer(unsettled, leadOutcome{verdict: TryLater, code: "STORE_UNAVAILABLE", reason: "the table or the dead-letter queue could not be written"})
		return false
	}
	if err := r.s.cfg.Store.Release(bg, r.owner, ids); err != nil {
		// The claims lapse on their own after the deadline.
		r.s.cfg.Logger.WarnContext(ctx, "releasing claims failed", "leads", len(ids), "error", err)
	}
	r.answer(ids, out)
	return out.verdict == Permanent
}

// releaseBatch lets the next wake-up take g's batch at once instead of
// after the lease.
func (r *run) releaseBatch(ctx, bg context.Context, g *group) {
	now := r.s.cfg.Now()
	if err := r.s.cfg.Store.Lease(bg, g.batch, r.runID, now, now); err != nil {
		r.s.cfg.Logger.WarnContext(ctx, "releasing a batch's lease failed", "batch", g.batch.String(), "error", err)
	}
}

// survive is deferred on each goroutine of a run: it recovers a panic,
// logs it with its stack, and lets failed give that goroutine's work its
// outcome, so that the rest of the invocation goes on.
func (r *run) survive(ctx context.Context, failed func()) {
	if p := recover(); p != nil {
		obs.Panicked(ctx, r.s.cfg.Logger, p)
		failed()
	}
}

// answerRest answers for those of ids that have no answer yet.
func (r *run) answerRest(ids []string, out leadOutcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if _, ok := r.outcomes[id]; !ok {
			r.outcomes[id] = out
		}
	}
}

// answer sets what the invocation answers for leads, and writes nothing:
// their claims, if any, lapse a minute after the invocation's deadline, so
// an invocation short of time spends none of it releasing them. Three
// verbs say what becomes of a lead: answer (no write), release (its claim
// freed), record (a job, a doubt or a rejection written).
func (r *run) answer(ids []string, out leadOutcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.outcomes[id] = out
	}
}

func (g *group) fail(out leadOutcome) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failed == nil {
		g.failed = &out
	}
}

func (g *group) failure() *leadOutcome {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failed
}

// oneJob returns the outcome of ids when they all went to the same job.
func (r *run) oneJob(ids []string) (leadOutcome, bool) {
	var first leadOutcome
	for k, id := range ids {
		o, ok := r.outcomes[id]
		if !ok || o.verdict != Done || o.jobID == "" || k > 0 && (o.jobID != first.jobID || o.earlier != first.earlier) {
			return leadOutcome{}, false
		}
		first = o
	}
	return first, len(ids) > 0
}

// results folds lead outcomes into one verdict per submission: a retry wins
// (it can still succeed), then a permanent refusal, else done.
func (r *run) results(subs []Submission) []Result {
	out := make([]Result, len(subs))
	single := make([]JobRef, 0, len(subs)) // backs the usual answer: all leads in one job
	for i, sub := range subs {
		if j, ok := r.oneJob(sub.Request.IDs); ok {
			single = append(single, JobRef{JobID: j.jobID, LeadIDs: slices.Clip(sub.Request.IDs), Earlier: j.earlier})
			out[i] = Result{Source: sub.Source, Jobs: single[len(single)-1 : len(single) : len(single)]}
			continue
		}
		res := Result{Source: sub.Source}
		for _, id := range sub.Request.IDs {
			o, ok := r.outcomes[id]
			if !ok {
				o = leadOutcome{verdict: TryLater, code: "INTERNAL", reason: "lead was not processed"}
			}
			if o.verdict == Permanent && r.first[id].fp != r.subFP[i] {
				// Zoho refused another request's options for this lead, not
				// this request's: send it again, on its own this time.
				o = leadOutcome{verdict: TryLater, code: "OTHER_REQUEST_REFUSED",
					reason: "another request for this lead, with other options, was refused: " + o.reason}
			}
			switch {
			case o.verdict == TryLater:
				if res.Verdict != TryLater {
					res.Verdict, res.Code, res.Reason = TryLater, o.code, o.reason
				}
			case o.verdict == Permanent:
				if res.Verdict == Done {
					res.Verdict, res.Code, res.Reason = Permanent, o.code, o.reason
				}
			case o.parked:
				res.Queued = append(res.Queued, id)
			case o.jobID != "":
				// A submission's leads are in a job or two: a search beats a map.
				k := slices.IndexFunc(res.Jobs, func(j JobRef) bool { return j.JobID == o.jobID })
				if k < 0 {
					k = len(res.Jobs)
					res.Jobs = append(res.Jobs, JobRef{JobID: o.jobID, Earlier: o.earlier})
				}
				res.Jobs[k].LeadIDs = append(res.Jobs[k].LeadIDs, id)
			case strings.HasPrefix(o.reason, ConvertedElsewhere):
				res.AlreadyConverted = append(res.AlreadyConverted, id)
			default:
				res.Rejected = append(res.Rejected, Rejection{LeadID: id, Reason: o.reason})
			}
		}
		out[i] = res
	}
	return out
}
