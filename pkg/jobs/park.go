package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Leads of an option set that do not fill a call at once wait in that
// option set's accumulator, shared by every invocation and instance, until
// 50 fill a call or the first of them has waited long enough. Taking an
// accumulator turns its leads into a Batch: one call's worth, held under a
// lease by the invocation sending it, until its job is recorded. A lost
// invocation's batch is taken over when its lease lapses.

// Parked is the state of a lead waiting in an accumulator. Its claim's
// Owner is the BatchKey of the generation it waits in.
const Parked ClaimState = "PARKED"

// BatchKey names one generation of one option set's accumulator: the batch
// its leads will be sent in.
type BatchKey struct {
	Fingerprint string
	Gen         int64
}

// String is the key as claims and items carry it: "<fingerprint>#<gen>".
func (k BatchKey) String() string { return k.Fingerprint + "#" + strconv.FormatInt(k.Gen, 10) }

// Owner is the owner a parked claim carries.
func (k BatchKey) Owner() string { return "batch:" + k.String() }

// Acc is the open accumulator of one option set. The zero Acc (Gen 0, no
// leads) is an accumulator nobody has used yet.
type Acc struct {
	Fingerprint string
	Gen         int64    // bumped each time the accumulator is taken
	LeadIDs     []string // at most zoho.MaxIDsPerCall
	Sources     []string // who asked for each lead, in step with LeadIDs
	Options     string   // the request without ids, canonical JSON
	APIVersion  string
	OpenedAt    time.Time // when the first lead of this generation was parked
}

// Key is the batch the accumulator's leads will go in.
func (a Acc) Key() BatchKey { return BatchKey{a.Fingerprint, a.Gen} }

// Batch is a taken accumulator on its way to one mass_convert call.
type Batch struct {
	Acc
	Taker      string
	LeaseUntil time.Time
}

// ErrChanged is returned by the accumulator operations when the accumulator
// or batch is no longer as the caller read it: read it again.
var ErrChanged = errors.New("jobs: the accumulator changed since it was read")

// Parking is what the convert function needs to accumulate leads across
// invocations. Every method is one atomic, conditional step.
type Parking interface {
	// Acc reads the accumulator of fingerprint.
	Acc(ctx context.Context, fingerprint string) (Acc, error)
	// Park claims leadIDs as parked in acc's generation and appends them to
	// the accumulator, provided it is still as read (else ErrChanged) and
	// they fit. Leads whose claims stand are not parked (owner's own pending
	// claims aside); their claims are returned in held. A lead already
	// parked in this generation counts as parked, so a retried call is
	// harmless. acc carries the options, and for an empty accumulator the
	// time its first lead was accepted (zero: now); sources runs in step
	// with leadIDs.
	Park(ctx context.Context, owner string, acc Acc, leadIDs, sources []string, now time.Time, expires time.Time) (parked []string, held []Claim, err error)
	// Take empties the accumulator as read (else ErrChanged), moves its
	// leads into a Batch held by taker until leaseUntil, and starts the
	// next generation.
	Take(ctx context.Context, acc Acc, taker string, leaseUntil time.Time) (Batch, error)
	// Batch reads a taken batch, or ErrNotFound once its job is recorded.
	Batch(ctx context.Context, key BatchKey) (Batch, error)
	// Lease gives the batch to taker until until, provided its lease lapsed
	// at now or taker holds it already; else ErrChanged.
	Lease(ctx context.Context, key BatchKey, taker string, now, until time.Time) error
	// DropBatch forgets a batch none of whose leads is left to send.
	DropBatch(ctx context.Context, key BatchKey) error
}

// ---- memory ----

var _ Parking = (*MemoryStore)(nil)

func (m *MemoryStore) Acc(_ context.Context, fp string) (Acc, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.accs[fp]
	a.Fingerprint = fp
	a.LeadIDs, a.Sources = slices.Clone(a.LeadIDs), slices.Clone(a.Sources)
	return a, nil
}

