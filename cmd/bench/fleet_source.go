// Row 7's SQS event source on a simulated clock: gatherers that collect
// the queue's visible messages into batches and hand each batch to an
// instance of the convert function.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
)

// The template's event source (template.yaml): a batch closes after the
// batching window or at BatchSize messages, whichever comes first. Lambda
// starts an SQS event source with five pollers, each gathering a batch of
// its own: trickling traffic is split between them, which is what makes
// per-invocation batching leave calls nearly empty.
const (
	batchingWindow = 5 * time.Second // MaximumBatchingWindowInSeconds of the conversion queue
	// perInvocationWindow is the window of the design before fleet-wide
	// batching, which needed a long one to fill calls within a batch.
	perInvocationWindow = 20 * time.Second
	fleetGatherers      = 5
	fleetInstances      = 3 // instances the batches are handed to, in turn (as cmd/leadconvert's local run)
)

// gatherer is one poller's batch in the making.
type gatherer struct {
	recs    []events.SQSMessage
	ids     []string
	closeAt time.Time // zero while it holds nothing
}

// eventSource delivers queue to fns as the SQS event source mapping does,
// in simulated time: every visible message goes to the next gatherer in
// turn (SQS answers the pollers' long polls in no set order; in turn is
// the even spread); a gatherer that receives its first message closes
// its batch a batching window later, or at once when it holds
// sqsBatchSize messages, and invokes the next instance with it. The
// messages the answer does not hand back are deleted; the others become
// visible again after the queue's visibility timeout.
type eventSource struct {
	queue *sqsbatch.MemoryQueue
	fns   []*app.Convert
	// window and batchSize are the event source mapping's; zero means the
	// conversion queue's (batchingWindow, sqsBatchSize). The wake-up
	// queue's mapping has no window and batches of 10 (noWindow).
	window    time.Duration
	batchSize int
	noWindow  bool
	gs        [fleetGatherers]gatherer
	nextG     int
	nextF     int

	invocations int
	handedBack  int
}

// poll takes every visible message into the gatherers; a gatherer that
// fills up invokes at once.
func (e *eventSource) poll(ctx context.Context, now time.Time) error {
	for {
		raw, ids := e.queue.Receive(1)
		if raw == nil {
			return nil
		}
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Records) != 1 {
			return fmt.Errorf("event source: the queue handed over %s", raw)
		}
		g := &e.gs[e.nextG]
		e.nextG = (e.nextG + 1) % len(e.gs)
		if len(g.recs) == 0 {
			g.closeAt = now.Add(e.windowOrDefault())
		}
		g.recs, g.ids = append(g.recs, ev.Records[0]), append(g.ids, ids...)
		if len(g.recs) == e.sizeOrDefault() {
			if err := e.invoke(ctx, g); err != nil {
				return err
			}
		}
	}
}

func (e *eventSource) windowOrDefault() time.Duration {
	switch {
	case e.noWindow:
		return 0
	case e.window > 0:
		return e.window
	}
	return batchingWindow
}

func (e *eventSource) sizeOrDefault() int {
	if e.batchSize > 0 {
		return e.batchSize
	}
	return sqsBatchSize
}

// closeDue invokes every batch whose window has run out by now.
func (e *eventSource) closeDue(ctx context.Context, now time.Time) error {
	for i := range e.gs {
		if g := &e.gs[i]; len(g.recs) > 0 && !g.closeAt.After(now) {
			if err := e.invoke(ctx, g); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *eventSource) invoke(ctx context.Context, g *gatherer) error {
	raw, err := json.Marshal(events.SQSEvent{Records: g.recs})
	if err != nil {
		return err
	}
	fn := e.fns[e.nextF]
	e.nextF = (e.nextF + 1) % len(e.fns)
	ctx, cancel := context.WithTimeout(ctx, lambdaTimeout)
	defer cancel()
	res, err := fn.Invoke(ctx, raw)
	if err != nil {
		return fmt.Errorf("event source: invoke: %w", err)
	}
	answer, ok := res.(events.SQSEventResponse)
	if !ok {
		return fmt.Errorf("event source: answer %T, want events.SQSEventResponse", res)
	}
	e.queue.Delete(g.ids, answer)
	e.invocations++
	e.handedBack += len(answer.BatchItemFailures)
	*g = gatherer{}
	return nil
}

// next is the earliest time something is due: a batch closing or a
// message becoming visible; zero when the gatherers and the queue are
// empty. Messages in the gatherers are hidden past their batch's close,
// so they never make it earlier.
func (e *eventSource) next() time.Time {
	t := e.queue.NextVisible()
	for _, g := range e.gs {
		if len(g.recs) > 0 && (t.IsZero() || g.closeAt.Before(t)) {
			t = g.closeAt
		}
	}
	return t
}
