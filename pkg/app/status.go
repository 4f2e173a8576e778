package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/status"
)

// Status is the status function: scheduled checks of the open jobs.
type Status struct {
	checker *status.Checker
	deps    Deps
	log     *slog.Logger
}

// StatusOption adds an optional dependency to the status function.
type StatusOption func(*status.Config)

// WithEvents announces finished jobs through p (nil: no events).
func WithEvents(p status.Publisher) StatusOption {
	return func(c *status.Config) { c.Events = p }
}

// NewStatus builds the status function from its configuration. d.Jobs must
// also be a jobs.CheckStore (both stores are).
func NewStatus(cfg config.Status, d Deps, opts ...StatusOption) (*Status, error) {
	store, ok := d.Jobs.(jobs.CheckStore)
	if !ok {
		return nil, errors.New("status: the jobs store cannot list due jobs")
	}
	log := obs.NewLogger(d.Out, cfg.LogLevel)
	_, client, err := zohoClient(cfg.Shared, d, log)
	if err != nil {
		return nil, err
	}
	sc := status.Config{
		Zoho: client, Store: store, Concurrency: cfg.Concurrency,
		StaleAfter: cfg.StaleAfter, Retention: cfg.JobRetention, Now: d.Now, Logger: log,
	}
	for _, o := range opts {
		o(&sc)
	}
	checker, err := status.New(sc)
	if err != nil {
		return nil, err
	}
	return &Status{checker: checker, deps: d, log: log}, nil
}

// StatusAWSDeps builds the AWS-backed dependencies of the status function
// and, when EVENT_BUS_NAME is set, its EventBridge publisher (else nil).
func StatusAWSDeps(awsCfg aws.Config, cfg config.Status, out io.Writer) (Deps, status.Publisher) {
	d := AWSDeps(awsCfg, cfg.Shared, "", out)
	d.DeadLetter = nil // the status function has no queue
	if cfg.EventBusName == "" {
		return d, nil
	}
	return d, status.NewEventBridge(eventbridge.NewFromConfig(awsCfg), cfg.EventBusName)
}

// Invoke is the Lambda handler. A schedule's event (whatever its shape),
// {} or null runs over the due jobs; {"job_ids": [...]} checks those jobs
// now. It returns the run's report, and an error only for a malformed
// job_ids.
func (s *Status) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	req, err := status.ParseRequest(raw)
	if err != nil {
		s.log.ErrorContext(ctx, "status: bad request", "error", err)
		return nil, fmt.Errorf("status: %w", err)
	}
	m := obs.NewMetrics("status")
	defer func() { _ = m.Flush(s.deps.Out, time.Now()) }()
	return s.checker.Run(obs.WithMetrics(ctx, m), req), nil
}
