// Package zoho is a client for Zoho CRM's mass lead conversion: scheduling
// a mass_convert job and reading its status. It knows Zoho's quirks (error
// bodies with HTTP 200, unstable status casing, two 429 shapes, data
// centres) and classifies every failure so callers can branch on it.
package zoho

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Token is an access token and the CRM API base URL it is valid for.
type Token struct {
	AccessToken string
	APIURL      string // e.g. https://www.zohoapis.eu, resolved from a known Zoho host
	Expiry      time.Time
}

// String keeps the token out of logs and error messages.
func (t Token) String() string { return "zoho.Token{REDACTED}" }

// LogValue keeps the token out of structured logs.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("api_url", t.APIURL), slog.Time("expiry", t.Expiry))
}

// TokenSource hands out access tokens. Invalidate tells it that Zoho refused
// tok, so that the next Token call returns a fresh one.
type TokenSource interface {
	Token(ctx context.Context) (Token, error)
	Invalidate(ctx context.Context, tok Token) error
}

// RetryPolicy bounds the retries of retryable errors. Delays grow
// exponentially from Base up to Max with full jitter, and no delay runs past
// the context deadline.
type RetryPolicy struct {
	Attempts int           // total attempts, at least 1; default 4
	Base     time.Duration // default 200ms
	Max      time.Duration // default 5s
}

// Config configures a Client.
type Config struct {
	HTTPClient *http.Client // shared and reused; default NewHTTPClient()
	Tokens     TokenSource  // required
	APIVersion string       // "v7" (default) or "v8"
	// APIURL overrides the API base URL of the tokens (the simulator, tests).
	// Check it with CheckOverrideURL first.
	APIURL string
	Retry  RetryPolicy
	// Limiter, when set, keeps the deployment's CRM calls within one
	// concurrency budget: every attempt holds one of its slots.
	Limiter Limiter
	Logger  *slog.Logger
	// Observe, when set, hears of every request sent to the CRM, retries
	// included: what Zoho bills against the org's daily credits.
	Observe func(ctx context.Context, c Call)
}

// Call is one request sent to Zoho CRM, as Observe hears of it.
type Call struct {
	Op     string // "mass_convert", "convert_status", "get_leads", "coql", "lead_fields"
	Status int    // the HTTP status; 0 when no answer came
	// CreditsLeft is X-API-CREDITS-REMAINING, which Zoho sends once half
	// the org's daily credits are spent; -1 when the answer had none.
	CreditsLeft int
}

// CreditsHeader carries the org's remaining API credits.
const CreditsHeader = "X-API-CREDITS-REMAINING"

// Limiter hands out slots of a concurrency budget (budget.Limiter).
type Limiter interface {
	Acquire(ctx context.Context) (release func(), err error)
}

// Client calls Zoho CRM. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	tokens  TokenSource
	version string
	apiURL  string
	retry   RetryPolicy
	limiter Limiter
	log     *slog.Logger
	observe func(ctx context.Context, c Call)
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Tokens == nil {
		return nil, errors.New("zoho: Config.Tokens is required")
	}
	c := &Client{http: cfg.HTTPClient, tokens: cfg.Tokens, version: cfg.APIVersion,
		apiURL: cfg.APIURL, retry: cfg.Retry, limiter: cfg.Limiter, log: cfg.Logger, observe: cfg.Observe}
	switch c.version {
	case "":
		c.version = "v7"
	case "v7", "v8":
	default:
		return nil, fmt.Errorf("zoho: unsupported API version %q (want v7 or v8)", cfg.APIVersion)
	}
	if c.http == nil {
		c.http = NewHTTPClient()
	}
	if c.retry.Attempts < 1 {
		c.retry.Attempts = 4
	}
	if c.retry.Base <= 0 {
		c.retry.Base = 200 * time.Millisecond
	}
	if c.retry.Max <= 0 {
		c.retry.Max = 5 * time.Second
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// APIVersion is the CRM API version the client speaks.
func (c *Client) APIVersion() string { return c.version }

// NewHTTPClient returns the HTTP client to build once per process and share:
// bounded timeouts, kept-alive connections, and no redirects, so that a
// token is never sent to a host nobody configured.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 25 * time.Second,
			MaxIdleConns:          64,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// MassConvert schedules the conversion of up to 50 leads and returns Zoho's
// job id. An error is always an *APIError.
func (c *Client) MassConvert(ctx context.Context, req *ConvertRequest) (string, error) {
	const op = "mass_convert"
	if err := c.checkRequest(req); err != nil {
		return "", err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", &APIError{Op: op, Class: Permanent, IDIndex: -1, Message: "request does not encode", Err: err}
	}
	resp, err := c.call(ctx, op, http.MethodPost, massConvertPath, nil, body, req.IDs)
	if err != nil {
		return "", err
	}
	var ok struct {
		Code    string `json:"code"`
		Details struct {
			JobID json.RawMessage `json:"job_id"`
		} `json:"details"`
	}
	if err := json.Unmarshal(resp.body, &ok); err != nil {
		return "", &APIError{Op: op, HTTPStatus: resp.status, Class: Retryable, Ambiguous: true, IDIndex: -1,
			Message: describeUnreadable(resp.body, err)}
	}
	jobID := idString(ok.Details.JobID)
	if ok.Code != "SCHEDULED" || jobID == "" {
		return "", &APIError{Op: op, HTTPStatus: resp.status, Code: ok.Code, Class: Retryable, Ambiguous: true,
			IDIndex: -1, Message: "success answer without code SCHEDULED and a job_id"}
	}
	return jobID, nil
}

// idString accepts the job id as a JSON string or, defensively, as a
// number literal whose digits are kept as written.
func idString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&n) == nil {
		return n.String()
	}
	return ""
}

