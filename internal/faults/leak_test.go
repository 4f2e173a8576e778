package faults

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/aws/secretstore"
	"github.com/zoho-bridge/leadconvert/pkg/aws/sqsqueue"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
)

// awsInternals lists the marks of an AWS SDK error found in s: what a
// caller or a dead letter must never carry (the operation, the service's
// error, request ids, ARNs, the endpoint).
func awsInternals(s string, endpoints ...string) []string {
	var found []string
	for _, mark := range append([]string{"operation error", "DynamoDB", "TransactWriteItems", "GetItem",
		"StatusCode", "RequestID", "api error", "arn:aws", "ServiceUnavailable", "InternalFailure", "injected by the fault proxy"}, endpoints...) {
		if strings.Contains(s, mark) {
			found = append(found, mark)
		}
	}
	return found
}

// TestAWSErrorsStayInTheLog: when DynamoDB fails, the API's answer and the
// dead letter's error_reason give a plain reason; the SDK's error, which
// names the operation, the service's error code and the endpoint (and, for
// an access error, role and table ARNs), goes to the log only.
//
// It failed before: the 503 of POST /conversions ended with
// "nothing could be scheduled now; retry later: zoho mass_convert: no access
// token: zoho token: reading the shared token: table: ...: operation error
// DynamoDB: GetItem, ...", and the JOB_NOT_RECORDED letter's error_reason was
// the SDK's TransactWriteItems error.
func TestAWSErrorsStayInTheLog(t *testing.T) {
	for _, tc := range []struct {
		name string
		// proxied says which store reaches moto through the proxy; trip
		// says when the proxy goes down (nil: from the start).
		tokensProxied bool
		trip          func(r *http.Request, body []byte) bool
		// run drives the function and returns what a caller or an
		// operator sees: the answer, or the dead letter's reason.
		run func(t *testing.T, r *leakRig) string
	}{
		{
			name:          "503 of a synchronous request when the shared token cannot be read",
			tokensProxied: true,
			run: func(t *testing.T, r *leakRig) string {
				ev := apiPost(`{"ids":["` + r.leads[0] + `"]}`)
				res, err := r.fn.Invoke(context.Background(), ev)
				if err != nil {
					t.Fatal(err)
				}
				v2 := res.(events.APIGatewayV2HTTPResponse)
				if v2.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("answer %d %s; want 503", v2.StatusCode, v2.Body)
				}
				return v2.Body
			},
		},
		{
			name: "dead letter of a job the table could not record",
			trip: func(req *http.Request, body []byte) bool {
				return strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".TransactWriteItems") && strings.Contains(string(body), `"JOB#`)
			},
			run: func(t *testing.T, r *leakRig) string {
				res, err := r.fn.Invoke(context.Background(), testkit.SQSEvent(testkit.SQSMessage{ID: "m1", Body: `{"ids":["` + r.leads[0] + `"]}`}))
				if err != nil {
					t.Fatal(err)
				}
				if f := res.(events.SQSEventResponse).BatchItemFailures; len(f) != 1 {
					t.Fatalf("batch failures %v; the message is handed back, so that its lead is followed", f)
				}
				code, reason := r.deadLetter(t)
				if code != "JOB_NOT_RECORDED" {
					t.Fatalf("dead letter %s: %s; want JOB_NOT_RECORDED", code, reason)
				}
				return reason
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newLeakRig(t, tc.tokensProxied)
			if tc.trip == nil {
				r.proxy.SetDown(true)
			} else {
				r.proxy.TripOn(tc.trip)
			}
			seen := tc.run(t, r)
			t.Logf("seen: %s", seen)
			if marks := awsInternals(seen, r.proxyURL); len(marks) > 0 {
				t.Errorf("what the caller sees carries AWS internals %q:\n%s", marks, seen)
			}
			if logs := string(r.out.bytes()); len(awsInternals(logs)) == 0 {
				t.Errorf("the SDK's error is not in the log:\n%s", logs)
			}
		})
	}
}

