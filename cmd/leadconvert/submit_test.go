package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
)

// writeFile writes content to a file of the test's own and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// leadIDs are n distinct lead ids.
func leadIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("36523970000%08d", i+1)
	}
	return ids
}

// TestSubmitToQueue: the ids from each source, with the options, reach the
// conversion queue as the function's requests, 1,000 at most each; stdout
// holds the message ids and nothing else.
func TestSubmitToQueue(t *testing.T) {
	cfg := awstest.Require(t)
	api := sqs.NewFromConfig(cfg)
	options := writeFile(t, "options.json", `{"assign_to":{"id":"`+owner+`"},"Deals":{"Deal_Name":"Webinar","Stage":"Qualification","Closing_Date":"2026-12-31"}}`)
	many := leadIDs(2500)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  [][]string // the ids of each message, in order
		info  string
	}{
		{name: "--ids", args: []string{"--ids", "3652397000001000001, 3652397000001000002"},
			want: [][]string{{"3652397000001000001", "3652397000001000002"}}},
		{name: "stdin, duplicates dropped", stdin: "3652397000001000001\n3652397000001000002,3652397000001000001\r\n\n",
			want: [][]string{{"3652397000001000001", "3652397000001000002"}}, info: "1 duplicate id dropped"},
		{name: "--ids-file of 2,500 ids", args: []string{"--ids-file", writeFile(t, "ids.txt", strings.Join(many, "\n"))},
			want: [][]string{many[:1000], many[1000:2000], many[2000:]}, info: "Queued 2500 leads in 3 messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			queue := awstest.CreateQueue(t, cfg)
			args := append(append([]string{"submit", "--queue-url", queue, "--options", options}, motoArgs(cfg)...), tc.args...)
			code, out, errOut := runSubcommand(t, strings.NewReader(tc.stdin), args...)
			if code != exitOK || !strings.Contains(errOut, tc.info) || !strings.Contains(errOut, "leadconvert lead") {
				t.Fatalf("exit %d", code)
			}
			printed := strings.Fields(out)
			got := drain(t, api, queue)
			if len(printed) != len(tc.want) || len(got) != len(tc.want) {
				t.Fatalf("printed %d ids, queued %d messages; want %d", len(printed), len(got), len(tc.want))
			}
			// SQS does not keep order across messages: match by first id.
			slices.SortFunc(got, func(a, b queueMessage) int { return strings.Compare(a.body, b.body) })
			for i, m := range got {
				req, err := convert.DecodeJSON([]byte(m.body), "v7")
				if err != nil {
					t.Fatalf("message %d does not decode: %v", i, err)
				}
				if !slices.Equal(req.IDs, tc.want[i]) || req.AssignTo == nil || req.AssignTo.ID != owner || req.Deals == nil || m.requestID != "" {
					t.Fatalf("message %d: %d ids %v..., assign_to %v, request_id %q", i, len(req.IDs), req.IDs[:1], req.AssignTo, m.requestID)
				}
			}
		})
	}
}

