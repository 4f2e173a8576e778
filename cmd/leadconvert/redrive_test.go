package main

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/sqsqueue"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
)

// runSubcommand runs leadconvert with args as a user would, and returns its
// exit code and outputs.
func runSubcommand(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = execute(context.Background(), args, stdin, &out, &errOut)
	t.Logf("leadconvert %s\nexit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// motoArgs are the flags that point a command at moto.
func motoArgs(cfg aws.Config) []string {
	return []string{"--region", cfg.Region, "--endpoint-url", aws.ToString(cfg.BaseEndpoint)}
}

// queueMessage is a message as drained from a queue.
type queueMessage struct{ body, requestID string }

// drain receives every visible message of the queue at url and deletes it.
// A message left invisible by the command under test is not seen.
func drain(t *testing.T, api *sqs.Client, url string) []queueMessage {
	t.Helper()
	var got []queueMessage
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := api.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, VisibilityTimeout: 60, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			// An empty answer from a loaded moto is not proof of an empty
			// queue: the queue's own count decides, within a deadline.
			attrs, err := api.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
				AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
			if err != nil {
				t.Fatal(err)
			}
			if n := attrs.Attributes["ApproximateNumberOfMessages"]; n == "0" || time.Now().After(deadline) {
				return got
			}
			continue
		}
		for _, m := range out.Messages {
			got = append(got, queueMessage{aws.ToString(m.Body), aws.ToString(m.MessageAttributes["request_id"].StringValue)})
			if _, err := api.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The dead letters of a deployment, as the convert function and SQS write them.
const (
	owner        = "3652397000000186017"
	exhaustedReq = `{"assign_to":{"id":"` + owner + `"},"ids":["3652397000001000001"]}`
	refusedReq   = `{"assign_to":{"id":"` + owner + `"},"Deals":{"Closing_Date":"2026-12-31","Deal_Name":"x","Stage":"Qualification"},"ids":["3652397000001000002"]}`
	ownerless    = `{"ids":["3652397000001000004"]}`
	unrecorded   = `{"job_id":"3652397000009835001","ids":["3652397000001000005"],"options":{}}`
)

var wakeup = convert.WakeBody(convert.Wakeup{Key: jobs.BatchKey{Fingerprint: "ab12", Gen: 3}})

// seedDeadLetters fills a new DLQ with one letter of each kind and returns
// its URL: a request SQS redrove after maxReceiveCount (with its
// request_id), a wake-up SQS redrove, a request Zoho refused, one without
// an owner and an empty one (both refused by the decoder), and a job the
// table could not record.
func seedDeadLetters(t *testing.T, cfg aws.Config) string {
	t.Helper()
	ctx := t.Context()
	api := sqs.NewFromConfig(cfg)
	dlq := awstest.CreateQueue(t, cfg)
	arn, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlq),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	// SQS's own redrive, as the template sets it up (maxReceiveCount 1 here;
	// no visibility timeout, so the second receive finds them past it: the
	// SDK omits a receive's VisibilityTimeout of 0).
	src := awstest.CreateQueue(t, cfg)
	if _, err := api.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(src), Attributes: map[string]string{
		"VisibilityTimeout": "0",
		"RedrivePolicy":     `{"deadLetterTargetArn":"` + arn.Attributes["QueueArn"] + `","maxReceiveCount":"1"}`}}); err != nil {
		t.Fatal(err)
	}
	if err := sqsqueue.NewQueue(api, src).Enqueue(ctx, exhaustedReq, "req-exhausted"); err != nil {
		t.Fatal(err)
	}
	if _, err := api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: aws.String(wakeup)}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the first receive counts, the second finds them past maxReceiveCount
		if _, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(src), MaxNumberOfMessages: 10}); err != nil {
			t.Fatal(err)
		}
	}
	dead := sqsqueue.NewDeadLetter(api, dlq)
	for _, l := range []struct {
		body string
		l    sqsbatch.Letter
	}{
		{refusedReq, sqsbatch.Letter{Code: "NO_PERMISSION", Reason: "permission denied to convert leads", MessageID: "m-3"}},
		{ownerless, sqsbatch.Letter{Code: "MANDATORY_NOT_FOUND", Reason: "invalid conversion request: $.assign_to: assign_to is required", MessageID: "m-4"}},
		{"", sqsbatch.Letter{Code: "INVALID_REQUEST", Reason: "invalid conversion request: $: the body is empty", MessageID: "m-5"}},
		{unrecorded, sqsbatch.Letter{Code: "JOB_NOT_RECORDED", Reason: "Zoho scheduled the job but the table could not record it", MessageID: "3652397000009835001"}},
	} {
		if err := dead.Send(ctx, l.body, l.l); err != nil {
			t.Fatal(err)
		}
	}
	return dlq
}

