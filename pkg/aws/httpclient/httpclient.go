// Package httpclient is the HTTP client of the project's AWS SDK clients
// that write (the convert and status functions, leadconvert, the test and
// local runs): the SDK's own, except that a request body no longer offers
// io.WriterTo. The authorizer only reads a secret, whose retry is harmless.
//
// Why: smithy-go wraps each request body in a reader that, once closed,
// answers WriteTo with io.EOF, and closes it as soon as client.Do returns,
// that is, once the answer's headers are in. net/http writes a body of known
// length straight to the connection and then copies what follows it to
// io.Discard, to catch a body longer than its length; io.Copy uses WriteTo
// and hands its io.EOF back as an error. When the service answers before
// that last copy (it has the whole body), the copy fails, the transport's
// write loop closes the connection under the answer being read, and the SDK
// gets net.ErrClosed on a 200 and sends the request again
// (aws-sdk-go-v2#2737). A write DynamoDB or SQS applied is then applied
// twice: a conditional update fails on its own write, a message is queued
// twice. With Read alone, the copy after close reads io.EOF, which io.Copy
// takes for the end, as it is.
package httpclient

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Wrap returns next (the SDK's default client when nil) with request bodies
// that offer Read and Close only. It goes on the config the loader made
// (cfg.HTTPClient = httpclient.Wrap(cfg.HTTPClient)), so that what the
// loader set on its client, a CA bundle say, stays.
func Wrap(next aws.HTTPClient) aws.HTTPClient {
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	if c, ok := next.(client); ok {
		return c
	}
	return client{next}
}

type client struct{ next aws.HTTPClient }

func (c client) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		r := *req // the caller's request is its own: smithy closes its body after Do
		r.Body = readCloser{req.Body}
		req = &r
	}
	return c.next.Do(req)
}

// readCloser hides every method of its body but Read and Close.
type readCloser struct{ body io.ReadCloser }

func (r readCloser) Read(p []byte) (int, error) { return r.body.Read(p) }
func (r readCloser) Close() error               { return r.body.Close() }
