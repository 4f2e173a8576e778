package httpapi

import (
	"context"
	"sync"
	"time"
)

// Keys are the webhook keys the API admits: the current one and, while a
// rotation is under way, the previous one (leadconvert rotate-key), so
// that callers move to the new key without a window in which either is
// refused.
type Keys struct{ Current, Previous string }

// Admit reports whether got is one of k's keys. Both are compared, in
// constant time, whichever matches; an empty key admits nothing.
func (k Keys) Admit(got string) bool {
	cur := KeyMatches(got, k.Current)
	prev := KeyMatches(got, k.Previous)
	return cur || prev
}

// KeyFunc returns the configured keys; none configured admits nothing.
// fresh asks for them read again from their source: a presented key
// matched none, and the secret may have been rotated since it was cached.
type KeyFunc func(ctx context.Context, fresh bool) (Keys, error)

// KeyRereadEvery bounds the fresh reads a refused key causes: a rotated
// secret is seen within that time, while a flood of wrong keys costs at
// most one read of the secret per instance and interval.
const KeyRereadEvery = time.Minute

// KeyCheck admits a presented key against the configured keys, reading
// them again, at most once a KeyRereadEvery, before a refusal is final. The
// API and its authorizer share it: API Gateway caches the authorizer's
// refusal of a key value for minutes, so the first refusal of a rotated-in
// key must have looked at the current secret.
type KeyCheck struct {
	Keys KeyFunc
	Now  func() time.Time // default time.Now

	mu     sync.Mutex
	reread time.Time // the last fresh read
}

// Admit reports whether got is admitted; an error means the keys could not
// be read, and nothing should be concluded (or cached) about got.
func (c *KeyCheck) Admit(ctx context.Context, got string) (bool, error) {
	k, err := c.Keys(ctx, false)
	if err != nil || k.Admit(got) || got == "" || !c.mayReread() {
		return err == nil && k.Admit(got), err
	}
	if k, err = c.Keys(ctx, true); err != nil {
		return false, err
	}
	return k.Admit(got), nil
}

func (c *KeyCheck) mayReread() bool {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := now(); c.reread.IsZero() || !t.Before(c.reread.Add(KeyRereadEvery)) {
		c.reread = t
		return true
	}
	return false
}
