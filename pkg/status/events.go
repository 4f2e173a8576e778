package status

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// The source and detail type of the event announcing a finished job, for
// EventBridge rules to match:
//
//	{"source": ["zoho-lead-convert"], "detail-type": ["Mass Convert Job Finished"]}
const (
	EventSource     = "zoho-lead-convert"
	EventDetailType = "Mass Convert Job Finished"
)

// Event is the detail of the event announcing a job that reached a terminal
// state. Zoho gives counts, not per-lead results: LeadIDs are all the leads
// of the job, and ClaimsReleased says whether they may be submitted again.
type Event struct {
	JobID          string     `json:"job_id"`
	Status         jobs.State `json:"status"`                // COMPLETED, FAILED, UNKNOWN or STALE
	ZohoStatus     string     `json:"zoho_status,omitempty"` // as Zoho spelled it
	Total          int        `json:"total"`
	Converted      int        `json:"converted"`
	NotConverted   int        `json:"not_converted"`
	Failed         int        `json:"failed"`
	LeadIDs        []string   `json:"lead_ids"`
	Sources        []string   `json:"sources,omitempty"` // the requests that asked for the leads
	Reason         string     `json:"reason,omitempty"`  // why UNKNOWN or STALE
	ClaimsReleased bool       `json:"claims_released"`
	Checks         int        `json:"checks"`
	CreatedAt      time.Time  `json:"created_at"`
	FinishedAt     time.Time  `json:"finished_at"`
}

// NewEvent describes a job that has just ended.
func NewEvent(j jobs.Job, claimsReleased bool) Event {
	return Event{JobID: j.ID, Status: j.State, ZohoStatus: j.ZohoStatus, Total: j.Total,
		Converted: j.Converted, NotConverted: j.NotConverted, Failed: j.FailedCount,
		LeadIDs: j.LeadIDs, Sources: j.Sources, Reason: j.Reason, ClaimsReleased: claimsReleased,
		Checks: j.Checks, CreatedAt: j.CreatedAt.UTC(), FinishedAt: j.CheckedAt.UTC()}
}

// PutEventsAPI is the part of the EventBridge client the publisher uses.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// EventBridge publishes events to one event bus.
type EventBridge struct {
	api PutEventsAPI
	bus string
}

var _ Publisher = (*EventBridge)(nil)

// NewEventBridge returns a Publisher that puts events on bus (a name or ARN).
func NewEventBridge(api PutEventsAPI, bus string) *EventBridge {
	return &EventBridge{api: api, bus: bus}
}

// Publish puts one event. PutEvents answers 200 even when it rejects an
// entry, so the entry's own result is checked.
func (e *EventBridge) Publish(ctx context.Context, ev Event) error {
	detail, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("status: encoding the event of job %s: %w", ev.JobID, err)
	}
	out, err := e.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		EventBusName: aws.String(e.bus),
		Source:       aws.String(EventSource),
		DetailType:   aws.String(EventDetailType),
		Detail:       aws.String(string(detail)),
		Time:         aws.Time(ev.FinishedAt),
	}}})
	if err != nil {
		return fmt.Errorf("status: publishing the event of job %s: %w", ev.JobID, err)
	}
	if out.FailedEntryCount > 0 {
		code, msg := "", ""
		if len(out.Entries) > 0 {
			code, msg = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
		}
		return fmt.Errorf("status: EventBridge refused the event of job %s: %s %s", ev.JobID, code, msg)
	}
	return nil
}
