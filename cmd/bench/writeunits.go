// DynamoDB write units, estimated for row 7: the in-memory job store and
// budget slots, metered as DynamoDB would bill the writes pkg/aws/table
// makes for each call, from the sizes of the items it writes, which the
// table builds (table.ClaimItem and the rest).

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/budget"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
)

// DynamoDB bills a write by the item's size in 1 KB steps, at least one
// unit: PutItem, UpdateItem and DeleteItem on the larger of the item
// before and after (a delete: the item deleted; a missing item: one
// unit); a transaction (TransactWriteItems) twice that for each of its
// items. A write whose condition fails is billed as if it had been made,
// and a cancelled transaction as a whole, so every attempt counts.

// writeUnits is what writing an item of size bytes costs, outside a
// transaction; before and after are the item's sizes either side (0:
// absent).
func writeUnits(before, after int) int {
	return max(1, (max(before, after)+1023)/1024)
}

// transactUnits is a transaction's cost: twice the write units of each
// item, given as (before, after) pairs.
func transactUnits(items ...[2]int) int {
	n := 0
	for _, it := range items {
		n += 2 * writeUnits(it[0], it[1])
	}
	return n
}

// deployedSource sizes a source as it is deployed: the in-memory queue
// names its messages mem-000001 where SQS gives a 36-character UUID, and
// row 7 names webhooks hook-000001 where API Gateway's HTTP API gives a
// 16-character request id. Items carry these ids, so their lengths count.
func deployedSource(src string) string {
	switch {
	case strings.HasPrefix(src, "mem-"):
		return fmt.Sprintf("00000000-0000-4000-8000-%012s", src[4:])
	case strings.HasPrefix(src, "api:hook-"):
		return "api:" + fmt.Sprintf("%016s", src[9:])
	case strings.HasPrefix(src, "hook-"):
		return fmt.Sprintf("%016s", src[5:])
	}
	return src
}

func deployedSources(srcs []string) []string {
	out := make([]string, len(srcs))
	for i, v := range srcs {
		out[i] = deployedSource(v)
	}
	return out
}

// accItem, batchItem and requestItem are the table's items with their
// ids as deployed.
func accItem(a jobs.Acc) map[string]types.AttributeValue {
	a.Sources = deployedSources(a.Sources)
	return table.AccItem(a)
}

func batchItem(b jobs.Batch) map[string]types.AttributeValue {
	b.Sources = deployedSources(b.Sources)
	return table.BatchItem(b)
}

func requestItem(r jobs.Request) map[string]types.AttributeValue {
	r.ID = deployedSource(r.ID)
	return table.RequestItem(r)
}

// writeKind is a group of writes, for the note.
type writeKind int

const (
	wClaim   writeKind = iota // Claim: pending claims, transactions of up to 100
	wPark                     // Park: the accumulator and the parked claims
	wTake                     // Take: the accumulator and the batch
	wRecord                   // RecordJob: the job's two items, the claims, the batch's delete
	wSlots                    // the budget's TryTake and Free
	wRequest                  // REQ# put (and FailRequest)
	wOther                    // Release, Reject, Lease, DropBatch
	wKinds
)

var writeKindNames = [wKinds]string{"claim", "park", "take", "record", "slots", "REQ#", "other"}

// wcuReading is what a write meter billed, by kind.
type wcuReading struct {
	units [wKinds]int
	calls [wKinds]int // requests (a transaction is one)
}

func (r wcuReading) total() int {
	t := 0
	for _, u := range r.units {
		t += u
	}
	return t
}

// breakdown is the reading per lead by kind, for the note.
func (r wcuReading) breakdown(leads int) string {
	var parts []string
	for k, u := range r.units {
		if u > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", writeKindNames[k], float64(u)/float64(leads)))
		}
	}
	return strings.Join(parts, ", ")
}

// wcuStore is the in-memory job store with a write meter: the store
// decides every outcome (its conditions are the DynamoDB store's), the
// meter bills the requests the DynamoDB store would make for it, on the
// sizes of the items it would write. It keeps each item's size, so that
// an update is billed on the larger of before and after.
type wcuStore struct {
	*memstore.Store

	mu    sync.Mutex
	sizes map[string]int // pk -> the item's size now
	r     wcuReading
}

func newWCUStore(m *memstore.Store) *wcuStore {
	return &wcuStore{Store: m, sizes: map[string]int{}}
}

func (w *wcuStore) reading() wcuReading {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.r
}

func (w *wcuStore) bill(k writeKind, units int) {
	w.r.units[k] += units
	w.r.calls[k]++
}

