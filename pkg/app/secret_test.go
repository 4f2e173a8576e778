package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
)

// TestBadWebhookKeyOnlyClosesTheAPI: the webhook key is the API's business.
// A secret whose key is missing, blank or not a string refuses every API
// caller (401, logged as a configuration error naming the field) while the
// SQS path converts with the same secret's credentials.
func TestBadWebhookKeyOnlyClosesTheAPI(t *testing.T) {
	creds := fmt.Sprintf(`"client_id":%q,"client_secret":%q,"refresh_token":%q`,
		zohosim.DefaultClientID, zohosim.DefaultClientSecret, zohosim.DefaultRefreshToken)
	tests := map[string]string{
		"missing": "{" + creds + "}",
		"empty":   "{" + creds + `,"webhook_key":""}`,
		"blank":   "{" + creds + `,"webhook_key":"   "}`,
		"number":  "{" + creds + `,"webhook_key":12345}`,
		"null":    "{" + creds + `,"webhook_key":null}`,
		"object":  "{" + creds + `,"webhook_key":{"k":"v"}}`,
	}
	for name, secretJSON := range tests {
		t.Run(name, func(t *testing.T) {
			r := newConvertWithSecret(t, secretJSON)
			ids := r.sim.SeedLeadRange(1)
			for _, key := range []string{"12345", "   ", "anything"} {
				res := r.invoke(t, httpEvent("POST", "/conversions", map[string]string{
					"authorization": "Bearer " + key, "content-type": "application/json"}, `{"ids":["`+ids[0]+`"]}`, false))
				if got := res.(events.APIGatewayV2HTTPResponse); got.StatusCode != 401 {
					t.Fatalf("API with key %q: %d %s, want 401", key, got.StatusCode, got.Body)
				}
			}
			if !strings.Contains(r.out.String(), `"field":"webhook_key"`) {
				t.Errorf("no configuration error naming webhook_key in the log:\n%s", r.out.String())
			}

			res := r.invoke(t, testkit.SQSEvent(testkit.SQSMessage{ID: "m1", Body: `{"ids":["` + ids[0] + `"]}`}))
			if f := res.(events.SQSEventResponse).BatchItemFailures; len(f) != 0 {
				t.Fatalf("SQS batch failures %v; log:\n%s", f, r.out.String())
			}
			r.deliver(t, time.Minute) // the lead's wait runs out: its call goes
			if n := r.calls(); n != 1 {
				t.Fatalf("%d mass_convert calls, want 1; log:\n%s", n, r.out.String())
			}
			if strings.Contains(r.out.String(), "12345") {
				t.Error("the webhook key's value reached the log")
			}
		})
	}
}

// TestBrokenCredentialsAreAConfigurationError: a secret the token source
// cannot use is reported as such, naming the field and never its value, in
// the log and in ZohoErrors by Code, not as a network error; the API, whose
// key is fine, still queues requests.
func TestBrokenCredentialsAreAConfigurationError(t *testing.T) {
	const hidden = "98765432"
	r := newConvertWithSecret(t, fmt.Sprintf(`{"client_id":%s,"client_secret":%q,"refresh_token":%q,"webhook_key":%q}`,
		hidden, zohosim.DefaultClientSecret, zohosim.DefaultRefreshToken, sampleWebhookKey))
	ids := r.sim.SeedLeadRange(1)
	res := r.invoke(t, httpEvent("POST", "/conversions", map[string]string{
		"authorization": "Bearer " + sampleWebhookKey, "content-type": "application/json"}, `{"ids":["`+ids[0]+`"]}`, false))
	if got := res.(events.APIGatewayV2HTTPResponse); got.StatusCode != 202 {
		t.Fatalf("API: %d %s, want 202 (the key is good)", got.StatusCode, got.Body)
	}
	r.deliver(t, 0)           // the queued request: its lead is parked
	r.deliver(t, time.Minute) // its wait runs out: the call fails for want of a token
	out := r.out.String()
	if n := r.calls(); n != 0 {
		t.Fatalf("%d mass_convert calls with a broken secret", n)
	}
	if !strings.Contains(out, `"level":"ERROR","msg":"the Zoho secret is unusable`) || !strings.Contains(out, `"field":"client_id"`) ||
		!strings.Contains(out, `"code":"SECRET_INVALID"`) || !strings.Contains(out, "secret: client_id: must be a non-empty string") {
		t.Errorf("no configuration error naming client_id in the log:\n%s", out)
	}
	sums := testkit.EMFSums(t, r.out.Bytes())
	if sums["ZohoErrors/SECRET_INVALID"] == 0 || sums["ZohoErrors/NETWORK"] != 0 || sums["SecretInvalid"] == 0 {
		t.Errorf("metrics %v: want ZohoErrors by SECRET_INVALID and SecretInvalid, no NETWORK", sums)
	}
	if strings.Contains(out, hidden) || strings.Contains(out, zohosim.DefaultClientSecret) {
		t.Error("a secret value reached the log")
	}
}
