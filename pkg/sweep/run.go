package sweep

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// How a run ended.
const (
	EndDone     = "done"      // every matching lead was seen
	EndMaxLeads = "max_leads" // it queued max_leads and left the rest
	EndError    = "error"     // Zoho (or the queue) refused; Reason says how
)

// Run is one run of a sweep, as stored after each message it queues.
type Run struct {
	Sweep, ID string
	StartedAt time.Time
	EndedAt   time.Time // zero while it is under way
	End       string    // "" while under way, else EndDone, EndMaxLeads, EndError
	Reason    string    // why it ended in error: Zoho's answer as it is (APIError.Public)
	// Cursor is the last lead id the run is done with: the next page
	// selects id > Cursor. Empty before the first page.
	Cursor string
	// Counts are the whole run's, summed over its invocations.
	Counts
	Invocations int // invocations that took part (a run nearing a deadline goes on in another)
	// LeaseOwner holds the run until LeaseUntil: only the invocation that
	// holds the lease queues.
	LeaseOwner string
	LeaseUntil time.Time
	Version    int
}

// Counts are a run's counts, as Run stores them and Report, RunEvent and
// outcome.RunReport show them: declared once, so that they cannot drift
// apart.
type Counts struct {
	// Matched counts the ids COQL returned that the run looked at; each
	// is then skipped as converted, not found or claimed, or queued.
	Matched          int `json:"matched"`
	SkippedConverted int `json:"skipped_converted"`
	SkippedNotFound  int `json:"skipped_not_found"`
	SkippedClaimed   int `json:"skipped_claimed"`
	Queued           int `json:"queued"` // in a dry run: would be queued
	// OverMax counts matching ids the run did not look at once it had
	// queued max_leads, on the page it stopped in; MoreOverMax says Zoho
	// had more pages besides.
	OverMax     int  `json:"over_max"`
	MoreOverMax bool `json:"more_over_max,omitempty"`
	Messages    int  `json:"messages"` // messages put on the conversion queue
	COQLCalls   int  `json:"coql_calls"`
	ReadCalls   int  `json:"read_calls"` // Get Records calls
}

// Add counts seg in; MoreOverMax is true if it is in either.
func (c *Counts) Add(seg Counts) {
	c.Matched += seg.Matched
	c.SkippedConverted += seg.SkippedConverted
	c.SkippedNotFound += seg.SkippedNotFound
	c.SkippedClaimed += seg.SkippedClaimed
	c.Queued += seg.Queued
	c.OverMax += seg.OverMax
	c.MoreOverMax = c.MoreOverMax || seg.MoreOverMax
	c.Messages += seg.Messages
	c.COQLCalls += seg.COQLCalls
	c.ReadCalls += seg.ReadCalls
}

// Why an invocation stopped before its run ended (Report.Stopped).
const (
	StoppedDeadline  = "deadline"    // it goes on in the next invocation
	StoppedBusy      = "busy"        // another invocation holds the run
	StoppedLeaseLost = "lease_lost"  // another invocation took the run over
	StoppedNoOpenRun = "no_open_run" // OnlyOpen, and the sweep has no run under way
)

// Report is what an invocation answers.
type Report struct {
	Sweep     string    `json:"sweep"`
	RunID     string    `json:"run_id,omitempty"`
	DryRun    bool      `json:"dry_run,omitempty"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	End       string    `json:"end,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Counts
	Cursor string `json:"cursor,omitempty"`
	// Stopped says why this invocation stopped before the run ended
	// (StoppedDeadline, StoppedBusy, StoppedLeaseLost, StoppedNoOpenRun).
	Stopped string `json:"stopped,omitempty"`
	// Repeated says the run had ended before this invocation: nothing was
	// queued again.
	Repeated bool `json:"repeated,omitempty"`
	// EndedNow says this invocation ended the run (its save of the end
	// went through): only it announces the end and counts a failure, so
	// a run ends once however often it is asked again.
	EndedNow bool `json:"ended_now,omitempty"`
	// QueuedNow is the leads this invocation queued, of Queued, which
	// counts the whole run: what the metrics add up.
	QueuedNow int `json:"queued_now"`
	// Sample holds the first ids a dry run would queue, and SampleNames
	// their names (first and last, as Zoho has them) where Zoho gave one.
	Sample      []string          `json:"sample,omitempty"`
	SampleNames map[string]string `json:"sample_names,omitempty"`
	// Calls estimates, in a dry run, the Zoho calls the run would make.
	Calls *CallEstimate `json:"zoho_calls,omitempty"`
}

