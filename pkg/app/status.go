package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/credits"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// Status is the status function: scheduled checks of the open jobs, and
// the runs of sweeps.
type Status struct {
	checker *jobcheck.Checker
	sweeps  *sweep.Runner   // nil without a sweep store
	events  sweep.Publisher // nil: run ends are not announced
	floor   *credits.Floor
	now     func() time.Time
	out     io.Writer
	log     *slog.Logger
}

// NewStatus builds the status function from its configuration.
func NewStatus(cfg config.Status, d StatusDeps) (*Status, error) {
	log := obs.NewLogger(d.Out, cfg.LogLevel)
	floor := creditFloor(cfg.Shared, d.Shared, log)
	client, err := zohoClient(cfg.Shared, d.Shared, floor, log)
	if err != nil {
		return nil, err
	}
	cc := jobcheck.Config{
		Zoho: client, Store: d.Jobs, Events: d.Events, Resend: d.Resend, MaxLeadAttempts: cfg.MaxLeadAttempts, Concurrency: cfg.Concurrency,
		StaleAfter: cfg.StaleAfter, Retention: cfg.JobRetention, Now: d.Now, Logger: log,
	}
	// The frugal checks of issue 19, where the store keeps what they need
	// (both stores do; a bench's metering stand-in may not).
	if l, ok := d.Jobs.(jobs.CheckLeaser); ok {
		cc.Leases = l
	}
	if c, ok := d.Jobs.(jobs.CompletionStats); ok {
		cc.Completions = c
	}
	if floor.Min() > 0 {
		cc.Floor = floor
	}
	if d.Wakes != nil {
		// The safety net wakes overdue batches through the conversion queue,
		// which the convert function reads wake-ups from too.
		cc.Parked, cc.Wake, cc.MaxWait = d.Jobs, timerWaker{d.Wakes}, cfg.MaxWait
	}
	checker, err := jobcheck.New(cc)
	if err != nil {
		return nil, err
	}
	st := &Status{checker: checker, events: d.SweepEvents, floor: floor, now: d.Now, out: d.Out, log: log}
	if st.now == nil {
		st.now = time.Now
	}
	if d.Sweeps != nil {
		sc := sweep.Config{Zoho: client, Store: d.Sweeps, Claims: d.Sweeps, Queue: d.Resend, Requests: d.Sweeps,
			Decoder: &convert.Decoder{APIVersion: client.APIVersion(), DefaultOwner: cfg.DefaultOwner}, Now: st.now, Logger: log}
		if d.Resend == nil {
			sc.Queue = noQueue{}
		}
		// Runs record the fields of Leads for sweep create's check, where
		// the store keeps them (both stores do).
		if f, ok := d.Sweeps.(sweep.FieldStore); ok {
			sc.Fields = f
		}
		if st.sweeps, err = sweep.NewRunner(sc); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// SweepHeld is the answer to a sweep's invocation below the credit floor.
type SweepHeld struct {
	Sweep       string `json:"sweep"`
	Held        string `json:"held"`
	CreditsLeft int    `json:"credits_left"`
	Floor       int    `json:"floor"`
}

// noQueue refuses every message: a deployment without a conversion queue
// cannot run sweeps (dry runs excepted).
type noQueue struct{}

func (noQueue) Enqueue(context.Context, string, string) error {
	return errors.New("the status function has no conversion queue (CONVERSION_QUEUE_URL)")
}

// Invoke is the Lambda handler. A schedule's event (whatever its shape),
// {} or null runs over the due jobs; {"job_ids": [...]} checks those jobs
// now; {"sweep": "NAME"} (with "dry_run": true, "run": "ID") runs that
// sweep (sweep.ParseEvent). It returns the run's report, and an error for
// a malformed event, an unknown or paused sweep, or a sweep run that
// could not be stored; Zoho's refusals end a sweep's run with the reason in
// its report.
func (s *Status) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	if ev, ok, err := sweep.ParseEvent(raw); ok {
		if err != nil {
			s.log.ErrorContext(ctx, "status: bad sweep event", "error", err)
			return nil, fmt.Errorf("status: %w", err)
		}
		return s.runSweep(ctx, ev)
	}
	req, err := jobcheck.ParseRequest(raw)
	if err != nil {
		s.log.ErrorContext(ctx, "status: bad request", "error", err)
		return nil, fmt.Errorf("status: %w", err)
	}
	m := obs.NewMetrics("status")
	defer func() { _ = m.Flush(s.out, time.Now()) }()
	ctx = obs.WithMetrics(ctx, m)
	if len(req.JobIDs) == 0 {
		s.continueSweeps(ctx, m)
	}
	return s.checker.Run(ctx, req), nil
}

// continueSweeps goes on with the sweeps' runs that stopped at a deadline
// (sweep.Runner.ContinueOpen: it starts none), in the first half of the
// time left, so the due jobs keep the second half. The answer stays the
// checker's report; each run is logged and counted.
func (s *Status) continueSweeps(ctx context.Context, m *obs.Metrics) {
	if s.sweeps == nil {
		return
	}
	if below, _ := s.floor.Below(ctx); below {
		// Sweeps are optional work: their open runs wait above the floor,
		// cursor and lease kept, as a new run would.
		return
	}
	var o sweep.Options
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		o.Deadline, o.StopAt = s.now().Add(left), s.now().Add(left/2)
	}
	reps, err := s.sweeps.ContinueOpen(ctx, o)
	if err != nil {
		s.log.ErrorContext(ctx, "status: continuing sweeps' runs failed", "error", err)
		m.Count("SweepErrors", 1)
	}
	for _, rep := range reps {
		if rep.Stopped == sweep.StoppedNoOpenRun {
			continue // ended meanwhile
		}
		s.sweepRan(ctx, m, rep)
	}
}

