package secret_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
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
	c := secret.NewCache(sm, id, time.Hour)
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

// countingAPI counts GetSecretValue calls.
type countingAPI struct {
	mu    sync.Mutex
	calls int
}

func (c *countingAPI) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String("v")}, nil
}

func TestCacheSharesReads(t *testing.T) {
	api := &countingAPI{}
	c := secret.NewCache(api, "s", time.Hour)
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { _, _ = c.SecretString(context.Background(), false) })
	}
	wg.Wait()
	if api.calls < 1 || api.calls > 2 {
		// Concurrent first reads join one call; one racing straggler may
		// start a second after the first finished, never more.
		t.Fatalf("%d reads for 100 callers", api.calls)
	}
}

func TestMissingSecretNamesIt(t *testing.T) {
	cfg := awstest.Require(t)
	c := secret.NewCache(secretsmanager.NewFromConfig(cfg), "no-such-secret-here", 0)
	_, err := c.SecretString(context.Background(), false)
	if err == nil || !strings.Contains(err.Error(), "no-such-secret-here") {
		t.Fatalf("err = %v, want it to name the secret", err)
	}
}

func TestStatic(t *testing.T) {
	if _, err := secret.Static("").SecretString(context.Background(), false); err == nil {
		t.Fatal("empty static secret accepted")
	}
	if v, _ := secret.Static("x").SecretString(context.Background(), true); v != "x" {
		t.Fatal(v)
	}
}
