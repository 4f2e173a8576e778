package sqsbatch

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
)

// MemoryQueue is the conversion queue in memory, for the local run and
// tests: requests and wake-ups go on it, and Receive hands the visible
// ones over as the SQS event Lambda would send. Time is now's, so a
// simulated clock moves wake-ups along.
type MemoryQueue struct {
	now func() time.Time

	mu   sync.Mutex
	msgs []memoryMessage
	seq  int
}

type memoryMessage struct {
	id, body, requestID, kind string
	sentAt, visibleAt         time.Time
}

var _ convert.Timer = (*MemoryQueue)(nil)

// NewMemoryQueue returns an empty queue on the clock now.
func NewMemoryQueue(now func() time.Time) *MemoryQueue {
	if now == nil {
		now = time.Now
	}
	return &MemoryQueue{now: now}
}

func (q *MemoryQueue) put(body, requestID, kind string, delay time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	now := q.now()
	q.msgs = append(q.msgs, memoryMessage{id: fmt.Sprintf("mem-%06d", q.seq), body: body, requestID: requestID, kind: kind,
		sentAt: now, visibleAt: now.Add(delay)})
}

// Enqueue queues a request.
func (q *MemoryQueue) Enqueue(_ context.Context, body, requestID string) error {
	q.put(body, requestID, "", 0)
	return nil
}

// Wake queues a wake-up, visible after after (at most 15 minutes, as in SQS).
func (q *MemoryQueue) Wake(_ context.Context, w convert.Wakeup, after time.Duration) error {
	q.put(convert.WakeBody(w), "", convert.KindWake, min(after, 900*time.Second))
	return nil
}

// Len is how many messages the queue holds, visible or not.
func (q *MemoryQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

// visibility is how long a received message stays hidden, as the
// template's VisibilityTimeout: one not deleted by then comes back.
const visibility = 360 * time.Second

// Receive hands over up to max visible messages as a Lambda SQS event, with
// their ids, and hides them for the visibility timeout; nil when none is
// visible. Delete what was handled.
func (q *MemoryQueue) Receive(max int) (json.RawMessage, []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	var ev events.SQSEvent
	var ids []string
	for i := range q.msgs {
		m := &q.msgs[i]
		if len(ids) == max || m.visibleAt.After(now) {
			continue
		}
		rec := events.SQSMessage{MessageId: m.id, Body: m.body, EventSource: "aws:sqs",
			Attributes: map[string]string{"SentTimestamp": strconv.FormatInt(m.sentAt.UnixMilli(), 10)}}
		for name, v := range map[string]string{"request_id": m.requestID, convert.KindAttribute: m.kind} {
			if v == "" {
				continue
			}
			if rec.MessageAttributes == nil {
				rec.MessageAttributes = map[string]events.SQSMessageAttribute{}
			}
			rec.MessageAttributes[name] = events.SQSMessageAttribute{StringValue: &v, DataType: "String"}
		}
		ev.Records, ids = append(ev.Records, rec), append(ids, m.id)
		m.visibleAt = now.Add(visibility)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	raw, _ := json.Marshal(ev) // strings and maps of strings always marshal
	return raw, ids
}

// Delete removes handled messages: all of ids but those the function
// handed back in its partial batch answer.
func (q *MemoryQueue) Delete(ids []string, resp events.SQSEventResponse) {
	keep := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		keep[f.ItemIdentifier] = true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = slices.DeleteFunc(q.msgs, func(m memoryMessage) bool { return slices.Contains(ids, m.id) && !keep[m.id] })
}

// NextVisible is when the next hidden message becomes visible, or zero.
func (q *MemoryQueue) NextVisible() time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	for _, m := range q.msgs {
		if next.IsZero() || m.visibleAt.Before(next) {
			next = m.visibleAt
		}
	}
	return next
}