// write is one item of a request: its key, and its size after (0: deleted).
type write struct {
	pk   string
	size int
}

// billWrites bills writes as one transaction (transact) or as one request
// each, on the sizes before and after, and keeps the sizes after when
// applied (a cancelled transaction or a failed condition changes nothing).
func (w *wcuStore) billWrites(k writeKind, transact, applied bool, ws ...write) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pairs := make([][2]int, len(ws))
	for i, x := range ws {
		pairs[i] = [2]int{w.sizes[x.pk], x.size}
		if !transact {
			w.bill(k, writeUnits(pairs[i][0], pairs[i][1]))
		}
	}
	if transact {
		w.bill(k, transactUnits(pairs...))
	}
	if applied {
		for _, x := range ws {
			if x.size == 0 {
				delete(w.sizes, x.pk)
			} else {
				w.sizes[x.pk] = x.size
			}
		}
	}
}

func sized(it map[string]types.AttributeValue) write {
	return write{pk: itemKey(it), size: itemSize(it)}
}

func (w *wcuStore) Claim(ctx context.Context, owner jobs.Owner, ids []string, now, until time.Time) ([]string, []jobs.Claim, error) {
	claimed, held, err := w.Store.Claim(ctx, owner, ids, now, until)
	ok := make(map[string]bool, len(claimed))
	for _, id := range claimed {
		ok[id] = true
	}
	// As table.JobStore.Claim: a transaction per 100; one a held lead
	// cancels is billed, and the rest is claimed in a second one.
	for start := 0; start < len(ids); start += 100 {
		chunk := ids[start:min(start+100, len(ids))]
		var all, mine []write
		for _, id := range chunk {
			x := sized(table.ClaimItem(jobs.Claim{LeadID: id, State: jobs.Pending, Owner: owner, Until: until, ExpiresAt: jobs.PendingExpiry(until)}))
			all = append(all, x)
			if ok[id] {
				mine = append(mine, x)
			}
		}
		if len(mine) < len(all) {
			w.billWrites(wClaim, true, false, all...)
		}
		if len(mine) > 0 {
			w.billWrites(wClaim, true, true, mine...)
		}
	}
	return claimed, held, err
}

func (w *wcuStore) Release(ctx context.Context, owner jobs.Owner, ids []string) error {
	err := w.Store.Release(ctx, owner, ids)
	left, _ := w.Store.Claims(ctx, ids)
	still := map[string]bool{}
	for _, c := range left {
		still[c.LeadID] = true
	}
	for _, id := range ids {
		// One conditional DeleteItem per lead.
		w.billWrites(wOther, false, !still[id], write{pk: table.LeadPrefix + id})
	}
	return err
}

func (w *wcuStore) Reject(ctx context.Context, owner jobs.Owner, id, reason string, expires time.Time) error {
	err := w.Store.Reject(ctx, owner, id, reason, expires)
	c, _ := w.Store.Claims(ctx, []string{id})
	applied := len(c) == 1 && c[0].State == jobs.Rejected && c[0].Reason == reason
	w.billWrites(wOther, false, applied, sized(table.ClaimItem(jobs.Claim{LeadID: id, State: jobs.Rejected, Owner: owner, Reason: reason, ExpiresAt: expires})))
	return err
}

func (w *wcuStore) RecordJob(ctx context.Context, job jobs.Job, claimsExpire time.Time) error {
	err := w.Store.RecordJob(ctx, job, claimsExpire)
	shaped := job
	shaped.Sources = deployedSources(job.Sources)
	it, check := table.JobItems(shaped, claimsExpire)
	ws := []write{sized(it), sized(check)}
	for _, id := range job.LeadIDs {
		// Counted as a first attempt: a larger count is a byte more, never a unit.
		c := jobs.Claim{LeadID: id, State: jobs.ClaimScheduled, JobID: job.ID, ExpiresAt: claimsExpire, Attempts: 1}
		ws = append(ws, sized(table.ClaimItem(c)))
	}
	if job.Batch != (jobs.BatchKey{}) {
		ws = append(ws, write{pk: table.BatchPrefix + job.Batch.String()})
	}
	w.billWrites(wRecord, true, err == nil, ws...)
	return err
}

