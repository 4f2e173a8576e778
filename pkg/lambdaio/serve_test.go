package lambdaio

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
)

// seen is what the test handler learnt of a request.
type seen struct {
	method, path, escapedPath, rawQuery, requestURI string
	host, remoteAddr, requestID                     string
	jobID                                           string
	header                                          http.Header
	body                                            string
	contentLength                                   int64
}

// api stands in for the bridge's HTTP API. It records each request in *got.
func api(got *seen) http.Handler {
	record := func(r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			panic(err)
		}
		*got = seen{
			method:        r.Method,
			path:          r.URL.Path,
			escapedPath:   r.URL.EscapedPath(),
			rawQuery:      r.URL.RawQuery,
			requestURI:    r.RequestURI,
			host:          r.Host,
			remoteAddr:    r.RemoteAddr,
			requestID:     obs.RequestID(r.Context()),
			jobID:         r.PathValue("job_id"),
			header:        r.Header,
			body:          string(b),
			contentLength: r.ContentLength,
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /conversions", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"job_id":"3652397000009835099","status":"scheduled"}`)
	})
	mux.HandleFunc("GET /conversions/{job_id}", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"job_id":"3652397000009835021","status":"COMPLETED"}`)
	})
	return mux
}

func TestServeRequest(t *testing.T) {
	const token, webhookKey = "Bearer zb-live-7f3c9a1e5d2b4c60", "whk_4b1d2e8f0c6a9e3d"
	gzipped, _ := base64.StdEncoding.DecodeString("H4sIAAAAAAAAA6tWykwpVrKKVjI2MzU=")
	tests := []struct {
		file   string
		kind   Kind
		want   seen
		header http.Header // a subset of the header the handler must see
	}{{
		file: "apigw-v1-post-conversions.json",
		kind: KindRESTAPI,
		want: seen{
			method: "POST", path: "/conversions", escapedPath: "/conversions",
			rawQuery:   "dry_run=false&notify=creator&notify=owner",
			requestURI: "/conversions?dry_run=false&notify=creator&notify=owner",
			host:       "a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com",
			remoteAddr: "203.0.113.24:0",
			requestID:  "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
			body:       `{"ids":["3652397000009835021","3652397000009835022"],"assign_to":"3652397000000186017"}`,
		},
		header: http.Header{
			"Authorization": {token},
			"X-Webhook-Key": {webhookKey},
			"Content-Type":  {"application/json"},
			"X-Zoho-Tag":    {"hot-lead", "q2-campaign"}, // from multiValueHeaders
		},
	}, {
		file: "apigw-v1-get-job.json",
		kind: KindRESTAPI,
		want: seen{
			method: "GET", path: "/conversions/3652397000009835021", escapedPath: "/conversions/3652397000009835021",
			rawQuery:   "include=leads",
			requestURI: "/conversions/3652397000009835021?include=leads",
			host:       "a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com",
			remoteAddr: "198.51.100.7:0",
			requestID:  "0f6d3b8e-2a41-4c7e-9b15-7d1e4f2a9c30",
			jobID:      "3652397000009835021",
		},
		header: http.Header{
			"Authorization": {token},
			"X-Request-Id":  {"caller-9e4f0b2a"}, // the caller's, kept
		},
	}, {
		file: "apigw-httpapi-payload1-binary.json",
		kind: KindRESTAPI,
		want: seen{
			method: "POST", path: "/conversions", escapedPath: "/conversions",
			requestURI: "/conversions",
			host:       "k3m9p2q7r1.execute-api.eu-central-1.amazonaws.com",
			remoteAddr: "[2001:db8::7]:0",
			requestID:  "YxZ4dIy0FiAEJ3C=",
			body:       string(gzipped),
		},
		header: http.Header{
			"Authorization":    {token},
			"X-Webhook-Key":    {webhookKey},
			"Content-Encoding": {"gzip"},
			"Content-Type":     {"application/octet-stream"},
		},
	}, {
		file: "apigw-v2-post-conversions.json",
		kind: KindHTTPAPI,
		want: seen{
			method: "POST", path: "/conversions", escapedPath: "/conversions", // stage "prod" stripped
			rawQuery:   "dry_run=true&notify=creator&notify=owner",
			requestURI: "/conversions?dry_run=true&notify=creator&notify=owner",
			host:       "k3m9p2q7r1.execute-api.eu-central-1.amazonaws.com",
			remoteAddr: "203.0.113.9:0",
			requestID:  "YxZ2bH3kFiAEJ-g=",
			body:       `{"ids":["3652397000009835021","3652397000009835022","3652397000009835023"],"assign_to":"3652397000000186017","move_attachments_to":{"api_name":"Deals"}}`,
		},
		header: http.Header{
			"Authorization":   {token},
			"X-Webhook-Key":   {webhookKey},
			"X-Zoho-Tag":      {"hot-lead,q2-campaign"}, // joined by API Gateway, left so
			"X-Forwarded-For": {"198.51.100.7, 203.0.113.9"},
			"Cookie":          {"zb_session=8c1f0e6a2d; zb_locale=de-DE"},
		},
	}, {
		file: "apigw-v2-get-job.json",
		kind: KindHTTPAPI,
		want: seen{
			method: "GET", path: "/conversions/3652397000009835021", escapedPath: "/conversions/3652397000009835021",
			rawQuery:   "include=leads",
			requestURI: "/conversions/3652397000009835021?include=leads",
			host:       "api.leadconvert.example.com",
			remoteAddr: "198.51.100.7:0",
			requestID:  "YxZ5eJz1FiAEJ4D=",
			jobID:      "3652397000009835021",
		},
		header: http.Header{"Authorization": {token}},
	}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := event(t, tt.file)
			if kind, err := detect(raw); kind != tt.kind {
				t.Fatalf("Detect = %v, %v; want %v", kind, err, tt.kind)
			}
			var got seen
			if _, err := serve(context.Background(), api(&got), tt.kind, raw, 1<<20); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.header {
				if !reflect.DeepEqual(got.header[k], want) {
					// Header values may be secrets: say which one differs, not what it holds.
					t.Errorf("header %s: the handler saw %d value(s), not the expected %d", k, len(got.header[k]), len(want))
				}
			}
			if _, ok := got.header["Host"]; ok {
				t.Error("Host left in the header map")
			}
			tt.want.header, got.header = nil, nil
			tt.want.contentLength = int64(len(tt.want.body))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("handler saw\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestServeResponse(t *testing.T) {
	binary := []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0x0d}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		v1      events.APIGatewayProxyResponse
		v2      events.APIGatewayV2HTTPResponse
	}{{
		name: "JSON with cookies",
		handler: func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Add("Set-Cookie", "zb_session=8c1f0e6a2d; Path=/; Secure; HttpOnly")
			h.Add("Set-Cookie", "zb_locale=de-DE; Path=/")
			h.Add("Vary", "Accept")
			h.Add("Vary", "Authorization")
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"job_id":"3652397000009835099",`)
			io.WriteString(w, `"status":"scheduled"}`)
		},
		v1: events.APIGatewayProxyResponse{
			StatusCode: 202,
			MultiValueHeaders: map[string][]string{
				"Content-Type": {"application/json"},
				"Set-Cookie":   {"zb_session=8c1f0e6a2d; Path=/; Secure; HttpOnly", "zb_locale=de-DE; Path=/"},
				"Vary":         {"Accept", "Authorization"},
			},
			Body: `{"job_id":"3652397000009835099","status":"scheduled"}`,
		},
		v2: events.APIGatewayV2HTTPResponse{
			StatusCode: 202,
			Headers:    map[string]string{"Content-Type": "application/json", "Vary": "Accept,Authorization"},
			Body:       `{"job_id":"3652397000009835099","status":"scheduled"}`,
			Cookies:    []string{"zb_session=8c1f0e6a2d; Path=/; Secure; HttpOnly", "zb_locale=de-DE; Path=/"},
		},
	}, {
		name:    "nothing written",
		handler: func(w http.ResponseWriter, r *http.Request) {},
		v1:      events.APIGatewayProxyResponse{StatusCode: 200, MultiValueHeaders: map[string][]string{}},
		v2:      events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{}},
	}, {
		name: "sniffed text",
		handler: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "conversion scheduled\n")
		},
		v1: events.APIGatewayProxyResponse{
			StatusCode:        200,
			MultiValueHeaders: map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}},
			Body:              "conversion scheduled\n",
		},
		v2: events.APIGatewayV2HTTPResponse{
			StatusCode: 200,
			Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			Body:       "conversion scheduled\n",
		},
	}, {
		name: "binary",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(binary)
		},
		v1: events.APIGatewayProxyResponse{
			StatusCode:        200,
			MultiValueHeaders: map[string][]string{"Content-Type": {"image/png"}},
			Body:              base64.StdEncoding.EncodeToString(binary),
			IsBase64Encoded:   true,
		},
		v2: events.APIGatewayV2HTTPResponse{
			StatusCode:      200,
			Headers:         map[string]string{"Content-Type": "image/png"},
			Body:            base64.StdEncoding.EncodeToString(binary),
			IsBase64Encoded: true,
		},
	}, {
		name: "text type, not UTF-8",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/csv")
			w.Write([]byte("id;name\n3652397000009835021;M\xfcller\n"))
		},
		v1: events.APIGatewayProxyResponse{
			StatusCode:        200,
			MultiValueHeaders: map[string][]string{"Content-Type": {"text/csv"}},
			Body:              base64.StdEncoding.EncodeToString([]byte("id;name\n3652397000009835021;M\xfcller\n")),
			IsBase64Encoded:   true,
		},
		v2: events.APIGatewayV2HTTPResponse{
			StatusCode:      200,
			Headers:         map[string]string{"Content-Type": "text/csv"},
			Body:            base64.StdEncoding.EncodeToString([]byte("id;name\n3652397000009835021;M\xfcller\n")),
			IsBase64Encoded: true,
		},
	}, {
		name: "problem+json, header changed too late",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusConflict)
			w.WriteHeader(http.StatusOK) // superfluous: ignored
			w.Header().Set("X-Too-Late", "1")
			io.WriteString(w, `{"title":"lead already converted"}`)
		},
		v1: events.APIGatewayProxyResponse{
			StatusCode:        409,
			MultiValueHeaders: map[string][]string{"Content-Type": {"application/problem+json"}},
			Body:              `{"title":"lead already converted"}`,
		},
		v2: events.APIGatewayV2HTTPResponse{
			StatusCode: 409,
			Headers:    map[string]string{"Content-Type": "application/problem+json"},
			Body:       `{"title":"lead already converted"}`,
		},
	}, {
		name: "sniffing turned off",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, "plain words")
		},
		v1: events.APIGatewayProxyResponse{
			StatusCode:        200,
			MultiValueHeaders: map[string][]string{},
			Body:              base64.StdEncoding.EncodeToString([]byte("plain words")),
			IsBase64Encoded:   true,
		},
		v2: events.APIGatewayV2HTTPResponse{
			StatusCode:      200,
			Headers:         map[string]string{},
			Body:            base64.StdEncoding.EncodeToString([]byte("plain words")),
			IsBase64Encoded: true,
		},
	}, {
		name: "no body allowed",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "ignored"); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic("Write after 204: " + err.Error())
			}
		},
		v1: events.APIGatewayProxyResponse{StatusCode: 204, MultiValueHeaders: map[string][]string{}},
		v2: events.APIGatewayV2HTTPResponse{StatusCode: 204, Headers: map[string]string{}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				file string
				kind Kind
				want any
			}{
				{"apigw-v1-get-job.json", KindRESTAPI, tt.v1},
				{"apigw-v2-get-job.json", KindHTTPAPI, tt.v2},
			} {
				got, err := serve(context.Background(), tt.handler, c.kind, event(t, c.file), 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("%v answer\n got %s\nwant %s", c.kind, jsonOf(t, got), jsonOf(t, c.want))
				}
			}
		})
	}
}

