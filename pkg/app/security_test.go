package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
)

// httpEvent builds an HTTP API v2 event.
func httpEvent(method, path string, headers map[string]string, body string, b64 bool) json.RawMessage {
	if b64 {
		body = base64.StdEncoding.EncodeToString([]byte(body))
	}
	path, query, _ := strings.Cut(path, "?")
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + path, RawPath: path, RawQueryString: query, Headers: headers, Body: body, IsBase64Encoded: b64,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "sec-test", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "203.0.113.9"},
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

// TestNoSecretLeaks drives the convert function through good and hostile
// input, token refreshes and refusals, then scans every log line, metric,
// answer and dead letter for the secret values the run used.
func TestNoSecretLeaks(t *testing.T) {
	clock := zohosim.NewManualClock(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	sim := zohosim.New(zohosim.Options{Clock: clock})
	ids := sim.SeedLeadRange(30)
	url, stop := sim.Start()
	t.Cleanup(stop)
	cfg, err := config.LoadConvert(func(k string) string {
		return map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
			"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url, "LOG_LEVEL": "DEBUG"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	deps := app.NewEmbedded(sampleSecret(), clock.Now, &syncWriter{w: &out})
	fn, err := app.NewConvert(cfg, deps.Convert())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var answers []string
	invoke := func(raw json.RawMessage) any {
		t.Helper()
		res, err := fn.Invoke(ctx, raw)
		if err != nil {
			answers = append(answers, err.Error())
			return nil
		}
		b, _ := json.Marshal(res)
		answers = append(answers, string(b))
		return res
	}
	status := func(res any) int {
		t.Helper()
		r, ok := res.(events.APIGatewayV2HTTPResponse)
		if !ok {
			t.Fatalf("answer %T", res)
		}
		return r.StatusCode
	}
	good := map[string]string{"authorization": "Bearer " + sampleWebhookKey, "content-type": "application/json"}
	with := func(k, v string) map[string]string {
		h := map[string]string{"content-type": "application/json"}
		h[k] = v
		return h
	}

	// Webhook authentication.
	for name, h := range map[string]map[string]string{
		"missing":      {"content-type": "application/json"},
		"empty":        with("authorization", "Bearer "),
		"wrong length": with("x-webhook-key", sampleWebhookKey+"0"),
		"wrong":        with("x-webhook-key", strings.Repeat("x", len(sampleWebhookKey))),
		"prefix only":  with("authorization", "Bearer "+sampleWebhookKey[:8]),
	} {
		if got := status(invoke(httpEvent("POST", "/conversions", h, zohotest.Body(ids[0]), false))); got != 401 {
			t.Errorf("auth %s: %d, want 401", name, got)
		}
	}
	if got := status(invoke(httpEvent("POST", "/conversions?webhook_key="+sampleWebhookKey, map[string]string{}, `{}`, false))); got != 401 {
		t.Errorf("key in the query string: %d, want 401", got)
	}

	// Hostile input: each a clear 4xx, never a 5xx.
	hostile := map[string]struct {
		headers map[string]string
		body    string
		b64     bool
	}{
		"oversize":        {good, `{"ids":["` + strings.Repeat("9", 400<<10) + `"]}`, false},
		"deep nesting":    {good, strings.Repeat("[", 100000) + strings.Repeat("]", 100000), false},
		"non-UTF-8":       {good, "{\"ids\":[\"\xc3\x28\"]}", false},
		"numeric ids":     {good, `{"ids":[3652397000001000001]}`, false},
		"10,000 ids":      {good, `{"ids":["` + strings.Repeat(`1","`, 9999) + `1"]}`, false},
		"unknown keys":    {good, `{"ids":["1"],"client_secret":"x"}`, false},
		"wrong type":      {with("authorization", "Bearer "+sampleWebhookKey), `ids=1`, false},
		"malformed b64":   {good, "", false},
		"text/plain":      {map[string]string{"authorization": "Bearer " + sampleWebhookKey, "content-type": "text/plain"}, `{"ids":["1"]}`, false},
		"base64 of junk":  {good, "\x00\x01\x02", true},
		"empty body":      {good, ``, false},
		"null":            {good, `null`, false},
		"ids not strings": {good, `{"ids":[{"id":"1"}]}`, false},
	}
	for name, h := range hostile {
		raw := httpEvent("POST", "/conversions", h.headers, h.body, h.b64)
		if name == "malformed b64" {
			raw = bytes.Replace(raw, []byte(`"isBase64Encoded":false`), []byte(`"isBase64Encoded":true`), 1)
			raw = bytes.Replace(raw, []byte(`"body":""`), []byte(`"body":"@@not base64@@"`), 1)
		}
		if got := status(invoke(raw)); got < 400 || got > 499 {
			t.Errorf("%s: %d, want a 4xx", name, got)
		}
	}

	// Good requests (converted at once, ?wait=true, so that they meet Zoho
	// here), a revoked token mid-run, a throttled refresh, and SQS messages
	// that end in the dead-letter queue.
	if got := status(invoke(httpEvent("POST", "/conversions", good, zohotest.Body(ids[5]), false))); got != 202 {
		t.Fatalf("a queued request: %d", got)
	}
	if got := status(invoke(httpEvent("POST", "/conversions?wait=true", good, zohotest.Body(ids[1]), false))); got != 202 {
		t.Fatalf("good request: %d", got)
	}
	for _, tok := range sim.IssuedTokens() {
		sim.InvalidateToken(tok)
	}
	if got := status(invoke(httpEvent("POST", "/conversions?wait=true", good, zohotest.Body(ids[2]), true))); got != 202 {
		t.Fatalf("after a revoked token: %d", got)
	}
	clock.Advance(2 * time.Hour)
	sim.Script(zohosim.EndpointToken, zohosim.Fault{Kind: zohosim.AccessDenied})
	if got := status(invoke(httpEvent("POST", "/conversions?wait=true", good, zohotest.Body(ids[3]), false))); got != 503 {
		t.Fatalf("throttled refresh: %d, want 503", got)
	}
	clock.Advance(time.Minute) // the queued request's wake-up is due
	if _, err := deps.Deliver(ctx, fn, 10); err != nil {
		t.Fatal(err)
	}
	invoke(json.RawMessage(fmt.Sprintf(`{"Records":[
		{"messageId":"a","eventSource":"aws:sqs","body":"{\"ids\":[\"%s\"],\"client_secret\":\"%s\"}"},
		{"messageId":"b","eventSource":"aws:sqs","body":"not json at all %s"}]}`, ids[4], zohosim.DefaultClientSecret, sampleWebhookKey)))

	// The status function, on the same stores and log: a revoked token
	// mid-run and a refused refresh.
	statusCfg, err := config.LoadStatus(func(k string) string {
		return map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
			"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url, "LOG_LEVEL": "DEBUG"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	statusFn, err := app.NewStatus(statusCfg, deps.Status())
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(20 * time.Minute) // past the Access Denied pause; the jobs are due
	for _, tok := range sim.IssuedTokens() {
		sim.InvalidateToken(tok)
	}
	sim.Script(zohosim.EndpointToken, zohosim.Fault{}, zohosim.Fault{Kind: zohosim.AccessDenied})
	checked := 0
	for range 3 {
		res, err := statusFn.Invoke(ctx, json.RawMessage(`{"source":"schedule"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res)
		answers = append(answers, string(b))
		var rep struct {
			Checked int `json:"checked"`
		}
		_ = json.Unmarshal(b, &rep)
		checked += rep.Checked
		clock.Advance(16 * time.Minute)
	}
	if checked == 0 {
		t.Fatal("the status function checked no job: its logs prove nothing")
	}

	letters := deps.DeadLetters.Letters()
	if len(letters) != 2 {
		t.Fatalf("%d dead letters, want 2", len(letters))
	}
	var haystack strings.Builder
	haystack.WriteString(out.String())
	for _, a := range answers {
		haystack.WriteString(a)
	}
	for _, l := range letters {
		haystack.WriteString(l.Code + l.Reason)
	}
	secrets := append([]string{zohosim.DefaultClientSecret, zohosim.DefaultRefreshToken, sampleWebhookKey}, sim.IssuedTokens()...)
	if len(secrets) < 5 {
		t.Fatalf("only %d secrets to look for: the run issued too few tokens to prove anything", len(secrets))
	}
	for _, s := range secrets {
		if strings.Contains(haystack.String(), s) {
			t.Errorf("secret value %.8s... appears in logs, answers or dead letters", s)
		}
	}
	if !strings.Contains(out.String(), `"level":"DEBUG"`) && !strings.Contains(out.String(), `"level":"INFO"`) {
		t.Error("no log lines captured: the scan proves nothing")
	}
}