func (m *MemoryStore) accAsRead(a Acc) bool {
	cur := m.accs[a.Fingerprint]
	return cur.Gen == a.Gen && len(cur.LeadIDs) == len(a.LeadIDs)
}

func (m *MemoryStore) Park(_ context.Context, owner string, acc Acc, leadIDs, sources []string, now, expires time.Time) ([]string, []Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.accAsRead(acc) {
		return nil, nil, ErrChanged
	}
	if len(acc.LeadIDs)+len(leadIDs) > MaxLeadsPerBatch {
		return nil, nil, errTooMany(len(acc.LeadIDs), len(leadIDs))
	}
	batch := acc.Key().Owner()
	cur := m.accs[acc.Fingerprint]
	var parked []string
	var held []Claim
	for i, id := range leadIDs {
		c, ok := m.claims[id]
		switch {
		case ok && c.Live(now) && c.Owner == batch && c.State == Parked:
			parked = append(parked, id) // a retry of this very call
			continue
		case ok && c.Live(now) && !(c.State == Pending && c.Owner == owner):
			held = append(held, c)
			continue
		}
		m.claims[id] = Claim{LeadID: id, State: Parked, Owner: batch, ExpiresAt: expires, Attempts: c.Attempts}
		cur.LeadIDs, cur.Sources = append(cur.LeadIDs, id), append(cur.Sources, sources[i])
		parked = append(parked, id)
	}
	if len(cur.LeadIDs) > 0 {
		if len(acc.LeadIDs) == 0 {
			cur.OpenedAt = now
			if !acc.OpenedAt.IsZero() {
				cur.OpenedAt = acc.OpenedAt
			}
		}
		cur.Options, cur.APIVersion, cur.Gen = acc.Options, acc.APIVersion, acc.Gen
		m.accs[acc.Fingerprint] = cur
	}
	return parked, held, nil
}

func (m *MemoryStore) Take(_ context.Context, acc Acc, taker string, leaseUntil time.Time) (Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.accAsRead(acc) || len(acc.LeadIDs) == 0 {
		return Batch{}, ErrChanged
	}
	cur := m.accs[acc.Fingerprint]
	cur.Fingerprint = acc.Fingerprint
	b := Batch{Acc: cur, Taker: taker, LeaseUntil: leaseUntil}
	m.batches[cur.Key()] = b
	m.accs[acc.Fingerprint] = Acc{Gen: cur.Gen + 1, Options: cur.Options, APIVersion: cur.APIVersion}
	return cloneBatch(b), nil
}

func (m *MemoryStore) Batch(_ context.Context, key BatchKey) (Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.batches[key]
	if !ok {
		return Batch{}, ErrNotFound
	}
	return cloneBatch(b), nil
}

func (m *MemoryStore) Lease(_ context.Context, key BatchKey, taker string, now, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.batches[key]
	switch {
	case !ok:
		return ErrNotFound
	case b.Taker != taker && now.Before(b.LeaseUntil):
		return ErrChanged
	}
	b.Taker, b.LeaseUntil = taker, until
	m.batches[key] = b
	return nil
}

func (m *MemoryStore) DropBatch(_ context.Context, key BatchKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.batches, key)
	return nil
}

func cloneBatch(b Batch) Batch {
	b.LeadIDs, b.Sources = slices.Clone(b.LeadIDs), slices.Clone(b.Sources)
	return b
}

func errTooMany(have, more int) error {
	return fmt.Errorf("jobs: %d leads do not fit an accumulator holding %d (at most %d)", more, have, MaxLeadsPerBatch)
}

// MaxLeadsPerBatch is how many leads an accumulator holds: one mass_convert
// call (zoho.MaxIDsPerCall, which this package does not import).
const MaxLeadsPerBatch = 50

// ParseBatchKey reads BatchKey.String; the zero key for anything else.
func ParseBatchKey(s string) BatchKey {
	i := strings.LastIndexByte(s, '#')
	if i < 0 {
		return BatchKey{}
	}
	gen, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil {
		return BatchKey{}
	}
	return BatchKey{Fingerprint: s[:i], Gen: gen}
}
