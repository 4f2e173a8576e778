package secret_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/secret"
)

// countingFetcher counts reads of the secret.
type countingFetcher struct {
	mu    sync.Mutex
	calls int
}

func (c *countingFetcher) Fetch(context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return "v", nil
}

func TestCacheSharesReads(t *testing.T) {
	src := &countingFetcher{}
	c := secret.NewCache(src, time.Hour)
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { _, _ = c.SecretString(context.Background(), false) })
	}
	wg.Wait()
	if src.calls < 1 || src.calls > 2 {
		// Concurrent first reads join one call; one racing straggler may
		// start a second after the first finished, never more.
		t.Fatalf("%d reads for 100 callers", src.calls)
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
