package jobs

import (
	"context"
	"errors"
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

// BatchKey names one generation of one option set's accumulator: the batch
// its leads will be sent in.
type BatchKey struct {
	Fingerprint string
	Gen         int64
}

// String is the key as claims and items carry it: "<fingerprint>#<gen>".
func (k BatchKey) String() string { return k.Fingerprint + "#" + strconv.FormatInt(k.Gen, 10) }

// Owner is the owner a parked claim carries.
func (k BatchKey) Owner() Owner { return Owner(batchOwnerPrefix + k.String()) }

const batchOwnerPrefix = "batch:"

// Batch reports the batch a parked claim's owner (BatchKey.Owner) names;
// false for a run's.
func (o Owner) Batch() (BatchKey, bool) {
	s, ok := strings.CutPrefix(string(o), batchOwnerPrefix)
	if !ok {
		return BatchKey{}, false
	}
	k := ParseBatchKey(s)
	return k, k != (BatchKey{})
}

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
	Park(ctx context.Context, owner Owner, acc Acc, leadIDs, sources []string, now time.Time, expires time.Time) (parked []string, held []Claim, err error)
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

// ParkedBatch is an accumulator generation holding leads, or a taken batch
// whose job is not recorded yet: work a wake-up must finish.
type ParkedBatch struct {
	Fingerprint string
	// Gen is the batch's generation; for an accumulator (not Taken) it is
	// not known from the listing: read the accumulator.
	Gen      int64
	Taken    bool
	OpenedAt time.Time // when its first lead was accepted, to the second
}

// ParkedStore lists what waits to be sent, for the status function's
// safety net, without scanning: the table keeps open accumulators and
// batches in a sparse index of their own.
type ParkedStore interface {
	Parked(ctx context.Context) ([]ParkedBatch, error)
	Acc(ctx context.Context, fingerprint string) (Acc, error)
}
