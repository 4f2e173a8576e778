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
	sweeps  *sweep.Runner // nil without a sweep store
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
	if d.Resend != nil {
		// The safety net wakes overdue batches through the conversion queue,
		// which the convert function reads wake-ups from too.
		cc.Parked, cc.Wake, cc.MaxWait = d.Jobs, queueWaker{d.Resend}, cfg.MaxWait
	}
	checker, err := jobcheck.New(cc)
	if err != nil {
		return nil, err
	}
	st := &Status{checker: checker, floor: floor, now: d.Now, out: d.Out, log: log}
	if st.now == nil {
		st.now = time.Now
	}
	if d.Sweeps != nil {
		sc := sweep.Config{Zoho: client, Store: d.Sweeps, Claims: d.Sweeps, Queue: d.Resend,
			Decoder: &convert.Decoder{APIVersion: client.APIVersion(), DefaultOwner: cfg.DefaultOwner}, Now: st.now, Logger: log}
		if d.Resend == nil {
			sc.Queue = noQueue{}
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
	return s.checker.Run(obs.WithMetrics(ctx, m), req), nil
}

// queueWaker sends a batch's wake-up as its timer would have.
type queueWaker struct{ q jobcheck.Resender }

func (w queueWaker) Wake(ctx context.Context, key jobs.BatchKey) error {
	return w.q.Enqueue(ctx, convert.WakeBody(convert.Wakeup{Key: key}), "")
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
	if !rep.DryRun {
		m.CountBy("SweepLeadsQueued", "Sweep", ev.Sweep, rep.Queued)
		if rep.End == sweep.EndError {
			m.CountBy("SweepRunsFailed", "Sweep", ev.Sweep, 1)
		}
	}
	s.log.InfoContext(ctx, "status: sweep ran", "sweep", ev.Sweep, "run", rep.RunID, "dry_run", rep.DryRun,
		"end", rep.End, "stopped", rep.Stopped, "queued", rep.Queued, "matched", rep.Matched)
	return rep, nil
}
