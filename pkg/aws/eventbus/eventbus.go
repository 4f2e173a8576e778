// Package eventbus announces finished jobs on an EventBridge bus: the
// jobcheck.Publisher of the deployed status function.
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
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

var _ jobcheck.Publisher = (*EventBridge)(nil)

// New returns a publisher that puts events on bus (a name or ARN).
func New(api PutEventsAPI, bus string) *EventBridge {
	return &EventBridge{api: api, bus: bus}
}

// Publish puts one event. PutEvents answers 200 even when it rejects an
// entry, so the entry's own result is checked.
func (e *EventBridge) Publish(ctx context.Context, ev jobcheck.Event) error {
	detail, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("eventbus: encoding the event of job %s: %w", ev.JobID, err)
	}
	out, err := e.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		EventBusName: aws.String(e.bus),
		Source:       aws.String(jobcheck.EventSource),
		DetailType:   aws.String(jobcheck.EventDetailType),
		Detail:       aws.String(string(detail)),
		Time:         aws.Time(ev.FinishedAt),
	}}})
	if err != nil {
		return fmt.Errorf("eventbus: publishing the event of job %s: %w", ev.JobID, err)
	}
	if out.FailedEntryCount > 0 {
		code, msg := "", ""
		if len(out.Entries) > 0 {
			code, msg = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
		}
		return fmt.Errorf("eventbus: EventBridge refused the event of job %s: %s %s", ev.JobID, code, msg)
	}
	return nil
}
