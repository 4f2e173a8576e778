package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/httpapi"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/lambdaio"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// apiDeadline is how long an API request may take: under API Gateway's
// integration timeout, so the caller gets our answer and not a 503 of its own.
const apiDeadline = 27 * time.Second

// Convert is the convert function: SQS batches and API Gateway requests.
type Convert struct {
	api      http.Handler
	consumer *sqsbatch.Consumer
	out      io.Writer
	log      *slog.Logger
}

// NewConvert builds the convert function from its configuration.
func NewConvert(cfg config.Convert, d ConvertDeps) (*Convert, error) {
	log := obs.NewLogger(d.Out, cfg.LogLevel)
	// The convert function feeds the credit floor and is not held by it:
	// callers' conversions are required work (docs/architecture.md).
	client, err := zohoClient(cfg.Shared, d.Shared, creditFloor(cfg.Shared, d.Shared, log), log)
	if err != nil {
		return nil, err
	}
	cc := convert.Config{
		Zoho: client, Leads: client, Store: d.Jobs, MaxConcurrency: cfg.MaxZohoConcurrency, APIVersion: cfg.APIVersion,
		Now: d.Now, Logger: log, JobRetention: cfg.JobRetention, Unrecorded: keepUnrecorded(d.DeadLetter, log),
	}
	hc := httpapi.Config{Jobs: d.Jobs, WebhookKey: webhookKey(d.Secret, log), APIVersion: cfg.APIVersion, DefaultOwner: cfg.DefaultOwner,
		Logger: log, Retention: cfg.JobRetention, Now: d.Now, Sweeps: d.Sweeps}
	if d.Queue != nil {
		cc.Timer, cc.MaxWait, cc.Refused = d.Queue, cfg.MaxWait, deadLetterBatch(d.DeadLetter, log)
		// On the conversion queue a wake-up spends between nothing and the
		// whole batching window in a gatherer: sent half a window early, it
		// arrives within half a window of MaxWait either way. The wake queue
		// has no window: its wake-ups arrive when due.
		cc.WakeEarly = cfg.BatchingWindow / 2
		if d.Wakes != nil {
			cc.Timer, cc.WakeEarly = d.Wakes, 0
		}
		hc.Queue = d.Queue
	}
	svc, err := convert.New(cc)
	if err != nil {
		return nil, err
	}
	hc.Converter = svc
	api := httpapi.New(hc)
	return &Convert{api: api, consumer: sqsbatch.NewConsumer(sqsbatch.Config{Converter: svc, DeadLetter: d.DeadLetter, Requests: d.Jobs,
		APIVersion: cfg.APIVersion, DefaultOwner: cfg.DefaultOwner, Logger: log}), out: d.Out, log: log}, nil
}

// Invoke is the Lambda handler. It returns an error only for an event it
// cannot recognise; every request and message gets its own answer otherwise.
func (c *Convert) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	start := time.Now()
	m := obs.NewMetrics("convert")
	defer func() {
		m.Duration("InvocationDuration", time.Since(start))
		_ = m.Flush(c.out, time.Now())
	}()
	ctx = obs.WithMetrics(ctx, m)
	ev, err := lambdaio.Decode(raw)
	if err != nil {
		c.log.ErrorContext(ctx, "convert: unrecognised event", "error", err)
		return nil, fmt.Errorf("convert: %w", err)
	}
	if ev.Kind == lambdaio.KindSQS {
		return c.consumer.Handle(ctx, ev.SQS), nil
	}
	// API Gateway gives up on an integration after 30 s (REST: 29 s),
	// whatever the function's timeout: answer before it does.
	ctx, cancel := context.WithTimeout(ctx, apiDeadline)
	defer cancel()
	return lambdaio.Serve(ctx, c.api, ev, convert.MaxBodyBytes)
}

// keepUnrecorded puts a job Zoho scheduled but the table could not take on
// the dead-letter queue (code JOB_NOT_RECORDED, body: the job as JSON), where
// the DLQ alarm reports it and an operator can record it. The letter's
// reason is plain: the table's error, which names the table and the role,
// is in the ERROR line logged with the job id.
func keepUnrecorded(dead sqsbatch.DeadLetter, log *slog.Logger) func(context.Context, jobs.Job) {
	return func(ctx context.Context, j jobs.Job) {
		body, _ := json.Marshal(map[string]any{"job_id": j.ID, "ids": j.LeadIDs, "options": json.RawMessage(nonEmptyJSON(j.Options)),
			"sources": j.Sources, "created_at": j.CreatedAt})
		l := sqsbatch.Letter{Code: "JOB_NOT_RECORDED", MessageID: j.ID,
			Reason: "Zoho scheduled the job but the table could not record it; the cause is logged with the job id"}
		if err := dead.Send(ctx, string(body), l); err != nil {
			log.ErrorContext(ctx, "keeping an unrecorded job in the dead-letter queue failed", "job_id", j.ID, "error", err)
		}
	}
}

// deadLetterBatch puts an accumulated call whose options Zoho refused on
// the dead-letter queue: the body is the request (ids and options, ready to
// redrive once mended) and the submissions that asked travel in the letter,
// since their own messages were acknowledged when the leads were parked.
func deadLetterBatch(dead sqsbatch.DeadLetter, log *slog.Logger) func(context.Context, *zoho.ConvertRequest, []string, string, string) error {
	return func(ctx context.Context, req *zoho.ConvertRequest, sources []string, code, reason string) error {
		body, _ := convert.Marshal(req) // a decoded request always marshals
		if err := dead.Send(ctx, string(body), sqsbatch.Letter{Code: code, Reason: reason, MessageID: strings.Join(sources, " ")}); err != nil {
			log.ErrorContext(ctx, "dead-lettering a refused batch failed", "leads", len(req.IDs), "sources", sources, "error", err)
			return err
		}
		return nil
	}
}

func nonEmptyJSON(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}
