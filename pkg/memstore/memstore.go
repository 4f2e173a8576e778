// Package memstore keeps jobs, lead claims, accumulators and requests in
// process memory: the store of a local run and of unit tests, in the same
// role as the DynamoDB adapter (pkg/aws/table). Every step on a claim or a
// batch is looked up in the lead protocol's tables (jobs.LeadProtocol,
// jobs.BatchProtocol), so this store is the tables' reference
// implementation; the contract suite holds the table adapter to the same
// answers.
package memstore

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/credits"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// Store is a jobs.Store and jobs.CheckStore held in memory.
type Store struct {
	mu       sync.Mutex
	jobs     map[string]jobs.Job
	claims   map[string]jobs.Claim
	accs     map[string]jobs.Acc
	batches  map[jobs.BatchKey]jobs.Batch
	requests map[string]jobs.Request
	sw       *sweepState // made on first use
	fields   sweep.LeadFields

	leases      map[string]checkLease // by job id; made on first use
	completions jobs.Completions      // made on first use
	credits     credits.Seen
}

var (
	_ jobs.Store           = (*Store)(nil)
	_ jobs.CheckStore      = (*Store)(nil)
	_ jobs.CheckLeaser     = (*Store)(nil)
	_ jobs.CompletionStats = (*Store)(nil)
	_ credits.Store        = (*Store)(nil)
)

// New returns an empty Store.
func New() *Store {
	return &Store{jobs: map[string]jobs.Job{}, claims: make(map[string]jobs.Claim, claimsHint),
		accs: map[string]jobs.Acc{}, batches: map[jobs.BatchKey]jobs.Batch{}, requests: map[string]jobs.Request{}}
}

// claimsHint sizes the claims for one full SQS batch of single-lead
// messages (BatchSize 1000), so that a local run's first batch does not
// grow the map step by step.
const claimsHint = 1024

// step looks up op on lead id for actor; m.mu is held.
func (m *Store) step(id string, actor jobs.Actor, op jobs.LeadOp, now time.Time) (jobs.LeadStep, jobs.Claim) {
	c, ok := m.claims[id]
	return jobs.Step(jobs.Classify(c, ok, actor, now), op), c
}

// apply writes the claim a step leads to: next, with the lead's counts
// carried over from c as the step says. It reports whether it wrote.
func (m *Store) apply(st jobs.LeadStep, c, next jobs.Claim) bool {
	if st.Held || st.To == st.From && st.Count == jobs.CountKeep {
		return false
	}
	if st.To == jobs.LeadFree {
		delete(m.claims, c.LeadID)
		return true
	}
	next.Attempts, next.Doubts = c.Attempts, c.Doubts
	switch st.Count {
	case jobs.CountReset:
		next.Attempts, next.Doubts = 0, 0
	case jobs.CountAttempt:
		next.Attempts++
	case jobs.CountDoubt:
		next.Doubts++
	}
	// Times are kept as the table keeps them: until to the millisecond,
	// expiries to the second, so both stores lapse at the same instant.
	next.Until = next.Until.Truncate(time.Millisecond)
	next.ExpiresAt = seconds(next.ExpiresAt)
	m.claims[next.LeadID] = next
	return true
}

func seconds(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.Unix(t.Unix(), 0)
}

func (m *Store) Claim(_ context.Context, owner jobs.Owner, leadIDs []string, now, until time.Time) ([]string, []jobs.Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	claimed := make([]string, 0, len(leadIDs))
	var held []jobs.Claim
	for _, id := range leadIDs {
		st, c := m.step(id, jobs.Actor{Owner: owner}, jobs.OpClaim, now)
		if st.Held {
			held = append(held, c)
			continue
		}
		m.apply(st, c, jobs.Claim{LeadID: id, State: jobs.Pending, Owner: owner, Until: until, ExpiresAt: jobs.PendingExpiry(until)})
		claimed = append(claimed, id)
	}
	return claimed, held, nil
}

// actorOf is the actor behind an owner: a run, or a batch.
func actorOf(owner jobs.Owner) jobs.Actor {
	if k, ok := owner.Batch(); ok {
		return jobs.Actor{Batch: k}
	}
	return jobs.Actor{Owner: owner}
}

