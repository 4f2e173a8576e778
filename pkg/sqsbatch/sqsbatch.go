// Package sqsbatch consumes conversion requests from SQS: one request per
// message, a whole batch converted together, and a partial batch answer so
// that only the messages a retry can help go back to the queue. Messages
// that can never succeed go to the dead-letter queue with their reason.
package sqsbatch

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/lambdaio"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
)

// Converter converts a batch of submissions (convert.Service), answering
// one Result per submission, in order, and sends the batches that wake-up
// messages name, answering one Verdict per key.
type Converter interface {
	Accumulate(ctx context.Context, subs []convert.Submission) []convert.Result
	Wake(ctx context.Context, wakeups []convert.Wakeup) []convert.Verdict
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
	// RequestID is the API request the message carried, if any: a redrive
	// puts it back, so GET /requests/{id} still follows the leads.
	RequestID string
}

// RequestFailer records why a request the API queued was dead-lettered,
// for GET /requests/{id} (jobs.Requests).
type RequestFailer interface {
	FailRequest(ctx context.Context, id, code, reason string) error
}

// Config configures a Consumer. Converter and DeadLetter are required.
type Config struct {
	Converter  Converter
	DeadLetter DeadLetter
	Requests   RequestFailer // nil: nothing to record
	APIVersion string        // the Zoho API version requests are validated for
	// DefaultOwner is the assign_to of a request that names no owner
	// (DEFAULT_OWNER_ID); empty: such a request is dead-lettered.
	DefaultOwner string
	Logger       *slog.Logger
}

// Consumer handles SQS batches for the convert function.
type Consumer struct {
	cfg Config
	log *slog.Logger
}

// NewConsumer returns a Consumer.
func NewConsumer(cfg Config) *Consumer {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Consumer{cfg: cfg, log: log}
}

// Handle converts a batch and answers which messages SQS should deliver
// again. It never fails as a whole: each message gets its own verdict.
//
// Not even on a panic: the Lambda runtime would fail the whole batch, and
// every message that was done would come again. The panic is logged with
// its stack, and the messages that have no verdict yet are handed back;
// their redelivery finds whatever this invocation did (claims, parked
// leads, jobs) and carries on from there.
func (c *Consumer) Handle(ctx context.Context, msgs []lambdaio.SQSMessage) (resp events.SQSEventResponse) {
	m := obs.MetricsFrom(ctx)
	// An empty list, not null: both mean success to Lambda, but the list reads plainly.
	resp = events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	answered := make(map[string]bool, len(msgs)) // messages with a verdict: done, dead-lettered or handed back
	retry := func(id string) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		obs.Panicked(ctx, c.log, p)
		for _, rec := range msgs {
			if !answered[rec.MessageID] {
				answered[rec.MessageID] = true
				retry(rec.MessageID)
			}
		}
	}()
	m.Count("RequestsReceived", len(msgs))
	subs := make([]convert.Submission, 0, len(msgs))
	from := make([]int, 0, len(msgs)) // the message of each submission
	dec := convert.Decoder{APIVersion: c.cfg.APIVersion, DefaultOwner: c.cfg.DefaultOwner}
	var wakes []convert.Wakeup
	var wakeIDs []string
	for i, rec := range msgs {
		w, isWake := convert.ParseWake(rec.Body)
		if rec.Kind() == convert.KindWake && !isWake {
			m.Count("RequestsInvalid", 1)
			c.deadLetter(ctx, rec, "WAKE_INVALID", "a wake-up whose body names no batch", m, retry)
			answered[rec.MessageID] = true
			continue
		}
		if isWake { // by its kind, or by its body if sent before wake-ups carried one
			wakes, wakeIDs = append(wakes, w), append(wakeIDs, rec.MessageID)
			continue
		}
		req, err := dec.JSON([]byte(rec.Body))
		if err != nil {
			m.Count("RequestsInvalid", 1)
			c.deadLetter(ctx, rec, codeOf(err), err.Error(), m, retry)
			answered[rec.MessageID] = true
			continue
		}
		m.Count("LeadsReceived", len(req.IDs))
		source := rec.MessageID
		if id := rec.RequestID(); id != "" {
			source = convert.RequestSource(id)
		}
		subs = append(subs, convert.Submission{Source: source, Request: req, Accepted: rec.SentAt()})
		from = append(from, i)
	}
	if len(subs) > 0 {
		c.convert(ctx, msgs, subs, from, m, retry, answered)
	}
	// Wake-ups go last: leads this batch parked may join the batches they send.
	if len(wakes) > 0 {
		m.Count("Wakeups", len(wakes))
		for i, v := range c.cfg.Converter.Wake(ctx, wakes) {
			if v == convert.TryLater {
				m.Count("WakeupsRetried", 1)
				retry(wakeIDs[i])
			}
			answered[wakeIDs[i]] = true
		}
	}
	return resp
}

// convert converts the batch's requests and answers for each message,
// marking it answered.
func (c *Consumer) convert(ctx context.Context, msgs []lambdaio.SQSMessage, subs []convert.Submission, from []int, m *obs.Metrics, retry func(string), answered map[string]bool) {
	for i, res := range c.cfg.Converter.Accumulate(ctx, subs) {
		rec := msgs[from[i]]
		switch res.Verdict {
		case convert.TryLater:
			m.Count("MessagesRetried", 1)
			c.log.InfoContext(ctx, "message handed back for a retry", "message_id", rec.MessageID, "code", res.Code)
			retry(rec.MessageID)
		case convert.Permanent:
			c.deadLetter(ctx, rec, res.Code, res.Reason, m, retry)
		}
		answered[rec.MessageID] = true
	}
}

// deadLetter sends a message to the dead-letter queue; if that fails the
// message is handed back instead, so it reaches the queue's own redrive.
func (c *Consumer) deadLetter(ctx context.Context, rec lambdaio.SQSMessage, code, reason string, m *obs.Metrics, retry func(string)) {
	id := rec.MessageID
	err := c.cfg.DeadLetter.Send(ctx, rec.Body, Letter{Code: code, Reason: reason, MessageID: id, RequestID: rec.RequestID()})
	if err != nil {
		c.log.ErrorContext(ctx, "dead-lettering failed; handing the message back", "message_id", id, "error", err)
		m.Count("DeadLetterErrors", 1)
		retry(id)
		return
	}
	m.Count("MessagesDeadLettered", 1)
	c.log.WarnContext(ctx, "message dead-lettered", "message_id", id, "code", code, "reason", truncate(reason, 300))
	if req := rec.RequestID(); req != "" && c.cfg.Requests != nil {
		if err := c.cfg.Requests.FailRequest(ctx, req, code, reason); err != nil {
			c.log.WarnContext(ctx, "recording a dead-lettered request failed", "request_id", req, "error", err)
		}
	}
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
