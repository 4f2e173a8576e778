package eventbus_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/eventbus"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestRunEndedIsAnnounced: on a bus in moto, a rule on the documented
// source and detail type ("Sweep Run Ended") gets the run's event with its
// detail; a rule on the jobs' detail type does not. Both events share the
// source, so one rule on the source takes both.
func TestRunEndedIsAnnounced(t *testing.T) {
	if sweep.EventSource != jobcheck.EventSource {
		t.Fatalf("sweep runs are announced as %q, jobs as %q; want one source", sweep.EventSource, jobcheck.EventSource)
	}
	cfg := awstest.Require(t)
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	bus := awstest.UniqueName(t, "bus")
	if _, err := eb.CreateEventBus(t.Context(), &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = eb.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(bus)})
	})
	runs, jobs := awstest.CreateQueue(t, cfg), awstest.CreateQueue(t, cfg)
	route(t, eb, q, bus, sweep.EventDetailType, runs)
	route(t, eb, q, bus, jobcheck.EventDetailType, jobs)

	ev := sweep.RunEvent{Sweep: "nightly", RunID: "2026-11-28T02:00:00Z", End: sweep.EndError, Reason: "selecting leads: NO_PERMISSION",
		Counts:    sweep.Counts{Matched: 2300, SkippedConverted: 100, SkippedClaimed: 50, Queued: 2000, Messages: 2, COQLCalls: 2, ReadCalls: 46},
		StartedAt: time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC), EndedAt: time.Date(2026, 11, 28, 2, 3, 0, 0, time.UTC)}
	if err := eventbus.New(eb, bus).PublishRunEnded(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	got := drain(t, q, runs)
	if len(got) != 1 {
		t.Fatalf("%d events on the runs' rule, want 1", len(got))
	}
	var env struct {
		Source     string         `json:"source"`
		DetailType string         `json:"detail-type"`
		Detail     sweep.RunEvent `json:"detail"`
	}
	if err := json.Unmarshal([]byte(got[0]), &env); err != nil {
		t.Fatal(err)
	}
	if env.Source != sweep.EventSource || env.DetailType != "Sweep Run Ended" || env.Detail != ev {
		t.Errorf("event %+v, want detail %+v", env, ev)
	}
	if other := drain(t, q, jobs); len(other) != 0 {
		t.Errorf("the jobs' rule got %d events", len(other))
	}
}

// route sends the events of detailType on bus to the queue.
func route(t *testing.T, eb *eventbridge.Client, q *sqs.Client, bus, detailType, queueURL string) {
	t.Helper()
	attrs, err := q.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	pattern, _ := json.Marshal(map[string][]string{"source": {sweep.EventSource}, "detail-type": {detailType}})
	rule := awstest.UniqueName(t, "rule")
	if _, err := eb.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus),
		EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus), Ids: []string{"queue"}})
		_, _ = eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus)})
	})
	if _, err := eb.PutTargets(t.Context(), &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
		t.Fatal(err)
	}
}

// drain takes every message off the queue (moto delivers during
// PutEvents) and returns their bodies.
func drain(t *testing.T, q *sqs.Client, queueURL string) []string {
	t.Helper()
	var out []string
	for {
		res, err := q.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			out = append(out, aws.ToString(m.Body))
			if _, err := q.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