// CallEstimate is the Zoho calls a run would make, as a dry run counts
// them: it pages and reads back exactly as the run would, so COQL and Get
// Records are counted, not guessed; mass_convert is the floor for what
// it would queue, ceil(queued / 50), since the convert function merges
// leads with the same options into calls of 50. Leads other requests send
// with the same options can only share those calls.
type CallEstimate struct {
	COQL        int `json:"coql"`
	GetRecords  int `json:"get_records"`
	MassConvert int `json:"mass_convert"`
	Total       int `json:"total"`
}

func estimate(r Report) *CallEstimate {
	e := &CallEstimate{COQL: r.COQLCalls, GetRecords: r.ReadCalls,
		MassConvert: (r.Queued + zoho.MaxIDsPerCall - 1) / zoho.MaxIDsPerCall}
	e.Total = e.COQL + e.GetRecords + e.MassConvert
	return e
}

// SampleSize is how many ids a dry run shows.
const SampleSize = 10

// Zoho is what a run asks of Zoho (*zoho.Client).
type Zoho interface {
	COQL(ctx context.Context, query string) ([]zoho.COQLRow, bool, error)
	GetLeads(ctx context.Context, ids []string) ([]zoho.Lead, error)
}

// Claims reads the leads' claims (jobs.Store).
type Claims interface {
	Claims(ctx context.Context, leadIDs []string) ([]jobs.Claim, error)
}

// Queue is the conversion queue (jobcheck.Resender).
type Queue interface {
	Enqueue(ctx context.Context, body, requestID string) error
}

// Requests records the request each message is (jobs.Requests): the
// convert function follows a message's request id as it follows the API's
// requests, so a run's outcomes are read from its requests, a message of
// up to 1,000 leads at a time, never lead by lead (outcome.OfRun).
type Requests interface {
	RecordRequest(ctx context.Context, r jobs.Request) error
}

// MessageRequestID is the request id of message n (from 1) of a run, which
// the message carries as its request_id attribute. A run's messages are
// numbered in the order they are queued; one queued again after a crash
// (before its run was saved) has the same number, so the same request.
func MessageRequestID(sweep, runID string, n int) string {
	return "sweep:" + sweep + ":" + runID + ":" + strconv.Itoa(n)
}

// Config configures a Runner.
type Config struct {
	Zoho   Zoho
	Store  Store
	Claims Claims
	Queue  Queue
	// Requests, when set, records each message as a request
	// (MessageRequestID), so that a run's outcomes can be shown; without
	// it messages carry no request id.
	Requests Requests
	Decoder  *convert.Decoder // the deployment's: API version and default owner
	// Fields, when set, records the fields of Leads once a day, from a
	// run's Zoho when it is a FieldLister, for `sweep create` to check
	// conditions against.
	Fields FieldStore
	Now    func() time.Time // default time.Now
	// Reserve is the time a run leaves before its deadline: it stops
	// taking pages then. Default max(10 s, 10% of the time it had).
	Reserve time.Duration
	Logger  *slog.Logger
}

// Runner runs sweeps.
type Runner struct{ cfg Config }

// NewRunner returns a Runner for cfg.
func NewRunner(cfg Config) (*Runner, error) {
	if cfg.Zoho == nil || cfg.Store == nil || cfg.Claims == nil || cfg.Decoder == nil {
		return nil, errors.New("sweep: Config needs Zoho, Store, Claims and Decoder")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg}, nil
}

