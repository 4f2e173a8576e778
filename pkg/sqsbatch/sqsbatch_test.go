package sqsbatch_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/sqsqueue"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/lambdaio"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
)

func TestMain(m *testing.M) { awstest.Main(m) }

type rig struct {
	sim      *zohosim.Server
	consumer *sqsbatch.Consumer // with zohotest.Owner as the default owner
	sqs      *sqs.Client
	dlqURL   string
	cfg      sqsbatch.Config
}

// newRig returns a consumer whose default owner is zohotest.Owner; r.cfg
// builds others.
func newRig(t *testing.T, dlqURL string) *rig {
	t.Helper()
	cfg := awstest.Require(t)
	z := zohotest.Start(t, zohosim.Options{}, 1)
	svc, err := convert.New(convert.Config{Zoho: z.Client, Store: memstore.New(), Now: z.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sqsClient := sqs.NewFromConfig(cfg)
	if dlqURL == "" {
		dlqURL = awstest.CreateQueue(t, cfg)
	}
	c := sqsbatch.Config{Converter: svc, DeadLetter: sqsqueue.NewDeadLetter(sqsClient, dlqURL), APIVersion: "v7", DefaultOwner: zohotest.Owner}
	return &rig{sim: z.Sim, sqs: sqsClient, dlqURL: dlqURL, cfg: c, consumer: sqsbatch.NewConsumer(c)}
}

func batch(bodies ...string) []lambdaio.SQSMessage {
	var msgs []lambdaio.SQSMessage
	for i, b := range bodies {
		msgs = append(msgs, lambdaio.SQSMessage{MessageID: fmt.Sprintf("m%02d", i), Body: b, EventSource: "aws:sqs"})
	}
	return msgs
}

// deadLetters drains the DLQ: message body -> error_code attribute.
func (r *rig) deadLetters(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for {
		res, err := r.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.dlqURL),
			MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			code := aws.ToString(m.MessageAttributes["error_code"].StringValue)
			if aws.ToString(m.MessageAttributes["error_reason"].StringValue) == "" || m.MessageAttributes["source_message_id"].StringValue == nil {
				t.Errorf("dead letter %q lacks its reason or source", aws.ToString(m.Body))
			}
			out[aws.ToString(m.Body)] = code
			_, _ = r.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(r.dlqURL), ReceiptHandle: m.ReceiptHandle})
		}
	}
}

func failures(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}

// TestMalformedMessagesAreDeadLettered: every kind of bad body goes to the
// DLQ with its reason, and the rest of the batch is unaffected.
func TestMalformedMessagesAreDeadLettered(t *testing.T) {
	r := newRig(t, "")
	ids := r.sim.SeedLeadRange(3)
	bad := map[string]string{
		`not json`:                      "INVALID_REQUEST",
		`{"ids":[3652397000001000001]}`: "INVALID_DATA",
		`{"ids":["1"],"owner":"x"}`:     "INVALID_DATA",
		`{"ids":[]}`:                    "MANDATORY_NOT_FOUND",
		`{"ids":["1","1"]}`:             "DUPLICATE_DATA",
		`{"ids":["1"],"Deals":{"Deal_Name":"A","Closing_Date":"2026-01-31"}}`:                                                                                        "MANDATORY_NOT_FOUND",
		`{"ids":["1"],"Deals":{"Deal_Name":"A","Stage":"B","Closing_Date":"2026-02-30"}}`:                                                                            "INVALID_DATA",
		`{"ids":["1"],"related_modules":[{"api_name":"Tasks","id":"1"},{"api_name":"Calls","id":"2"},{"api_name":"Events","id":"3"},{"api_name":"Tasks","id":"4"}]}`: "LIMIT_EXCEEDED",
		`{"ids":["1"],"move_attachments_to":{"api_name":"Leads","id":"1"}}`:                                                                                          "INVALID_DATA",
	}
	bodies := []string{`{"ids":["` + ids[0] + `"]}`, `{"ids":["` + ids[1] + `","` + ids[2] + `"]}`}
	for b := range bad {
		bodies = append(bodies, b)
	}
	resp := r.consumer.Handle(context.Background(), batch(bodies...))
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch item failures %v; bad messages must be dead-lettered, not retried", failures(resp))
	}
	got := r.deadLetters(t)
	for body, code := range bad {
		if got[body] != code {
			t.Errorf("%s: dead-lettered with %q, want %q", body, got[body], code)
		}
	}
	if len(got) != len(bad) {
		t.Errorf("%d dead letters, want %d", len(got), len(bad))
	}
	if st := r.sim.Stats(); st.IDsSubmitted != 3 || st.Calls[zohosim.EndpointMassConvert] != 1 {
		t.Fatalf("the good messages: %d ids in %d calls; want 3 in 1", st.IDsSubmitted, st.Calls[zohosim.EndpointMassConvert])
	}
}

