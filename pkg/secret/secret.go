// Package secret reads the Zoho secret's string through a small in-process
// cache, so that a warm function does not pay a Secrets Manager call (and
// its price and latency) on every invocation. Where the string comes from
// is a Fetcher: Secrets Manager in Lambda (package secretstore), a fixed
// value locally.
//
// It is not github.com/aws/aws-secretsmanager-caching-go: that cache offers
// no way to drop an entry on demand, and a 401 from Zoho must force a fresh
// read (the secret may just have been rotated). Nor does it serve the last
// good value while Secrets Manager fails, which this cache does for a
// bounded time, reading again only after a back-off.
package secret

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"golang.org/x/sync/singleflight"
)

// Reader returns the current string of one secret. fresh bypasses any cache.
type Reader interface {
	SecretString(ctx context.Context, fresh bool) (string, error)
}

// Fetcher reads the current string of one secret from where it is kept.
type Fetcher interface {
	Fetch(ctx context.Context) (string, error)
}

// CacheConfig tunes a Cache; zero fields take their defaults.
type CacheConfig struct {
	// TTL is how long a value is used without reading again; default 5m.
	TTL time.Duration
	// MaxStale is how long past its TTL the last good value is still used
	// while reads fail; default 1h. A function keeps converting through a
	// Secrets Manager outage that short, and stops once the value may be
	// too old to trust (a rotated credential, a changed webhook key).
	MaxStale time.Duration
	// RetryAfter is the wait after a failed read before the next one; it
	// doubles with each failure in a row up to MaxRetryAfter. Default 10s
	// and 1m: an outage costs a read per instance and interval, not one per
	// request, and a recovery is noticed within a minute.
	RetryAfter    time.Duration
	MaxRetryAfter time.Duration
	// ReadTimeout bounds one read, whatever the caller's deadline (a read
	// is shared by concurrent callers); default 5s.
	ReadTimeout time.Duration
	Now         func() time.Time // default time.Now
	Logger      *slog.Logger     // default: discard
}

// Cache is a Reader over a Fetcher. It keeps a value for TTL; once the TTL
// has run out, or when asked for a fresh value, it reads again, one read at
// a time. When a read fails it keeps serving the last good value for up to
// MaxStale past its TTL, and every caller, fresh or not, gets that value
// (or, without one, the read's error) until the back-off lets a read try
// again.
type Cache struct {
	src Fetcher
	cfg CacheConfig

	mu       sync.Mutex
	value    string
	fetched  time.Time // when value was read; zero until a read succeeds
	failures int       // reads failed in a row since the last success
	lastErr  error     // while failures > 0: the last read's error
	retryAt  time.Time // while failures > 0: no read before this
	reads    uint64    // reads finished, to spot one that ended after a caller looked
	group    singleflight.Group
}

var _ Reader = (*Cache)(nil)

// NewCache reads the secret through src as cfg says.
func NewCache(src Fetcher, cfg CacheConfig) *Cache {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.TTL, 5*time.Minute)
	def(&cfg.MaxStale, time.Hour)
	def(&cfg.RetryAfter, 10*time.Second)
	def(&cfg.MaxRetryAfter, time.Minute)
	def(&cfg.ReadTimeout, 5*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{src: src, cfg: cfg}
}

// SecretString returns the cached value, reading it first when it is missing,
// older than the TTL, or fresh is set, unless a read failed too recently to
// try again. Concurrent readers share one read.
func (c *Cache) SecretString(ctx context.Context, fresh bool) (string, error) {
	c.mu.Lock()
	now := c.cfg.Now()
	switch {
	case c.failures > 0 && now.Before(c.retryAt):
		// Asking a failing Secrets Manager again on every request would
		// only add its latency to each; a 401 from Zoho waits here too.
		defer c.mu.Unlock()
		return c.staleLocked(now)
	case c.failures == 0 && !fresh && !c.fetched.IsZero() && now.Sub(c.fetched) < c.cfg.TTL:
		defer c.mu.Unlock()
		return c.value, nil
	}
	seen := c.reads
	c.mu.Unlock()
	ch := c.group.DoChan("", func() (any, error) { return c.read(ctx, seen) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		// The read goes on for the callers after this one.
		return "", fmt.Errorf("secret: waiting for a read: %w", context.Cause(ctx))
	}
}

// read fetches the secret and records the outcome, unless a read finished
// after the caller looked: its outcome is then the answer.
func (c *Cache) read(ctx context.Context, seen uint64) (string, error) {
	c.mu.Lock()
	if c.reads != seen {
		defer c.mu.Unlock()
		if c.failures == 0 {
			return c.value, nil
		}
		return c.staleLocked(c.cfg.Now())
	}
	c.mu.Unlock()

	// The read is shared: one caller giving up must not fail it for the
	// others, so it has a deadline of its own.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.ReadTimeout)
	defer cancel()
	v, err := c.src.Fetch(rctx)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	now := c.cfg.Now()
	if err == nil {
		c.value, c.fetched = v, now
		c.failures, c.lastErr, c.retryAt = 0, nil, time.Time{}
		return v, nil
	}
	c.failures++
	c.lastErr = err
	c.retryAt = now.Add(c.backoffLocked())
	obs.MetricsFrom(ctx).Count("SecretReadErrors", 1)
	v, staleErr := c.staleLocked(now)
	if staleErr != nil {
		c.cfg.Logger.ErrorContext(ctx, "reading the secret failed and no good value is left",
			"code", CodeUnavailable, "error", err, "failures", c.failures, "next_read_after", c.retryAt)
		return "", staleErr
	}
	c.cfg.Logger.WarnContext(ctx, "reading the secret failed: using the last good value",
		"code", CodeUnavailable, "error", err, "failures", c.failures, "read_at", c.fetched,
		"used_until", c.staleUntilLocked(), "next_read_after", c.retryAt)
	return v, nil
}

// staleLocked returns the last good value while it is young enough, or
// the last read's error.
func (c *Cache) staleLocked(now time.Time) (string, error) {
	if !c.fetched.IsZero() && now.Before(c.staleUntilLocked()) {
		return c.value, nil
	}
	return "", fmt.Errorf("secret: no usable value (%d reads failed in a row, next read after %s): %w",
		c.failures, c.retryAt.UTC().Format(time.RFC3339), c.lastErr)
}

func (c *Cache) staleUntilLocked() time.Time { return c.fetched.Add(c.cfg.TTL + c.cfg.MaxStale) }

// backoffLocked is the wait after the current run of failures.
func (c *Cache) backoffLocked() time.Duration {
	d := c.cfg.RetryAfter
	for range c.failures - 1 {
		if d >= c.cfg.MaxRetryAfter {
			break
		}
		d *= 2
	}
	return min(d, c.cfg.MaxRetryAfter)
}

// Static is a Reader of a fixed value: the embedded secret of a local run.
type Static string

var _ Reader = Static("")

// SecretString returns s.
func (s Static) SecretString(context.Context, bool) (string, error) {
	if s == "" {
		return "", errors.New("static secret is empty")
	}
	return string(s), nil
}
