// Package eventbus announces finished jobs and ended sweep runs on an
// EventBridge bus: the jobcheck.Publisher and sweep.Publisher of the
// deployed status function.
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// PutEventsAPI is the part of the EventBridge client the publisher uses.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// EventBridge publishes events to one event bus.
type EventBridge struct {
	api PutEventsAPI
	bus string
}

var (
	_ jobcheck.Publisher = (*EventBridge)(nil)
	_ sweep.Publisher    = (*EventBridge)(nil)
)

// New returns a publisher that puts events on bus (a name or ARN).
func New(api PutEventsAPI, bus string) *EventBridge {
	return &EventBridge{api: api, bus: bus}
}

// Publish announces a finished job.
func (e *EventBridge) Publish(ctx context.Context, ev jobcheck.Event) error {
	return e.put(ctx, jobcheck.EventSource, jobcheck.EventDetailType, ev, ev.FinishedAt, "job "+ev.JobID)
}

// PublishRunEnded announces the end of a sweep's run.
func (e *EventBridge) PublishRunEnded(ctx context.Context, ev sweep.RunEvent) error {
	return e.put(ctx, sweep.EventSource, sweep.EventDetailType, ev, ev.EndedAt, "run "+ev.RunID+" of sweep "+ev.Sweep)
}

// put puts one event. PutEvents answers 200 even when it rejects an
// entry, so the entry's own result is checked.
func (e *EventBridge) put(ctx context.Context, source, detailType string, ev any, at time.Time, what string) error {
	detail, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("eventbus: encoding the event of %s: %w", what, err)
	}
	out, err := e.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		EventBusName: aws.String(e.bus),
		Source:       aws.String(source),
		DetailType:   aws.String(detailType),
		Detail:       aws.String(string(detail)),
		Time:         aws.Time(at),
	}}})
	if err != nil {
		return fmt.Errorf("eventbus: publishing the event of %s: %w", what, err)
	}
	if out.FailedEntryCount > 0 {
		code, msg := "", ""
		if len(out.Entries) > 0 {
			code, msg = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
		}
		return fmt.Errorf("eventbus: EventBridge refused the event of %s: %s %s", what, code, msg)
	}
	return nil
}
