// Package lambdaio decodes the events that start the convert function and
// answers them: one binary serves API Gateway (REST API v1 proxy events and
// HTTP API v2 payloads) and SQS, so it tells them apart while it decodes.
//
// API Gateway events are turned into *http.Request values and answered
// through a plain http.Handler, which keeps the HTTP API testable with
// net/http/httptest and free of Lambda types.
package lambdaio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of event a function was invoked with.
type Kind int

const (
	KindUnknown Kind = iota
	KindSQS          // {"Records":[{"eventSource":"aws:sqs",...}]}
	KindHTTPAPI      // HTTP API payload 2.0
	KindRESTAPI      // REST API proxy event, or HTTP API payload 1.0
)

var kindNames = [...]string{
	KindUnknown: "unknown",
	KindSQS:     "sqs",
	KindHTTPAPI: "http-api",
	KindRESTAPI: "rest-api",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// SQSMessage is what the convert function reads of one SQS record.
type SQSMessage struct {
	MessageID   string `json:"messageId"`
	Body        string `json:"body"`
	EventSource string `json:"eventSource"`
	// The message attributes and the one system attribute the function
	// reads (structs, not maps: they cost nothing when absent).
	MessageAttributes struct {
		RequestID struct {
			StringValue string `json:"stringValue"`
		} `json:"request_id"`
		Kind struct {
			StringValue string `json:"stringValue"`
		} `json:"kind"` // convert.KindAttribute
	} `json:"messageAttributes"`
	Attributes struct {
		SentTimestamp string `json:"SentTimestamp"` // milliseconds since the epoch
	} `json:"attributes"`
}

// RequestID is the id of the API request a message carries, or "" for a
// message a producer sent.
func (m SQSMessage) RequestID() string { return m.MessageAttributes.RequestID.StringValue }

// Kind is what the message says it is (convert.KindAttribute): "wake"
// for a wake-up, "" for a request.
func (m SQSMessage) Kind() string { return m.MessageAttributes.Kind.StringValue }

// SentAt is when SQS accepted the message, or zero if the event does not say.
func (m SQSMessage) SentAt() time.Time {
	ms, err := strconv.ParseInt(m.Attributes.SentTimestamp, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Event is an invocation event of the convert function, decoded once: the
// messages of an SQS batch, or an API Gateway request.
type Event struct {
	Kind Kind
	SQS  []SQSMessage // KindSQS: never empty
	api  request      // KindHTTPAPI, KindRESTAPI

	malformed bool // an API Gateway event that does not decode
}

// probeAPI tells an API Gateway event whose full decode failed by the few
// fields that identify it. Only that failure pays for a second pass.
func probeAPI(raw []byte) Kind {
	var p struct {
		Version        string `json:"version"`
		HTTPMethod     string `json:"httpMethod"`
		Resource       string `json:"resource"`
		Path           string `json:"path"`
		RequestContext struct {
			HTTP struct {
				Method string `json:"method"`
			} `json:"http"`
		} `json:"requestContext"`
	}
	if json.Unmarshal(raw, &p) != nil {
		return KindUnknown
	}
	switch {
	case p.Version == "2.0" && p.RequestContext.HTTP.Method != "":
		return KindHTTPAPI
	case p.HTTPMethod != "" && p.Resource != "" && p.Path != "":
		return KindRESTAPI
	}
	return KindUnknown
}

// wire holds every field of the three event shapes that the function reads,
// so that one json.Unmarshal both tells them apart and decodes them. Their
// field names do not clash except where the two API Gateway payloads agree
// on a type (headers, body, queryStringParameters).
type wire struct {
	Records []SQSMessage `json:"Records"`

	Version         string            `json:"version"`
	Headers         map[string]string `json:"headers"`
	Query           map[string]string `json:"queryStringParameters"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`

	// REST API (v1)
	HTTPMethod        string              `json:"httpMethod"`
	Resource          string              `json:"resource"`
	Path              string              `json:"path"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	MultiValueQuery   map[string][]string `json:"multiValueQueryStringParameters"`

	// HTTP API (v2)
	RawPath        string   `json:"rawPath"`
	RawQueryString string   `json:"rawQueryString"`
	Cookies        []string `json:"cookies"`

	RequestContext struct {
		RequestID  string `json:"requestId"`
		DomainName string `json:"domainName"`
		Stage      string `json:"stage"`
		Identity   struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"` // v1
		HTTP struct {
			Method   string `json:"method"`
			SourceIP string `json:"sourceIp"`
		} `json:"http"` // v2
	} `json:"requestContext"`
}

// Decode reads an event in one pass. An event it cannot recognise is an
// error that describes the shape of what arrived but never its values, which
// may be personal data or secrets, so it is safe to log.
func Decode(raw []byte) (*Event, error) {
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		if kind := probeAPI(raw); kind != KindUnknown {
			// An API Gateway event with a field of the wrong type: the
			// caller gets a 400, not a failed invocation.
			return &Event{Kind: kind, malformed: true}, nil
		}
		return nil, fmt.Errorf("unrecognised event: %s", jsonProblem(raw, err))
	}
	switch {
	case w.Records != nil:
		if len(w.Records) == 0 {
			return nil, errors.New("unrecognised event: empty Records array")
		}
		for i, r := range w.Records {
			if problem := sqsSourceProblem(i, r.EventSource); problem != "" {
				return nil, errors.New("unrecognised event: " + problem)
			}
		}
		return &Event{Kind: KindSQS, SQS: w.Records}, nil
	case w.Version == "2.0" && w.RequestContext.HTTP.Method != "":
		return &Event{Kind: KindHTTPAPI, api: fromV2(&w)}, nil
	case w.HTTPMethod != "" && w.Resource != "" && w.Path != "":
		return &Event{Kind: KindRESTAPI, api: fromV1(&w)}, nil
	}
	return nil, fmt.Errorf("unrecognised event: %s", describe(raw))
}

// sqsSourceProblem describes a record that did not come from SQS, or
// returns "". It names the source only when it looks like one of AWS's own
// ("aws:sns"): anything else could be data.
func sqsSourceProblem(i int, src string) string {
	switch {
	case src == "aws:sqs":
		return ""
	case src == "":
		return fmt.Sprintf("Records[%d] has no eventSource", i)
	case isAWSSource(src):
		return fmt.Sprintf("Records[%d].eventSource is %q, not \"aws:sqs\"", i, src)
	}
	return fmt.Sprintf("Records[%d].eventSource is not \"aws:sqs\"", i)
}

func isAWSSource(s string) bool {
	name, ok := strings.CutPrefix(s, "aws:")
	if !ok || name == "" || len(name) > 32 {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// jsonProblem describes a decoding error without quoting the input, as the
// messages of encoding/json sometimes do ("number 123").
func jsonProblem(raw []byte, err error) string {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			return describe(raw)
		}
		kind, _, _ := strings.Cut(te.Value, " ")
		return fmt.Sprintf("unexpected JSON %s at %s", kind, te.Field)
	}
	return fmt.Sprintf("not JSON (%d bytes)", len(raw))
}

const (
	maxKeys   = 8
	maxKeyLen = 40
)

// describe names the type of the valid JSON value raw and, for an object,
// its keys: enough to recognise a misrouted event in the logs.
func describe(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "not JSON (0 bytes)"
	}
	switch raw[0] {
	case '{':
		return describeObject(raw)
	case '[':
		return "JSON array"
	case '"':
		return "JSON string"
	case 't', 'f':
		return "JSON boolean"
	case 'n':
		return "JSON null"
	}
	return "JSON number"
}

func describeObject(raw []byte) string {
	// Only an unrecognised event pays for this second pass.
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Sprintf("not JSON (%d bytes)", len(raw))
	}
	if len(obj) == 0 {
		return "empty JSON object"
	}
	keys := slices.Sorted(maps.Keys(obj))
	more := len(keys) > maxKeys
	keys = keys[:min(len(keys), maxKeys)]
	for i, k := range keys {
		keys[i] = printable(k)
	}
	if more {
		keys = append(keys, "...")
	}
	return "JSON object with keys [" + strings.Join(keys, ", ") + "]"
}

// printable shortens a key and masks characters that could forge log lines.
func printable(s string) string {
	if utf8.RuneCountInString(s) > maxKeyLen {
		s = string([]rune(s)[:maxKeyLen]) + "…"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}