// timerWaker sends a batch's wake-up now, as its timer would have.
type timerWaker struct{ t convert.Timer }

func (w timerWaker) Wake(ctx context.Context, key jobs.BatchKey) error {
	return w.t.Wake(ctx, convert.Wakeup{Key: key}, 0)
}

// runSweep runs one sweep, leaving the invocation's last moments to save
// the run: the runner stops on Now's clock, which the local run sets to the
// simulator's, so the deadline is carried over as the time remaining.
func (s *Status) runSweep(ctx context.Context, ev sweep.Event) (any, error) {
	if s.sweeps == nil {
		return nil, errors.New("status: this deployment has no sweep store")
	}
	m := obs.NewMetrics("status")
	defer func() { _ = m.Flush(s.out, time.Now()) }()
	ctx = obs.WithMetrics(ctx, m)
	if below, seen := s.floor.Below(ctx); below {
		// A sweep is optional work, a dry run too (its COQL pages and reads
		// cost as much): it waits for the org to be above the credit floor;
		// the sweep's next scheduled run selects its leads afresh.
		m.CountBy("SweepRunsHeld", "Sweep", ev.Sweep, 1)
		m.Count("CreditFloorReached", 1)
		s.log.WarnContext(ctx, "status: sweep not run: the org is below the credit floor", "sweep", ev.Sweep,
			"credits_left", seen.Left, "floor", s.floor.Min())
		return SweepHeld{Sweep: ev.Sweep, Held: "below the credit floor", CreditsLeft: seen.Left, Floor: s.floor.Min()}, nil
	}
	o := sweep.Options{RunID: ev.RunID, DryRun: ev.DryRun}
	if dl, ok := ctx.Deadline(); ok {
		o.Deadline = s.now().Add(time.Until(dl))
	}
	rep, err := s.sweeps.Run(ctx, ev.Sweep, o)
	if err != nil {
		s.log.ErrorContext(ctx, "status: sweep not run", "sweep", ev.Sweep, "error", err)
		return nil, fmt.Errorf("status: %w", err)
	}
	s.sweepRan(ctx, m, rep)
	return rep, nil
}

// sweepRan logs an invocation's work on a run, counts it, and announces
// the run's end when this invocation ended it: a run asked again after its
// end (a tick delivered twice) is neither counted nor announced again.
// SweepRunsFailed is counted per sweep and without the sweep, so that one
// alarm covers sweeps whose names the template cannot know.
func (s *Status) sweepRan(ctx context.Context, m *obs.Metrics, rep sweep.Report) {
	s.log.InfoContext(ctx, "status: sweep ran", "sweep", rep.Sweep, "run", rep.RunID, "dry_run", rep.DryRun,
		"end", rep.End, "stopped", rep.Stopped, "queued", rep.Queued, "queued_now", rep.QueuedNow, "matched", rep.Matched)
	if rep.DryRun {
		return
	}
	m.CountBy("SweepLeadsQueued", "Sweep", rep.Sweep, rep.QueuedNow)
	if !rep.EndedNow {
		return
	}
	if rep.End == sweep.EndError {
		m.CountBy("SweepRunsFailed", "Sweep", rep.Sweep, 1)
		m.Count("SweepRunsFailed", 1)
	}
	if s.events == nil {
		return
	}
	if err := s.events.PublishRunEnded(ctx, sweep.NewRunEvent(rep)); err != nil {
		s.log.WarnContext(ctx, "status: announcing a run's end failed", "sweep", rep.Sweep, "run", rep.RunID, "error", err)
		m.Count("EventErrors", 1)
	}
}
