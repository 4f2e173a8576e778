package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
)

// TestRotateKey: a rotation makes a new current key and keeps the old one
// as previous, both admitted; --finish drops the previous one; neither key
// is printed unless --show (then the new key alone, on stdout); a second
// start or a finish without a rotation is refused and changes nothing.
func TestRotateKey(t *testing.T) {
	cfg := awstest.Require(t)
	const oldKey = "the-old-webhook-key"
	id := awstest.CreateSecret(t, cfg, `{"client_id":"1000.C","client_secret":"s3cr3t","refresh_token":"1000.r","webhook_key":"`+oldKey+`"}`)
	sm := secretsmanager.NewFromConfig(cfg)
	keys := func() (cur, prev string) {
		t.Helper()
		v, err := sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		k, bad := app.ParseWebhookKeys(aws.ToString(v.SecretString))
		if bad != nil {
			t.Fatalf("the secret after the command does not parse: %v", bad)
		}
		var fields map[string]any
		_ = json.Unmarshal([]byte(aws.ToString(v.SecretString)), &fields)
		if fields["client_secret"] != "s3cr3t" {
			t.Fatalf("the credentials changed: %v", fields["client_id"])
		}
		return k.Current, k.Previous
	}
	args := func(extra ...string) []string {
		return append(append([]string{"rotate-key", "--secret", id}, motoArgs(cfg)...), extra...)
	}

	code, out, errOut := runSubcommand(t, nil, args()...)
	cur, prev := keys()
	if code != exitOK || prev != oldKey || cur == "" || cur == oldKey {
		t.Fatalf("start: exit %d, keys %q/%q; want a new current key and the old one previous", code, cur, prev)
	}
	if strings.Contains(out+errOut, cur) || strings.Contains(out+errOut, oldKey) || !strings.Contains(errOut, "rotate-key --finish --secret") {
		t.Fatalf("start printed a key, or no next step:\n%s%s", out, errOut)
	}
	if code, _, _ := runSubcommand(t, nil, args()...); code == exitOK {
		t.Fatal("a second start during a rotation was accepted")
	}
	if c2, p2 := keys(); c2 != cur || p2 != prev {
		t.Fatal("a refused second start changed the secret")
	}

	if code, _, _ := runSubcommand(t, nil, args("--finish")...); code != exitOK {
		t.Fatalf("finish: exit %d", code)
	}
	if c2, p2 := keys(); c2 != cur || p2 != "" {
		t.Fatalf("after --finish: keys %q/%q; want the new key alone", c2, p2)
	}
	if code, _, _ := runSubcommand(t, nil, args("--finish")...); code == exitOK {
		t.Fatal("a finish without a rotation was accepted")
	}

	code, out, _ = runSubcommand(t, nil, args("--show")...)
	shown, _ := keys()
	if code != exitOK || strings.TrimSpace(out) != shown {
		t.Fatalf("--show: exit %d, stdout %q; want the new key alone", code, out)
	}
}