func TestThrottledMessagesAreRetried(t *testing.T) {
	r := newRig(t, "")
	ids := r.sim.SeedLeadRange(2)
	r.sim.Script(zohosim.EndpointMassConvert, zohosim.Fault{Kind: zohosim.TooManyRequestsLegacy})
	resp := r.consumer.Handle(context.Background(), batch(`{"ids":["`+ids[0]+`"]}`, `{"ids":["`+ids[1]+`"]}`))
	if got := failures(resp); !slices.Equal(got, []string{"m00", "m01"}) {
		t.Fatalf("failures %v, want both messages", got)
	}
	if n := len(r.deadLetters(t)); n != 0 {
		t.Fatalf("%d dead letters for a throttle", n)
	}
}

func TestZohoRefusalIsDeadLettered(t *testing.T) {
	r := newRig(t, "")
	ids := r.sim.SeedLeadRange(1)
	body := `{"ids":["` + ids[0] + `"],"assign_to":{"id":"3652397000000000404"}}`
	resp := r.consumer.Handle(context.Background(), batch(body))
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v", failures(resp))
	}
	if got := r.deadLetters(t); got[body] != "INVALID_DATA" {
		t.Fatalf("dead letters %v", got)
	}
}

// TestDefaultOwner: a message without assign_to gets the deployment's
// default owner before its options are fingerprinted, so it shares its call
// with a message naming that owner itself; without a default it is
// dead-lettered at once, and Zoho is never asked.
func TestDefaultOwner(t *testing.T) {
	r := newRig(t, "")
	ids := r.sim.SeedLeadRange(4)
	named := zohotest.Body(ids[1])
	resp := r.consumer.Handle(context.Background(), batch(`{"ids":["`+ids[0]+`"]}`, named, `{"ids":["`+ids[2]+`"],"assign_to":null}`))
	if len(resp.BatchItemFailures) != 0 || len(r.deadLetters(t)) != 0 {
		t.Fatalf("failures %v", failures(resp))
	}
	jobs := r.sim.Jobs()
	if len(jobs) != 1 || len(jobs[0].IDs) != 3 {
		t.Fatalf("jobs %+v; want the three leads in one call", jobs)
	}
	if want := `"assign_to":{"id":"` + zohotest.Owner + `"}`; !strings.Contains(string(jobs[0].Body), want) {
		t.Errorf("Zoho received %s; want %s", jobs[0].Body, want)
	}

	strict := r.cfg
	strict.DefaultOwner = ""
	body := `{"ids":["` + ids[3] + `"]}`
	resp = sqsbatch.NewConsumer(strict).Handle(context.Background(), batch(body))
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v; a request without an owner cannot succeed later", failures(resp))
	}
	if got := r.deadLetters(t); got[body] != "MANDATORY_NOT_FOUND" {
		t.Fatalf("dead letters %v; want the request without an owner as MANDATORY_NOT_FOUND", got)
	}
	if n := r.sim.Stats().Calls[zohosim.EndpointMassConvert]; n != 1 {
		t.Errorf("%d mass_convert calls; the request without an owner must not reach Zoho", n)
	}
}

