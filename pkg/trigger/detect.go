// Package trigger decodes the events that start the bridge's Lambda functions
// and answers them: one binary serves API Gateway (REST API v1 proxy events and
// HTTP API v2 payloads) and SQS, so it must first tell them apart.
//
// API Gateway events are turned into *http.Request values and answered
// through a plain http.Handler, which keeps the HTTP API testable with
// net/http/httptest and free of Lambda types.
package trigger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of event a function was invoked with.
type Kind int

const (
	KindUnknown  Kind = iota
	KindSQS           // {"Records":[{"eventSource":"aws:sqs",...}]}
	KindHTTPAPI       // HTTP API payload 2.0
	KindRESTAPI       // REST API proxy event, or HTTP API payload 1.0
	KindSchedule      // EventBridge Scheduler or scheduled rule
)

var kindNames = [...]string{
	KindUnknown:  "unknown",
	KindSQS:      "sqs",
	KindHTTPAPI:  "http-api",
	KindRESTAPI:  "rest-api",
	KindSchedule: "schedule",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// probe holds only the fields that tell the kinds apart, so that detection
// stays cheap next to the full decode that follows it.
type probe struct {
	Records []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	Version        string `json:"version"`
	HTTPMethod     string `json:"httpMethod"`
	Resource       string `json:"resource"`
	Path           string `json:"path"`
	RequestContext struct {
		HTTP struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
}

// Detect tells which kind of event raw is. It returns KindUnknown with an
// error exactly when it cannot tell. The error describes the shape of what
// arrived but never its values, which may be personal data or secrets, so
// it is safe to log.
func Detect(raw []byte) (Kind, error) {
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		return KindUnknown, fmt.Errorf("unrecognised event: %s", jsonProblem(raw, err))
	}
	switch {
	case p.Records != nil:
		if len(p.Records) == 0 {
			return KindUnknown, errors.New("unrecognised event: empty Records array")
		}
		for i, r := range p.Records {
			if problem := sqsSourceProblem(i, r.EventSource); problem != "" {
				return KindUnknown, errors.New("unrecognised event: " + problem)
			}
		}
		return KindSQS, nil
	case p.Version == "2.0" && p.RequestContext.HTTP.Method != "":
		return KindHTTPAPI, nil
	case p.HTTPMethod != "" && p.Resource != "" && p.Path != "":
		return KindRESTAPI, nil
	case (p.Source == "aws.events" || p.Source == "aws.scheduler") && p.DetailType == "Scheduled Event":
		return KindSchedule, nil
	}
	return KindUnknown, fmt.Errorf("unrecognised event: %s", describe(raw))
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
