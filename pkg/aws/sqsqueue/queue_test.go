package sqsqueue_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/sqsqueue"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestQueueOnSQS: a queued request carries its request id as the message
// attribute the convert function reads, and a wake-up stays invisible for
// its delay.
func TestQueueOnSQS(t *testing.T) {
	cfg := awstest.Require(t)
	api := sqs.NewFromConfig(cfg)
	url := awstest.CreateQueue(t, cfg)
	q := sqsqueue.NewQueue(api, url)
	ctx := context.Background()
	if err := q.Enqueue(ctx, `{"ids":["3652397000001000001"]}`, "YxZ2bH3kFiAEJ-g="); err != nil {
		t.Fatal(err)
	}
	w := convert.Wakeup{Key: jobs.BatchKey{Fingerprint: "ab12", Gen: 3}}
	if err := q.Wake(ctx, w, 20*time.Minute); err != nil { // over SQS's cap: cut to 15 minutes
		t.Fatal(err)
	}
	out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("%d messages visible; want the request only (the wake-up is delayed)", len(out.Messages))
	}
	m := out.Messages[0]
	if got := aws.ToString(m.MessageAttributes["request_id"].StringValue); got != "YxZ2bH3kFiAEJ-g=" {
		t.Fatalf("request_id attribute %q", got)
	}
	if _, isWake := convert.ParseWake(aws.ToString(m.Body)); isWake {
		t.Fatal("the request reads as a wake-up")
	}
	// A wake-up says it is one with its own attribute (delivered now: no delay).
	wakeURL := awstest.CreateQueue(t, cfg)
	if err := sqsqueue.NewQueue(api, wakeURL).Wake(ctx, w, 0); err != nil {
		t.Fatal(err)
	}
	out, err = api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(wakeURL), MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("the wake-up: %d messages, %v", len(out.Messages), err)
	}
	if got := aws.ToString(out.Messages[0].MessageAttributes[convert.KindAttribute].StringValue); got != convert.KindWake {
		t.Fatalf("a wake-up's %s attribute %q, want %q", convert.KindAttribute, got, convert.KindWake)
	}
	if err := sqsqueue.NewQueue(api, "").Wake(ctx, w, 0); err == nil {
		t.Fatal("a queue without a URL accepted a wake-up")
	}
}
