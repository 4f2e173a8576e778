package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

var _ jobs.Parking = (*Store)(nil)

func (m *Store) Acc(_ context.Context, fp string) (jobs.Acc, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.accs[fp]
	a.Fingerprint = fp
	a.LeadIDs, a.Sources = slices.Clone(a.LeadIDs), slices.Clone(a.Sources)
	return a, nil
}

// asRead reports whether the accumulator is still as a was read: within a
// generation its list only grows, so the same size is the same leads.
func (m *Store) asRead(a jobs.Acc) bool {
	cur := m.accs[a.Fingerprint]
	return cur.Gen == a.Gen && len(cur.LeadIDs) == len(a.LeadIDs)
}

func (m *Store) Park(_ context.Context, owner jobs.Owner, acc jobs.Acc, leadIDs, sources []string, now, expires time.Time) ([]string, []jobs.Claim, error) {
	if len(acc.LeadIDs)+len(leadIDs) > jobs.MaxLeadsPerBatch || len(leadIDs) != len(sources) {
		return nil, nil, fmt.Errorf("jobs: cannot park %d leads (%d sources) in an accumulator holding %d (at most %d)",
			len(leadIDs), len(sources), len(acc.LeadIDs), jobs.MaxLeadsPerBatch)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.asRead(acc) {
		return nil, nil, jobs.ErrChanged
	}
	actor := jobs.Actor{Owner: owner, Batch: acc.Key()}
	cur := m.accs[acc.Fingerprint]
	var parked []string
	var held []jobs.Claim
	for i, id := range leadIDs {
		st, c := m.step(id, actor, jobs.OpPark, now)
		if st.Held {
			held = append(held, c)
			continue
		}
		parked = append(parked, id)
		if m.apply(st, c, jobs.Claim{LeadID: id, State: jobs.Parked, Owner: acc.Key().Owner(), ExpiresAt: expires}) {
			cur.LeadIDs, cur.Sources = append(cur.LeadIDs, id), append(cur.Sources, sources[i])
		}
	}
	if len(cur.LeadIDs) > 0 {
		if len(acc.LeadIDs) == 0 {
			cur.OpenedAt = now
			if !acc.OpenedAt.IsZero() {
				cur.OpenedAt = acc.OpenedAt
			}
			cur.OpenedAt = cur.OpenedAt.Truncate(time.Millisecond)
		}
		cur.Options, cur.APIVersion, cur.Gen = acc.Options, acc.APIVersion, acc.Gen
		m.accs[acc.Fingerprint] = cur
	}
	return parked, held, nil
}

// batchStep looks up op on generation key for taker; m.mu is held.
func (m *Store) batchStep(key jobs.BatchKey, taker string, op jobs.BatchOp, now time.Time) jobs.BatchStep {
	acc := m.accs[key.Fingerprint]
	b, found := m.batches[key]
	return jobs.BatchProtocol[jobs.ClassifyBatch(key, acc, b, found, taker, now)][op]
}

func (m *Store) Take(_ context.Context, acc jobs.Acc, taker string, leaseUntil time.Time) (jobs.Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.asRead(acc) || len(acc.LeadIDs) == 0 {
		return jobs.Batch{}, jobs.ErrChanged
	}
	cur := m.accs[acc.Fingerprint]
	cur.Fingerprint = acc.Fingerprint
	b := jobs.Batch{Acc: cur, Taker: taker, LeaseUntil: leaseUntil.Truncate(time.Millisecond)}
	m.batches[cur.Key()] = b
	m.accs[acc.Fingerprint] = jobs.Acc{Gen: cur.Gen + 1, Options: cur.Options, APIVersion: cur.APIVersion}
	return cloneBatch(b), nil
}

func (m *Store) Batch(_ context.Context, key jobs.BatchKey) (jobs.Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.batches[key]
	if !ok {
		return jobs.Batch{}, jobs.ErrNotFound
	}
	return cloneBatch(b), nil
}

func (m *Store) Lease(_ context.Context, key jobs.BatchKey, taker string, now, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch st := m.batchStep(key, taker, jobs.OpLease, now); st.Result {
	case jobs.BatchNotFound:
		return jobs.ErrNotFound
	case jobs.BatchChanged:
		return jobs.ErrChanged
	}
	b := m.batches[key]
	b.Taker, b.LeaseUntil = taker, until.Truncate(time.Millisecond)
	m.batches[key] = b
	return nil
}

func (m *Store) DropBatch(_ context.Context, key jobs.BatchKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.batches, key)
	return nil
}

func cloneBatch(b jobs.Batch) jobs.Batch {
	b.LeadIDs, b.Sources = slices.Clone(b.LeadIDs), slices.Clone(b.Sources)
	return b
}

var _ jobs.ParkedStore = (*Store)(nil)

// Parked lists the accumulators holding leads and the taken batches, in
// no particular order.
func (m *Store) Parked(context.Context) ([]jobs.ParkedBatch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []jobs.ParkedBatch
	for fp, a := range m.accs {
		if len(a.LeadIDs) > 0 {
			out = append(out, jobs.ParkedBatch{Fingerprint: fp, OpenedAt: seconds(a.OpenedAt)})
		}
	}
	for k, b := range m.batches {
		out = append(out, jobs.ParkedBatch{Fingerprint: k.Fingerprint, Gen: k.Gen, Taken: true, OpenedAt: seconds(b.OpenedAt)})
	}
	return out, nil
}
