package lambdaio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/aws/aws-lambda-go/events"
)

// addSeeds adds every sample event, and a few odd shapes, to f's corpus.
func addSeeds(f *testing.F, add func(raw []byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(raw)
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `"x"`, `1e999`, `{"Records":[]}`, `{"records":{}}`,
		`{"Records":[{"eventSource":"aws:sqs"}],"version":2}`,
		`{"version":"2.0","requestContext":{"http":{"method":"GET"}},"rawPath":"/a%2","isBase64Encoded":true,"body":"=="}`,
		`{"httpMethod":"POST","resource":"/{proxy+}","path":"//../x y","multiValueHeaders":{"host":[]},"body":"\u0000"}`,
		`{"source":"aws.scheduler","detail-type":"Scheduled Event"}`,
	} {
		add([]byte(s))
	}
}

// maxErrorLen bounds a Detect error: eight keys of 40 characters of up to
// 4 bytes, and some words around them.
const maxErrorLen = 8*(40*4+5) + 100

func FuzzDetect(f *testing.F) {
	addSeeds(f, func(raw []byte) { f.Add(raw) })
	f.Fuzz(func(t *testing.T, raw []byte) {
		kind, err := detect(raw)
		if (kind == KindUnknown) != (err != nil) {
			t.Fatalf("Detect = %v, %v", kind, err)
		}
		if kind < KindUnknown || kind > KindRESTAPI {
			t.Fatalf("Detect = %v", kind)
		}
		if err == nil {
			return
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "unrecognised event: ") || len(msg) > maxErrorLen {
			t.Fatalf("error of %d bytes: %q", len(msg), msg)
		}
		if strings.IndexFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			t.Fatalf("error with unprintable characters: %q", msg)
		}
	})
}

func FuzzToHTTPRequest(f *testing.F) {
	addSeeds(f, func(raw []byte) { f.Add(raw, uint16(100)) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header()["X-Echo"] = r.Header.Values("X-Echo")
		w.Write(body) // the payloads to encode are arbitrary too
	})
	f.Fuzz(func(t *testing.T, raw []byte, max uint16) {
		maxBody := int64(max)
		e, err := Decode(raw)
		if err != nil || e.Kind == KindSQS {
			return // FuzzDetect covers the rest
		}
		{
			kind := e.Kind
			want := http.StatusOK
			r, err := e.HTTPRequest(context.Background(), maxBody)
			switch {
			case err == nil:
				checkRequest(t, r, maxBody)
			case errors.As(err, new(*BadRequestError)):
				want = http.StatusBadRequest
			case errors.As(err, new(*PayloadTooLargeError)):
				want = http.StatusRequestEntityTooLarge
			default:
				t.Fatalf("%v: %v", kind, err)
			}
			if err != nil && r != nil {
				t.Fatalf("%v: a request and an error", kind)
			}

			resp, err := Serve(context.Background(), h, e, maxBody)
			if err != nil {
				t.Fatalf("Serve %v: %v", kind, err)
			}
			var status int
			switch resp := resp.(type) {
			case events.APIGatewayProxyResponse:
				status = resp.StatusCode
			case events.APIGatewayV2HTTPResponse:
				status = resp.StatusCode
			default:
				t.Fatalf("Serve %v answered %T", kind, resp)
			}
			if status != want {
				t.Fatalf("Serve %v answered %d, want %d", kind, status, want)
			}
			if _, err := json.Marshal(resp); err != nil {
				t.Fatalf("Serve %v: %v", kind, err)
			}
		}
	})
}

func checkRequest(t *testing.T, r *http.Request, maxBody int64) {
	t.Helper()
	if r.Method == "" || r.Context() == nil {
		t.Fatalf("request %q without method or context", r.Method)
	}
	if !strings.HasPrefix(r.URL.Path, "/") {
		t.Fatalf("path %q", r.URL.Path)
	}
	if p, err := url.PathUnescape(r.URL.EscapedPath()); err != nil || p != r.URL.Path {
		t.Fatalf("path %q escapes to %q", r.URL.Path, r.URL.EscapedPath())
	}
	if _, ok := r.Header["Host"]; ok {
		t.Fatal("Host in the header map")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil || int64(len(body)) != r.ContentLength || maxBody > 0 && r.ContentLength > maxBody {
		t.Fatalf("body of %d bytes, ContentLength %d, limit %d, %v", len(body), r.ContentLength, maxBody, err)
	}
}
