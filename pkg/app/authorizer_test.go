package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
)

// failingSecret is a secret that cannot be read.
type failingSecret struct{}

func (failingSecret) SecretString(context.Context, bool) (string, error) {
	return "", errors.New("secrets manager unavailable")
}

// TestAuthorizer: the authorizer admits exactly the requests whose
// X-Webhook-Key is the configured key, whatever the header's case; it
// ignores Authorization (its answer is cached per X-Webhook-Key value, so
// it may depend on nothing else); and it fails, rather than refuses, when
// the key cannot be read, so that no refusal is cached for good callers.
func TestAuthorizer(t *testing.T) {
	tests := []struct {
		name    string
		secret  secret.Reader
		headers map[string]string
		want    bool
		wantErr bool
	}{
		{"the key", secret.Static(sampleSecret()), map[string]string{"x-webhook-key": sampleWebhookKey}, true, false},
		{"the key, header in another case", secret.Static(sampleSecret()), map[string]string{"X-Webhook-Key": sampleWebhookKey}, true, false},
		{"another key", secret.Static(sampleSecret()), map[string]string{"x-webhook-key": "guess"}, false, false},
		{"the key with a prefix", secret.Static(sampleSecret()), map[string]string{"x-webhook-key": sampleWebhookKey + "x"}, false, false},
		{"an empty key", secret.Static(sampleSecret()), map[string]string{"x-webhook-key": ""}, false, false},
		{"the key as a bearer token only", secret.Static(sampleSecret()), map[string]string{"authorization": "Bearer " + sampleWebhookKey}, false, false},
		{"no key configured", secret.Static(zohotest.SecretJSON("")), map[string]string{"x-webhook-key": sampleWebhookKey}, false, false},
		{"the secret unreadable", failingSecret{}, map[string]string{"x-webhook-key": sampleWebhookKey}, false, true},
		{"the previous key during a rotation", secret.Static(rotating()), map[string]string{"x-webhook-key": sampleWebhookKey}, true, false},
		{"the new key during a rotation", secret.Static(rotating()), map[string]string{"x-webhook-key": "the-new-key"}, true, false},
		{"a previous key that is not a string", secret.Static(`{"client_id":"c","client_secret":"s","refresh_token":"r","webhook_key":"k","webhook_key_previous":1}`),
			map[string]string{"x-webhook-key": "k"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			fn, err := app.NewAuthorizer(config.Authorizer{}, app.AuthorizerDeps{Secret: tt.secret, Out: &out})
			if err != nil {
				t.Fatal(err)
			}
			var req events.APIGatewayV2CustomAuthorizerV2Request
			if err := json.Unmarshal(testkit.SampleEvent(t, "authorizer.json"), &req); err != nil {
				t.Fatal(err)
			}
			req.Headers = tt.headers
			got, err := fn.Invoke(t.Context(), req)
			if (err != nil) != tt.wantErr || got.IsAuthorized != tt.want {
				t.Fatalf("authorized %v, error %v; want %v, error %v", got.IsAuthorized, err, tt.want, tt.wantErr)
			}
			if strings.Contains(out.String(), sampleWebhookKey) {
				t.Errorf("the output shows the key:\n%s", out.String())
			}
			if !tt.want && !tt.wantErr && !strings.Contains(out.String(), `"RequestsUnauthorized"`) {
				t.Errorf("a refusal is not counted:\n%s", out.String())
			}
		})
	}
}

// rotating is the sample secret halfway through leadconvert rotate-key: a
// new current key, the sample's as the previous one.
func rotating() string {
	var fields map[string]any
	_ = json.Unmarshal([]byte(sampleSecret()), &fields)
	fields["webhook_key_previous"], fields["webhook_key"] = fields["webhook_key"], "the-new-key"
	b, _ := json.Marshal(fields)
	return string(b)
}
