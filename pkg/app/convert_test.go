package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
)

// SampleWebhookKey is the key the sample events in events/ present.
const sampleWebhookKey = "sample-webhook-key-change-me"

func sampleSecret() string { return zohotest.SecretJSON(sampleWebhookKey) }

func newConvert(t *testing.T) (*app.Convert, *zohosim.Server, *bytes.Buffer) {
	t.Helper()
	clock := zohosim.NewManualClock(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	sim := zohosim.New(zohosim.Options{Clock: clock})
	sim.SeedLeadRange(20)
	url, stop := sim.Start()
	t.Cleanup(stop)
	cfg, err := config.LoadConvert(func(k string) string {
		return map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded",
			"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	fn, err := app.NewConvert(cfg, app.NewEmbedded(sampleSecret(), clock.Now, &syncWriter{w: &out}).Convert())
	if err != nil {
		t.Fatal(err)
	}
	return fn, sim, &out
}

// TestSampleEventsAreAccepted feeds every sample event of events/ through
// the convert function's real handler.
func TestSampleEventsAreAccepted(t *testing.T) {
	fn, sim, out := newConvert(t)
	ctx := context.Background()

	res, err := fn.Invoke(ctx, testkit.SampleEvent(t, "sqs-batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sqsRes := res.(events.SQSEventResponse); len(sqsRes.BatchItemFailures) != 0 {
		t.Fatalf("SQS batch failures: %v", sqsRes.BatchItemFailures)
	}
	if n := sim.Stats().Calls[zohosim.EndpointMassConvert]; n != 2 {
		t.Fatalf("%d calls for the sample batch; want 2 (two option sets)", n)
	}

	res, err = fn.Invoke(ctx, testkit.SampleEvent(t, "httpapi-post.json"))
	if err != nil {
		t.Fatal(err)
	}
	v2 := res.(events.APIGatewayV2HTTPResponse)
	if v2.StatusCode != 202 {
		t.Fatalf("HTTP API POST: %d %s", v2.StatusCode, v2.Body)
	}
	var accepted struct {
		Jobs []struct {
			JobID string `json:"job_id"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(v2.Body), &accepted); err != nil || len(accepted.Jobs) != 1 {
		t.Fatalf("202 body %s", v2.Body)
	}

	res, err = fn.Invoke(ctx, testkit.SampleEvent(t, "rest-post.json"))
	if err != nil {
		t.Fatal(err)
	}
	if v1 := res.(events.APIGatewayProxyResponse); v1.StatusCode != 202 {
		t.Fatalf("REST API POST: %d %s", v1.StatusCode, v1.Body)
	}

	get := strings.ReplaceAll(string(testkit.SampleEvent(t, "httpapi-get-job.json")), "3652397000009835020", accepted.Jobs[0].JobID)
	res, err = fn.Invoke(ctx, json.RawMessage(get))
	if err != nil {
		t.Fatal(err)
	}
	if g := res.(events.APIGatewayV2HTTPResponse); g.StatusCode != 200 || !strings.Contains(g.Body, `"status":"SCHEDULED"`) {
		t.Fatalf("GET job: %d %s", g.StatusCode, g.Body)
	}

	if !strings.Contains(out.String(), `"_aws"`) || !strings.Contains(out.String(), `"JobsScheduled"`) {
		t.Error("no EMF metrics written")
	}
	if strings.Contains(out.String(), sampleWebhookKey) || strings.Contains(out.String(), zohosim.DefaultClientSecret) {
		t.Error("a secret reached the logs")
	}
}

func TestUnrecognisedEventNamesWhatCame(t *testing.T) {
	fn, _, _ := newConvert(t)
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
	fn, _, out := newConvert(t)
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