// TestRedrive: the letters are shown grouped by reason; only --apply moves
// them, as filtered, bodies and request ids as they were; what can never
// succeed and jobs stay; every letter left is visible again at the end.
func TestRedrive(t *testing.T) {
	cfg := awstest.Require(t)
	api := sqs.NewFromConfig(cfg)
	for _, tc := range []struct {
		name  string
		args  []string
		moved []queueMessage // in any order
		left  int
		out   []string
	}{
		{name: "dry run by default", left: 6, out: []string{
			"Dead-letter queue: 6 letters", "RETRIES_EXHAUSTED 2 move", "NO_PERMISSION", "permission denied",
			"MANDATORY_NOT_FOUND 1 leave: can never succeed", "JOB_NOT_RECORDED", "leave: a job, not a request",
			"Dry run: nothing moved. 3 letters would move", "job 3652397000009835001", "--apply"}},
		{name: "apply", args: []string{"--apply"}, left: 3,
			moved: []queueMessage{{exhaustedReq, "req-exhausted"}, {wakeup, ""}, {refusedReq, ""}},
			out:   []string{"Moved 3 of 3 letters", "Left in the dead-letter queue: 2 letters that can never succeed", "$.assign_to", "Left in the dead-letter queue: 1 letter JOB_NOT_RECORDED"}},
		{name: "by code", args: []string{"--apply", "--code", "no_permission"}, left: 5,
			moved: []queueMessage{{refusedReq, ""}}, out: []string{"Moved 1 of 1 letter", "Left in the dead-letter queue: 4 letters not selected"}},
		{name: "by reason, with --dry-run=false", args: []string{"--dry-run=false", "--reason", "PERMISSION DENIED"}, left: 5,
			moved: []queueMessage{{refusedReq, ""}}, out: []string{"Moved 1 of 1 letter"}},
		{name: "a default owner mends a missing assign_to", args: []string{"--apply", "--default-owner", owner, "--code", "MANDATORY_NOT_FOUND"}, left: 5,
			moved: []queueMessage{{ownerless, ""}}, out: []string{"Moved 1 of 1 letter"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dlq, queue := seedDeadLetters(t, cfg), awstest.CreateQueue(t, cfg)
			args := append(append([]string{"redrive", "--dlq-url", dlq, "--queue-url", queue}, motoArgs(cfg)...), tc.args...)
			code, out, _ := runSubcommand(t, nil, args...)
			if code != exitOK {
				t.Fatalf("exit %d", code)
			}
			out = strings.Join(strings.Fields(out), " ") // columns: one space
			for _, want := range tc.out {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			moved := drain(t, api, queue)
			sortMessages(moved)
			sortMessages(tc.moved)
			if !slices.Equal(moved, tc.moved) {
				t.Errorf("moved %q\nwant  %q", moved, tc.moved)
			}
			if left := drain(t, api, dlq); len(left) != tc.left {
				t.Errorf("%d letters visible in the DLQ after the run, want %d: %q", len(left), tc.left, left)
			}
		})
	}
}

func sortMessages(ms []queueMessage) {
	slices.SortFunc(ms, func(a, b queueMessage) int { return strings.Compare(a.body, b.body) })
}

// TestRedriveKeepsWhatItCannotSend: a letter whose send fails stays in the
// DLQ, visible, and the run exits 1; progress goes to stderr.
func TestRedriveKeepsWhatItCannotSend(t *testing.T) {
	cfg := awstest.Require(t)
	api := sqs.NewFromConfig(cfg)
	dlq := seedDeadLetters(t, cfg)
	gone := awstest.CreateQueue(t, cfg)
	if _, err := api.DeleteQueue(t.Context(), &sqs.DeleteQueueInput{QueueUrl: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runSubcommand(t, nil, append([]string{"redrive", "--apply", "--progress-every", "2",
		"--dlq-url", dlq, "--queue-url", gone}, motoArgs(cfg)...)...)
	if code != exitFailed || !strings.Contains(out, "Moved 0 of 3") || !strings.Contains(errOut, "3 letters could not be moved") ||
		!strings.Contains(errOut, "read 2 letters") {
		t.Fatalf("exit %d", code)
	}
	if left := drain(t, api, dlq); len(left) != 6 {
		t.Fatalf("%d letters visible after a failed run, want all 6", len(left))
	}
}

// TestRedriveProgress: a long run says how far it got, on stderr.
func TestRedriveProgress(t *testing.T) {
	cfg := awstest.Require(t)
	dlq, queue := seedDeadLetters(t, cfg), awstest.CreateQueue(t, cfg)
	code, out, errOut := runSubcommand(t, nil, append([]string{"redrive", "--apply", "--progress-every", "1",
		"--dlq-url", dlq, "--queue-url", queue}, motoArgs(cfg)...)...)
	if code != exitOK || !strings.Contains(errOut, "read 6 letters") || !strings.Contains(errOut, "moved 1 of 3\nmoved 2 of 3\nmoved 3 of 3\n") ||
		strings.Contains(out, "moved 1 of") {
		t.Fatalf("exit %d; progress:\n%s", code, errOut)
	}
}

// TestRedriveUsage: a wrong command line exits 2 and touches nothing.
func TestRedriveUsage(t *testing.T) {
	cfg := awstest.Require(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--queue-url", "q"}, "no --dlq-url"},
		{[]string{"--dlq-url", "d", "--apply"}, "no --queue-url"},
		{[]string{"--dlq-url", "d", "extra"}, "accepts 0 arg"},
		{[]string{"--dlq-url", "d", "--apply", "--dry-run"}, "contradict"},
		{[]string{"--dlq-url", "d", "--visibility", "0s"}, "--visibility"},
		{[]string{"--dlq-url", "d", "--max", "0"}, "--max"},
		{[]string{"--dlq-url", "d", "--api-version", "v6"}, "want v7 or v8"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := runSubcommand(t, nil, append(append([]string{"redrive"}, motoArgs(cfg)...), tc.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want %d with %q", code, exitUsage, tc.want)
			}
		})
	}
	code, out, _ := runSubcommand(t, nil, "redrive", "--help")
	if code != exitOK || !strings.Contains(out, "--dry-run") || !strings.Contains(out, "Examples:") {
		t.Fatalf("--help: exit %d", code)
	}
}

// TestRedriveConvertsARefusedBatch: leads parked by acknowledged messages
// whose accumulated call Zoho refused (an owner it does not know) are
// dead-lettered in one letter, the only copy of their options. Once the
// operator mends the cause, `redrive --apply` moves the letter back and the
// convert function converts every lead.
func TestRedriveConvertsARefusedBatch(t *testing.T) {
	cfg := awstest.Require(t)
	ctx := t.Context()
	api := sqs.NewFromConfig(cfg)
	dlq, queue := awstest.CreateQueue(t, cfg), awstest.CreateQueue(t, cfg)

	z := zohotest.Start(t, zohosim.Options{}, 1)
	ids := z.Sim.SeedLeadRange(3)
	const newOwner = "3652397000000186404" // not yet a user of the org
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
		"ZOHO_ACCOUNTS_URL": z.URL, "ZOHO_API_URL": z.URL, "MAX_WAIT_SECONDS": "60"}
	convertCfg, err := config.LoadConvert(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	deps := app.NewEmbedded(zohotest.SecretJSON(""), z.Clock.Now, io.Discard)
	cd := deps.Convert()
	cd.DeadLetter = sqsqueue.NewDeadLetter(api, dlq)
	fn, err := app.NewConvert(convertCfg, cd)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := deps.Queue.Enqueue(ctx, `{"assign_to":{"id":"`+newOwner+`"},"ids":["`+id+`"]}`, ""); err != nil {
			t.Fatal(err)
		}
	}
	deliver := func() {
		t.Helper()
		z.Clock.Advance(time.Minute)
		if _, err := deps.Deliver(ctx, fn, 10); err != nil {
			t.Fatal(err)
		}
	}
	deliver() // parked, acknowledged
	deliver() // the wake-up: Zoho refuses the owner
	if n := deps.Queue.Len() + deps.Wakes.Len(); n != 0 {
		t.Fatalf("%d messages left; want every one acknowledged", n)
	}

	z.Sim.AddUser(newOwner) // the operator mends the cause
	args := append([]string{"redrive", "--apply", "--dlq-url", dlq, "--queue-url", queue}, motoArgs(cfg)...)
	if code, out, _ := runSubcommand(t, nil, args...); code != exitOK || !strings.Contains(out, "Moved 1 of 1 letter") {
		t.Fatalf("redrive: exit %d, %s", code, out)
	}
	for _, m := range drain(t, api, queue) { // SQS hands the moved letter to the function
		if err := deps.Queue.Enqueue(ctx, m.body, m.requestID); err != nil {
			t.Fatal(err)
		}
	}
	deliver()
	deliver()
	claims, err := deps.Jobs.Claims(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range claims {
		if c.State != jobs.ClaimScheduled {
			t.Errorf("lead %s after the redrive: %s %q; want scheduled", c.LeadID, c.State, c.Reason)
		}
	}
	if len(claims) != len(ids) || z.Sim.Stats().IDsSubmitted < len(ids) {
		t.Fatalf("%d claims, %d ids submitted; want all %d leads converted", len(claims), z.Sim.Stats().IDsSubmitted, len(ids))
	}
}