func (c *Client) checkRequest(req *ConvertRequest) error {
	refuse := func(code, path, msg string) error {
		details, _ := json.Marshal(map[string]string{"json_path": path})
		return &APIError{Op: "mass_convert", Code: code, Class: Permanent, IDIndex: -1, Details: details,
			Message: "refused before sending: " + msg}
	}
	switch {
	case len(req.IDs) == 0:
		return refuse("MANDATORY_NOT_FOUND", "$.ids", "no ids")
	case len(req.IDs) > MaxIDsPerCall:
		return refuse("LIMIT_EXCEEDED", "$.ids", fmt.Sprintf("%d ids, Zoho takes at most %d", len(req.IDs), MaxIDsPerCall))
	case req.ApplyAssignmentThreshold != nil && c.version != "v8":
		return refuse("INVALID_DATA", "$.apply_assignment_threshold", "apply_assignment_threshold needs API version v8")
	}
	return nil
}

// ConvertStatus reads the progress of a mass-convert job. An unknown job id
// is an *APIError whose UnknownJob method reports true.
func (c *Client) ConvertStatus(ctx context.Context, jobID string) (JobStatus, error) {
	const op = "convert_status"
	resp, err := c.call(ctx, op, http.MethodGet, massConvertPath, url.Values{"job_id": {jobID}}, nil, nil)
	if err != nil {
		return JobStatus{}, err
	}
	var env statusEnvelope
	err = json.Unmarshal(resp.body, &env)
	if err == nil && (len(env.Data) == 0 || env.Data[0].Status == nil) {
		err = errors.New(`no "data[0].Status" in the answer`)
	}
	if err != nil {
		return JobStatus{}, &APIError{Op: op, HTTPStatus: resp.status, Class: Retryable, IDIndex: -1,
			Message: describeUnreadable(resp.body, err), Err: err}
	}
	d := env.Data[0]
	st := JobStatus{RawStatus: *d.Status, State: ParseState(*d.Status), Total: int(d.Total),
		Converted: int(d.Converted), Waiting: int(d.NotConverted), Failed: int(d.Failed)}
	if st.State == StateUnrecognised {
		c.log.WarnContext(ctx, "zoho: unrecognised mass convert status", "job_id", jobID, "status", st.RawStatus)
	}
	return st, nil
}

type response struct {
	status int
	body   []byte
}

// maxBody caps what is read of an answer: Zoho's are a few hundred bytes.
const maxBody = 1 << 20

// call sends one logical request, refreshing the token once on an auth
// error and retrying retryable errors within the policy and the deadline.
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, body []byte, ids []string) (response, error) {
	refreshed := false
	for attempt := 1; ; attempt++ {
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			return response{}, &APIError{Op: op, Code: tokenErrorCode(err), Class: tokenErrorClass(err), IDIndex: -1,
				Message: "no access token", Err: err}
		}
		resp, apiErr := c.limited(ctx, op, method, c.endpoint(tok, path, query), tok, body, ids)
		if apiErr == nil {
			return resp, nil
		}
		if apiErr.Class == Auth && !refreshed {
			refreshed = true
			attempt--
			c.log.InfoContext(ctx, "zoho: access token refused, refreshing", "op", op, "code", apiErr.Code)
			if err := c.tokens.Invalidate(ctx, tok); err != nil {
				return response{}, &APIError{Op: op, Code: tokenErrorCode(err), Class: tokenErrorClass(err), IDIndex: -1,
					Message: "invalidating the refused token", Err: err}
			}
			continue
		}
		if !apiErr.Retryable() || apiErr.Ambiguous || attempt >= c.retry.Attempts || ctx.Err() != nil {
			return response{}, apiErr
		}
		delay := c.backoff(attempt)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return response{}, apiErr
		}
		c.log.WarnContext(ctx, "zoho: retrying", "op", op, "attempt", attempt, "status", apiErr.HTTPStatus,
			"code", apiErr.Code, "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return response{}, apiErr
		case <-t.C:
		}
	}
}