func (w *wcuStore) Park(ctx context.Context, owner jobs.Owner, acc jobs.Acc, ids, sources []string, now, expires time.Time) ([]string, []jobs.Claim, error) {
	parked, held, err := w.Store.Park(ctx, owner, acc, ids, sources, now, expires)
	// The accumulator as the transaction leaves it: as read plus the
	// leads, opened now if it was empty.
	after := func(leads, srcs []string) write {
		a := acc
		a.LeadIDs, a.Sources = append(append([]string{}, acc.LeadIDs...), leads...), append(append([]string{}, acc.Sources...), srcs...)
		if len(acc.LeadIDs) == 0 && a.OpenedAt.IsZero() {
			a.OpenedAt = now
		}
		return sized(accItem(a))
	}
	claims := func(leads []string) []write {
		var ws []write
		for _, id := range leads {
			ws = append(ws, sized(table.ClaimItem(jobs.Claim{LeadID: id, State: jobs.Parked, Owner: acc.Key().Owner(), ExpiresAt: expires})))
		}
		return ws
	}
	if err != nil || len(held) > 0 {
		// Cancelled: the accumulator changed, or a lead's claim stands.
		w.billWrites(wPark, true, false, append([]write{after(ids, sources)}, claims(ids)...)...)
	}
	if err == nil && len(parked) > 0 {
		src := make(map[string]string, len(ids))
		for i, id := range ids {
			src[id] = sources[i]
		}
		var srcs []string
		for _, id := range parked {
			srcs = append(srcs, src[id])
		}
		w.billWrites(wPark, true, true, append([]write{after(parked, srcs)}, claims(parked)...)...)
	}
	return parked, held, err
}

func (w *wcuStore) Take(ctx context.Context, acc jobs.Acc, taker string, leaseUntil time.Time) (jobs.Batch, error) {
	b, err := w.Store.Take(ctx, acc, taker, leaseUntil)
	if len(acc.LeadIDs) == 0 {
		return b, err // the DynamoDB store refuses without a request
	}
	next := jobs.Acc{Fingerprint: acc.Fingerprint, Gen: acc.Gen + 1, Options: acc.Options, APIVersion: acc.APIVersion}
	attempted := b
	if err != nil {
		attempted = jobs.Batch{Acc: acc, Taker: taker, LeaseUntil: leaseUntil}
	}
	w.billWrites(wTake, true, err == nil, sized(accItem(next)), sized(batchItem(attempted)))
	return b, err
}

func (w *wcuStore) Lease(ctx context.Context, key jobs.BatchKey, taker string, now, until time.Time) error {
	err := w.Store.Lease(ctx, key, taker, now, until)
	b, berr := w.Store.Batch(ctx, key)
	if berr != nil {
		w.billWrites(wOther, false, false, write{pk: table.BatchPrefix + key.String()})
		return err
	}
	w.billWrites(wOther, false, err == nil, sized(batchItem(b)))
	return err
}

func (w *wcuStore) DropBatch(ctx context.Context, key jobs.BatchKey) error {
	err := w.Store.DropBatch(ctx, key)
	w.billWrites(wOther, false, true, write{pk: table.BatchPrefix + key.String()})
	return err
}

func (w *wcuStore) RecordRequest(ctx context.Context, r jobs.Request) error {
	_, before := w.Store.Request(ctx, r.ID)
	err := w.Store.RecordRequest(ctx, r)
	w.billWrites(wRequest, false, errors.Is(before, jobs.ErrNotFound), sized(requestItem(r)))
	return err
}

func (w *wcuStore) FailRequest(ctx context.Context, id, code, reason string) error {
	err := w.Store.FailRequest(ctx, id, code, reason)
	if r, rerr := w.Store.Request(ctx, id); rerr == nil {
		w.billWrites(wRequest, false, true, sized(requestItem(r)))
	} else {
		w.billWrites(wRequest, false, false, write{pk: table.RequestPrefix + deployedSource(id)})
	}
	return err
}

// wcuSlots are budget slots billed as table.Slots writes them: one
// conditional UpdateItem to take a slot (billed whether or not it was
// free) and one to free it.
type wcuSlots struct {
	budget.Slots
	w *wcuStore
}

func (sl wcuSlots) TryTake(ctx context.Context, slot int, holder string, now, until time.Time) (bool, error) {
	ok, err := sl.Slots.TryTake(ctx, slot, holder, now, until)
	sl.w.billWrites(wSlots, false, ok, sized(table.SlotItem(slot, holder, until)))
	return ok, err
}

func (sl wcuSlots) Free(ctx context.Context, slot int, holder string) error {
	err := sl.Slots.Free(ctx, slot, holder)
	sl.w.billWrites(wSlots, false, true, sized(table.SlotItem(slot, "", time.Time{})))
	return err
}
