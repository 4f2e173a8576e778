package zoho_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// staticTokens hands out numbered tokens; Invalidate moves to the next one.
type staticTokens struct {
	mu          sync.Mutex
	n           int
	invalidated int
	apiURL      string
}

func (s *staticTokens) Token(context.Context) (zoho.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return zoho.Token{AccessToken: "tok" + string(rune('0'+s.n)), APIURL: s.apiURL}, nil
}

func (s *staticTokens) Invalidate(context.Context, zoho.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.invalidated++
	return nil
}

// answer is one canned HTTP answer.
type answer struct {
	status int
	body   string
}

// scripted serves answers in order (the last one repeats) and records requests.
type scripted struct {
	mu      sync.Mutex
	answers []answer
	calls   int
	auth    []string
	bodies  []string
	queries []string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	a := s.answers[min(s.calls, len(s.answers)-1)]
	s.calls++
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.bodies = append(s.bodies, string(body))
	s.queries = append(s.queries, r.URL.RawQuery)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func newClient(t *testing.T, h http.Handler, version string) (*zoho.Client, *staticTokens) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tokens := &staticTokens{apiURL: srv.URL}
	c, err := zoho.New(zoho.Config{
		HTTPClient: srv.Client(),
		Tokens:     tokens,
		APIVersion: version,
		Retry:      zoho.RetryPolicy{Attempts: 3, Base: time.Millisecond, Max: 2 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, tokens
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "365239700000" + strings.Repeat("0", 6) + string(rune('0'+i%10))
	}
	return out
}

const scheduled = `{"code":"SCHEDULED","details":{"job_id":"3652397000009835020"},"message":"Mass Convert scheduled successfully","status":"success"}`

func TestMassConvertSuccess(t *testing.T) {
	for _, status := range []int{200, 202} {
		h := &scripted{answers: []answer{{status, scheduled}}}
		c, _ := newClient(t, h, "")
		threshold := false
		deal := zoho.Deal{}
		deal.SetString(zoho.DealName, "Acme")
		deal[`Amount`] = json.RawMessage(`12345678901234567890`)
		deal[`Custom_Lookup`] = json.RawMessage(`{"id":"3652397000000999001"}`)
		c8, _ := newClient(t, h, "v8")
		for _, c := range []*zoho.Client{c, c8} {
			req := &zoho.ConvertRequest{IDs: []string{"3652397000009835021"}, Deals: &deal,
				AssignTo: &zoho.Ref{ID: "3652397000000186017"}}
			if c.APIVersion() == "v8" {
				req.ApplyAssignmentThreshold = &threshold
			}
			job, err := c.MassConvert(context.Background(), req)
			if err != nil || job != "3652397000009835020" {
				t.Fatalf("HTTP %d %s: job %q, err %v", status, c.APIVersion(), job, err)
			}
		}
		if h.auth[0] != "Zoho-oauthtoken tok0" {
			t.Errorf("Authorization = %q, want the Zoho-oauthtoken scheme", h.auth[0])
		}
		if !strings.Contains(h.bodies[0], `"Amount":12345678901234567890`) ||
			!strings.Contains(h.bodies[0], `"ids":["3652397000009835021"]`) ||
			strings.Contains(h.bodies[0], "apply_assignment_threshold") {
			t.Errorf("v7 body lost a value or sent a v8 key: %s", h.bodies[0])
		}
		if !strings.Contains(h.bodies[1], `"apply_assignment_threshold":false`) {
			t.Errorf("v8 body lacks apply_assignment_threshold: %s", h.bodies[1])
		}
	}
}

func TestMassConvertPath(t *testing.T) {
	for _, version := range []string{"", "v7", "v8"} {
		var path string
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			path = r.Method + " " + r.URL.Path
			_, _ = io.WriteString(w, scheduled)
		})
		c, _ := newClient(t, h, version)
		if _, err := c.MassConvert(context.Background(), &zoho.ConvertRequest{IDs: ids(1)}); err != nil {
			t.Fatal(err)
		}
		want := "POST /crm/" + c.APIVersion() + "/Leads/actions/mass_convert"
		if path != want {
			t.Errorf("version %q: %s, want %s", version, path, want)
		}
	}
}

