package zoho

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
)

// Class tells a caller what to do about an error.
type Class int

const (
	// Permanent: the request as a whole can never succeed as sent
	// (MANDATORY_NOT_FOUND, LIMIT_EXCEEDED, NO_PERMISSION, ...).
	Permanent Class = iota
	// Retryable: the same request may succeed later (429, 5xx,
	// INTERNAL_ERROR, network failures, timeouts).
	Retryable
	// Auth: the access token was refused; refresh it once and retry.
	Auth
	// InvalidID: one lead id of the request is invalid (INVALID_DATA at
	// $.ids[k]); drop it and send the rest again.
	InvalidID
)

func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case Auth:
		return "auth"
	case InvalidID:
		return "invalid_id"
	default:
		return "permanent"
	}
}

// APIError is every error the client returns for a call: an error answer
// from Zoho, an answer that could not be read, or no answer at all.
type APIError struct {
	Op         string          // "mass_convert", "convert_status" or "token"
	HTTPStatus int             // 0 when no answer came back
	Code       string          // Zoho's code, e.g. INVALID_DATA; empty when there was none
	Message    string          // Zoho's message, or what went wrong locally
	Details    json.RawMessage // Zoho's details as sent; its shape varies by code
	Class      Class

	// IDIndex and ID name the rejected lead of an InvalidID error.
	IDIndex int
	ID      string

	// Ambiguous is set when Zoho may have acted on the request although no
	// usable answer came back (a connection dropped after the request was
	// sent, a truncated success body). Resending could convert twice.
	Ambiguous bool

	Err error // the underlying network or decoding error, if any
}

func (e *APIError) Error() string {
	var b bytes.Buffer
	e.describe(&b)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Public is the error as a caller may read it, in an answer, a dead letter
// or a stored reason: Zoho's answer and what the client made of it. It
// leaves out the underlying error, which belongs in the log: a network
// error names hosts, and the token source's errors come from the stores
// behind it (DynamoDB, Secrets Manager), whose text names operations,
// resources and roles. An underlying *APIError (a refused refresh) is
// Zoho's answer too, and is kept, by its own Public.
func (e *APIError) Public() string {
	var b bytes.Buffer
	e.describe(&b)
	if inner, ok := errors.AsType[*APIError](e.Err); ok {
		fmt.Fprintf(&b, ": %s", inner.Public())
	}
	return b.String()
}

func (e *APIError) describe(b *bytes.Buffer) {
	fmt.Fprintf(b, "zoho %s", e.Op)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(b, ": HTTP %d", e.HTTPStatus)
	}
	if e.Code != "" {
		fmt.Fprintf(b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(b, ": %s", e.Message)
	}
	if e.Class == InvalidID {
		fmt.Fprintf(b, " (ids[%d] = %q)", e.IDIndex, e.ID)
	}
}

func (e *APIError) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed later.
func (e *APIError) Retryable() bool { return e.Class == Retryable }

// RefusedForGood reports whether err is Zoho's refusal that neither time
// nor a new token changes (a grant without the scope, say). No answer, a
// retryable refusal and a refused token are not: a lead must never be
// given up on for those, as the next try or an operator mends them.
func RefusedForGood(err error) bool {
	apiErr, ok := errors.AsType[*APIError](err)
	return ok && apiErr.Class != Retryable && apiErr.Class != Auth
}

// UnknownJob reports whether the status API refused the job id as unknown
// (INVALID_DATA with param_name job_id).
func (e *APIError) UnknownJob() bool {
	if e.Code != "INVALID_DATA" {
		return false
	}
	var d struct {
		ParamName string `json:"param_name"`
	}
	return json.Unmarshal(e.Details, &d) == nil && d.ParamName == "job_id"
}

// JSONPath returns details.json_path when Zoho sent one (the field at fault).
func (e *APIError) JSONPath() string {
	var d struct {
		JSONPath string `json:"json_path"`
	}
	if json.Unmarshal(e.Details, &d) != nil {
		return ""
	}
	return d.JSONPath
}

// errorBody covers both shapes Zoho uses: the flat {"code","details",
// "message","status"} and the older 429 {"code":429,"error":"TOO_MANY_REQUESTS"}.
type errorBody struct {
	Code    json.RawMessage `json:"code"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Status  string          `json:"status"`
	Details json.RawMessage `json:"details"`
}

var idsPath = regexp.MustCompile(`^\$\.ids\[(\d+)\]$`)

// newAPIError builds the error for an answer Zoho did not mark as success.
// ids are the ids of the request, to name the one an INVALID_DATA points at.
func newAPIError(op string, status int, body []byte, ids []string) *APIError {
	e := &APIError{Op: op, HTTPStatus: status, IDIndex: -1}
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		e.Message = describeUnreadable(body, err)
	} else {
		e.Code = codeOf(eb)
		e.Message = eb.Message
		e.Details = eb.Details
	}
	e.Class = classify(status, e.Code)
	if e.Class == Permanent && e.Code == "INVALID_DATA" {
		if m := idsPath.FindStringSubmatch(e.JSONPath()); m != nil {
			k, err := strconv.Atoi(m[1])
			if err == nil && k < len(ids) {
				e.Class, e.IDIndex, e.ID = InvalidID, k, ids[k]
			}
		}
	}
	return e
}

func codeOf(eb errorBody) string {
	var s string
	if json.Unmarshal(eb.Code, &s) == nil {
		return s
	}
	// The old 429 shape carries the HTTP status in "code" and the name in "error".
	return eb.Error
}

func classify(status int, code string) Class {
	switch code {
	case "INVALID_TOKEN", "AUTHENTICATION_FAILURE":
		return Auth
	case "OAUTH_SCOPE_MISMATCH":
		return Permanent // a new token has the same scopes
	case "TOO_MANY_REQUESTS", "INTERNAL_ERROR":
		return Retryable
	}
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return Retryable
	case status == http.StatusUnauthorized:
		return Auth
	}
	return Permanent
}

// describeUnreadable says why a body is not a Zoho answer without echoing
// it: a body may hold a token, and a proxy's HTML page is noise in a log.
func describeUnreadable(body []byte, err error) string {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return "empty response body"
	case trimmed[0] != '{' && trimmed[0] != '[':
		return fmt.Sprintf("response body is not JSON (%d bytes)", len(body))
	default:
		return fmt.Sprintf("response body is truncated or malformed JSON (%d bytes): %v", len(body), err)
	}
}
