package secret_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
)

var errDown = errors.New("secrets manager is down")

// countingFetcher serves value, or errDown while down, and counts reads.
type countingFetcher struct {
	mu    sync.Mutex
	value string
	down  bool
	calls int
}

func (c *countingFetcher) Fetch(context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.down {
		return "", errDown
	}
	return c.value, nil
}

func (c *countingFetcher) set(value string, down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.value, c.down = value, down
}

func (c *countingFetcher) reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// clock is a simulated clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newCache(t *testing.T, src secret.Fetcher) (*secret.Cache, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	return secret.NewCache(src, secret.CacheConfig{TTL: 5 * time.Minute, MaxStale: time.Hour,
		RetryAfter: 10 * time.Second, MaxRetryAfter: time.Minute, Now: clk.Now}), clk
}

func TestCacheSharesReads(t *testing.T) {
	src := &countingFetcher{value: "v"}
	c, _ := newCache(t, src)
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if v, err := c.SecretString(context.Background(), false); v != "v" || err != nil {
				t.Errorf("got %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	// A caller that looked before a read finished takes that read's
	// outcome instead of starting another.
	if n := src.reads(); n != 1 {
		t.Fatalf("%d reads for 100 callers, want 1", n)
	}
}

// step is one call of SecretString after the clock moved by advance, with
// the store up or down and holding value.
type step struct {
	advance time.Duration
	down    bool
	value   string // what the store holds
	fresh   bool
	want    string // "" with wantErr
	wantErr bool
	reads   int // reads of the store so far
}

func TestCacheReadsAndFailures(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"within the TTL no read, after it one; fresh reads at once", []step{
			{value: "v1", want: "v1", reads: 1},
			{advance: 4 * time.Minute, value: "v2", want: "v1", reads: 1},
			{advance: time.Minute, value: "v2", want: "v2", reads: 2},
			{value: "v3", fresh: true, want: "v3", reads: 3},
		}},
		{"outage: the last good value, reads backed off", []step{
			{value: "v1", want: "v1", reads: 1},
			{advance: 6 * time.Minute, down: true, want: "v1", reads: 2},
			{advance: 5 * time.Second, down: true, want: "v1", reads: 2},
			{advance: 4 * time.Second, down: true, want: "v1", reads: 2},
			{advance: time.Second, down: true, want: "v1", reads: 3},      // 10 s after the first failure
			{advance: 19 * time.Second, down: true, want: "v1", reads: 3}, // then 20 s
			{advance: time.Second, down: true, want: "v1", reads: 4},
			{advance: 40 * time.Second, down: true, want: "v1", reads: 5}, // then 40 s
			{advance: time.Minute, down: true, want: "v1", reads: 6},      // capped at a minute
			{advance: 59 * time.Second, down: true, want: "v1", reads: 6},
			{advance: time.Second, down: true, want: "v1", reads: 7},
			{advance: time.Minute, value: "v2", want: "v2", reads: 8}, // back: read at once
			{advance: 4 * time.Minute, value: "v3", want: "v2", reads: 8},
		}},
		{"a 401's fresh read waits out the back-off too", []step{
			{value: "v1", want: "v1", reads: 1},
			{advance: 6 * time.Minute, down: true, fresh: true, want: "v1", reads: 2},
			{down: true, fresh: true, want: "v1", reads: 2},
			{advance: 5 * time.Second, down: true, fresh: true, want: "v1", reads: 2},
			{advance: 5 * time.Second, down: true, fresh: true, want: "v1", reads: 3},
		}},
		{"a failed fresh read within the TTL is tried again after the back-off", []step{
			{value: "v1", want: "v1", reads: 1},
			{advance: time.Minute, down: true, fresh: true, want: "v1", reads: 2},
			{advance: 5 * time.Second, value: "v2", want: "v1", reads: 2},
			{advance: 5 * time.Second, value: "v2", want: "v2", reads: 3},
		}},
		{"the last good value lasts an hour past its TTL", []step{
			{value: "v1", want: "v1", reads: 1},
			{advance: time.Hour, down: true, want: "v1", reads: 2},
			{advance: 5*time.Minute - time.Second, down: true, want: "v1", reads: 3},
			{advance: time.Second, down: true, wantErr: true, reads: 3}, // backing off: no read
			{advance: 10 * time.Second, down: true, wantErr: true, reads: 3},
			{advance: 10 * time.Second, down: true, wantErr: true, reads: 4},
			{advance: time.Minute, value: "v2", want: "v2", reads: 5},
		}},
		{"down from the start: an error, not a read per request", []step{
			{down: true, wantErr: true, reads: 1},
			{down: true, wantErr: true, reads: 1},
			{advance: 9 * time.Second, down: true, fresh: true, wantErr: true, reads: 1},
			{advance: time.Second, value: "v1", want: "v1", reads: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &countingFetcher{}
			c, clk := newCache(t, src)
			for i, s := range tt.steps {
				clk.advance(s.advance)
				src.set(s.value, s.down)
				v, err := c.SecretString(context.Background(), s.fresh)
				switch {
				case s.wantErr && (!errors.Is(err, errDown) || v != ""):
					t.Fatalf("step %d: got %q, %v; want the store's error", i, v, err)
				case !s.wantErr && (err != nil || v != s.want):
					t.Fatalf("step %d: got %q, %v; want %q", i, v, err, s.want)
				}
				if n := src.reads(); n != s.reads {
					t.Fatalf("step %d: %d reads, want %d", i, n, s.reads)
				}
			}
		})
	}
}

func TestCacheCountsFailedReads(t *testing.T) {
	src := &countingFetcher{down: true}
	c, clk := newCache(t, src)
	m := obs.NewMetrics("test")
	ctx := obs.WithMetrics(context.Background(), m)
	for range 3 {
		_, _ = c.SecretString(ctx, false)
		clk.advance(time.Second)
	}
	if got := m.Value("SecretReadErrors"); got != 1 {
		t.Fatalf("SecretReadErrors = %v, want 1 (one read, then the back-off)", got)
	}
}

// blockingFetcher holds each read until release is closed and reports
// whether its context ended before that.
type blockingFetcher struct {
	started  chan struct{}
	release  chan struct{}
	canceled chan bool
	calls    int
}

func (b *blockingFetcher) Fetch(ctx context.Context) (string, error) {
	b.calls++
	close(b.started)
	<-b.release
	b.canceled <- ctx.Err() != nil
	return "v", nil
}

// TestCacheReadOutlivesItsCaller: a caller that gives up gets its
// context's error at once, and the read it started goes on for the others.
func TestCacheReadOutlivesItsCaller(t *testing.T) {
	src := &blockingFetcher{started: make(chan struct{}), release: make(chan struct{}), canceled: make(chan bool, 1)}
	c, _ := newCache(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.SecretString(ctx, false)
		done <- err
	}()
	<-src.started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the caller's cancellation", err)
	}
	close(src.release)
	if <-src.canceled {
		t.Fatal("the shared read was cancelled with its first caller")
	}
	v, err := c.SecretString(context.Background(), false)
	if v != "v" || err != nil || src.calls != 1 {
		t.Fatalf("got %q, %v after %d reads; want the finished read's value", v, err, src.calls)
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
