// Package httpapi is the convert function's HTTP API as a plain
// http.Handler, independent of API Gateway: POST /conversions schedules a
// conversion; GET /conversions/{job_id}, GET /requests/{request_id} and
// GET /leads/{lead_id} show what became of each lead; GET /sweeps/{name}
// shows a sweep's last runs. Every route needs the webhook key.
package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/outcome"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// Converter converts submissions (convert.Service).
type Converter interface {
	Convert(ctx context.Context, subs []convert.Submission) []convert.Result
}

// Store reads jobs, requests and the claims of their leads, and records
// the requests the API queues (jobs.Store).
type Store interface {
	Job(ctx context.Context, id string) (jobs.Job, error)
	Claims(ctx context.Context, leadIDs []string) ([]jobs.Claim, error)
	jobs.Requests
}

// Queue takes the requests the API accepts to the convert function's
// SQS intake, where they meet every other lead (fleet-wide batching).
type Queue interface {
	Enqueue(ctx context.Context, body, requestID string) error
}

// Config configures the API.
type Config struct {
	Converter Converter
	Jobs      Store
	// Queue, when set, makes POST /conversions queue the request and answer
	// at once; ?wait=true still converts synchronously. Without it every
	// request is converted synchronously.
	Queue Queue
	// Sweeps, when set, serves GET /sweeps/{name}; without it every sweep
	// is unknown.
	Sweeps     outcome.Runs
	WebhookKey KeyFunc
	APIVersion string // requests are validated for it
	// DefaultOwner is the assign_to of a request that names no owner
	// (DEFAULT_OWNER_ID); empty: such a request gets 400 at $.assign_to.
	DefaultOwner string
	Retention    time.Duration // how long GET /requests/{id} can follow a request; default 30 days
	Now          func() time.Time
	Logger       *slog.Logger
}

// New returns the API handler.
func New(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	a := &api{cfg: cfg, keys: &KeyCheck{Keys: cfg.WebhookKey, Now: cfg.Now}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /conversions", a.post)
	mux.HandleFunc("GET /conversions/{job_id}", a.get)
	mux.HandleFunc("GET /requests/{request_id}", a.getRequest)
	mux.HandleFunc("GET /leads/{lead_id}", a.getLead)
	mux.HandleFunc("GET /sweeps/{name}", a.getSweep)
	mux.HandleFunc("/sweeps/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "INVALID_REQUEST_METHOD", "use GET /sweeps/{name}", nil)
	})
	mux.HandleFunc("/leads/{lead_id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "INVALID_REQUEST_METHOD", "use GET /leads/{lead_id}", nil)
	})
	mux.HandleFunc("/requests/{request_id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "INVALID_REQUEST_METHOD", "use GET /requests/{request_id}", nil)
	})
	mux.HandleFunc("/conversions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "INVALID_REQUEST_METHOD", "use POST /conversions", nil)
	})
	mux.HandleFunc("/conversions/{job_id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "INVALID_REQUEST_METHOD", "use GET /conversions/{job_id}", nil)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "INVALID_URL_PATTERN", "no such route; see POST /conversions, GET /conversions/{job_id}, GET /requests/{request_id}, GET /leads/{lead_id} and GET /sweeps/{name}", nil)
	})
	return a.recoverPanics(a.authenticate(mux))
}

type api struct {
	cfg  Config
	keys *KeyCheck
}

func (a *api) log() *slog.Logger {
	if a.cfg.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.cfg.Logger
}

// recoverPanics answers 500 when a handler panics, without a word of why:
// the panic and its stack go to the log, with the request id. Otherwise
// the panic would end the invocation (API Gateway answers 502 and Lambda
// starts a new process) or, on net/http, drop the connection. Handlers
// write their answer in one go at the end, so none has been sent yet.
func (a *api) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p) // net/http's way to abort an answer on purpose
			}
			obs.Panicked(r.Context(), a.log(), p)
			writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "internal error", nil)
		}()
		next.ServeHTTP(w, r)
	})
}