// TestMassConvertErrors covers every error row of zoho-crm-api.md section 1,
// both 429 shapes, and answers that are not Zoho's.
func TestMassConvertErrors(t *testing.T) {
	tests := []struct {
		name      string
		answer    answer
		class     zoho.Class
		code      string
		idIndex   int
		ambiguous bool
	}{
		{"ids missing", answer{400, `{"code":"MANDATORY_NOT_FOUND","details":{"api_name":"ids","json_path":"$.ids"},"message":"required field not found","status":"error"}`}, zoho.Permanent, "MANDATORY_NOT_FOUND", -1, false},
		{"deal name missing", answer{400, `{"code":"MANDATORY_NOT_FOUND","details":{"api_name":"Deal_Name","json_path":"$.Deals.Deal_Name"},"message":"required field not found","status":"error"}`}, zoho.Permanent, "MANDATORY_NOT_FOUND", -1, false},
		{"invalid id", answer{400, `{"code":"INVALID_DATA","details":{"api_name":"ids","json_path":"$.ids[3]"},"message":"the id given seems to be invalid","status":"error"}`}, zoho.InvalidID, "INVALID_DATA", 3, false},
		{"id of wrong type", answer{400, `{"code":"INVALID_DATA","details":{"expected_data_type":"long","api_name":"ids","json_path":"$.ids[0]"},"message":"invalid data","status":"error"}`}, zoho.InvalidID, "INVALID_DATA", 0, false},
		{"index beyond the ids", answer{400, `{"code":"INVALID_DATA","details":{"api_name":"ids","json_path":"$.ids[77]"},"message":"invalid data","status":"error"}`}, zoho.Permanent, "INVALID_DATA", -1, false},
		// Only INVALID_DATA at $.ids[k] refuses one id; another code there refuses the call.
		{"another code at an id", answer{400, `{"code":"DUPLICATE_DATA","details":{"api_name":"ids","json_path":"$.ids[2]"},"message":"duplicate data","status":"error"}`}, zoho.Permanent, "DUPLICATE_DATA", -1, false},
		{"a path under an id", answer{400, `{"code":"INVALID_DATA","details":{"api_name":"ids","json_path":"$.ids[2].id"},"message":"invalid data","status":"error"}`}, zoho.Permanent, "INVALID_DATA", -1, false},
		{"portal user type", answer{400, `{"code":"INVALID_DATA","details":{"api_name":"id","json_path":"$.portal_user_type.id"},"message":"invalid data","status":"error"}`}, zoho.Permanent, "INVALID_DATA", -1, false},
		{"assignee", answer{400, `{"code":"INVALID_DATA","details":{"api_name":"assign_to","json_path":"$.assign_to.id"},"message":"invalid data","status":"error"}`}, zoho.Permanent, "INVALID_DATA", -1, false},
		{"limit exceeded", answer{400, `{"code":"LIMIT_EXCEEDED","details":{"limit":50,"limit_due_to":[{"api_name":"ids","json_path":"$.ids"}]},"message":"limit exceeded","status":"error"}`}, zoho.Permanent, "LIMIT_EXCEEDED", -1, false},
		{"limit as string", answer{400, `{"code":"LIMIT_EXCEEDED","details":{"limit":"50"},"message":"limit exceeded","status":"error"}`}, zoho.Permanent, "LIMIT_EXCEEDED", -1, false},
		{"ambiguity", answer{400, `{"code":"AMBIGUITY_DURING_PROCESSING","details":{"ambiguity_due_to":[{"api_name":"id","json_path":"$.related_modules[0].id"}]},"message":"ambiguity","status":"error"}`}, zoho.Permanent, "AMBIGUITY_DURING_PROCESSING", -1, false},
		{"expected field missing", answer{400, `{"code":"EXPECTED_FIELD_MISSING","details":{"expected_fields":[{"api_name":"id","json_path":"$.related_modules[0].id"}]},"message":"missing","status":"error"}`}, zoho.Permanent, "EXPECTED_FIELD_MISSING", -1, false},
		{"wrong method", answer{400, `{"code":"INVALID_REQUEST_METHOD","details":{},"message":"wrong method","status":"error"}`}, zoho.Permanent, "INVALID_REQUEST_METHOD", -1, false},
		{"required param missing", answer{400, `{"code":"REQUIRED_PARAM_MISSING","details":{},"message":"missing","status":"error"}`}, zoho.Permanent, "REQUIRED_PARAM_MISSING", -1, false},
		{"not allowed", answer{400, `{"code":"NOT_ALLOWED","details":{},"message":"not allowed","status":"error"}`}, zoho.Permanent, "NOT_ALLOWED", -1, false},
		{"no permission", answer{403, `{"code":"NO_PERMISSION","details":{"permissions":["Crm_Implied_Mass_Convert_Leads"]},"message":"permission denied","status":"error"}`}, zoho.Permanent, "NO_PERMISSION", -1, false},
		{"scope mismatch", answer{401, `{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope","status":"error"}`}, zoho.Permanent, "OAUTH_SCOPE_MISMATCH", -1, false},
		{"internal error", answer{500, `{"code":"INTERNAL_ERROR","details":{},"message":"internal error","status":"error"}`}, zoho.Retryable, "INTERNAL_ERROR", -1, false},
		{"429 flat", answer{429, `{"code":"TOO_MANY_REQUESTS","details":{},"message":"too many requests","status":"error"}`}, zoho.Retryable, "TOO_MANY_REQUESTS", -1, false},
		{"429 legacy", answer{429, `{"code":429,"error":"TOO_MANY_REQUESTS","message":"too many requests"}`}, zoho.Retryable, "TOO_MANY_REQUESTS", -1, false},
		{"502 html", answer{502, `<html><body>Bad Gateway</body></html>`}, zoho.Retryable, "", -1, false},
		{"error body with 200", answer{200, `{"code":"INVALID_DATA","details":{"api_name":"ids","json_path":"$.ids[1]"},"message":"invalid","status":"error"}`}, zoho.InvalidID, "INVALID_DATA", 1, false},
		{"200 not json", answer{200, `<html>maintenance</html>`}, zoho.Retryable, "", -1, true},
		{"200 truncated", answer{200, `{"code":"SCHEDULED","details":{"job_`}, zoho.Retryable, "", -1, true},
		{"200 without job id", answer{200, `{"code":"SCHEDULED","details":{},"status":"success"}`}, zoho.Retryable, "SCHEDULED", -1, true},
		{"400 empty", answer{400, ``}, zoho.Permanent, "", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &scripted{answers: []answer{tt.answer}}
			c, _ := newClient(t, h, "")
			req := &zoho.ConvertRequest{IDs: ids(5)}
			_, err := c.MassConvert(context.Background(), req)
			var apiErr *zoho.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v (%T), want *zoho.APIError", err, err)
			}
			if apiErr.Class != tt.class || apiErr.Code != tt.code || apiErr.IDIndex != tt.idIndex ||
				apiErr.Ambiguous != tt.ambiguous || apiErr.HTTPStatus != tt.answer.status {
				t.Errorf("got class %v code %q index %d ambiguous %v status %d; want %v %q %d %v %d",
					apiErr.Class, apiErr.Code, apiErr.IDIndex, apiErr.Ambiguous, apiErr.HTTPStatus,
					tt.class, tt.code, tt.idIndex, tt.ambiguous, tt.answer.status)
			}
			if tt.idIndex >= 0 && apiErr.ID != req.IDs[tt.idIndex] {
				t.Errorf("ID = %q, want %q", apiErr.ID, req.IDs[tt.idIndex])
			}
			wantCalls := 1
			if tt.class == zoho.Retryable && !tt.ambiguous {
				wantCalls = 3 // the policy's attempts
			}
			if h.calls != wantCalls {
				t.Errorf("%d calls, want %d", h.calls, wantCalls)
			}
			if strings.Contains(err.Error(), "<html>") || strings.Contains(err.Error(), "Bad Gateway") {
				t.Errorf("error echoes the body: %v", err)
			}
		})
	}
}