// Options say which run to make.
type Options struct {
	// RunID names the run: a schedule's tick time, so that a tick
	// delivered twice is one run. Empty: a new run named by its start
	// time, unless the sweep has a run under way, which goes on.
	RunID  string
	DryRun bool
	// Deadline is when the invocation ends (on Now's clock); zero: none.
	Deadline time.Time
	// StopAt, when set, is when the run stops taking work before its
	// deadline, leaving the rest of the invocation to other work; the
	// lease still lasts until past Deadline, when the invocation can no
	// longer be sending.
	StopAt time.Time
	// OnlyOpen goes on with the sweep's run under way and never starts
	// one: the status function's scheduled invocation uses it to finish
	// runs that stopped at a deadline without running a sweep off its
	// schedule.
	OnlyOpen bool
}

// UnknownSweepError is a run asked of a sweep that is not stored.
type UnknownSweepError struct{ Name string }

func (e *UnknownSweepError) Error() string { return fmt.Sprintf("sweep %q is not defined", e.Name) }

// PausedError is a run asked of a paused sweep.
type PausedError struct{ Name string }

func (e *PausedError) Error() string { return fmt.Sprintf("sweep %q is paused", e.Name) }

// manualRunID is the layout of the id of a run asked for without one.
const manualRunID = "2006-01-02T15:04:05.000Z07:00"

// leaseGrace is how long a lease outlives its invocation's deadline: the
// runtime ends an invocation at its deadline, so once the lease lapses the
// holder can no longer be sending.
const leaseGrace = time.Minute

// noDeadlineLease is the lease of an invocation without a deadline.
const noDeadlineLease = 15 * time.Minute

// Run runs the sweep name: starts a run, goes on with the one under way,
// or, in a dry run, counts what a run would queue without queueing or
// storing anything. An error is returned for an unknown or paused sweep, a
// sweep whose options no longer decode, or a store that fails; Zoho's
// refusals end the run, with the reason in its report.
//
// Idempotency. A run is stored after each message it queues, with its
// cursor moved to the last id that message covers, in one conditional
// write on the run's version; ids are taken in id order, so the next page
// (id > cursor) never selects a lead a queued message carried. Only the
// invocation holding the run's lease queues, and the lease lasts until a
// minute past that invocation's deadline, when it can no longer send, so
// two invocations never queue for one run. A run that has ended is never
// run again: a run id given twice (a schedule's tick delivered twice)
// queues once. What remains is a crash between SendMessage and the save:
// the next invocation sends that one message again, and the lead claims
// make the second copy a no-op in the convert function (its leads are
// claimed by then, or still unclaimed and converted once).
func (r *Runner) Run(ctx context.Context, name string, o Options) (Report, error) {
	sw, err := r.cfg.Store.Sweep(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return Report{}, &UnknownSweepError{name}
	case err != nil:
		return Report{}, fmt.Errorf("reading sweep %s: %w", name, err)
	case !sw.Enabled && !o.DryRun:
		return Report{}, &PausedError{name}
	}
	req, err := Request(r.cfg.Decoder, sw.Options)
	if err != nil {
		return Report{}, fmt.Errorf("sweep %s: %w", name, err)
	}
	if !o.OnlyOpen {
		// A run asked for, dry or not, not one going on after a deadline.
		r.refreshFields(ctx)
	}
	now := r.cfg.Now()
	if o.DryRun {
		p := &pass{r: r, sw: sw, req: req, o: o, dry: true, run: Run{Sweep: name, StartedAt: now}}
		return p.go_(ctx)
	}
	run, rep, ok, err := r.take(ctx, sw, o, now)
	if err != nil || !ok {
		return rep, err
	}
	p := &pass{r: r, sw: sw, req: req, o: o, run: run}
	return p.go_(ctx)
}