func jsonOf(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServeRefused(t *testing.T) {
	setBody := func(body string, isBase64 bool) func(map[string]any) {
		return func(e map[string]any) { e["body"], e["isBase64Encoded"] = body, isBase64 }
	}
	tests := []struct {
		name    string
		file    string
		patch   func(map[string]any)
		maxBody int64
		status  int
		body    string
	}{
		{"v1 body over the cap", "apigw-v1-post-conversions.json", nil, 64, 413,
			`{"code":"LIMIT_EXCEEDED","message":"request body exceeds 64 bytes","status":"error"}`},
		{"v2 decoded body over the cap", "apigw-v2-post-conversions.json", nil, 151, 413,
			`{"code":"LIMIT_EXCEEDED","message":"request body exceeds 151 bytes","status":"error"}`},
		{"v1 bad base64", "apigw-httpapi-payload1-binary.json", setBody("H4sIAAAA*AAAA6tWykwp", true), 1 << 20, 400,
			`{"code":"INVALID_REQUEST","message":"body is not valid base64","status":"error"}`},
		{"v2 bad base64", "apigw-v2-post-conversions.json", setBody(`{"ids":["3652397000009835021"]}`, true), 1 << 20, 400,
			`{"code":"INVALID_REQUEST","message":"body is not valid base64","status":"error"}`},
		{"v1 bad method", "apigw-v1-post-conversions.json", func(e map[string]any) { e["httpMethod"] = "PO ST" }, 1 << 20, 400,
			`{"code":"INVALID_REQUEST","message":"missing or invalid HTTP method","status":"error"}`},
		{"v2 malformed event", "apigw-v2-get-job.json", func(e map[string]any) { e["headers"] = []any{"authorization"} }, 1 << 20, 400,
			`{"code":"INVALID_REQUEST","message":"malformed API Gateway event","status":"error"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw []byte
			if tt.patch != nil {
				raw = event(t, tt.file, tt.patch)
			} else {
				raw = event(t, tt.file)
			}
			kind := KindRESTAPI
			if strings.Contains(tt.file, "v2") {
				kind = KindHTTPAPI
			}
			called := false
			h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
			got, err := serve(context.Background(), h, kind, raw, tt.maxBody)
			if err != nil {
				t.Fatal(err)
			}
			if called {
				t.Error("handler called")
			}
			var status int
			var body, contentType string
			switch r := got.(type) {
			case events.APIGatewayProxyResponse:
				status, body, contentType = r.StatusCode, r.Body, strings.Join(r.MultiValueHeaders["Content-Type"], ",")
			case events.APIGatewayV2HTTPResponse:
				status, body, contentType = r.StatusCode, r.Body, r.Headers["Content-Type"]
			default:
				t.Fatalf("Serve answered %T", got)
			}
			if status != tt.status || body != tt.body || contentType != "application/json" {
				t.Errorf("Serve answered %d %q %s; want %d application/json %s", status, contentType, body, tt.status, tt.body)
			}
		})
	}
}

func TestToHTTPRequestErrors(t *testing.T) {
	ctx := context.Background()
	raw := event(t, "apigw-v1-post-conversions.json")
	_, err := toHTTPRequest(ctx, KindRESTAPI, raw, 10)
	if e, ok := errors.AsType[*PayloadTooLargeError](err); !ok || e.Limit != 10 {
		t.Errorf("body over the cap: err = %v, want a *PayloadTooLargeError{10}", err)
	}
	if _, err := toHTTPRequest(ctx, KindRESTAPI, raw, 0); err != nil {
		t.Errorf("no cap: %v", err)
	}
	raw = event(t, "apigw-v2-post-conversions.json", func(e map[string]any) { e["body"] = "not base64!" })
	if _, err := toHTTPRequest(ctx, KindHTTPAPI, raw, 0); !errors.As(err, new(*BadRequestError)) {
		t.Errorf("bad base64: err = %v, want a *BadRequestError", err)
	}
	for _, kind := range []Kind{KindUnknown, KindSQS} {
		if _, err := toHTTPRequest(ctx, kind, raw, 0); err == nil {
			t.Errorf("%v: no error", kind)
		}
		if _, err := serve(ctx, http.NotFoundHandler(), kind, raw, 0); err == nil {
			t.Errorf("Serve %v: no error", kind)
		}
	}
}

func TestStagePrefix(t *testing.T) {
	tests := []struct {
		stage, rawPath, want string
	}{
		{"prod", "/prod/conversions", "/conversions"},
		{"prod", "/prod/conversions/3652397000009835021", "/conversions/3652397000009835021"},
		{"prod", "/conversions", "/conversions"}, // custom domain: no stage in the path
		{"prod", "/production/conversions", "/production/conversions"},
		{"prod", "/prod", "/prod"},
		{"$default", "/$default/conversions", "/$default/conversions"},
		{"", "/conversions", "/conversions"},
	}
	for _, tt := range tests {
		raw := event(t, "apigw-v2-get-job.json", func(e map[string]any) {
			e["rawPath"] = tt.rawPath
			e["requestContext"].(map[string]any)["stage"] = tt.stage
		})
		r, err := toHTTPRequest(context.Background(), KindHTTPAPI, raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r.URL.Path != tt.want {
			t.Errorf("stage %q, rawPath %q: path %q, want %q", tt.stage, tt.rawPath, r.URL.Path, tt.want)
		}
	}
}

func TestPathEscaping(t *testing.T) {
	tests := []struct {
		in, path, escaped string
	}{
		{"/conversions", "/conversions", "/conversions"},
		{"/conversions/a b", "/conversions/a b", "/conversions/a%20b"},   // decoded, as HTTP APIs send it
		{"/conversions/a%20b", "/conversions/a b", "/conversions/a%20b"}, // encoded, as REST APIs send it
		{"/conversions/a%2Fb", "/conversions/a/b", "/conversions/a%2Fb"},
		{"/conversions/what?#", "/conversions/what?#", "/conversions/what%3F%23"},
		{"/100%", "/100%", "/100%25"},
		{"/100%zz", "/100%zz", "/100%25zz"},
		{"/caf\u00e9", "/caf\u00e9", "/caf%C3%A9"},
		{"", "/", "/"},
		{"conversions", "/conversions", "/conversions"},
	}
	for _, tt := range tests {
		u := pathURL(tt.in)
		if u.Path != tt.path || u.EscapedPath() != tt.escaped {
			t.Errorf("pathURL(%q) = %q, %q; want %q, %q", tt.in, u.Path, u.EscapedPath(), tt.path, tt.escaped)
		}
	}

	// The handler's patterns see the escaped path.
	raw := event(t, "apigw-v1-get-job.json", func(e map[string]any) { e["path"] = "/conversions/a%2Fb" })
	var got seen
	if _, err := serve(context.Background(), api(&got), KindRESTAPI, raw, 0); err != nil {
		t.Fatal(err)
	}
	if got.jobID != "a/b" {
		t.Errorf("job_id = %q, want %q", got.jobID, "a/b")
	}
}

func TestCookies(t *testing.T) {
	raw := event(t, "apigw-v2-post-conversions.json")
	r, err := toHTTPRequest(context.Background(), KindHTTPAPI, raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range r.Cookies() {
		names = append(names, c.Name)
	}
	if want := []string{"zb_session", "zb_locale"}; !reflect.DeepEqual(names, want) {
		t.Errorf("cookies %q, want %q", names, want)
	}

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "zb_session", Value: "rotated", Path: "/", Secure: true, HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "zb_locale", MaxAge: -1})
	})
	got, err := serve(context.Background(), h, KindHTTPAPI, raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	resp := got.(events.APIGatewayV2HTTPResponse)
	want := []string{"zb_session=rotated; Path=/; HttpOnly; Secure", "zb_locale=; Max-Age=0"}
	if !reflect.DeepEqual(resp.Cookies, want) {
		t.Errorf("Cookies = %q, want %q", resp.Cookies, want)
	}
	if _, ok := resp.Headers["Set-Cookie"]; ok {
		t.Error("Set-Cookie left in Headers")
	}
}

func TestResponseWriterZeroValue(t *testing.T) {
	var w ResponseWriter
	w.WriteHeader(http.StatusCreated)
	w.Header().Set("X-Too-Late", "1")
	got := w.Event(KindRESTAPI).(events.APIGatewayProxyResponse)
	if got.StatusCode != 201 || len(got.MultiValueHeaders) != 0 {
		t.Errorf("Event = %+v", got)
	}
	if w.Event(KindSQS) != nil {
		t.Error("Event(KindSQS) is not nil")
	}
}