// TestUnreachableDeadLetterQueueRetries: a message is never dropped, even
// when the DLQ cannot take it.
func TestUnreachableDeadLetterQueueRetries(t *testing.T) {
	r := newRig(t, "http://127.0.0.1:1/000000000000/missing")
	resp := r.consumer.Handle(context.Background(), batch(`{"ids":"oops"}`))
	if got := failures(resp); !slices.Equal(got, []string{"m00"}) {
		t.Fatalf("failures %v, want the message handed back", got)
	}
}

// stepConverter answers each submission with the verdict its first lead
// names, and panics where it is told to.
type stepConverter struct {
	panicIn string // "accumulate" or "wake"
}

func (c stepConverter) Accumulate(_ context.Context, subs []convert.Submission) []convert.Result {
	if c.panicIn == "accumulate" {
		panic("a bug in Accumulate")
	}
	out := make([]convert.Result, len(subs))
	for i, s := range subs {
		out[i] = convert.Result{Source: s.Source}
		if s.Request.IDs[0] == "2" {
			out[i].Verdict = convert.TryLater
		}
	}
	return out
}

func (c stepConverter) Wake(context.Context, []convert.Wakeup) []convert.Verdict {
	panic("a bug in Wake")
}

// TestPanicHandsBackUnansweredMessages: after a panic the batch answer
// still holds: messages already done or dead-lettered stay so, those
// handed back stay handed back once, and every message without a verdict
// is handed back; the panic is logged with its stack.
func TestPanicHandsBackUnansweredMessages(t *testing.T) {
	wake := convert.WakeBody(convert.Wakeup{Key: jobs.BatchKey{Fingerprint: "f", Gen: 1}})
	msgs := batch(`{"ids":"oops"}`, zohotest.Body("1"), zohotest.Body("2"), wake, zohotest.Body("3"), wake)
	for _, tc := range []struct {
		panicIn string
		want    []string
	}{
		{"accumulate", []string{"m01", "m02", "m03", "m04", "m05"}}, // only the invalid m00 has its verdict
		{"wake", []string{"m02", "m03", "m05"}},                     // m01 and m04 are done, m02 handed back once
	} {
		t.Run(tc.panicIn, func(t *testing.T) {
			var logs bytes.Buffer
			dead := &sqsbatch.MemoryDeadLetter{}
			c := sqsbatch.NewConsumer(sqsbatch.Config{Converter: stepConverter{panicIn: tc.panicIn}, DeadLetter: dead,
				APIVersion: "v7", Logger: obs.NewLogger(&logs, slog.LevelInfo)})
			resp := c.Handle(context.Background(), msgs)
			if got := failures(resp); !slices.Equal(got, tc.want) {
				t.Errorf("handed back %v; want %v", got, tc.want)
			}
			if l := dead.Letters(); len(l) != 1 || l[0].MessageID != "m00" {
				t.Errorf("dead letters %+v; want m00's", l)
			}
			if l := logs.String(); !strings.Contains(l, `"msg":"panic recovered"`) || !strings.Contains(l, "stepConverter") {
				t.Errorf("the panic is not logged with its stack:\n%s", l)
			}
		})
	}
}

// TestDeadLetterKeepsTheRequestID: an API request dead-lettered carries its
// request id in the letter, so a redrive puts it back on the message and
// GET /requests/{id} still follows the leads.
func TestDeadLetterKeepsTheRequestID(t *testing.T) {
	r := newRig(t, "")
	msgs := batch(`{"ids": ["0123"]}`)
	msgs[0].MessageAttributes.RequestID.StringValue = "Xk3vQjRAIAMEbWQ="
	r.consumer.Handle(context.Background(), msgs)
	res, err := r.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.dlqURL),
		MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1 || aws.ToString(res.Messages[0].MessageAttributes["request_id"].StringValue) != "Xk3vQjRAIAMEbWQ=" {
		t.Fatalf("dead letters %+v; want one carrying request_id", res.Messages)
	}
}