// ContinueOpen goes on with every enabled sweep's run under way that no
// invocation holds, one sweep after another, until o's stop: a run that
// stopped at a deadline ends without waiting for its sweep's next tick.
// It never starts a run (Options.OnlyOpen), so a sweep runs only on its
// schedule or when an operator asks. The sweeps come from the catalog
// (one read per sweep, never a scan); each run keeps its own guarantees:
// the lease keeps invocations from queueing for one run at once, and the
// cursor keeps a lead from being queued twice. A paused sweep's run waits
// for its resumption. Errors of single sweeps are joined; the others
// still go on.
func (r *Runner) ContinueOpen(ctx context.Context, o Options) ([]Report, error) {
	sweeps, err := r.cfg.Store.Sweeps(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing sweeps: %w", err)
	}
	start := r.cfg.Now()
	o.DryRun, o.OnlyOpen = false, true
	var reps []Report
	var errs []error
	for _, sw := range sweeps {
		if sw.OpenRun == "" || !sw.Enabled {
			continue
		}
		if r.stopping(o, start) {
			break
		}
		o.RunID = sw.OpenRun
		rep, err := r.Run(ctx, sw.Name, o)
		_, paused := errors.AsType[*PausedError](err)
		_, gone := errors.AsType[*UnknownSweepError](err)
		switch {
		case paused || gone:
			continue // paused or deleted since the list was read
		case err != nil:
			errs = append(errs, err)
			continue
		}
		reps = append(reps, rep)
	}
	return reps, errors.Join(errs...)
}

// take finds or starts the run to go on with and takes its lease. ok is
// false when there is nothing to do: rep says why.
func (r *Runner) take(ctx context.Context, sw Sweep, o Options, now time.Time) (Run, Report, bool, error) {
	owner := newOwner()
	until := now.Add(noDeadlineLease)
	if !o.Deadline.IsZero() {
		until = o.Deadline.Add(leaseGrace)
	}
	for range 3 { // a start that loses a race reads again
		if sw.OpenRun == "" && o.OnlyOpen {
			return Run{}, Report{Sweep: sw.Name, RunID: o.RunID, Stopped: StoppedNoOpenRun}, false, nil
		}
		if sw.OpenRun == "" {
			id := o.RunID
			if id == "" {
				// Named by its start as a schedule's run is by its tick
				// (RFC 3339), to the millisecond so that two runs asked
				// for by hand in one second are two runs.
				id = now.UTC().Format(manualRunID)
			}
			if done, err := r.cfg.Store.SweepRun(ctx, sw.Name, id); err == nil {
				rep := done.report()
				rep.Repeated = true
				return Run{}, rep, false, nil
			} else if !errors.Is(err, ErrNotFound) {
				return Run{}, Report{}, false, fmt.Errorf("reading run %s of sweep %s: %w", id, sw.Name, err)
			}
			run := Run{Sweep: sw.Name, ID: id, StartedAt: now, Invocations: 1, LeaseOwner: owner, LeaseUntil: until, Version: 1}
			err := r.cfg.Store.StartRun(ctx, run)
			if err == nil {
				return run, Report{}, true, nil
			}
			if !errors.Is(err, ErrChanged) {
				return Run{}, Report{}, false, fmt.Errorf("starting run %s of sweep %s: %w", id, sw.Name, err)
			}
		} else {
			run, err := r.cfg.Store.SweepRun(ctx, sw.Name, sw.OpenRun)
			if err != nil {
				return Run{}, Report{}, false, fmt.Errorf("reading run %s of sweep %s: %w", sw.OpenRun, sw.Name, err)
			}
			if run.End == "" && (run.LeaseOwner == "" || jobs.Lapsed(run.LeaseUntil, now)) {
				run.LeaseOwner, run.LeaseUntil = owner, until
				run.Invocations++
				err := r.cfg.Store.SaveRun(ctx, run)
				if err == nil {
					run.Version++
					return run, Report{}, true, nil
				}
				if !errors.Is(err, ErrChanged) {
					return Run{}, Report{}, false, fmt.Errorf("taking run %s of sweep %s: %w", run.ID, sw.Name, err)
				}
			} else if run.End == "" {
				rep := run.report()
				rep.Stopped = StoppedBusy
				return Run{}, rep, false, nil
			}
		}
		var err error
		if sw, err = r.cfg.Store.Sweep(ctx, sw.Name); err != nil {
			return Run{}, Report{}, false, fmt.Errorf("reading sweep %s: %w", sw.Name, err)
		}
	}
	return Run{}, Report{Sweep: sw.Name, Stopped: StoppedBusy}, false, nil
}

func newOwner() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails
	return hex.EncodeToString(b[:])
}

