package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/rie"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const key = "sample-webhook-key-change-me" // the key of events/authorizer.json

// withHeaders returns the sample authorizer event with its headers replaced.
func withHeaders(t *testing.T, headers map[string]string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(testkit.SampleEvent(t, "authorizer.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev["headers"] = headers
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBootstrapThroughRIE builds the function as it is deployed and invokes
// it through the Runtime Interface Emulator with authorizer requests
// (payload 2.0), the key read from a secret in moto: only the key in
// X-Webhook-Key is admitted, and the key never reaches the output. A
// secret that cannot be read fails the invocation instead of refusing.
func TestBootstrapThroughRIE(t *testing.T) {
	cfg := awstest.Require(t)
	bin := rie.Build(t, "./functions/authorizer")
	secretARN := awstest.CreateSecret(t, cfg, zohotest.SecretJSON(key))

	fn := rie.Start(t, bin, "ZOHO_SECRET_ID="+secretARN, "AWS_LAMBDA_FUNCTION_TIMEOUT=10")
	tests := []struct {
		name  string
		event []byte
		want  bool
	}{
		{"the sample event", testkit.SampleEvent(t, "authorizer.json"), true},
		{"another key", withHeaders(t, map[string]string{"x-webhook-key": "guess"}), false},
		{"the key as a bearer token only", withHeaders(t, map[string]string{"authorization": "Bearer " + key}), false},
		{"no headers", withHeaders(t, map[string]string{}), false},
	}
	for _, tt := range tests {
		var answer map[string]any
		out := fn.Invoke(t, tt.event)
		if err := json.Unmarshal(out, &answer); err != nil || answer["isAuthorized"] != tt.want || len(answer) != 1 {
			t.Errorf("%s: answered %s, want {\"isAuthorized\":%v}", tt.name, out, tt.want)
		}
	}
	if out := fn.Output(); strings.Contains(out, key) || !strings.Contains(out, `"RequestsUnauthorized"`) {
		t.Errorf("the output shows the key or counts no refusal:\n%s", out)
	}

	missing := rie.Start(t, bin, "ZOHO_SECRET_ID=arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf", "AWS_LAMBDA_FUNCTION_TIMEOUT=10")
	var fnErr struct{ ErrorMessage string }
	if out := missing.Invoke(t, testkit.SampleEvent(t, "authorizer.json")); json.Unmarshal(out, &fnErr) != nil || fnErr.ErrorMessage == "" {
		t.Errorf("an unreadable secret answered %s, want a failed invocation", out)
	}
}
