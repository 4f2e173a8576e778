package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/httpapi"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
)

// AuthorizerDeps are the authorizer function's dependencies: the secret
// that holds the webhook key, nothing else.
type AuthorizerDeps struct {
	Secret secret.Reader
	Out    io.Writer        // logs and EMF metrics (stdout in Lambda)
	Now    func() time.Time // default time.Now
}

// Authorizer is the HTTP API's Lambda authorizer: it refuses a request
// without the webhook key before the convert function runs, so a flood of
// such requests costs neither the convert function's concurrency nor a
// read of the table. API Gateway caches its answer per value of the
// X-Webhook-Key header (the identity source), so it decides on that header
// alone; the convert function still checks the key itself.
type Authorizer struct {
	keys *httpapi.KeyCheck
	out  io.Writer
	log  *slog.Logger
}

// NewAuthorizer builds the authorizer function from its configuration.
func NewAuthorizer(cfg config.Authorizer, d AuthorizerDeps) (*Authorizer, error) {
	if d.Secret == nil {
		return nil, errors.New("authorizer: no secret")
	}
	log := obs.NewLogger(d.Out, cfg.LogLevel)
	return &Authorizer{keys: &httpapi.KeyCheck{Keys: webhookKey(d.Secret, log), Now: d.Now}, out: d.Out, log: log}, nil
}

// Invoke is the Lambda handler: an HTTP API authorizer request (payload
// 2.0) in, a simple response out. When the key cannot be read it fails
// the invocation: API Gateway then answers 500 and caches nothing, where a
// refusal would be cached and shut out the callers who hold the key.
func (a *Authorizer) Invoke(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	ctx = obs.WithRequestID(ctx, req.RequestContext.RequestID)
	m := obs.NewMetrics("authorizer")
	defer func() { _ = m.Flush(a.out, time.Now()) }()
	ok, err := a.keys.Admit(ctx, header(req.Headers, httpapi.KeyHeader))
	if err != nil {
		m.Count("KeyUnavailable", 1)
		a.log.ErrorContext(ctx, "authorizer: reading the webhook key failed", "error", err)
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, fmt.Errorf("authorizer: %w", err)
	}
	if !ok {
		// The access log has each refusal (status 403); this counts them.
		m.Count("RequestsUnauthorized", 1)
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: ok}, nil
}

// header returns the value of the header name; API Gateway sends HTTP API
// headers in lower case, and other senders may not.
func header(h map[string]string, name string) string {
	if v, ok := h[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