func (run Run) report() Report {
	return Report{Sweep: run.Sweep, RunID: run.ID, StartedAt: run.StartedAt, EndedAt: run.EndedAt, End: run.End,
		Reason: run.Reason, Counts: run.Counts, Cursor: run.Cursor}
}

// pass is one invocation's work on a run.
type pass struct {
	r      *Runner
	sw     Sweep
	req    *zoho.ConvertRequest
	o      Options
	dry    bool
	run    Run
	sample []string
	start  time.Time
	// A dry run's names: of the page's leads, and of the sample's.
	pageNames, sampleNames map[string]string
	queuedAtStart          int
	endedNow               bool
}

// nearDeadline reports whether the invocation should stop taking work.
func (p *pass) nearDeadline() bool {
	return p.r.stopping(p.o, p.start)
}

// stopping reports whether work begun at start should stop taking more:
// StopAt has come, or less than the reserve is left before the deadline.
func (r *Runner) stopping(o Options, start time.Time) bool {
	now := r.cfg.Now()
	if !o.StopAt.IsZero() && !now.Before(o.StopAt) {
		return true
	}
	if o.Deadline.IsZero() {
		return false
	}
	reserve := r.cfg.Reserve
	if reserve <= 0 {
		reserve = max(10*time.Second, o.Deadline.Sub(start)/10)
	}
	return o.Deadline.Sub(now) < reserve
}

func (p *pass) go_(ctx context.Context) (Report, error) {
	p.start, p.queuedAtStart = p.r.cfg.Now(), p.run.Queued
	stopped, err := p.pages(ctx)
	rep := p.run.report()
	rep.DryRun, rep.Sample, rep.Stopped = p.dry, p.sample, stopped
	rep.EndedNow, rep.QueuedNow = p.endedNow && !p.dry, p.run.Queued-p.queuedAtStart
	if p.dry && len(p.sampleNames) > 0 {
		rep.SampleNames = p.sampleNames
	}
	if p.dry {
		rep.RunID = ""
		rep.Calls = estimate(rep)
	}
	return rep, err
}

// pages runs pages until the run ends or the invocation stops.
func (p *pass) pages(ctx context.Context) (stopped string, err error) {
	for p.run.End == "" {
		if p.nearDeadline() {
			return StoppedDeadline, p.release(ctx)
		}
		if p.run.Queued >= p.sw.MaxLeads {
			return p.end(ctx, EndMaxLeads, "")
		}
		after := p.run.Cursor
		if after == "" {
			after = "0"
		}
		// A run needs ids only; a dry run also shows whose leads it samples.
		fields := "id"
		if p.dry {
			fields = "id, First_Name, Last_Name"
		}
		where := "id > " + after
		if p.sw.Condition != "" {
			where = "(" + p.sw.Condition + ") and " + where
		}
		q := fmt.Sprintf("select %s from %s where %s order by id asc limit %d",
			fields, p.sw.Source(), where, zoho.MaxCOQLRows)
		rows, more, err := p.r.cfg.Zoho.COQL(ctx, q)
		p.run.COQLCalls++
		if err != nil {
			return p.end(ctx, EndError, "selecting leads: "+public(err))
		}
		ids := make([]string, 0, len(rows))
		for _, row := range rows {
			if !zoho.IsRecordID(row.ID) || !idAfter(row.ID, after) || len(ids) > 0 && !idAfter(row.ID, ids[len(ids)-1]) {
				// Keyset paging relies on ids ascending past the cursor.
				return p.end(ctx, EndError, fmt.Sprintf("selecting leads: Zoho answered id %q out of order after %s", row.ID, after))
			}
			ids = append(ids, row.ID)
		}
		if p.dry {
			p.pageNames = map[string]string{}
			for _, row := range rows {
				if n := leadName(row); n != "" {
					p.pageNames[row.ID] = n
				}
			}
		}
		if len(ids) == 0 {
			return p.end(ctx, EndDone, "")
		}
		stopped, err := p.page(ctx, ids, more)
		if stopped != "" || err != nil {
			return stopped, err
		}
		if !more && p.run.End == "" {
			return p.end(ctx, EndDone, "")
		}
	}
	return "", nil
}

