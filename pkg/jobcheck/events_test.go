package jobcheck_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/aws/eventbus"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
)

// TestFinishedJobsAreAnnounced: on a bus in moto, a rule matching the
// documented source and detail type forwards the events to SQS, where the
// test reads them back: one per finished job, none for open ones.
func TestFinishedJobsAreAnnounced(t *testing.T) {
	cfg := awstest.Require(t)
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	bus, queueURL := eventBus(t, eb), awstest.CreateQueue(t, cfg)
	routeToQueue(t, eb, q, bus, queueURL)

	r := newRig(t, memstore.New(), zohosim.Options{StatusCasings: []string{"title"}}, jobcheck.Config{})
	r.checker, _ = jobcheck.New(jobcheck.Config{Zoho: r.zoho, Store: r.statusStore(), Now: r.clock.Now,
		Events: eventbus.New(eb, bus), Resend: r.resent})
	fails := []int{0, 2, 1}
	js := r.schedule(t, 3, 2, func(k int) int { return fails[k] })
	r.clock.Advance(time.Minute)
	if rep := r.run(t.Context(), jobcheck.Request{}); rep.Finished != 0 || rep.Errors != 0 {
		t.Fatalf("first run %+v", rep)
	}
	if got := receive(t, q, queueURL); len(got) != 0 {
		t.Fatalf("events for open jobs: %v", got)
	}
	r.clock.Advance(5 * time.Minute)
	if rep := r.run(t.Context(), jobcheck.Request{}); rep.Finished != 3 || rep.Errors != 0 {
		t.Fatalf("second run %+v", rep)
	}
	got := receive(t, q, queueURL)
	if len(got) != 3 {
		t.Fatalf("%d events, want 3", len(got))
	}
	for k, j := range js {
		ev, ok := got[j.ID]
		if !ok {
			t.Fatalf("no event for job %s", j.ID)
		}
		want := jobcheck.Event{JobID: j.ID, Status: jobs.Completed, ZohoStatus: "Completed", Total: 2,
			Converted: 2 - fails[k], Failed: fails[k], LeadIDs: j.LeadIDs, Sources: j.Sources,
			ClaimsReleased: fails[k] > 0, Checks: 2, CreatedAt: t0, FinishedAt: r.clock.Now()}
		// Read back from Zoho: the failed leads are the first ones.
		if fails[k] > 0 {
			want.NotConvertedIDs = j.LeadIDs[:fails[k]]
		}
		if fails[k] < 2 {
			want.ConvertedIDs = j.LeadIDs[fails[k]:]
		}
		if fails[k] == 2 {
			want.Status, want.ZohoStatus = jobs.Failed, "Failed"
		}
		if !equalEvents(ev, want) {
			t.Errorf("event\n %+v\nwant\n %+v", ev, want)
		}
	}
}

func equalEvents(a, b jobcheck.Event) bool {
	times := a.CreatedAt.Equal(b.CreatedAt) && a.FinishedAt.Equal(b.FinishedAt)
	a.CreatedAt, b.CreatedAt, a.FinishedAt, b.FinishedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return times && reflect.DeepEqual(a, b)
}

func eventBus(t *testing.T, eb *eventbridge.Client) string {
	t.Helper()
	name := awstest.UniqueName(t, "bus")
	if _, err := eb.CreateEventBus(t.Context(), &eventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := eb.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(name)}); err != nil {
			t.Errorf("deleting bus %s: %v", name, err)
		}
	})
	return name
}

// routeToQueue sends the status function's events on bus to the queue.
func routeToQueue(t *testing.T, eb *eventbridge.Client, q *sqs.Client, bus, queueURL string) {
	t.Helper()
	attrs, err := q.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	pattern, _ := json.Marshal(map[string][]string{"source": {jobcheck.EventSource}, "detail-type": {jobcheck.EventDetailType}})
	rule := awstest.UniqueName(t, "rule")
	if _, err := eb.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus),
		EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus), Ids: []string{"queue"}})
		if _, err := eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus)}); err != nil {
			t.Errorf("deleting rule %s: %v", rule, err)
		}
	})
	if _, err := eb.PutTargets(t.Context(), &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
		t.Fatal(err)
	}
}

// receive drains the queue (moto delivers during PutEvents) and returns
// the events' details by job id, checking their envelope.
func receive(t *testing.T, q *sqs.Client, queueURL string) map[string]jobcheck.Event {
	t.Helper()
	out := map[string]jobcheck.Event{}
	for {
		res, err := q.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			var env struct {
				Source     string         `json:"source"`
				DetailType string         `json:"detail-type"`
				Detail     jobcheck.Event `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
				t.Fatalf("message %s: %v", aws.ToString(m.Body), err)
			}
			if env.Source != jobcheck.EventSource || env.DetailType != jobcheck.EventDetailType {
				t.Fatalf("envelope %+v", env)
			}
			if _, dup := out[env.Detail.JobID]; dup {
				t.Fatalf("two events for job %s", env.Detail.JobID)
			}
			out[env.Detail.JobID] = env.Detail
			if _, err := q.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestRefusedEventIsAnError: PutEvents answers 200 with a failed entry.
func TestRefusedEventIsAnError(t *testing.T) {
	p := eventbus.New(refusingAPI{}, "bus")
	err := p.Publish(context.Background(), jobcheck.Event{JobID: "1"})
	if err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("Publish: %v", err)
	}
}

type refusingAPI struct{}

func (refusingAPI) PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	return &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []ebtypes.PutEventsResultEntry{
		{ErrorCode: aws.String("ThrottlingException"), ErrorMessage: aws.String("slow down")}}}, nil
}
