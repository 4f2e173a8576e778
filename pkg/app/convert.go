package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/httpapi"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/queue"
	"github.com/zoho-bridge/leadconvert/pkg/trigger"
)

// apiDeadline is how long an API request may take: under API Gateway's
// integration timeout, so the caller gets our answer and not a 503 of its own.
const apiDeadline = 27 * time.Second

// Convert is the convert function: SQS batches and API Gateway requests.
type Convert struct {
	api      http.Handler
	consumer *queue.Consumer
	deps     Deps
	log      *slog.Logger
}

// NewConvert builds the convert function from its configuration.
func NewConvert(cfg config.Convert, d Deps) (*Convert, error) {
	log := obs.NewLogger(d.Out, cfg.LogLevel)
	tokens, client, err := zohoClient(cfg.Shared, d, log)
	if err != nil {
		return nil, err
	}
	svc, err := convert.New(convert.Config{
		Zoho: client, Store: d.Jobs, MaxConcurrency: cfg.MaxZohoConcurrency, APIVersion: cfg.APIVersion,
		Now: d.Now, Logger: log, JobRetention: cfg.JobRetention, Unrecorded: keepUnrecorded(d.DeadLetter, log),
	})
	if err != nil {
		return nil, err
	}
	api := httpapi.New(httpapi.Config{
		Converter: svc, Jobs: d.Jobs, WebhookKey: webhookKey(tokens), APIVersion: cfg.APIVersion,
		Logger: log, Metrics: obs.MetricsFrom,
	})
	return &Convert{api: api, consumer: queue.NewConsumer(svc, d.DeadLetter, cfg.APIVersion, log), deps: d, log: log}, nil
}

// Handler returns the http.Handler of the API (the local run serves it).
func (c *Convert) Handler() http.Handler { return c.api }

// Invoke is the Lambda handler. It returns an error only for an event it
// cannot recognise; every request and message gets its own answer otherwise.
func (c *Convert) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	start := time.Now()
	m := obs.NewMetrics("convert")
	defer func() {
		m.Duration("InvocationDuration", time.Since(start))
		_ = m.Flush(c.deps.Out, time.Now())
	}()
	kind, err := trigger.Detect(raw)
	if err != nil {
		c.log.ErrorContext(ctx, "convert: unrecognised event", "error", err)
		return nil, fmt.Errorf("convert: %w", err)
	}
	switch kind {
	case trigger.KindSQS:
		ev, err := trigger.DecodeSQS(raw)
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		return c.consumer.Handle(ctx, ev, m), nil
	case trigger.KindHTTPAPI, trigger.KindRESTAPI:
		// API Gateway gives up on an integration after 30 s (REST: 29 s),
		// whatever the function's timeout: answer before it does.
		ctx, cancel := context.WithTimeout(ctx, apiDeadline)
		defer cancel()
		return trigger.Serve(obs.WithMetrics(ctx, m), c.api, kind, raw, convert.MaxBodyBytes)
	}
	return nil, fmt.Errorf("convert: a %s event is not for this function", kind)
}

// keepUnrecorded puts a job Zoho scheduled but the table could not take on
// the dead-letter queue (code JOB_NOT_RECORDED, body: the job as JSON), where
// the DLQ alarm reports it and an operator can record it.
func keepUnrecorded(dead queue.DeadLetter, log *slog.Logger) func(context.Context, jobs.Job, error) {
	return func(ctx context.Context, j jobs.Job, cause error) {
		body, _ := json.Marshal(map[string]any{"job_id": j.ID, "ids": j.LeadIDs, "options": json.RawMessage(nonEmptyJSON(j.Options)),
			"sources": j.Sources, "created_at": j.CreatedAt})
		if err := dead.Send(ctx, string(body), queue.Letter{Code: "JOB_NOT_RECORDED", Reason: cause.Error(), MessageID: j.ID}); err != nil {
			log.ErrorContext(ctx, "keeping an unrecorded job in the dead-letter queue failed", "job_id", j.ID, "error", err)
		}
	}
}

func nonEmptyJSON(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}