// leakRig is one convert function on moto that converts at once (no queue).
// The job store, or the token store, reaches DynamoDB through a fault proxy;
// the secret, the dead-letter queue and the other store reach moto directly.
type leakRig struct {
	fn       *app.Convert
	proxy    *Proxy
	proxyURL string
	leads    []string
	out      *syncBuf
	sqs      *sqs.Client
	dlqURL   string
}

func newLeakRig(t *testing.T, tokensProxied bool) *leakRig {
	t.Helper()
	cfg := awstest.Require(t)
	tableName := awstest.CreateTableFromTemplate(t, cfg, "JobsTable")
	r := &leakRig{out: &syncBuf{}, sqs: sqs.NewFromConfig(cfg), dlqURL: awstest.CreateQueue(t, cfg)}
	arn := awstest.CreateSecret(t, cfg, simSecret())

	p, err := NewProxy(aws.ToString(cfg.BaseEndpoint), seed)
	if err != nil {
		t.Fatal(err)
	}
	url, stop, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	r.proxy, r.proxyURL = p, strings.TrimPrefix(url, "http://")
	pcfg := cfg.Copy()
	pcfg.BaseEndpoint = aws.String(url)
	pcfg.Retryer = func() aws.Retryer { // the SDK's 3 attempts, without its seconds of backoff
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxBackoff = 20 * time.Millisecond
			o.RateLimiter = ratelimit.None
		})
	}
	direct, proxied := awstest.CheckExpressions(t, table.NewClient(cfg)), awstest.CheckExpressions(t, table.NewClient(pcfg))
	jobsAPI, tokensAPI := proxied, direct
	if tokensProxied {
		jobsAPI, tokensAPI = direct, proxied
	}

	clock := zohosim.NewManualClock(t0)
	sim := zohosim.New(zohosim.Options{Clock: clock})
	r.leads = sim.SeedLeadRange(3)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	key := awstest.CreateKey(t, cfg)
	env := map[string]string{"ZOHO_SECRET_ID": arn, "JOBS_TABLE": tableName, "DEAD_LETTER_QUEUE_URL": r.dlqURL,
		"ZOHO_ACCOUNTS_URL": srv.URL, "ZOHO_API_URL": srv.URL, "TOKEN_KEY_ID": key, "DEFAULT_OWNER_ID": zohotest.Owner}
	cc, err := config.LoadConvert(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	r.fn, err = app.NewConvert(cc, app.ConvertDeps{
		Shared: app.Shared{
			Secret: secret.NewCache(secretstore.New(secretsmanager.NewFromConfig(cfg), arn), secret.CacheConfig{}),
			Tokens: table.NewTokenStore(tokensAPI, tableName, kmsseal.New(kms.NewFromConfig(cfg), key)), Now: clock.Now, Out: r.out,
		},
		Jobs:       table.NewJobStore(jobsAPI, tableName),
		DeadLetter: sqsqueue.NewDeadLetter(r.sqs, r.dlqURL),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// deadLetter reads the one letter the queue holds: its error_code and
// error_reason attributes.
func (r *leakRig) deadLetter(t *testing.T) (code, reason string) {
	t.Helper()
	res, err := r.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.dlqURL),
		MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1 {
		t.Fatalf("%d dead letters; want 1", len(res.Messages))
	}
	a := res.Messages[0].MessageAttributes
	return aws.ToString(a["error_code"].StringValue), aws.ToString(a["error_reason"].StringValue)
}

// apiPost is an HTTP API POST /conversions with the webhook key.
func apiPost(body string) json.RawMessage {
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /conversions", RawPath: "/conversions", Body: body,
		Headers: map[string]string{"authorization": "Bearer fault-suite-webhook-key", "content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "leak-test", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/conversions", SourceIP: "203.0.113.9"}},
	}
	b, _ := json.Marshal(ev)
	return b
}
