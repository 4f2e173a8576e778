package httpclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// smithyBody is a request body as smithy-go hands it to the HTTP client.
func smithyBody(t *testing.T, payload string) io.ReadCloser {
	t.Helper()
	req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	req.Method = http.MethodPost
	req.ContentLength = int64(len(payload))
	req, err := req.SetStream(bytes.NewReader([]byte(payload)))
	if err != nil {
		t.Fatal(err)
	}
	return req.Build(context.Background()).Body
}

// TestCopyAfterCloseEnds is the mechanism: the transport's last copy of a
// body (of whatever follows its length) can run after smithy closed it. On
// smithy's body that copy fails with io.EOF, and the transport then closes
// the connection under the answer; through Wrap it ends cleanly.
func TestCopyAfterCloseEnds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wrap    bool
		wantErr error
	}{
		{"smithy's body, as the SDK sends it", false, io.EOF},
		{"through Wrap", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := smithyBody(t, `{"TableName":"t"}`)
			if _, ok := body.(io.WriterTo); !ok {
				t.Fatal("smithy's body no longer offers WriteTo: this client may no longer be needed")
			}
			seen := body
			if tc.wrap {
				seen = readCloser{body}
			}
			if _, err := io.Copy(io.Discard, io.LimitReader(seen, 17)); err != nil {
				t.Fatal(err)
			}
			body.Close() // smithy, once client.Do returned
			if _, err := io.Copy(io.Discard, seen); !errors.Is(err, tc.wantErr) {
				t.Fatalf("copying the rest after close: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestWrapSendsTheBody: the body reaches the server whole, the caller's
// request keeps its own body, and wrapping twice wraps once.
func TestWrapSendsTheBody(t *testing.T) {
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
	}))
	t.Cleanup(srv.Close)
	c := Wrap(Wrap(nil))
	if _, ok := c.(client).next.(client); ok {
		t.Fatal("Wrap(Wrap(nil)) wraps twice")
	}
	body := smithyBody(t, "payload")
	req, err := http.NewRequest(http.MethodPost, srv.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 7
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if string(got) != "payload" {
		t.Errorf("the server read %q", got)
	}
	if req.Body != body {
		t.Errorf("the caller's request body was replaced")
	}
}
