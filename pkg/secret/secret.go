// Package secret reads the Zoho secret's string through a small in-process
// cache, so that a warm function does not pay a Secrets Manager call (and
// its price) on every invocation. Where the string comes from is a Fetcher:
// Secrets Manager in Lambda (package secretstore), a fixed value locally.
//
// It is not github.com/aws/aws-secretsmanager-caching-go: that cache offers
// no way to drop an entry on demand, and a 401 from Zoho must force a fresh
// read (the secret may just have been rotated).
package secret

import (
	"context"
	"errors"
	"sync"
	"time"

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

// Cache is a Reader over a Fetcher that keeps a value for TTL.
type Cache struct {
	src Fetcher
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	value   string
	fetched time.Time
	group   singleflight.Group
}

var _ Reader = (*Cache)(nil)

// NewCache reads the secret through src, keeping a value for ttl (default
// 5 minutes).
func NewCache(src Fetcher, ttl time.Duration) *Cache {
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	return &Cache{src: src, ttl: ttl, now: time.Now}
}

// SecretString returns the cached value, reading it first when it is missing,
// older than the TTL, or fresh is set. Concurrent readers share one read.
func (c *Cache) SecretString(ctx context.Context, fresh bool) (string, error) {
	c.mu.Lock()
	if !fresh && !c.fetched.IsZero() && c.now().Sub(c.fetched) < c.ttl {
		v := c.value
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	v, err, _ := c.group.Do("", func() (any, error) {
		v, err := c.src.Fetch(ctx)
		if err != nil {
			return "", err
		}
		c.mu.Lock()
		c.value, c.fetched = v, c.now()
		c.mu.Unlock()
		return v, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
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
