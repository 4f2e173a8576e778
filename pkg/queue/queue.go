// Package queue consumes conversion requests from SQS: one request per
// message, a whole batch converted together, and a partial batch answer so
// that only the messages a retry can help go back to the queue. Messages
// that can never succeed go to the dead-letter queue with their reason.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
)

// Converter converts a batch of submissions (convert.Service).
type Converter interface {
	Convert(ctx context.Context, subs []convert.Submission, m *obs.Metrics) []convert.Result
}

// DeadLetter keeps a message that can never succeed, with the reason.
type DeadLetter interface {
	Send(ctx context.Context, body string, l Letter) error
}

// Letter is why a message was dead-lettered; it travels as message attributes.
type Letter struct {
	Code      string // Zoho's code or ours, e.g. INVALID_DATA, MANDATORY_NOT_FOUND
	Reason    string
	MessageID string // of the original message
}

// Consumer handles SQS batches for the convert function.
type Consumer struct {
	conv       Converter
	dead       DeadLetter
	apiVersion string
	log        *slog.Logger
}

// NewConsumer returns a Consumer. apiVersion is the Zoho API version
// requests are validated for.
func NewConsumer(conv Converter, dead DeadLetter, apiVersion string, log *slog.Logger) *Consumer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Consumer{conv: conv, dead: dead, apiVersion: apiVersion, log: log}
}

// Handle converts a batch and answers which messages SQS should deliver
// again. It never fails as a whole: each message gets its own verdict.
func (c *Consumer) Handle(ctx context.Context, ev events.SQSEvent, m *obs.Metrics) events.SQSEventResponse {
	// An empty list, not null: both mean success to Lambda, but the list reads plainly.
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	retry := func(id string) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	m.Count("RequestsReceived", len(ev.Records))
	var subs []convert.Submission
	bodies := map[string]string{}
	for _, rec := range ev.Records {
		req, err := convert.DecodeJSON([]byte(rec.Body), c.apiVersion)
		if err != nil {
			m.Count("RequestsInvalid", 1)
			c.deadLetter(ctx, rec.MessageId, rec.Body, codeOf(err), err.Error(), m, retry)
			continue
		}
		m.Count("LeadsReceived", len(req.IDs))
		subs = append(subs, convert.Submission{Source: rec.MessageId, Request: req})
		bodies[rec.MessageId] = rec.Body
	}
	if len(subs) == 0 {
		return resp
	}
	for _, res := range c.conv.Convert(ctx, subs, m) {
		switch res.Verdict {
		case convert.Retry:
			m.Count("MessagesRetried", 1)
			c.log.InfoContext(ctx, "message handed back for a retry", "message_id", res.Source, "code", res.Code)
			retry(res.Source)
		case convert.Permanent:
			c.deadLetter(ctx, res.Source, bodies[res.Source], res.Code, res.Reason, m, retry)
		}
	}
	return resp
}

// deadLetter sends a message to the dead-letter queue; if that fails the
// message is handed back instead, so it reaches the queue's own redrive.
func (c *Consumer) deadLetter(ctx context.Context, id, body, code, reason string, m *obs.Metrics, retry func(string)) {
	err := c.dead.Send(ctx, body, Letter{Code: code, Reason: reason, MessageID: id})
	if err != nil {
		c.log.ErrorContext(ctx, "dead-lettering failed; handing the message back", "message_id", id, "error", err)
		m.Count("DeadLetterErrors", 1)
		retry(id)
		return
	}
	m.Count("MessagesDeadLettered", 1)
	c.log.WarnContext(ctx, "message dead-lettered", "message_id", id, "code", code, "reason", truncate(reason, 300))
}

func codeOf(err error) string {
	var ve *convert.ValidationError
	if errors.As(err, &ve) && len(ve.Errors) > 0 {
		return ve.Errors[0].Code
	}
	return "INVALID_REQUEST"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// SendMessageAPI is the part of the SQS client SQSDeadLetter uses.
type SendMessageAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQSDeadLetter sends dead letters to an SQS queue.
type SQSDeadLetter struct {
	api SendMessageAPI
	url string
	now func() time.Time
}

var _ DeadLetter = (*SQSDeadLetter)(nil)

// NewSQSDeadLetter returns a DeadLetter for the queue at url.
func NewSQSDeadLetter(api SendMessageAPI, url string) *SQSDeadLetter {
	return &SQSDeadLetter{api: api, url: url, now: time.Now}
}

// Send puts body on the queue with the reason as message attributes, so an
// operator sees why before redriving it.
func (d *SQSDeadLetter) Send(ctx context.Context, body string, l Letter) error {
	if d.url == "" {
		return errors.New("no dead-letter queue configured (DEAD_LETTER_QUEUE_URL)")
	}
	if body == "" {
		body = "(empty message)" // SQS refuses empty bodies
	}
	attr := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	attrs := map[string]types.MessageAttributeValue{
		"error_code":   attr(nonEmpty(l.Code, "UNKNOWN")),
		"error_reason": attr(nonEmpty(truncate(l.Reason, 1000), "unknown")),
		"failed_at":    attr(d.now().UTC().Format(time.RFC3339)),
	}
	if l.MessageID != "" {
		attrs["source_message_id"] = attr(l.MessageID)
	}
	_, err := d.api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(d.url), MessageBody: aws.String(body), MessageAttributes: attrs})
	if err != nil {
		return fmt.Errorf("sending to the dead-letter queue: %w", err)
	}
	return nil
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// MemoryDeadLetter keeps dead letters in memory: the local run's DLQ.
type MemoryDeadLetter struct {
	mu      sync.Mutex
	letters []Letter
}

var _ DeadLetter = (*MemoryDeadLetter)(nil)

// Send keeps the letter (the body is not needed to show what happened).
func (d *MemoryDeadLetter) Send(_ context.Context, _ string, l Letter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.letters = append(d.letters, l)
	return nil
}

// Letters returns what was dead-lettered so far.
func (d *MemoryDeadLetter) Letters() []Letter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.letters)
}