func TestMassConvertRefusedLocally(t *testing.T) {
	h := &scripted{answers: []answer{{200, scheduled}}}
	c7, _ := newClient(t, h, "v7")
	yes := true
	for name, req := range map[string]*zoho.ConvertRequest{
		"no ids":       {},
		"51 ids":       {IDs: ids(51)},
		"v8 key on v7": {IDs: ids(1), ApplyAssignmentThreshold: &yes},
	} {
		_, err := c7.MassConvert(context.Background(), req)
		var apiErr *zoho.APIError
		if !errors.As(err, &apiErr) || apiErr.Class != zoho.Permanent || apiErr.JSONPath() == "" {
			t.Errorf("%s: err = %v, want a permanent *APIError naming the field", name, err)
		}
	}
	if h.calls != 0 {
		t.Errorf("%d calls reached Zoho, want 0", h.calls)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	h := &scripted{answers: []answer{
		{429, `{"code":429,"error":"TOO_MANY_REQUESTS","message":"slow down"}`},
		{500, `{"code":"INTERNAL_ERROR","details":{},"message":"oops","status":"error"}`},
		{202, scheduled},
	}}
	c, _ := newClient(t, h, "")
	job, err := c.MassConvert(context.Background(), &zoho.ConvertRequest{IDs: ids(2)})
	if err != nil || job == "" || h.calls != 3 {
		t.Fatalf("job %q err %v after %d calls; want success on the 3rd", job, err, h.calls)
	}
}

func TestAuthRefreshesOnce(t *testing.T) {
	invalid := answer{401, `{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}`}
	authFail := answer{401, `{"code":"AUTHENTICATION_FAILURE","details":{},"message":"Authentication failed","status":"error"}`}
	t.Run("then success", func(t *testing.T) {
		h := &scripted{answers: []answer{invalid, {202, scheduled}}}
		c, tokens := newClient(t, h, "")
		if _, err := c.MassConvert(context.Background(), &zoho.ConvertRequest{IDs: ids(1)}); err != nil {
			t.Fatal(err)
		}
		if tokens.invalidated != 1 || h.auth[1] != "Zoho-oauthtoken tok1" {
			t.Errorf("invalidated %d, second auth %q; want one refresh and the new token", tokens.invalidated, h.auth[1])
		}
	})
	t.Run("twice refused", func(t *testing.T) {
		h := &scripted{answers: []answer{authFail}}
		c, tokens := newClient(t, h, "")
		_, err := c.ConvertStatus(context.Background(), "1")
		var apiErr *zoho.APIError
		if !errors.As(err, &apiErr) || apiErr.Class != zoho.Auth || h.calls != 2 || tokens.invalidated != 1 {
			t.Errorf("err %v, %d calls, %d invalidations; want an Auth error after one refresh", err, h.calls, tokens.invalidated)
		}
	})
}

// TestDeadlineBoundsRetries: however the jittered backoff falls, the client
// never sleeps past the deadline: it returns the retryable error in time.
func TestDeadlineBoundsRetries(t *testing.T) {
	h := &scripted{answers: []answer{{503, `{"code":"INTERNAL_ERROR","details":{},"message":"down","status":"error"}`}}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := zoho.New(zoho.Config{HTTPClient: srv.Client(), Tokens: &staticTokens{apiURL: srv.URL},
		Retry: zoho.RetryPolicy{Attempts: 10, Base: time.Hour, Max: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.ConvertStatus(ctx, "1")
	var apiErr *zoho.APIError
	if !errors.As(err, &apiErr) || !apiErr.Retryable() || h.calls < 1 {
		t.Fatalf("err %v after %d calls; want the retryable error", err, h.calls)
	}
	if ctx.Err() != nil {
		t.Fatal("the client slept past the deadline")
	}
}

// TestDroppedConnection: a POST whose connection drops after the request was
// written may have been acted on, so it is not resent; a GET is.
func TestDroppedConnection(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	c, _ := newClient(t, h, "")
	_, err := c.MassConvert(context.Background(), &zoho.ConvertRequest{IDs: ids(1)})
	var apiErr *zoho.APIError
	if !errors.As(err, &apiErr) || !apiErr.Ambiguous || !apiErr.Retryable() || calls.Load() != 1 {
		t.Fatalf("POST: err %v after %d calls; want one ambiguous retryable error", err, calls.Load())
	}
	calls.Store(0)
	_, err = c.ConvertStatus(context.Background(), "1")
	if !errors.As(err, &apiErr) || apiErr.Ambiguous || calls.Load() != 3 {
		t.Fatalf("GET: err %v after %d calls; want 3 attempts", err, calls.Load())
	}
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := zoho.New(zoho.Config{Tokens: &staticTokens{apiURL: "http://" + addr},
		Retry: zoho.RetryPolicy{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.MassConvert(context.Background(), &zoho.ConvertRequest{IDs: ids(1)})
	var apiErr *zoho.APIError
	if !errors.As(err, &apiErr) || apiErr.Ambiguous || !apiErr.Retryable() {
		t.Fatalf("err = %v; a request never sent is retryable and not ambiguous", err)
	}
}

func TestConvertStatus(t *testing.T) {
	tests := []struct {
		body  string
		state zoho.State
		want  zoho.JobStatus
	}{
		{`{"data":[{"Status":"COMPLETED","Total_Count":28,"Converted_Count":28,"Not_Converted_Count":0,"Failed_Count":0}]}`,
			zoho.StateCompleted, zoho.JobStatus{RawStatus: "COMPLETED", Total: 28, Converted: 28}},
		{`{"data":[{"Status":"Completed","Total_Count":40,"Converted_Count":45,"Not_Converted_Count":0,"Failed_Count":0}]}`,
			zoho.StateCompleted, zoho.JobStatus{RawStatus: "Completed", Total: 40, Converted: 45}},
		{`{"data":[{"Status":"in progress","Total_Count":50,"Converted_Count":10,"Not_Converted_Count":40,"Failed_Count":0}]}`,
			zoho.StateInProgress, zoho.JobStatus{RawStatus: "in progress", Total: 50, Converted: 10, Waiting: 40}},
		{`{"data":[{"Status":"IN_PROGRESS","Total_Count":"50","Converted_Count":"1","Not_Converted_Count":"49","Failed_Count":null}]}`,
			zoho.StateInProgress, zoho.JobStatus{RawStatus: "IN_PROGRESS", Total: 50, Converted: 1, Waiting: 49}},
		{`{"data":[{"Status":"scheduled","Total_Count":3,"Converted_Count":0,"Not_Converted_Count":3,"Failed_Count":0}]}`,
			zoho.StateScheduled, zoho.JobStatus{RawStatus: "scheduled", Total: 3, Waiting: 3}},
		{`{"data":[{"Status":"failed","Total_Count":3,"Converted_Count":0,"Not_Converted_Count":0,"Failed_Count":3}]}`,
			zoho.StateFailed, zoho.JobStatus{RawStatus: "failed", Total: 3, Failed: 3}},
		{`{"data":[{"Status":"Queued For Review","Total_Count":3}]}`,
			zoho.StateUnrecognised, zoho.JobStatus{RawStatus: "Queued For Review", Total: 3}},
	}
	for _, tt := range tests {
		h := &scripted{answers: []answer{{200, tt.body}}}
		c, _ := newClient(t, h, "")
		got, err := c.ConvertStatus(context.Background(), "3652397000009835020")
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		tt.want.State = tt.state
		if got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.body, got, tt.want)
		}
		if h.queries[0] != "job_id=3652397000009835020" {
			t.Errorf("query %q", h.queries[0])
		}
	}
}

func TestConvertStatusErrors(t *testing.T) {
	tests := []struct {
		name    string
		answer  answer
		class   zoho.Class
		unknown bool
	}{
		{"unknown job", answer{400, `{"code":"INVALID_DATA","details":{"param_name":"job_id"},"message":"The jobid given seems to be invalid","status":"error"}`}, zoho.Permanent, true},
		{"job id missing", answer{400, `{"code":"REQUIRED_PARAM_MISSING","details":{"param_name":"job_id"},"message":"missing","status":"error"}`}, zoho.Permanent, false},
		{"no permission", answer{403, `{"code":"NO_PERMISSION","details":{},"message":"permission denied","status":"error"}`}, zoho.Permanent, false},
		{"empty data", answer{200, `{"data":[]}`}, zoho.Retryable, false},
		{"no status", answer{200, `{"data":[{"Total_Count":1}]}`}, zoho.Retryable, false},
		{"bad count", answer{200, `{"data":[{"Status":"completed","Total_Count":"many"}]}`}, zoho.Retryable, false},
		{"truncated", answer{200, `{"data":[{"Status":"compl`}, zoho.Retryable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newClient(t, &scripted{answers: []answer{tt.answer}}, "")
			_, err := c.ConvertStatus(context.Background(), "42")
			var apiErr *zoho.APIError
			if !errors.As(err, &apiErr) || apiErr.Class != tt.class || apiErr.UnknownJob() != tt.unknown {
				t.Fatalf("err = %v; want class %v, unknown job %v", err, tt.class, tt.unknown)
			}
		})
	}
}

func TestParseState(t *testing.T) {
	for raw, want := range map[string]zoho.State{
		"completed": zoho.StateCompleted, "COMPLETED": zoho.StateCompleted, "Completed": zoho.StateCompleted,
		"in progress": zoho.StateInProgress, "IN_PROGRESS": zoho.StateInProgress, "In Progress": zoho.StateInProgress,
		" in  progress ": zoho.StateInProgress, "in_progress": zoho.StateInProgress,
		"scheduled": zoho.StateScheduled, "SCHEDULED": zoho.StateScheduled,
		"failed": zoho.StateFailed, "Failed": zoho.StateFailed,
		"": zoho.StateUnrecognised, "done": zoho.StateUnrecognised, "inprogress": zoho.StateUnrecognised,
	} {
		if got := zoho.ParseState(raw); got != want {
			t.Errorf("ParseState(%q) = %v, want %v", raw, got, want)
		}
	}
	if !zoho.StateFailed.Terminal() || zoho.StateInProgress.Terminal() || zoho.StateUnrecognised.Terminal() {
		t.Error("Terminal is wrong")
	}
}

func TestTokenNeverPrinted(t *testing.T) {
	tok := zoho.Token{AccessToken: "1000.secret.value", APIURL: "https://www.zohoapis.com"}
	for _, s := range []string{tok.String(), tok.LogValue().String()} {
		if strings.Contains(s, "secret") {
			t.Errorf("token printed: %s", s)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := zoho.New(zoho.Config{}); err == nil {
		t.Error("no token source accepted")
	}
	if _, err := zoho.New(zoho.Config{Tokens: &staticTokens{}, APIVersion: "v6"}); err == nil {
		t.Error("v6 accepted")
	}
}

// failingTokens is a token source that cannot give a token.
type failingTokens struct{ err error }

func (f failingTokens) Token(context.Context) (zoho.Token, error)    { return zoho.Token{}, f.err }
func (f failingTokens) Invalidate(context.Context, zoho.Token) error { return nil }

// TestTokenFailureKeepsItsCause: a call that got no token carries the
// token source's code and class, so that a broken secret or a refused
// refresh is not counted as a network error.
func TestTokenFailureKeepsItsCause(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		code  string
		class zoho.Class
	}{
		{"broken secret", &zoho.APIError{Op: "token", Code: "SECRET_INVALID", Class: zoho.Retryable, IDIndex: -1}, "SECRET_INVALID", zoho.Retryable},
		{"refused refresh", &zoho.APIError{Op: "token", Code: "invalid_client", Class: zoho.Retryable, IDIndex: -1}, "invalid_client", zoho.Retryable},
		{"permanent", &zoho.APIError{Op: "token", Class: zoho.Permanent, IDIndex: -1}, "", zoho.Permanent},
		{"plain error", errors.New("store down"), "", zoho.Retryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &scripted{answers: []answer{{202, scheduled}}}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			c, err := zoho.New(zoho.Config{HTTPClient: srv.Client(), Tokens: failingTokens{tt.err}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.MassConvert(context.Background(), &zoho.ConvertRequest{IDs: ids(1)})
			var apiErr *zoho.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.code || apiErr.Class != tt.class || h.calls != 0 {
				t.Fatalf("err %v (%d calls); want code %q, class %v and no call", err, h.calls, tt.code, tt.class)
			}
		})
	}
}

// TestObserveCountsCallsAndCredits: every request sent is observed with
// its kind and status, retries included, and Zoho's remaining credits once
// it sends them (past half the daily credits).
func TestObserveCountsCallsAndCredits(t *testing.T) {
	var mu sync.Mutex
	var calls []zoho.Call
	z := zohotest.StartWith(t, zohosim.Options{DailyCredits: 40, Credits: map[zohosim.Endpoint]int{zohosim.EndpointMassConvert: 10}}, 1,
		func(c *zoho.Config) {
			c.Observe = func(_ context.Context, call zoho.Call) {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, call)
			}
		})
	ids := z.Sim.SeedLeadRange(3)
	ctx := context.Background()
	for _, id := range ids[:2] {
		if _, err := z.Client.MassConvert(ctx, zohotest.Request(id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := z.Client.GetLeads(ctx, ids); err != nil {
		t.Fatal(err)
	}
	want := []zoho.Call{{Op: "mass_convert", Status: 202, CreditsLeft: -1}, {Op: "mass_convert", Status: 202, CreditsLeft: 20},
		{Op: "get_leads", Status: 200, CreditsLeft: 19}}
	if !slices.Equal(calls, want) {
		t.Fatalf("observed %+v\nwant     %+v", calls, want)
	}
}