// TestSubmitRefusesWhatTheFunctionWould: a request the decoder refuses
// exits 2 with its message, and nothing is sent, not even the valid part.
func TestSubmitRefusesWhatTheFunctionWould(t *testing.T) {
	cfg := awstest.Require(t)
	api := sqs.NewFromConfig(cfg)
	queue := awstest.CreateQueue(t, cfg)
	withOwner := writeFile(t, "options.json", `{"assign_to":{"id":"`+owner+`"}}`)
	badLast := append(leadIDs(1500), "0123")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a bad id", []string{"--ids", "3652397000001000001,12x", "--options", withOwner}, "$.ids[1]"},
		{"a bad id in the second request", []string{"--ids-file", writeFile(t, "ids", strings.Join(badLast, ",")), "--options", withOwner},
			"request 2 of 2 (ids 1001 to 1501): invalid conversion request: $.ids[500]"},
		{"no owner", []string{"--ids", "3652397000001000001"}, "$.assign_to: assign_to is required"},
		{"ids in the options", []string{"--ids", "3652397000001000001", "--options", writeFile(t, "o.json", `{"ids":["1"]}`)}, "has ids"},
		{"options not an object", []string{"--ids", "3652397000001000001", "--options", writeFile(t, "o.json", `[1]`)}, "want a JSON object"},
		{"an unknown option", []string{"--ids", "3652397000001000001", "--options", writeFile(t, "o.json", `{"assign_to":{"id":"1"},"Owner":"x"}`)}, "$.Owner: unknown key"},
		{"v8 only option on v7", []string{"--ids", "3652397000001000001", "--options", writeFile(t, "o.json", `{"assign_to":{"id":"1"},"apply_assignment_threshold":true}`)}, "apply_assignment_threshold"},
		{"no ids", []string{"--ids", " , "}, "no ids"},
		{"both id sources", []string{"--ids", "1", "--ids-file", "f"}, "give one of them"},
		{"unknown destination", []string{"--ids", "1", "--to", "lambda"}, "want queue or api"},
		{"api without a secret", []string{"--ids", "1", "--to", "api", "--api-url", "http://127.0.0.1:1"}, "no --secret"},
		{"an argument", []string{"3652397000001000001"}, "accepts 0 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"submit", "--queue-url", queue}, motoArgs(cfg)...), tc.args...)
			code, out, errOut := runSubcommand(t, strings.NewReader(""), args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) || out != "" {
				t.Fatalf("exit %d, want %d with %q on stderr and nothing on stdout", code, exitUsage, tc.want)
			}
		})
	}
	if got := drain(t, api, queue); len(got) != 0 {
		t.Fatalf("%d messages sent by refused requests", len(got))
	}
	// The deployment's default owner stands in for assign_to, as in the function.
	code, _, _ := runSubcommand(t, nil, append([]string{"submit", "--queue-url", queue, "--ids", "3652397000001000001",
		"--default-owner", owner}, motoArgs(cfg)...)...)
	if got := drain(t, api, queue); code != exitOK || len(got) != 1 || got[0].body != `{"ids":["3652397000001000001"]}` {
		t.Fatalf("with a default owner: exit %d, sent %q", code, got)
	}
}

// apiServer serves the convert function's real HTTP API on 127.0.0.1: each
// request goes through pkg/app's handler as the API Gateway v2 event
// lambdaio decodes, with the embedded table and queue and key as its secret.
func apiServer(t *testing.T, key string) (string, *app.Embedded) {
	t.Helper()
	sim := zohosim.New(zohosim.Options{})
	simURL, stop := sim.Start()
	t.Cleanup(stop)
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
		"ZOHO_ACCOUNTS_URL": simURL, "ZOHO_API_URL": simURL}
	cfg, err := config.LoadConvert(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	secretJSON := fmt.Sprintf(`{"client_id":%q,"client_secret":%q,"refresh_token":%q,"webhook_key":%q}`,
		zohosim.DefaultClientID, zohosim.DefaultClientSecret, zohosim.DefaultRefreshToken, key)
	deps := app.NewEmbedded(secretJSON, time.Now, io.Discard)
	fn, err := app.NewConvert(cfg, deps.Convert())
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		headers := map[string]string{}
		for k := range r.Header {
			headers[strings.ToLower(k)] = r.Header.Get(k)
		}
		ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: r.Method + " " + r.URL.Path, RawPath: r.URL.Path,
			Headers: headers, Body: string(body),
			RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: fmt.Sprintf("Sub%dReq=", n.Add(1)), Stage: "$default",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path, SourceIP: "127.0.0.1"}}}
		raw, _ := json.Marshal(ev)
		res, err := fn.Invoke(r.Context(), raw)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp := res.(events.APIGatewayV2HTTPResponse)
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.WriteString(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, deps
}

