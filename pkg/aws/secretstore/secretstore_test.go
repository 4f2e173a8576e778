package secretstore_test

import (
	"context"
	"strings"
	"sync"
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
	c := secret.NewCache(secretstore.New(sm, id), secret.CacheConfig{TTL: time.Hour})
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

// countingAPI counts the reads that reach moto.
type countingAPI struct {
	secretstore.API
	mu    sync.Mutex
	calls int
}

func (c *countingAPI) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.API.GetSecretValue(ctx, in, optFns...)
}

func (c *countingAPI) reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// TestCacheOutlivesAVanishedSecret: when Secrets Manager stops answering
// (here the secret is deleted), the cache keeps the last good value past
// its TTL, and a burst of requests, fresh ones included, makes one read.
func TestCacheOutlivesAVanishedSecret(t *testing.T) {
	cfg := awstest.Require(t)
	sm := secretsmanager.NewFromConfig(cfg)
	const value = `{"access_token":"v1"}`
	id := awstest.CreateSecret(t, cfg, value)
	api := &countingAPI{API: sm}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c := secret.NewCache(secretstore.New(api, id), secret.CacheConfig{Now: func() time.Time { return now }})
	if v, err := c.SecretString(context.Background(), false); v != value || err != nil {
		t.Fatalf("first read: %q, %v", v, err)
	}
	if _, err := sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
		SecretId: aws.String(id), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(6 * time.Minute) // past the TTL
	for i := range 20 {
		v, err := c.SecretString(context.Background(), i%2 == 0)
		if v != value || err != nil {
			t.Fatalf("request %d: %q, %v; want the last good value", i, v, err)
		}
	}
	if n := api.reads(); n != 2 {
		t.Fatalf("%d reads of Secrets Manager, want 2 (the first, one failed refresh)", n)
	}
	now = now.Add(2 * time.Hour) // past the stale window and the back-off
	if _, err := c.SecretString(context.Background(), false); err == nil || !strings.Contains(err.Error(), id) {
		t.Fatalf("err = %v, want the read's error naming the secret", err)
	}
}
