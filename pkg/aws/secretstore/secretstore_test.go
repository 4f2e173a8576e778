package secretstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/secretstore"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestCacheAgainstSecretsManager(t *testing.T) {
	cfg := awstest.Require(t)
	sm := secretsmanager.NewFromConfig(cfg)
	id := awstest.CreateSecret(t, cfg, `{"access_token":"v1"}`)
	put := func(v string) {
		t.Helper()
		if _, err := sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(id), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	c := secret.NewCache(secretstore.New(sm, id), time.Hour)
	read := func(fresh bool) string {
		t.Helper()
		v, err := c.SecretString(context.Background(), fresh)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := read(false); v != `{"access_token":"v1"}` {
		t.Fatalf("first read %q", v)
	}
	put(`{"access_token":"v2"}`)
	if v := read(false); v != `{"access_token":"v1"}` {
		t.Fatalf("within the TTL got %q, want the cached value", v)
	}
	if v := read(true); v != `{"access_token":"v2"}` {
		t.Fatalf("fresh read got %q, want the new value", v)
	}
}

func TestMissingSecretNamesIt(t *testing.T) {
	cfg := awstest.Require(t)
	_, err := secretstore.New(secretsmanager.NewFromConfig(cfg), "no-such-secret-here").Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no-such-secret-here") {
		t.Fatalf("err = %v, want it to name the secret", err)
	}
}