// KeyHeader is the header that carries the webhook key. In front of a
// deployment, API Gateway's authorizer reads this header alone: it is the
// authorizer's identity source and the key of its result cache.
const KeyHeader = "X-Webhook-Key"

// KeyMatches reports whether got is the configured key want. It compares
// in constant time; an empty want (no key configured) matches nothing.
func KeyMatches(got, want string) bool {
	return want != "" && got != "" && equalKeys(got, want)
}

// authenticate admits a request that presents the webhook key as
// "X-Webhook-Key: <key>" or "Authorization: Bearer <key>" (the authorizer
// in front of a deployment admits only the first). Keys in the query
// string are ignored: they end up in access logs. It stays behind the
// authorizer too, so that a route left without one is still guarded.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get(KeyHeader)
		if auth := r.Header.Get("Authorization"); got == "" && len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ") {
			got = strings.TrimSpace(auth[7:])
		}
		ok, err := a.keys.Admit(r.Context(), got)
		if err != nil {
			a.log().ErrorContext(r.Context(), "reading the webhook key failed", "error", err)
			writeError(w, http.StatusServiceUnavailable, "INTERNAL_ERROR", "credentials are unavailable; try again", nil)
			return
		}
		if !ok {
			obs.MetricsFrom(r.Context()).Count("RequestsUnauthorized", 1)
			w.Header().Set("WWW-Authenticate", `Bearer realm="conversions"`)
			writeError(w, http.StatusUnauthorized, "AUTHENTICATION_FAILURE", "a valid webhook key is required (Authorization: Bearer <key> or X-Webhook-Key)", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// equalKeys compares in constant time; hashing first hides the length too.
func equalKeys(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// accepted is the 202 answer.
type accepted struct {
	RequestID string              `json:"request_id,omitempty"`
	Jobs      []convert.JobRef    `json:"jobs"`
	Rejected  []convert.Rejection `json:"rejected"`
	// AlreadyConverted are leads Zoho had converted before this request.
	AlreadyConverted []string `json:"already_converted,omitempty"`
	// RetryIDs are leads that could not be scheduled now; send them again.
	RetryIDs    []string `json:"retry_ids,omitempty"`
	RetryReason string   `json:"retry_reason,omitempty"`
}

func (a *api) post(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	m := obs.MetricsFrom(ctx)
	m.Count("RequestsReceived", 1)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, convert.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "LIMIT_EXCEEDED", "body larger than the limit", map[string]any{"limit": tooBig.Limit})
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "the body could not be read", nil)
		return
	}
	var req *zoho.ConvertRequest
	dec := convert.Decoder{APIVersion: a.cfg.APIVersion, DefaultOwner: a.cfg.DefaultOwner}
	switch mediaType(r) {
	case "application/json", "":
		req, err = dec.JSON(body)
	case "application/x-www-form-urlencoded":
		req, err = dec.Form(body)
	default:
		writeError(w, http.StatusUnsupportedMediaType, "INVALID_REQUEST", "send application/json or application/x-www-form-urlencoded", nil)
		return
	}
	if err != nil {
		m.Count("RequestsInvalid", 1)
		var ve *convert.ValidationError
		if errors.As(err, &ve) {
			writeRaw(w, http.StatusBadRequest, ve.Body())
			return
		}
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "invalid conversion request", nil)
		return
	}
	m.Count("LeadsReceived", len(req.IDs))
	reqID := requestID(ctx)
	if caller := r.Header.Get("X-Request-Id"); caller != "" {
		// A caller's own id is only a hint for correlating its logs with ours.
		a.log().InfoContext(ctx, "conversion request", "request_id", reqID, "caller_request_id", fragment(caller))
	}
	if a.cfg.Queue != nil && r.URL.Query().Get("wait") != "true" {
		a.enqueue(w, r, reqID, req)
		return
	}
	res := a.cfg.Converter.Convert(ctx, []convert.Submission{{Source: convert.RequestSource(reqID), Request: req}})[0]
	out := accepted{RequestID: reqID, Jobs: res.Jobs, Rejected: res.Rejected, AlreadyConverted: res.AlreadyConverted}
	if out.Jobs == nil {
		out.Jobs = []convert.JobRef{}
	}
	if out.Rejected == nil {
		out.Rejected = []convert.Rejection{}
	}
	switch res.Verdict {
	case convert.Permanent:
		writeError(w, http.StatusBadRequest, res.Code, res.Reason, nil)
		return
	case convert.TryLater:
		out.RetryIDs, out.RetryReason = pending(req.IDs, res), res.Reason
		if len(res.Jobs) == 0 && len(res.Rejected) == 0 && len(res.AlreadyConverted) == 0 {
			w.Header().Set("Retry-After", "30")
			writeError(w, http.StatusServiceUnavailable, res.Code, "nothing could be scheduled now; retry later: "+res.Reason,
				map[string]any{"retry_ids": out.RetryIDs})
			return
		}
	}
	writeJSON(w, http.StatusAccepted, out)
}

