// Package secret reads a secret's string from AWS Secrets Manager through a
// small in-process cache, so that a warm function does not pay a Secrets
// Manager call (and its price) on every invocation.
//
// It is not github.com/aws/aws-secretsmanager-caching-go: that cache offers
// no way to drop an entry on demand, and a 401 from Zoho must force a fresh
// read (the secret may just have been rotated).
package secret

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/sync/singleflight"
)

// Reader returns the current string of one secret. fresh bypasses any cache.
type Reader interface {
	SecretString(ctx context.Context, fresh bool) (string, error)
}

// GetSecretValueAPI is the part of the Secrets Manager client the cache uses.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Cache is a Reader over Secrets Manager that keeps a value for TTL.
type Cache struct {
	api GetSecretValueAPI
	id  string
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	value   string
	fetched time.Time
	group   singleflight.Group
}

var _ Reader = (*Cache)(nil)

// NewCache reads secret id (a name or an ARN) through api, keeping a value
// for ttl (default 5 minutes).
func NewCache(api GetSecretValueAPI, id string, ttl time.Duration) *Cache {
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	return &Cache{api: api, id: id, ttl: ttl, now: time.Now}
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
		out, err := c.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(c.id)})
		if err != nil {
			return "", fmt.Errorf("reading secret %s: %w", c.id, err)
		}
		if out.SecretString == nil {
			return "", fmt.Errorf("secret %s has no SecretString (binary secrets are not supported)", c.id)
		}
		c.mu.Lock()
		c.value, c.fetched = *out.SecretString, c.now()
		c.mu.Unlock()
		return *out.SecretString, nil
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
