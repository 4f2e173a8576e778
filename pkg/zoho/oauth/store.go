package oauth

import (
	"context"
	"sync"
	"time"
)

// Record is the state that all function instances share about one refresh
// token: the current access token and who, if anyone, is refreshing it.
type Record struct {
	AccessToken string
	APIDomain   string // a known Zoho host, or empty
	ExpiresAt   time.Time

	LeaseOwner string
	LeaseUntil time.Time
	// BlockedUntil stops every instance from refreshing after Zoho throttled
	// or refused the credentials: hammering only prolongs the lock-out.
	BlockedUntil time.Time

	Version int64 // 0 when there is no record yet
}

// UsableAt reports whether the token is still valid at t.
func (r Record) UsableAt(t time.Time) bool {
	return r.AccessToken != "" && t.Before(r.ExpiresAt)
}

// Store keeps Records where every instance sees them. Each method is one
// conditional write, so instances coordinate without locks.
type Store interface {
	// Load returns the record of key, or a zero Record.
	Load(ctx context.Context, key string) (Record, error)
	// TryLease takes the refresh lease until until, provided the record is
	// still at version and nobody else holds a lease that is live at now.
	TryLease(ctx context.Context, key, owner string, version int64, now, until time.Time) (bool, error)
	// Save stores a new token and releases the lease, provided owner still
	// holds it.
	Save(ctx context.Context, key, owner string, rec Record) (bool, error)
	// Release gives up owner's lease; a non-zero blockedUntil stops all
	// refreshes until then.
	Release(ctx context.Context, key, owner string, blockedUntil time.Time) error
	// Drop forgets accessToken, provided it is still the stored token, so a
	// stale instance cannot throw away a token another instance just made.
	Drop(ctx context.Context, key, accessToken string) error
}

// MemoryStore is a Store for one process: local runs and unit tests.
type MemoryStore struct {
	mu   sync.Mutex
	recs map[string]Record
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{recs: map[string]Record{}} }

func (m *MemoryStore) Load(_ context.Context, key string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recs[key], nil
}

func (m *MemoryStore) TryLease(_ context.Context, key, owner string, version int64, now, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.recs[key]
	if r.Version != version || (r.LeaseOwner != "" && r.LeaseOwner != owner && now.Before(r.LeaseUntil)) {
		return false, nil
	}
	r.LeaseOwner, r.LeaseUntil = owner, until
	if r.Version == 0 {
		r.Version = 1
	}
	m.recs[key] = r
	return true, nil
}

func (m *MemoryStore) Save(_ context.Context, key, owner string, rec Record) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.recs[key]
	if r.LeaseOwner != owner {
		return false, nil
	}
	m.recs[key] = Record{AccessToken: rec.AccessToken, APIDomain: rec.APIDomain, ExpiresAt: rec.ExpiresAt, Version: r.Version + 1}
	return true, nil
}

func (m *MemoryStore) Release(_ context.Context, key, owner string, blockedUntil time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.recs[key]
	if r.LeaseOwner != owner {
		return nil
	}
	r.LeaseOwner, r.LeaseUntil = "", time.Time{}
	if !blockedUntil.IsZero() {
		r.BlockedUntil = blockedUntil
	}
	m.recs[key] = r
	return nil
}

func (m *MemoryStore) Drop(_ context.Context, key, accessToken string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.recs[key]
	if r.AccessToken != accessToken {
		return nil
	}
	r.AccessToken, r.APIDomain, r.ExpiresAt = "", "", time.Time{}
	r.Version++
	m.recs[key] = r
	return nil
}
