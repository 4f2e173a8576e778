package lambdaio

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// ResponseWriter is an http.ResponseWriter that keeps the whole answer, for
// Event to turn into an API Gateway response. The zero value is ready to use.
//
// It follows net/http where a handler could tell the difference: changes to
// the header after WriteHeader are not sent, the first WriteHeader wins, a
// 204 or 304 answer takes no body, and a missing Content-Type is sniffed.
type ResponseWriter struct {
	header http.Header
	sent   http.Header // header as of WriteHeader
	status int
	body   bytes.Buffer
}

// NewResponseWriter returns an empty ResponseWriter.
func NewResponseWriter() *ResponseWriter { return new(ResponseWriter) }

// Header returns the header that WriteHeader will send.
func (w *ResponseWriter) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

// WriteHeader records the status code. Informational (1xx) codes are
// ignored: API Gateway has no way to pass them on.
func (w *ResponseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
	w.sent = w.Header().Clone()
}

// Write appends p to the body, sending a 200 header first if none was sent.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		return 0, http.ErrBodyNotAllowed
	}
	return w.body.Write(p)
}

// Event returns the answer as the API Gateway response for kind: an
// events.APIGatewayProxyResponse for KindRESTAPI, an
// events.APIGatewayV2HTTPResponse for KindHTTPAPI, and nil for other kinds.
// A body that is not text, or not valid UTF-8, is sent base64-encoded, for
// API Gateway to decode (given a matching binary media type, for REST APIs).
func (w *ResponseWriter) Event(kind Kind) any {
	status, sent := w.status, w.sent
	if status == 0 {
		status, sent = http.StatusOK, w.header
	}
	// As in net/http, a Content-Type key with no value turns sniffing off.
	_, typed := sent["Content-Type"]
	h := make(http.Header, len(sent)+1)
	for k, vs := range sent {
		if len(vs) > 0 {
			h[k] = append([]string(nil), vs...)
		}
	}
	body := w.body.Bytes()
	if !typed && len(body) > 0 {
		h.Set("Content-Type", http.DetectContentType(body))
	}
	text, isBase64 := encodeBody(h.Get("Content-Type"), body)

	switch kind {
	case KindRESTAPI:
		return events.APIGatewayProxyResponse{
			StatusCode:        status,
			MultiValueHeaders: h,
			Body:              text,
			IsBase64Encoded:   isBase64,
		}
	case KindHTTPAPI:
		// Payload 2.0 answers have single-valued headers, so cookies, which
		// cannot be joined with commas, travel on their own.
		cookies := h.Values("Set-Cookie")
		h.Del("Set-Cookie")
		joined := make(map[string]string, len(h))
		for k, vs := range h {
			joined[k] = strings.Join(vs, ",")
		}
		return events.APIGatewayV2HTTPResponse{
			StatusCode:      status,
			Headers:         joined,
			Body:            text,
			IsBase64Encoded: isBase64,
			Cookies:         cookies,
		}
	}
	return nil
}

func encodeBody(contentType string, body []byte) (string, bool) {
	if len(body) == 0 {
		return "", false
	}
	if isText(contentType) && utf8.Valid(body) {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

func isText(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch mt {
	case "application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded":
		return true
	}
	return strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml")
}

// Serve answers an API Gateway event with h. An event that cannot become a
// request is answered 400 or 413 without calling h. Serve does not recover a
// panic in h: h answers for its own (httpapi answers 500 and logs it).
func Serve(ctx context.Context, h http.Handler, e *Event, maxBody int64) (any, error) {
	kind := e.Kind
	if kind != KindRESTAPI && kind != KindHTTPAPI {
		return nil, fmt.Errorf("lambdaio: cannot serve a %v event over HTTP", kind)
	}
	w := NewResponseWriter()
	r, err := e.HTTPRequest(ctx, maxBody)
	if bad, ok := errors.AsType[*BadRequestError](err); ok {
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", bad.Reason)
	} else if big, ok := errors.AsType[*PayloadTooLargeError](err); ok {
		writeError(w, http.StatusRequestEntityTooLarge, "LIMIT_EXCEEDED", big.Error())
	} else if err != nil {
		return nil, err
	} else {
		h.ServeHTTP(w, r)
	}
	return w.Event(kind), nil
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	}{code, message, "error"})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}
