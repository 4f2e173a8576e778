package lambdaio

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// event reads a sample event from testdata, changed by patch when given.
func event(t testing.TB, name string, patch ...func(e map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if len(patch) == 0 {
		return raw
	}
	var e map[string]any
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, p := range patch {
		p(e)
	}
	raw, err = json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestDetect(t *testing.T) {
	tests := []struct {
		file string
		want Kind
	}{
		{"sqs-batch.json", KindSQS},
		{"apigw-v1-post-conversions.json", KindRESTAPI},
		{"apigw-v1-get-job.json", KindRESTAPI},
		{"apigw-httpapi-payload1-binary.json", KindRESTAPI},
		{"apigw-v2-post-conversions.json", KindHTTPAPI},
		{"apigw-v2-get-job.json", KindHTTPAPI},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := detect(event(t, tt.file))
			if got != tt.want || err != nil {
				t.Errorf("Detect = %v, %v; want %v, nil", got, err, tt.want)
			}
		})
	}
}

func TestDetectUnrecognised(t *testing.T) {
	manyKeys := `{"k01":1,"k02":2,"k03":3,"k04":4,"k05":5,"k06":6,"k07":7,"k08":8,"k09":9,"k10":10}`
	longKey := `{"` + strings.Repeat("x", 45) + `":"3652397000009835021","a\nb":"Bearer zb-live-7f3c9a1e5d2b4c60"}`
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"sns", event(t, "sns.json"), `unrecognised event: Records[0].eventSource is "aws:sns", not "aws:sqs"`},
		{"s3", event(t, "s3.json"), `unrecognised event: Records[0].eventSource is "aws:s3", not "aws:sqs"`},
		{"sqs then sns", []byte(`{"Records":[{"eventSource":"aws:sqs","body":"3652397000009835021"},{"EventSource":"aws:sns","Sns":{"Message":"hello there"}}]}`),
			`unrecognised event: Records[1].eventSource is "aws:sns", not "aws:sqs"`},
		{"odd eventSource", []byte(`{"Records":[{"eventSource":"Bearer zb-live-7f3c9a1e5d2b4c60"}]}`),
			`unrecognised event: Records[0].eventSource is not "aws:sqs"`},
		{"no eventSource", []byte(`{"Records":[{"body":"3652397000009835021"}]}`), `unrecognised event: Records[0] has no eventSource`},
		{"empty Records", []byte(`{"Records":[]}`), `unrecognised event: empty Records array`},
		{"Records of numbers", []byte(`{"Records":[3652397000009835021]}`), `unrecognised event: unexpected JSON number at Records`},
		{"numeric version", []byte(` {"version": 20000000000000000000000, "rawPath": "/conversions"}`), `unrecognised event: unexpected JSON number at version`},
		{"array", []byte(`[{"eventSource":"aws:sqs","body":"3652397000009835021"}]`), `unrecognised event: JSON array`},
		{"string", []byte(`"3652397000009835021"`), `unrecognised event: JSON string`},
		{"number", []byte(`3652397000009835021`), `unrecognised event: JSON number`},
		{"boolean", []byte(`true`), `unrecognised event: JSON boolean`},
		{"null", []byte(` null `), `unrecognised event: JSON null`},
		{"not JSON", []byte(`ids=3652397000009835021&key=whk_4b1d2e8f0c6a9e3d`), `unrecognised event: not JSON (48 bytes)`},
		{"truncated JSON", event(t, "sqs-batch.json")[:200], `unrecognised event: not JSON (200 bytes)`},
		{"nothing", nil, `unrecognised event: not JSON (0 bytes)`},
		{"empty object", []byte(`{}`), `unrecognised event: empty JSON object`},
		{"two keys", []byte(`{"foo":"3652397000009835021","bar":{"baz":"whk_4b1d2e8f0c6a9e3d"}}`), `unrecognised event: JSON object with keys [bar, foo]`},
		{"many keys", []byte(manyKeys), `unrecognised event: JSON object with keys [k01, k02, k03, k04, k05, k06, k07, k08, ...]`},
		{"long and odd keys", []byte(longKey), `unrecognised event: JSON object with keys [a?b, ` + strings.Repeat("x", 40) + `…]`},
		{"v2 without requestContext.http", []byte(`{"version":"2.0","routeKey":"$default","rawPath":"/conversions"}`),
			`unrecognised event: JSON object with keys [rawPath, routeKey, version]`},
		{"httpMethod alone", []byte(`{"httpMethod":"POST","body":"{\"ids\":[\"3652397000009835021\"]}"}`),
			`unrecognised event: JSON object with keys [body, httpMethod]`},
		{"ALB", event(t, "alb.json"), `unrecognised event: JSON object with keys [body, headers, httpMethod, isBase64Encoded, path, queryStringParameters, requestContext]`},
		{"other EventBridge event", []byte(`{"source":"aws.events","detail-type":"Object Created","detail":{"key":"3652397000009835021"}}`),
			`unrecognised event: JSON object with keys [detail, detail-type, source]`},
		{"unscheduled", []byte(`{"source":"zoho.crm","detail-type":"Scheduled Event"}`), `unrecognised event: JSON object with keys [detail-type, source]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, err := detect(tt.raw)
			if kind != KindUnknown || err == nil {
				t.Fatalf("Detect = %v, %v; want KindUnknown and an error", kind, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got %s\nwant %s", got, tt.want)
			}
			for _, v := range values(tt.raw) {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error %q echoes the value %q", err, v)
				}
			}
		})
	}
}

// values returns the scalar values in raw that an error must not echo: all
// but AWS's own source names, which the errors may name on purpose. For
// input that is not JSON, that is the whole input.
func values(raw []byte) []string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		if len(raw) == 0 {
			return nil
		}
		return []string{string(raw)}
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			if !isAWSSource(v) {
				out = append(out, v)
			}
		case json.Number:
			out = append(out, v.String())
		}
	}
	walk(v)
	// Shorter values would match by chance ("1" in "Records[1]").
	return slices.DeleteFunc(out, func(s string) bool { return len(s) < 4 })
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{
		KindUnknown: "unknown", KindSQS: "sqs", KindHTTPAPI: "http-api",
		KindRESTAPI: "rest-api", Kind(42): "Kind(42)", Kind(-1): "Kind(-1)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}
