package lambdaio

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zoho-bridge/leadconvert/pkg/obs"
)

// BadRequestError reports an API Gateway event that cannot become an HTTP
// request; it deserves a 400 answer. Reason never quotes the event.
type BadRequestError struct{ Reason string }

func (e *BadRequestError) Error() string { return "bad request: " + e.Reason }

// PayloadTooLargeError reports a request body over the limit; it deserves a
// 413 answer.
type PayloadTooLargeError struct{ Limit int64 }

func (e *PayloadTooLargeError) Error() string {
	return fmt.Sprintf("request body exceeds %d bytes", e.Limit)
}

// request is what the two payload formats have in common.
type request struct {
	method, path, query string
	header              http.Header
	body                string
	isBase64            bool
	sourceIP, requestID string
	domainName          string
}

// HTTPRequest builds the request that an API Gateway event stands for, with
// ctx attached, as a net/http server would have received it. API Gateway's
// request id goes into the context (obs.RequestID): it is unique and found
// in API Gateway's own logs, unlike a caller's X-Request-Id. A body over
// maxBody bytes, once decoded, is refused with a *PayloadTooLargeError;
// maxBody <= 0 means no limit. An event that cannot be a request yields a
// *BadRequestError.
func (e *Event) HTTPRequest(ctx context.Context, maxBody int64) (*http.Request, error) {
	if e.Kind != KindRESTAPI && e.Kind != KindHTTPAPI {
		return nil, fmt.Errorf("lambdaio: a %v event is not an HTTP request", e.Kind)
	}
	if e.malformed {
		return nil, &BadRequestError{"malformed API Gateway event"}
	}
	return e.api.build(ctx, maxBody)
}

func fromV1(e *wire) request {
	h := make(http.Header)
	if len(e.MultiValueHeaders) > 0 {
		for _, k := range slices.Sorted(maps.Keys(e.MultiValueHeaders)) {
			for _, v := range e.MultiValueHeaders[k] {
				h.Add(k, v)
			}
		}
	} else {
		for _, k := range slices.Sorted(maps.Keys(e.Headers)) {
			h.Add(k, e.Headers[k])
		}
	}
	q := url.Values(e.MultiValueQuery)
	if len(q) == 0 {
		q = make(url.Values)
		for k, v := range e.Query {
			q.Set(k, v)
		}
	}
	return request{
		method:     e.HTTPMethod,
		path:       e.Path,
		query:      q.Encode(),
		header:     h,
		body:       e.Body,
		isBase64:   e.IsBase64Encoded,
		sourceIP:   e.RequestContext.Identity.SourceIP,
		requestID:  e.RequestContext.RequestID,
		domainName: e.RequestContext.DomainName,
	}
}

func fromV2(e *wire) request {
	// Payload 2.0 has already joined repeated headers with commas, and moved
	// Cookie headers to cookies.
	h := make(http.Header, len(e.Headers)+1)
	for k, v := range e.Headers {
		h.Add(k, v)
	}
	if len(e.Cookies) > 0 {
		h.Set("Cookie", strings.Join(e.Cookies, "; "))
	}
	// On the execute-api endpoint a named stage is the first path segment,
	// which the routes of the handler know nothing about.
	p := e.RawPath
	if st := e.RequestContext.Stage; st != "" && st != "$default" {
		if rest, ok := strings.CutPrefix(p, "/"+st+"/"); ok {
			p = "/" + rest
		}
	}
	return request{
		method:     e.RequestContext.HTTP.Method,
		path:       p,
		query:      e.RawQueryString,
		header:     h,
		body:       e.Body,
		isBase64:   e.IsBase64Encoded,
		sourceIP:   e.RequestContext.HTTP.SourceIP,
		requestID:  e.RequestContext.RequestID,
		domainName: e.RequestContext.DomainName,
	}
}

func (in *request) build(ctx context.Context, maxBody int64) (*http.Request, error) {
	if in.method == "" || strings.IndexFunc(in.method, notToken) >= 0 {
		return nil, &BadRequestError{"missing or invalid HTTP method"}
	}
	var body []byte
	if in.isBase64 {
		var err error
		if body, err = base64.StdEncoding.DecodeString(in.body); err != nil {
			return nil, &BadRequestError{"body is not valid base64"}
		}
	} else {
		body = []byte(in.body)
	}
	if maxBody > 0 && int64(len(body)) > maxBody {
		return nil, &PayloadTooLargeError{maxBody}
	}

	h := in.header
	if in.requestID != "" {
		ctx = obs.WithRequestID(ctx, in.requestID)
	}
	// Like net/http, move Host out of the header map.
	host := h.Get("Host")
	h.Del("Host")
	if host == "" {
		host = in.domainName
	}
	var remote string
	if in.sourceIP != "" {
		// The port is unknown, but handlers expect "host:port" from net/http.
		remote = net.JoinHostPort(in.sourceIP, "0")
	}

	u := pathURL(in.path)
	u.RawQuery = in.query
	r := &http.Request{
		Method:        in.method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          http.NoBody,
		ContentLength: int64(len(body)),
		Host:          host,
		RemoteAddr:    remote,
		RequestURI:    u.RequestURI(),
	}
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return r.WithContext(ctx), nil
}

// notToken reports a rune that cannot appear in an HTTP method (RFC 9110 token).
func notToken(r rune) bool {
	return r >= 0x7f || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}

// pathURL reads p as an escaped path. API Gateway hands some paths over
// decoded (HTTP API) and others still percent-encoded (REST API), and the
// event does not say which; escaping first whatever cannot appear literally
// in an escaped path serves both, so "/a b" and "/a%20b" are the same path.
func pathURL(p string) *url.URL {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) || c != '%' && isPathChar(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	escaped := b.String()
	path, _ := url.PathUnescape(escaped) // escaped is well formed
	u := &url.URL{Path: path}
	if u.EscapedPath() != escaped {
		u.RawPath = escaped // as url.Parse would: "/a%2Fb" is not "/a/b"
	}
	return u
}

// isPathChar reports whether c may appear unescaped in a path (RFC 3986 pchar or '/').
func isPathChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
