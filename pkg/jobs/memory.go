package jobs

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a Store held in process memory: the embedded store of a
// local run and of unit tests. It follows the DynamoStore's conditions
// exactly; the contract tests run against both.
type MemoryStore struct {
	mu       sync.Mutex
	jobs     map[string]Job
	claims   map[string]Claim
	accs     map[string]Acc
	batches  map[BatchKey]Batch
	requests map[string]Request
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{jobs: map[string]Job{}, claims: make(map[string]Claim, claimsHint), accs: map[string]Acc{},
		batches: map[BatchKey]Batch{}, requests: map[string]Request{}}
}

// claimsHint sizes the claims for one full SQS batch of single-lead
// messages (BatchSize 1000), so that a local run's first batch does not
// grow the map step by step.
const claimsHint = 1024

func (m *MemoryStore) Claim(_ context.Context, owner string, leadIDs []string, now, until time.Time) ([]string, []Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	claimed := make([]string, 0, len(leadIDs))
	var held []Claim
	for _, id := range leadIDs {
		if c, ok := m.claims[id]; ok && c.Live(now) && !(c.State == Pending && c.Owner == owner) {
			held = append(held, c)
			continue
		}
		m.claims[id] = Claim{LeadID: id, State: Pending, Owner: owner, Until: until, ExpiresAt: PendingExpiry(until),
			Attempts: m.claims[id].Attempts}
		claimed = append(claimed, id)
	}
	return claimed, held, nil
}

func (m *MemoryStore) Release(_ context.Context, owner string, leadIDs []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range leadIDs {
		if c, ok := m.claims[id]; ok && c.heldBy(owner) {
			delete(m.claims, id)
		}
	}
	return nil
}

func (m *MemoryStore) Reject(_ context.Context, owner, leadID, reason string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.claims[leadID]; ok && c.heldBy(owner) {
		m.claims[leadID] = Claim{LeadID: leadID, State: Rejected, Reason: reason, ExpiresAt: expires}
	}
	return nil
}

func (m *MemoryStore) RecordJob(_ context.Context, job Job, claimsExpire time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if stored, ok := m.jobs[job.ID]; ok {
		if stored.CreatedAt.Equal(job.CreatedAt) && slices.Equal(stored.LeadIDs, job.LeadIDs) {
			return nil // recorded already, by this very write
		}
		return JobExistsError(job.ID)
	}
	job.LeadIDs = slices.Clone(job.LeadIDs)
	job.Sources = slices.Clone(job.Sources)
	job.Version = 1
	m.jobs[job.ID] = job
	if job.Batch != (BatchKey{}) {
		delete(m.batches, job.Batch)
	}
	state := ClaimScheduled
	if job.State == InDoubt {
		state = ClaimInDoubt
	}
	add := 1
	if job.NoAttempt {
		add = 0
	}
	for _, id := range job.LeadIDs {
		m.claims[id] = Claim{LeadID: id, State: state, JobID: job.ID, ExpiresAt: claimsExpire, Attempts: m.claims[id].Attempts + add}
	}
	return nil
}

func (m *MemoryStore) Job(_ context.Context, id string) (Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return Job{}, ErrNotFound
	}
	j.LeadIDs = slices.Clone(j.LeadIDs)
	j.Sources = slices.Clone(j.Sources)
	j.Results = slices.Clone(j.Results)
	return j, nil
}

// Claims returns the stored claims of leadIDs; leads without one are left out.
func (m *MemoryStore) Claims(_ context.Context, leadIDs []string) ([]Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Claim
	for _, id := range leadIDs {
		if c, ok := m.claims[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

var _ Requests = (*MemoryStore)(nil)

func (m *MemoryStore) RecordRequest(_ context.Context, r Request) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.requests[r.ID]; !ok {
		r.LeadIDs = slices.Clone(r.LeadIDs)
		m.requests[r.ID] = r
	}
	return nil
}

func (m *MemoryStore) Request(_ context.Context, id string) (Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.requests[id]
	if !ok {
		return Request{}, ErrNotFound
	}
	r.LeadIDs = slices.Clone(r.LeadIDs)
	return r, nil
}

func (m *MemoryStore) FailRequest(_ context.Context, id, code, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.requests[id]; ok {
		r.FailCode, r.FailReason = code, reason
		m.requests[id] = r
	}
	return nil
}
