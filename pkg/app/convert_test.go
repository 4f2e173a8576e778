package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// SampleWebhookKey is the key the sample events in events/ present.
const sampleWebhookKey = "sample-webhook-key-change-me"

func sampleSecret() string { return zohotest.SecretJSON(sampleWebhookKey) }

// convertRig is the convert function on embedded dependencies and the
// simulator, as the local run wires it: fleet-wide batching through the
// in-memory queue, on the simulator's clock.
type convertRig struct {
	fn    *app.Convert
	sim   *zohosim.Server
	clock *zohosim.ManualClock
	deps  *app.Embedded
	out   *bytes.Buffer
	url   string // the simulator's
}

func newConvert(t *testing.T) *convertRig {
	t.Helper()
	return newConvertWithSecret(t, sampleSecret())
}

// newConvertWithSecret is newConvert around the secret secretJSON.
func newConvertWithSecret(t *testing.T, secretJSON string) *convertRig {
	t.Helper()
	clock := zohosim.NewManualClock(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	sim := zohosim.New(zohosim.Options{Clock: clock})
	sim.SeedLeadRange(20)
	url, stop := sim.Start()
	t.Cleanup(stop)
	cfg, err := config.LoadConvert(func(k string) string {
		return map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
			"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url, "MAX_WAIT_SECONDS": "60", "BATCHING_WINDOW_SECONDS": "20",
			// Requests without assign_to (the webhooks below) get the simulator's user.
			"DEFAULT_OWNER_ID": zohotest.Owner}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	deps := app.NewEmbedded(secretJSON, clock.Now, &syncWriter{w: &out})
	fn, err := app.NewConvert(cfg, deps.Convert())
	if err != nil {
		t.Fatal(err)
	}
	return &convertRig{fn: fn, sim: sim, clock: clock, deps: deps, out: &out, url: url}
}

func (r *convertRig) invoke(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	res, err := r.fn.Invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// deliver lets the queue's wake-ups come due and hands everything over.
func (r *convertRig) deliver(t *testing.T, wait time.Duration) {
	t.Helper()
	r.clock.Advance(wait)
	if _, err := r.deps.Deliver(context.Background(), r.fn, 1000); err != nil {
		t.Fatal(err)
	}
}

func (r *convertRig) calls() int { return r.sim.Stats().Calls[zohosim.EndpointMassConvert] }

// TestSampleEventsAreAccepted feeds every sample event of events/ through
// the convert function's real handler.
func TestSampleEventsAreAccepted(t *testing.T) {
	r := newConvert(t)
	res := r.invoke(t, testkit.SampleEvent(t, "sqs-batch.json"))
	if sqsRes := res.(events.SQSEventResponse); len(sqsRes.BatchItemFailures) != 0 {
		t.Fatalf("SQS batch failures: %v", sqsRes.BatchItemFailures)
	}
	if n := r.calls(); n != 0 {
		t.Fatalf("%d calls before the wait; the sample's leads should wait for company", n)
	}
	r.deliver(t, time.Minute) // MaxWait: wake-ups have a queue of their own, without a batching window
	if n := r.calls(); n != 2 {
		t.Fatalf("%d calls for the sample batch; want 2 (two option sets)", n)
	}

	v2 := r.invoke(t, testkit.SampleEvent(t, "httpapi-post.json")).(events.APIGatewayV2HTTPResponse)
	var queued struct {
		RequestID string   `json:"request_id"`
		Status    string   `json:"status"`
		Accepted  []string `json:"accepted"`
	}
	if err := json.Unmarshal([]byte(v2.Body), &queued); v2.StatusCode != 202 || err != nil || queued.Status != "QUEUED" || len(queued.Accepted) == 0 {
		t.Fatalf("HTTP API POST: %d %s", v2.StatusCode, v2.Body)
	}
	if v1 := r.invoke(t, testkit.SampleEvent(t, "rest-post.json")).(events.APIGatewayProxyResponse); v1.StatusCode != 202 {
		t.Fatalf("REST API POST: %d %s", v1.StatusCode, v1.Body)
	}
	r.deliver(t, 0)
	r.deliver(t, time.Minute) // MaxWait: wake-ups have a queue of their own, without a batching window
	if n := r.calls(); n != 4 {
		t.Fatalf("%d calls after the two API requests; want one more for each (their options differ)", n)
	}

	lead := queued.Accepted[0]
	claims, err := r.deps.Jobs.Claims(context.Background(), []string{lead})
	if err != nil || len(claims) != 1 || claims[0].JobID == "" {
		t.Fatalf("lead %s: %+v, %v", lead, claims, err)
	}
	get := strings.ReplaceAll(string(testkit.SampleEvent(t, "httpapi-get-job.json")), "3652397000009835020", claims[0].JobID)
	if g := r.invoke(t, json.RawMessage(get)).(events.APIGatewayV2HTTPResponse); g.StatusCode != 200 || !strings.Contains(g.Body, `"status":"SCHEDULED"`) {
		t.Fatalf("GET job: %d %s", g.StatusCode, g.Body)
	}

	if !strings.Contains(r.out.String(), `"_aws"`) || !strings.Contains(r.out.String(), `"JobsScheduled"`) {
		t.Error("no EMF metrics written")
	}
	if strings.Contains(r.out.String(), sampleWebhookKey) || strings.Contains(r.out.String(), zohosim.DefaultClientSecret) {
		t.Error("a secret reached the logs")
	}
}

// TestWebhooksShareCalls is the webhook integration: single-lead requests
// arriving one by one are answered at once and meet in the queue; a
// request's leads can be followed to their job.
func TestWebhooksShareCalls(t *testing.T) {
	r := newConvert(t)
	ids := r.sim.SeedLeadRange(60)
	var requestIDs []string
	for i, id := range ids {
		ev := httpEvent("POST", "/conversions", map[string]string{"authorization": "Bearer " + sampleWebhookKey,
			"content-type": "application/json"}, `{"ids":["`+id+`"]}`, false)
		ev = json.RawMessage(strings.Replace(string(ev), `"requestId":"sec-test"`, fmt.Sprintf(`"requestId":"hook-%03d"`, i), 1))
		res := r.invoke(t, ev).(events.APIGatewayV2HTTPResponse)
		if res.StatusCode != 202 {
			t.Fatalf("webhook %d: %d %s", i, res.StatusCode, res.Body)
		}
		requestIDs = append(requestIDs, fmt.Sprintf("hook-%03d", i))
		if i%10 == 9 {
			r.deliver(t, 5*time.Second) // the event source gathers a few at a time
		}
	}
	if n := r.calls(); n != 1 {
		t.Fatalf("%d calls after 60 webhooks; want 1 full call and 10 leads waiting", n)
	}
	follow := func(id string) string {
		g := r.invoke(t, httpEvent("GET", "/requests/"+id, map[string]string{"authorization": "Bearer " + sampleWebhookKey}, "", false))
		return g.(events.APIGatewayV2HTTPResponse).Body
	}
	if body := follow(requestIDs[59]); !strings.Contains(body, `"state":"QUEUED"`) {
		t.Fatalf("a waiting lead: %s", body)
	}
	r.deliver(t, time.Minute)
	if n := r.calls(); n != 2 {
		t.Fatalf("%d calls once the wait ran out; want 2", n)
	}
	for _, id := range []string{requestIDs[0], requestIDs[59]} {
		if body := follow(id); !strings.Contains(body, `"state":"SCHEDULED"`) || !strings.Contains(body, `"job_id"`) {
			t.Fatalf("request %s: %s", id, body)
		}
	}
	if st := r.sim.Stats(); st.IDsSubmitted != 60 || st.DuplicateSubmissions != 0 {
		t.Fatalf("%d ids submitted, %d twice", st.IDsSubmitted, st.DuplicateSubmissions)
	}
}

func TestUnrecognisedEventNamesWhatCame(t *testing.T) {
	fn := newConvert(t).fn
	_, err := fn.Invoke(context.Background(), json.RawMessage(`{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"secret stuff"}}]}`))
	if err == nil || strings.Contains(err.Error(), "secret stuff") {
		t.Fatalf("err = %v", err)
	}
	if _, err := fn.Invoke(context.Background(), testkit.SampleEvent(t, "sqs-batch.json")[:40]); err == nil {
		t.Fatal("truncated event accepted")
	}
}

// TestAPIRequestIDIsAPIGateways: the request's id is API Gateway's, unique
// and in its access logs; a caller's X-Request-Id is only logged beside it.
func TestAPIRequestIDIsAPIGateways(t *testing.T) {
	rig := newConvert(t)
	fn, out := rig.fn, rig.out
	var ev map[string]any
	if err := json.Unmarshal(testkit.SampleEvent(t, "httpapi-post.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev["headers"].(map[string]any)["x-request-id"] = "caller-chosen-id"
	gatewayID := ev["requestContext"].(map[string]any)["requestId"].(string)
	raw, _ := json.Marshal(ev)
	res, err := fn.Invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		RequestID string `json:"request_id"`
	}
	v2 := res.(events.APIGatewayV2HTTPResponse)
	if err := json.Unmarshal([]byte(v2.Body), &body); err != nil || body.RequestID != gatewayID {
		t.Fatalf("answer %d %s; want request_id %q", v2.StatusCode, v2.Body, gatewayID)
	}
	logs := out.String()
	if !strings.Contains(logs, `"request_id":"`+gatewayID+`"`) || !strings.Contains(logs, `"caller_request_id":"caller-chosen-id"`) {
		t.Errorf("logs lack the request ids:\n%s", logs)
	}
}

// TestOneBudgetForTheDeployment: SQS batches, synchronous API requests and
// the status function, busy at once on two convert instances, never hold
// more Zoho calls in flight than ZOHO_CONCURRENCY_BUDGET.
func TestOneBudgetForTheDeployment(t *testing.T) {
	clock := zohosim.NewManualClock(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	sim := zohosim.New(zohosim.Options{Clock: clock, Latency: 5 * time.Millisecond})
	ids := sim.SeedLeadRange(1000)
	url, stop := sim.Start()
	t.Cleanup(stop)
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded", "ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url,
		"ZOHO_CONCURRENCY_BUDGET": "3", "MAX_ZOHO_CONCURRENCY": "4", "STATUS_CONCURRENCY": "5"}
	convertCfg, err := config.LoadConvert(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	statusCfg, err := config.LoadStatus(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	deps := app.NewEmbedded(sampleSecret(), clock.Now, io.Discard)
	var fleet []*app.Convert
	for range 2 {
		fn, err := app.NewConvert(convertCfg, deps.Convert())
		if err != nil {
			t.Fatal(err)
		}
		fleet = append(fleet, fn)
	}
	statusFn, err := app.NewStatus(statusCfg, deps.Status())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Some jobs for the status function to check while the rest converts.
	first, err := fleet[0].Invoke(ctx, testkit.SQSEvent(testkit.SQSMessage{ID: "m0", Body: zohotest.Body(ids[:200]...)}))
	if err != nil || len(first.(events.SQSEventResponse).BatchItemFailures) != 0 {
		t.Fatalf("first batch: %v %v", first, err)
	}
	clock.Advance(time.Minute)
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = fleet[0].Invoke(ctx, testkit.SQSEvent(testkit.SQSMessage{ID: "m1", Body: zohotest.Body(ids[200:600]...)}))
	})
	wg.Go(func() {
		body := zohotest.Body(ids[600:1000]...)
		_, _ = fleet[1].Invoke(ctx, httpEvent("POST", "/conversions?wait=true",
			map[string]string{"authorization": "Bearer " + sampleWebhookKey, "content-type": "application/json"}, body, false))
	})
	wg.Go(func() { _, _ = statusFn.Invoke(ctx, json.RawMessage(`{}`)) })
	wg.Wait()
	st := sim.Stats()
	if st.MaxInFlight > 3 || st.MaxInFlight < 2 {
		t.Fatalf("most CRM calls in flight %d; want at most the budget, 3 (and at least 2, or nothing ran at once)", st.MaxInFlight)
	}
	if n := st.Calls[zohosim.EndpointMassConvert]; n != 20 {
		t.Fatalf("%d mass_convert calls; want 20 for 1,000 leads", n)
	}
}

// TestLostWakeupIsSentByTheStatusRun: a generation whose wake-up was lost
// (received and deleted by nobody who sent it) is woken by the next status
// run once its first lead waited past MaxWait and the grace, and converts.
func TestLostWakeupIsSentByTheStatusRun(t *testing.T) {
	r := newConvert(t)
	ctx := context.Background()
	ids := r.sim.SeedLeadRange(3)
	if err := r.deps.Queue.Enqueue(ctx, zohotest.Body(ids...), ""); err != nil {
		t.Fatal(err)
	}
	r.deliver(t, 0)
	r.clock.Advance(time.Minute)
	if _, lost := r.deps.Wakes.Receive(10); len(lost) != 1 {
		t.Fatalf("%d wake-ups; want the generation's one", len(lost))
	} else {
		r.deps.Wakes.Delete(lost, events.SQSEventResponse{}) // an invocation died with it
	}
	statusCfg, err := config.LoadStatus(func(k string) string {
		return map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
			"ZOHO_API_URL": r.url, "ZOHO_ACCOUNTS_URL": r.url, "MAX_WAIT_SECONDS": "60", "CONVERSION_QUEUE_URL": "embedded"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	status, err := app.NewStatus(statusCfg, r.deps.Status())
	if err != nil {
		t.Fatal(err)
	}
	run := func() jobcheck.Report {
		t.Helper()
		rep, err := status.Invoke(ctx, json.RawMessage(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		return rep.(jobcheck.Report)
	}
	if rep := run(); rep.Parked != 1 || rep.Rewoken != 0 {
		t.Fatalf("a run within the grace: %+v; want the generation seen, not woken", rep)
	}
	r.clock.Advance(jobcheck.SafetyGrace)
	if rep := run(); rep.Rewoken != 1 {
		t.Fatalf("a run past the grace: %+v; want the generation woken", rep)
	}
	r.deliver(t, 0)
	if n := r.calls(); n != 1 {
		t.Fatalf("%d calls; want the stranded generation sent", n)
	}
	if rep := run(); rep.Parked != 0 {
		t.Fatalf("after the wake-up: %+v; want nothing parked", rep)
	}
}

// TestEveryTemplateRouteIsServed: each HttpApi route of the template
// reaches a handler of the API (none answers "no such route"), and GET
// /sweeps/{name} reads the sweeps stored beside the jobs.
func TestEveryTemplateRouteIsServed(t *testing.T) {
	r := newConvert(t)
	s := sweep.Sweep{Name: "nightly", Schedule: "cron(0 2 * * ? *)", Condition: "Lead_Status = 'Qualified'", Enabled: true}
	if err := r.deps.Jobs.PutSweep(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"{job_id}": "3652397000009835001", "{request_id}": "req-1", "{lead_id}": "1001", "{name}": "nightly"}
	auth := map[string]string{"authorization": "Bearer " + sampleWebhookKey, "content-type": "application/json"}
	routes := 0
	for id, res := range loadTemplate(t).Resources {
		var fn struct {
			Events map[string]struct {
				Type       string `yaml:"Type"`
				Properties struct {
					Method string `yaml:"Method"`
					Path   string `yaml:"Path"`
				} `yaml:"Properties"`
			} `yaml:"Events"`
		}
		if res.Type != "AWS::Serverless::Function" || res.Properties.Decode(&fn) != nil {
			continue
		}
		for name, ev := range fn.Events {
			if ev.Type != "HttpApi" {
				continue
			}
			routes++
			path := ev.Properties.Path
			for k, v := range values {
				path = strings.ReplaceAll(path, k, v)
			}
			got := r.invoke(t, httpEvent(ev.Properties.Method, path, auth, `{"ids":["1001"]}`, false)).(events.APIGatewayV2HTTPResponse)
			if strings.Contains(got.Body, "INVALID_URL_PATTERN") || got.StatusCode >= 500 {
				t.Errorf("%s.%s %s %s: %d %s", id, name, ev.Properties.Method, path, got.StatusCode, got.Body)
			}
			if ev.Properties.Path == "/sweeps/{name}" && (got.StatusCode != 200 || !strings.Contains(got.Body, `"name":"nightly"`)) {
				t.Errorf("GET %s: %d %s", path, got.StatusCode, got.Body)
			}
		}
	}
	if routes < 5 {
		t.Errorf("%d HttpApi routes in the template; want at least 5", routes)
	}
}