// page handles one COQL page, a message at a time: each message covers
// the ids up to its last one, and the run is saved with the cursor there.
func (p *pass) page(ctx context.Context, ids []string, more bool) (stopped string, err error) {
	for len(ids) > 0 {
		var send []string
		var seg Counts // the counts of the ids this message covers
		covered := ""
		var zohoErr error // a read Zoho refused: what was read before it is still sent
		for len(ids) > 0 && len(send) < convert.MaxIDs {
			room := min(zoho.MaxIDsPerRead, convert.MaxIDs-len(send), p.sw.MaxLeads-p.run.Queued-len(send))
			if room <= 0 || p.nearDeadline() {
				break
			}
			chunk := ids[:min(room, len(ids))]
			keep, err := p.convertible(ctx, chunk, &seg)
			if err != nil {
				if _, ok := errors.AsType[*zoho.APIError](err); !ok {
					return "", err // the claims could not be read: the run stays open
				}
				zohoErr = err
				break
			}
			send = append(send, keep...)
			ids = ids[len(chunk):]
			covered = chunk[len(chunk)-1]
		}
		if covered == "" && zohoErr == nil {
			break // max_leads reached, or the deadline
		}
		if len(send) > 0 && !p.dry {
			if err := p.enqueue(ctx, send); err != nil {
				if errors.Is(err, errNotRecorded) {
					return "", err // the store failed: the run stays open, and goes on from its cursor
				}
				p.add(seg, p.run.Cursor)
				return p.end(ctx, EndError, "queueing leads: the conversion queue refused the message")
			}
		}
		seg.Queued, seg.Messages = len(send), min(len(send), 1)
		p.add(seg, covered)
		if p.dry && len(p.sample) < SampleSize {
			add := send[:min(len(send), SampleSize-len(p.sample))]
			p.sample = append(p.sample, add...)
			for _, id := range add {
				if n := p.pageNames[id]; n != "" {
					if p.sampleNames == nil {
						p.sampleNames = map[string]string{}
					}
					p.sampleNames[id] = n
				}
			}
		}
		if zohoErr != nil {
			return p.end(ctx, EndError, "reading leads back: "+public(zohoErr))
		}
		if err := p.save(ctx); err != nil {
			if errors.Is(err, ErrChanged) {
				return StoppedLeaseLost, nil
			}
			return "", err
		}
	}
	if len(ids) > 0 && p.run.Queued >= p.sw.MaxLeads {
		p.run.OverMax, p.run.MoreOverMax = len(ids), more
		return p.end(ctx, EndMaxLeads, "")
	}
	if len(ids) > 0 { // the deadline
		return StoppedDeadline, p.release(ctx)
	}
	return "", nil
}

// convertible reads chunk back and returns the leads to queue: found, not
// converted, and not claimed. COQL may return converted leads (unconfirmed:
// zoho-crm-api.md section 8), and one converted id fails a whole
// mass_convert call, so every candidate is read back whatever COQL says.
func (p *pass) convertible(ctx context.Context, chunk []string, seg *Counts) ([]string, error) {
	leads, err := p.r.cfg.Zoho.GetLeads(ctx, chunk)
	seg.ReadCalls++
	if err != nil {
		return nil, err
	}
	var open []string
	for _, l := range leads {
		seg.Matched++
		switch {
		case !l.Found:
			seg.SkippedNotFound++
		case l.Known && l.Converted:
			seg.SkippedConverted++
		default:
			open = append(open, l.ID)
		}
	}
	if len(open) == 0 {
		return nil, nil
	}
	claims, err := p.r.cfg.Claims.Claims(ctx, open)
	if err != nil {
		return nil, fmt.Errorf("reading claims: %w", err)
	}
	now := p.r.cfg.Now()
	held := map[string]bool{}
	for _, c := range claims {
		if c.Live(now) {
			held[c.LeadID] = true
		}
	}
	keep := open[:0:0]
	for _, id := range open {
		if held[id] {
			seg.SkippedClaimed++
		} else {
			keep = append(keep, id)
		}
	}
	return keep, nil
}