// sources records the sources of the submissions it is given.
type sources struct{ got []string }

func (c *sources) Accumulate(_ context.Context, subs []convert.Submission) []convert.Result {
	out := make([]convert.Result, len(subs))
	for i, s := range subs {
		c.got = append(c.got, s.Source)
		out[i] = convert.Result{Source: s.Source}
	}
	return out
}

func (c *sources) Wake(context.Context, []convert.Wakeup) []convert.Verdict { return nil }

// TestSourceNamesTheRequest: a message without a request id is its SQS
// message id; an API request's is api:<id>; a sweep's message names
// itself (sweep:NAME:RUN:N), so its jobs' sources say which run it was.
func TestSourceNamesTheRequest(t *testing.T) {
	msgs := batch(zohotest.Body("1"), zohotest.Body("2"), zohotest.Body("3"))
	msgs[1].MessageAttributes.RequestID.StringValue = "Xk3vQjRAIAMEbWQ="
	msgs[2].MessageAttributes.RequestID.StringValue = "sweep:nightly:2026-11-28T02:00:00Z:1"
	conv := &sources{}
	c := sqsbatch.NewConsumer(sqsbatch.Config{Converter: conv, DeadLetter: &sqsbatch.MemoryDeadLetter{}, APIVersion: "v7"})
	c.Handle(context.Background(), msgs)
	if want := []string{"m00", "api:Xk3vQjRAIAMEbWQ=", "sweep:nightly:2026-11-28T02:00:00Z:1"}; !slices.Equal(conv.got, want) {
		t.Errorf("sources %v, want %v", conv.got, want)
	}
}

// wakes records what it is asked to convert and to wake.
type wakes struct {
	subs  int
	woken []convert.Wakeup
}

func (c *wakes) Accumulate(_ context.Context, subs []convert.Submission) []convert.Result {
	c.subs += len(subs)
	out := make([]convert.Result, len(subs))
	for i, s := range subs {
		out[i] = convert.Result{Source: s.Source}
	}
	return out
}

func (c *wakes) Wake(_ context.Context, ws []convert.Wakeup) []convert.Verdict {
	c.woken = append(c.woken, ws...)
	return make([]convert.Verdict, len(ws))
}

// TestWakeupsAreToldByTheirKind: a message whose kind attribute says
// wake-up but whose body names no batch is dead-lettered as such, not
// converted nor refused as a request; a wake-up sent before wake-ups
// carried their kind is still one, by its body.
func TestWakeupsAreToldByTheirKind(t *testing.T) {
	c, dl := &wakes{}, &sqsbatch.MemoryDeadLetter{}
	consumer := sqsbatch.NewConsumer(sqsbatch.Config{Converter: c, DeadLetter: dl, APIVersion: "v7"})
	msgs := batch(`{"ids":["1"]}`, convert.WakeBody(convert.Wakeup{Key: jobs.BatchKey{Fingerprint: "f", Gen: 1}}))
	msgs[0].MessageAttributes.Kind.StringValue = convert.KindWake
	resp := consumer.Handle(context.Background(), msgs)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v", failures(resp))
	}
	if letters := dl.Letters(); len(letters) != 1 || letters[0].Code != "WAKE_INVALID" || letters[0].MessageID != "m00" {
		t.Fatalf("dead letters %+v, want m00 as WAKE_INVALID", letters)
	}
	if c.subs != 0 || len(c.woken) != 1 || c.woken[0].Key.Fingerprint != "f" {
		t.Fatalf("converted %d, woke %v; want nothing converted and the unmarked wake-up woken", c.subs, c.woken)
	}
}
