package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
)

// Status is the status function: scheduled checks of the open jobs.
type Status struct {
	checker *jobcheck.Checker
	out     io.Writer
	log     *slog.Logger
}

// NewStatus builds the status function from its configuration.
func NewStatus(cfg config.Status, d StatusDeps) (*Status, error) {
	log := obs.NewLogger(d.Out, cfg.LogLevel)
	client, err := zohoClient(cfg.Shared, d.Shared, log)
	if err != nil {
		return nil, err
	}
	cc := jobcheck.Config{
		Zoho: client, Store: d.Jobs, Events: d.Events, Resend: d.Resend, MaxLeadAttempts: cfg.MaxLeadAttempts, Concurrency: cfg.Concurrency,
		StaleAfter: cfg.StaleAfter, Retention: cfg.JobRetention, Now: d.Now, Logger: log,
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
	return &Status{checker: checker, out: d.Out, log: log}, nil
}

// Invoke is the Lambda handler. A schedule's event (whatever its shape),
// {} or null runs over the due jobs; {"job_ids": [...]} checks those jobs
// now. It returns the run's report, and an error only for a malformed
// job_ids.
func (s *Status) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
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