// errNotRecorded marks a message whose request could not be recorded: a
// store error, after which the run stays open rather than ending.
var errNotRecorded = errors.New("sweep: the message's request was not recorded")

func (p *pass) enqueue(ctx context.Context, ids []string) error {
	req := *p.req
	req.IDs = ids
	body, err := convert.Marshal(&req)
	if err != nil {
		return err
	}
	reqID := ""
	if p.r.cfg.Requests != nil {
		// Recorded before it is sent, as the API does, so that no lead
		// is on its way without a request to find it by. A message sent
		// again after a crash keeps the first record (RecordRequest
		// keeps what it has), whose leads are those it first carried.
		reqID = MessageRequestID(p.sw.Name, p.run.ID, p.run.Messages+1)
		now := p.r.cfg.Now()
		rec := jobs.Request{ID: reqID, LeadIDs: ids, CreatedAt: now, ExpiresAt: p.run.StartedAt.Add(RunRetention)}
		if err := p.r.cfg.Requests.RecordRequest(ctx, rec); err != nil {
			return fmt.Errorf("%w: %s: %w", errNotRecorded, reqID, err)
		}
	}
	if err := p.r.cfg.Queue.Enqueue(ctx, string(body), reqID); err != nil {
		p.r.cfg.Logger.ErrorContext(ctx, "sweep: queueing leads failed", "sweep", p.sw.Name, "run", p.run.ID,
			"leads", len(ids), "error", err)
		return err
	}
	return nil
}

// add counts seg into the run and moves its cursor to covered. seg only
// counts the leads of one message: OverMax, MoreOverMax and COQLCalls are
// a page's, which pages and page set on p.run themselves.
func (p *pass) add(seg Counts, covered string) {
	p.run.Counts.Add(seg)
	if covered != "" {
		p.run.Cursor = covered
	}
}

// save stores the run (not in a dry run) on the version it holds.
func (p *pass) save(ctx context.Context) error {
	if p.dry {
		return nil
	}
	if err := p.r.cfg.Store.SaveRun(ctx, p.run); err != nil {
		if errors.Is(err, ErrChanged) {
			return err
		}
		return fmt.Errorf("saving run %s of sweep %s: %w", p.run.ID, p.sw.Name, err)
	}
	p.run.Version++
	return nil
}

// release saves the run and gives up its lease, for the next invocation.
func (p *pass) release(ctx context.Context) error {
	p.run.LeaseOwner, p.run.LeaseUntil = "", time.Time{}
	if err := p.save(ctx); err != nil && !errors.Is(err, ErrChanged) {
		return err
	}
	return nil
}

// end ends the run and saves it.
func (p *pass) end(ctx context.Context, how, reason string) (string, error) {
	p.run.End, p.run.Reason, p.run.EndedAt = how, reason, p.r.cfg.Now()
	p.run.LeaseOwner, p.run.LeaseUntil = "", time.Time{}
	if how == EndError {
		p.r.cfg.Logger.WarnContext(ctx, "sweep: run ended in error", "sweep", p.sw.Name, "run", p.run.ID, "reason", reason)
	}
	if err := p.save(ctx); err != nil {
		if errors.Is(err, ErrChanged) {
			return StoppedLeaseLost, nil
		}
		return "", err
	}
	p.endedNow = true
	return "", nil
}

// leadName is a COQL row's First_Name and Last_Name, as Zoho has them
// (either may be null or absent).
func leadName(row zoho.COQLRow) string {
	var parts []string
	for _, f := range []string{"First_Name", "Last_Name"} {
		var v string
		if json.Unmarshal(row.Fields[f], &v) == nil && strings.TrimSpace(v) != "" {
			parts = append(parts, strings.TrimSpace(v))
		}
	}
	return strings.Join(parts, " ")
}

// public is an error as a report may show it: Zoho's answer as it is, our
// own words otherwise.
func public(err error) string {
	if apiErr, ok := errors.AsType[*zoho.APIError](err); ok {
		return apiErr.Public()
	}
	return "an unexpected error (see the log)"
}

// idAfter reports whether record id a comes after b in Zoho's order
// (numeric; both are decimal without leading zeros).
func idAfter(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}