// heldOp picks the run's or the batch's form of an operation by owner.
func heldOp(owner jobs.Owner, byRun, byBatch jobs.LeadOp) jobs.LeadOp {
	if _, ok := owner.Batch(); ok {
		return byBatch
	}
	return byRun
}

func (m *Store) Release(_ context.Context, owner jobs.Owner, leadIDs []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := heldOp(owner, jobs.OpRelease, jobs.OpReleaseParked)
	for _, id := range leadIDs {
		st, c := m.step(id, actorOf(owner), op, time.Time{})
		m.apply(st, c, jobs.Claim{})
	}
	return nil
}

// A verdict keeps the claim's owner, as the table does: a lettered lead
// names the batch whose letter must carry it.
func (m *Store) Reject(_ context.Context, owner jobs.Owner, leadID, reason string, expires time.Time) error {
	return m.verdict(owner, leadID, heldOp(owner, jobs.OpReject, jobs.OpRejectParked),
		jobs.Claim{LeadID: leadID, State: jobs.Rejected, Owner: owner, Reason: reason, ExpiresAt: expires})
}

func (m *Store) Letter(_ context.Context, owner jobs.Owner, leadID, reason string, expires time.Time) error {
	return m.verdict(owner, leadID, jobs.OpLetter,
		jobs.Claim{LeadID: leadID, State: jobs.Lettered, Owner: owner, Reason: reason, ExpiresAt: expires})
}

func (m *Store) verdict(owner jobs.Owner, leadID string, op jobs.LeadOp, next jobs.Claim) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, c := m.step(leadID, actorOf(owner), op, time.Time{})
	m.apply(st, c, next)
	return nil
}

func (m *Store) RecordJob(_ context.Context, job jobs.Job, claimsExpire time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if stored, ok := m.jobs[job.ID]; ok {
		if stored.CreatedAt.Equal(job.CreatedAt) && slices.Equal(stored.LeadIDs, job.LeadIDs) {
			return nil // recorded already, by this very write
		}
		return jobs.JobExistsError(job.ID)
	}
	job.LeadIDs = slices.Clone(job.LeadIDs)
	job.Sources = slices.Clone(job.Sources)
	job.Version = 1
	noAttempt := job.NoAttempt
	job.NoAttempt = false // not stored
	m.jobs[job.ID] = job
	if job.Batch != (jobs.BatchKey{}) {
		delete(m.batches, job.Batch)
	}
	op, state := jobs.OpRecord, jobs.ClaimScheduled
	if job.State == jobs.InDoubt {
		op, state = jobs.OpRecordDoubt, jobs.ClaimInDoubt
	}
	if noAttempt {
		op = jobs.OpHoldDoubt
	}
	for _, id := range job.LeadIDs {
		st, c := m.step(id, jobs.Actor{Job: job.ID}, op, time.Time{})
		m.apply(st, c, jobs.Claim{LeadID: id, State: state, JobID: job.ID, ExpiresAt: claimsExpire})
	}
	return nil
}

func (m *Store) Job(_ context.Context, id string) (jobs.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return jobs.Job{}, jobs.ErrNotFound
	}
	j.LeadIDs = slices.Clone(j.LeadIDs)
	j.Sources = slices.Clone(j.Sources)
	j.Results = slices.Clone(j.Results)
	return j, nil
}

// Claims returns the stored claims of leadIDs; leads without one are left out.
func (m *Store) Claims(_ context.Context, leadIDs []string) ([]jobs.Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []jobs.Claim
	for _, id := range leadIDs {
		if c, ok := m.claims[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *Store) RecordRequest(_ context.Context, r jobs.Request) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.requests[r.ID]; !ok {
		r.LeadIDs = slices.Clone(r.LeadIDs)
		m.requests[r.ID] = r
	}
	return nil
}

func (m *Store) Request(_ context.Context, id string) (jobs.Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.requests[id]
	if !ok {
		return jobs.Request{}, jobs.ErrNotFound
	}
	r.LeadIDs = slices.Clone(r.LeadIDs)
	return r, nil
}

func (m *Store) FailRequest(_ context.Context, id, code, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.requests[id]; ok {
		r.FailCode, r.FailReason = code, reason
		m.requests[id] = r
	}
	return nil
}