// queued is the 202 answer of a queued request.
type queued struct {
	RequestID string   `json:"request_id"`
	Status    string   `json:"status"` // QUEUED
	Accepted  []string `json:"accepted"`
	Refused   []string `json:"refused"`
	// Follow is where the request's leads can be followed.
	Follow string `json:"follow"`
}

// enqueue records a valid request and puts it on the conversion queue: its
// leads meet every other lead there, and the caller need not wait for Zoho.
func (a *api) enqueue(w http.ResponseWriter, r *http.Request, reqID string, req *zoho.ConvertRequest) {
	ctx := r.Context()
	now := a.cfg.Now()
	rec := jobs.Request{ID: reqID, LeadIDs: req.IDs, CreatedAt: now, ExpiresAt: now.Add(a.cfg.Retention)}
	if err := a.cfg.Jobs.RecordRequest(ctx, rec); err != nil {
		a.unavailable(w, r, "recording the request failed", err)
		return
	}
	body, err := convert.Marshal(req)
	if err == nil {
		err = a.cfg.Queue.Enqueue(ctx, string(body), reqID)
	}
	if err != nil {
		if ferr := a.cfg.Jobs.FailRequest(ctx, reqID, "NOT_QUEUED", "the queue was unavailable; send the request again"); ferr != nil {
			a.log().WarnContext(ctx, "recording a request that was not queued failed", "error", ferr)
		}
		a.unavailable(w, r, "queueing the request failed", err)
		return
	}
	obs.MetricsFrom(ctx).Count("RequestsQueued", 1)
	writeJSON(w, http.StatusAccepted, queued{RequestID: reqID, Status: "QUEUED", Accepted: req.IDs, Refused: []string{},
		Follow: "/requests/" + reqID})
}

// unavailable answers 503: nothing was accepted, the caller should retry.
// The cause is logged, never answered: it may name AWS resources.
func (a *api) unavailable(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.log().ErrorContext(r.Context(), what, "error", err)
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "INTERNAL_ERROR", "the request could not be accepted now; send it again", nil)
}

// requestID is API Gateway's id of the request, or, when the handler is
// served by net/http directly (the local run), a random one.
func requestID(ctx context.Context) string {
	if id := obs.RequestID(ctx); id != "" {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "local-" + hex.EncodeToString(b[:])
}

// fragment keeps a caller's header short and printable for the log.
func fragment(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// pending lists the ids of a request that are neither scheduled nor rejected.
func pending(ids []string, res convert.Result) []string {
	done := map[string]bool{}
	for _, j := range res.Jobs {
		for _, id := range j.LeadIDs {
			done[id] = true
		}
	}
	for _, rj := range res.Rejected {
		done[rj.LeadID] = true
	}
	for _, id := range res.AlreadyConverted {
		done[id] = true
	}
	var out []string
	for _, id := range ids {
		if !done[id] {
			out = append(out, id)
		}
	}
	return out
}

func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "invalid"
	}
	return mt
}

// writeError answers in Zoho's flat error shape, which webhook senders
// already know how to read.
func writeError(w http.ResponseWriter, status int, code, message string, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	writeJSON(w, status, map[string]any{"code": code, "details": details, "message": message, "status": "error"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"INTERNAL_ERROR","details":{},"message":"encoding the answer failed","status":"error"}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
