package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
)

// message is one SQS message: one conversion request.
type message struct {
	id       string
	body     string
	receives int
}

// batch is one invocation's SQS event, already encoded.
type batch struct {
	msgs  []message
	event json.RawMessage
}

// batches cuts msgs into SQS events as the event source mapping would:
// in order, at most sqsBatchSize messages and maxPayloadBytes each.
func batches(msgs []message) ([]batch, error) {
	const head, tail = `{"Records":[`, `]}`
	var out []batch
	var cur batch
	var buf bytes.Buffer
	flush := func() {
		if len(cur.msgs) > 0 {
			buf.WriteString(tail)
			cur.event = bytes.Clone(buf.Bytes())
			out = append(out, cur)
		}
		cur = batch{}
		buf.Reset()
		buf.WriteString(head)
	}
	flush()
	for _, m := range msgs {
		m.receives++
		rec, err := json.Marshal(testkit.SQSRecord(testkit.SQSMessage{ID: m.id, Body: m.body, Receives: m.receives}))
		if err != nil {
			return nil, err
		}
		if len(head)+len(rec)+len(tail) > maxPayloadBytes {
			return nil, fmt.Errorf("message %s alone exceeds the %d-byte payload limit", m.id, maxPayloadBytes)
		}
		if len(cur.msgs) == sqsBatchSize || buf.Len()+1+len(rec)+len(tail) > maxPayloadBytes {
			flush()
		}
		if len(cur.msgs) > 0 {
			buf.WriteByte(',')
		}
		buf.Write(rec)
		cur.msgs = append(cur.msgs, m)
	}
	flush()
	return out, nil
}

// drained is what delivering a queue's messages took.
type drained struct {
	invocations int
	redelivered int // messages handed back and delivered again
	wall        time.Duration
}

// redeliveries is a note for a row whose messages were handed back.
func (d drained) redeliveries() string {
	if d.redelivered == 0 {
		return ""
	}
	return fmt.Sprintf("; %d msgs delivered again", d.redelivered)
}

// drain delivers msgs to the instances as SQS would: batches go to
// whichever instance is free; the messages a batch answer hands back are
// delivered again, up to maxReceiveCount times. Every message must end
// acknowledged: one left over, or dead-lettered, is an error.
func drain(ctx context.Context, fns []function, msgs []message) (drained, error) {
	var d drained
	start := time.Now()
	for len(msgs) > 0 {
		if msgs[0].receives >= maxReceiveCount {
			return d, fmt.Errorf("%d messages still handed back after %d receives", len(msgs), maxReceiveCount)
		}
		bs, err := batches(msgs)
		if err != nil {
			return d, err
		}
		work := make(chan batch)
		var mu sync.Mutex
		var again []message
		var firstErr error
		var wg sync.WaitGroup
		for _, fn := range fns {
			wg.Go(func() {
				for b := range work {
					back, err := invoke(ctx, fn, b)
					mu.Lock()
					again = append(again, back...)
					if err != nil && firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			})
		}
		for _, b := range bs {
			d.invocations++
			work <- b
		}
		close(work)
		wg.Wait()
		if firstErr != nil {
			return d, firstErr
		}
		d.redelivered += len(again)
		msgs = again
	}
	d.wall = time.Since(start)
	for _, fn := range fns {
		if n := len(fn.dead.Letters()); n > 0 {
			return d, fmt.Errorf("%d messages dead-lettered, e.g. %+v", n, fn.dead.Letters()[0])
		}
	}
	return d, nil
}

// invoke runs one batch through the handler, with the function's deadline,
// and returns the messages its answer hands back.
func invoke(ctx context.Context, fn function, b batch) ([]message, error) {
	ctx, cancel := context.WithTimeout(ctx, lambdaTimeout)
	defer cancel()
	res, err := fn.Invoke(ctx, b.event)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	answer, ok := res.(events.SQSEventResponse)
	if !ok {
		return nil, fmt.Errorf("invoke: answer %T, want events.SQSEventResponse", res)
	}
	byID := make(map[string]message, len(b.msgs))
	for _, m := range b.msgs {
		byID[m.id] = m
	}
	var back []message
	for _, f := range answer.BatchItemFailures {
		m, ok := byID[f.ItemIdentifier]
		if !ok {
			return nil, fmt.Errorf("invoke: batch answer names unknown message %q", f.ItemIdentifier)
		}
		back = append(back, m)
	}
	return back, nil
}