// TestSubmitToAPI: with the key from the secret on moto, the API records
// and queues each request, and submit prints the request ids it answered;
// a key the API does not take exits 1 with what to check; the key is never
// printed.
func TestSubmitToAPI(t *testing.T) {
	cfg := awstest.Require(t)
	const key = "the-webhook-key-4f1c9a"
	url, deps := apiServer(t, key)
	options := writeFile(t, "options.json", `{"assign_to":{"id":"`+owner+`"}}`)
	many := leadIDs(1200)
	good := awstest.CreateSecret(t, cfg, `{"client_id":"1000.X","client_secret":"s3cr3t-client","refresh_token":"1000.r3fresh","webhook_key":"`+key+`"}`)
	code, out, errOut := runSubcommand(t, strings.NewReader(strings.Join(many, "\n")), append([]string{"submit", "--to", "api",
		"--api-url", url + "/", "--secret", good, "--options", options}, motoArgs(cfg)...)...)
	if code != exitOK || strings.Contains(out+errOut, key) || strings.Contains(out+errOut, "s3cr3t") {
		t.Fatalf("exit %d, or a secret printed", code)
	}
	printed := strings.Fields(out)
	if !slices.Equal(printed, []string{"Sub1Req=", "Sub2Req="}) || !strings.Contains(errOut, "leadconvert request Sub2Req=") {
		t.Fatalf("printed %q", printed)
	}
	for i, id := range printed {
		rec, err := deps.Jobs.Request(t.Context(), id)
		if err != nil || !slices.Equal(rec.LeadIDs, many[i*1000:min(len(many), (i+1)*1000)]) {
			t.Fatalf("request %s recorded with %d leads: %v", id, len(rec.LeadIDs), err)
		}
	}
	if n := deps.Queue.Len(); n != 2 {
		t.Fatalf("the API queued %d messages, want 2", n)
	}

	for _, tc := range []struct{ name, secret, want string }{
		{"a key the API does not take", `{"webhook_key":"another-key-77"}`, "401"},
		{"no key in the secret", `{"client_id":"1000.X"}`, "no usable webhook_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arn := awstest.CreateSecret(t, cfg, tc.secret)
			code, out, errOut := runSubcommand(t, nil, append([]string{"submit", "--to", "api", "--api-url", url, "--secret", arn,
				"--ids", "3652397000001000001", "--options", options}, motoArgs(cfg)...)...)
			if code != exitFailed || !strings.Contains(errOut, tc.want) || out != "" || strings.Contains(errOut, "another-key-77") {
				t.Fatalf("exit %d, want %d with %q", code, exitFailed, tc.want)
			}
		})
	}
	if n := deps.Queue.Len(); n != 2 {
		t.Fatalf("refused requests queued: %d messages", n)
	}
}

// TestSubmitToAPINeverLeaksTheKey: a redirect is not followed, so the key
// reaches no other host, and the command says why it stopped; a plain http
// URL to a host off this machine is refused before the secret is read or
// anything is sent.
func TestSubmitToAPINeverLeaksTheKey(t *testing.T) {
	cfg := awstest.Require(t)
	const key = "the-webhook-key-redirected-5e2d"
	secret := awstest.CreateSecret(t, cfg, `{"webhook_key":"`+key+`"}`)
	options := writeFile(t, "options.json", `{"assign_to":{"id":"`+owner+`"}}`)

	var elsewhere atomic.Int64 // requests that reached the redirect's target
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"request_id":"Stolen="}`)
	}))
	t.Cleanup(target.Close)
	var redirected atomic.Int64
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)

	for _, tc := range []struct {
		name, apiURL, secret string
		code                 int
		want                 string
		sent                 int64 // requests the redirector gets
	}{
		{name: "a redirect", apiURL: redirector.URL, secret: secret, code: exitFailed,
			want: "redirect (307)", sent: 1},
		{name: "plain http off this machine", apiURL: "http://api.example.test/prod", secret: "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent",
			code: exitUsage, want: "plain http would send the webhook key in clear"},
		{name: "another scheme", apiURL: "ftp://127.0.0.1/", secret: "absent", code: exitUsage, want: "scheme must be https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redirected.Store(0)
			code, out, errOut := runSubcommand(t, nil, append([]string{"submit", "--to", "api", "--api-url", tc.apiURL, "--secret", tc.secret,
				"--ids", "3652397000001000001", "--options", options}, motoArgs(cfg)...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) || out != "" || strings.Contains(out+errOut, key) {
				t.Fatalf("exit %d, stderr %q; want %d with %q and no key", code, errOut, tc.code, tc.want)
			}
			if n := redirected.Load(); n != tc.sent {
				t.Errorf("the API got %d requests, want %d", n, tc.sent)
			}
			if n := elsewhere.Load(); n != 0 {
				t.Fatalf("the redirect's target got %d requests", n)
			}
		})
	}
}

func TestCheckAPIURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://abc123.execute-api.eu-west-1.amazonaws.com", true},
		{"https://abc123.execute-api.eu-west-1.amazonaws.com/prod/", true},
		{"http://127.0.0.1:8080", true},
		{"http://127.9.8.7", true},
		{"http://[::1]:3000", true},
		{"http://localhost:3000", true},
		{"http://abc123.execute-api.eu-west-1.amazonaws.com", false},
		{"http://10.0.0.1", false},
		{"http://127.0.0.1.example.test", false},
		{"http://localhost.example.test", false},
		{"https://user:pass@api.example.test", false},
		{"ftp://127.0.0.1", false},
		{"api.example.test", false},
	} {
		if err := checkAPIURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("checkAPIURL(%q) = %v, want ok %v", tc.url, err, tc.ok)
		}
	}
}