// tokenErrorClass decides what a failure to get a token means for the
// request. It is never the request's fault: a throttled refresh, a DynamoDB
// fault or a broken secret all leave the request able to succeed once they
// are mended, so the request is retryable unless the source says otherwise.
func tokenErrorClass(err error) Class {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Class != InvalidID {
		return apiErr.Class
	}
	return Retryable
}

// tokenErrorCode carries the token source's code (Zoho Accounts' error, or
// the source's own such as SECRET_INVALID) up to the call's error, so that
// logs and metrics by code name the cause instead of a bare network error.
func tokenErrorCode(err error) string {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code
	}
	return ""
}

func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.retry.Base << (attempt - 1)
	if ceiling > c.retry.Max || ceiling <= 0 {
		ceiling = c.retry.Max
	}
	return rand.N(ceiling) + 1
}

// The CRM paths the client calls, under /crm/{version}.
const (
	massConvertPath = "/Leads/actions/mass_convert"
	leadsPath       = "/Leads"
	coqlPath        = "/coql"
)

func (c *Client) endpoint(tok Token, path string, query url.Values) string {
	base := c.apiURL
	if base == "" {
		base = tok.APIURL
	}
	u := base + "/crm/" + c.version + path
	if strings.HasPrefix(path, "/crm/") {
		u = base + path // a path of a fixed version: the API catalogue
	}
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return u
}

// limited sends while holding a slot of the concurrency budget, if any.
func (c *Client) limited(ctx context.Context, op, method, target string, tok Token, body []byte, ids []string) (response, *APIError) {
	if c.limiter == nil {
		return c.send(ctx, op, method, target, tok, body, ids)
	}
	release, err := c.limiter.Acquire(ctx)
	if err != nil {
		return response{}, &APIError{Op: op, Code: "CONCURRENCY_BUDGET", Class: Retryable, IDIndex: -1,
			Message: "no slot of the deployment's Zoho concurrency budget came free", Err: err}
	}
	defer release()
	return c.send(ctx, op, method, target, tok, body, ids)
}

func (c *Client) send(ctx context.Context, op, method, target string, tok Token, body []byte, ids []string) (response, *APIError) {
	var wrote atomic.Bool // set on the transport's goroutine
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, target, bytes.NewReader(body))
	if err != nil {
		return response{}, &APIError{Op: op, Class: Permanent, IDIndex: -1, Message: "building the request", Err: err}
	}
	req.Header.Set("Authorization", "Zoho-oauthtoken "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.observed(ctx, Call{Op: op, CreditsLeft: -1})
		return response{}, transportError(op, method, wrote.Load(), err)
	}
	defer res.Body.Close()
	c.observed(ctx, Call{Op: op, Status: res.StatusCode, CreditsLeft: creditsLeft(res.Header)})
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return response{}, transportError(op, method, true, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 || isErrorBody(data) {
		return response{}, newAPIError(op, res.StatusCode, data, ids)
	}
	return response{status: res.StatusCode, body: data}, nil
}

// isErrorBody spots Zoho's error shape sent with a 2xx status.
func isErrorBody(body []byte) bool {
	var eb struct {
		Status string `json:"status"`
	}
	return json.Unmarshal(body, &eb) == nil && eb.Status == "error"
}

// transportError classifies a call that got no usable answer. Only a POST
// that reached Zoho is ambiguous: a GET can always be repeated, and so can
// a COQL select, a POST that changes nothing; a request that was never
// written cannot have been acted on.
func transportError(op, method string, wrote bool, err error) *APIError {
	e := &APIError{Op: op, Class: Retryable, IDIndex: -1, Err: err,
		Ambiguous: wrote && method != http.MethodGet && op != "coql"}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Message = "no answer before the timeout"
	default:
		e.Message = "no answer"
	}
	return e
}

func (c *Client) observed(ctx context.Context, call Call) {
	if c.observe != nil {
		c.observe(ctx, call)
	}
}

// creditsLeft reads CreditsHeader; -1 when absent or not a count.
func creditsLeft(h http.Header) int {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get(CreditsHeader)))
	if err != nil || n < 0 {
		return -1
	}
	return n
}
