// Row 8's request meters: the in-memory table, budget slots, token store
// and queues, counting the DynamoDB and SQS requests the deployed stores
// (pkg/aws/table, pkg/aws/sqs) would make for each call, and when the
// last job was recorded.

package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/budget"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// maxBatchKeys is BatchGetItem's keys per request and TransactWriteItems'
// items per request, as pkg/aws/table uses them.
const maxBatchKeys = 100

// requestMeter counts requests by API ("GetItem", "SendMessage", ...).
type requestMeter struct {
	mu sync.Mutex
	n  map[string]int
	// lastJob is when the last job was recorded, on the run's clock.
	lastJob time.Time
	jobs    int
}

func newRequestMeter() *requestMeter { return &requestMeter{n: map[string]int{}} }

func (m *requestMeter) add(api string, k int) {
	if k <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n[api] += k
}

// total is the requests of the APIs named, or of every API when none is.
func (m *requestMeter) total(apis ...string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := 0
	for api, k := range m.n {
		if len(apis) == 0 || slices.Contains(apis, api) {
			t += k
		}
	}
	return t
}

// breakdown is the requests per lead by API, for a note.
func (m *requestMeter) breakdown(apis []string, leads int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var parts []string
	for _, api := range apis {
		if k := m.n[api]; k > 0 {
			parts = append(parts, fmt.Sprintf("%s %s (%.3f/lead)", api, thousands(int64(k)), float64(k)/float64(leads)))
		}
	}
	return strings.Join(parts, ", ")
}

var (
	dynamoAPIs = []string{"GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}
	sqsAPIs    = []string{"SendMessage", "DeleteMessageBatch"}
)

// chunks is how many requests of up to per items n items take.
func chunks(n, per int) int { return (n + per - 1) / per }

// sweepTable is the in-memory table, which decides every outcome, with
// each call counted as the DynamoDB store makes it: a claim transaction
// per 100 leads (and a second where some were held), a BatchGetItem per
// 100 keys, one request for each other call.
type sweepTable struct {
	*memstore.Store
	m   *requestMeter
	now func() time.Time
}

func (t *sweepTable) Claim(ctx context.Context, owner jobs.Owner, ids []string, now, until time.Time) ([]string, []jobs.Claim, error) {
	claimed, held, err := t.Store.Claim(ctx, owner, ids, now, until)
	isHeld := make(map[string]bool, len(held))
	for _, c := range held {
		isHeld[c.LeadID] = true
	}
	for start := 0; start < len(ids); start += maxBatchKeys {
		h := 0
		chunk := ids[start:min(start+maxBatchKeys, len(ids))]
		for _, id := range chunk {
			if isHeld[id] {
				h++
			}
		}
		// A held lead cancels the transaction; the rest go in another.
		t.m.add("TransactWriteItems", 1+min(h, 1)*min(len(chunk)-h, 1))
	}
	return claimed, held, err
}

func (t *sweepTable) Claims(ctx context.Context, ids []string) ([]jobs.Claim, error) {
	t.m.add("BatchGetItem", chunks(len(ids), maxBatchKeys))
	return t.Store.Claims(ctx, ids)
}

func (t *sweepTable) Release(ctx context.Context, owner jobs.Owner, ids []string) error {
	t.m.add("DeleteItem", len(ids))
	return t.Store.Release(ctx, owner, ids)
}

func (t *sweepTable) Reject(ctx context.Context, owner jobs.Owner, id, reason string, expires time.Time) error {
	t.m.add("UpdateItem", 1)
	return t.Store.Reject(ctx, owner, id, reason, expires)
}

func (t *sweepTable) Letter(ctx context.Context, owner jobs.Owner, id, reason string, expires time.Time) error {
	t.m.add("UpdateItem", 1)
	return t.Store.Letter(ctx, owner, id, reason, expires)
}

func (t *sweepTable) RecordJob(ctx context.Context, job jobs.Job, claimsExpire time.Time) error {
	t.m.add("TransactWriteItems", 1)
	err := t.Store.RecordJob(ctx, job, claimsExpire)
	if err == nil {
		now := t.now()
		t.m.mu.Lock()
		t.m.jobs++
		if now.After(t.m.lastJob) {
			t.m.lastJob = now
		}
		t.m.mu.Unlock()
	}
	return err
}

func (t *sweepTable) Job(ctx context.Context, id string) (jobs.Job, error) {
	t.m.add("BatchGetItem", 1)
	return t.Store.Job(ctx, id)
}

func (t *sweepTable) RecordRequest(ctx context.Context, r jobs.Request) error {
	t.m.add("PutItem", 1)
	return t.Store.RecordRequest(ctx, r)
}

func (t *sweepTable) Request(ctx context.Context, id string) (jobs.Request, error) {
	t.m.add("GetItem", 1)
	return t.Store.Request(ctx, id)
}

func (t *sweepTable) FailRequest(ctx context.Context, id, code, reason string) error {
	t.m.add("UpdateItem", 1)
	return t.Store.FailRequest(ctx, id, code, reason)
}

func (t *sweepTable) Acc(ctx context.Context, fp string) (jobs.Acc, error) {
	t.m.add("GetItem", 1)
	return t.Store.Acc(ctx, fp)
}

func (t *sweepTable) Park(ctx context.Context, owner jobs.Owner, acc jobs.Acc, ids, sources []string, now, expires time.Time) ([]string, []jobs.Claim, error) {
	parked, held, err := t.Store.Park(ctx, owner, acc, ids, sources, now, expires)
	t.m.add("TransactWriteItems", 1+min(len(held), 1)*min(len(parked), 1))
	return parked, held, err
}

func (t *sweepTable) Take(ctx context.Context, acc jobs.Acc, taker string, leaseUntil time.Time) (jobs.Batch, error) {
	if len(acc.LeadIDs) > 0 { // the DynamoDB store refuses an empty one without a request
		t.m.add("TransactWriteItems", 1)
	}
	return t.Store.Take(ctx, acc, taker, leaseUntil)
}

func (t *sweepTable) Batch(ctx context.Context, key jobs.BatchKey) (jobs.Batch, error) {
	t.m.add("GetItem", 1)
	return t.Store.Batch(ctx, key)
}

func (t *sweepTable) Lease(ctx context.Context, key jobs.BatchKey, taker string, now, until time.Time) error {
	t.m.add("UpdateItem", 1)
	return t.Store.Lease(ctx, key, taker, now, until)
}

func (t *sweepTable) DropBatch(ctx context.Context, key jobs.BatchKey) error {
	t.m.add("DeleteItem", 1)
	return t.Store.DropBatch(ctx, key)
}

func (t *sweepTable) Parked(ctx context.Context) ([]jobs.ParkedBatch, error) {
	t.m.add("Query", 1)
	return t.Store.Parked(ctx)
}

func (t *sweepTable) Sweep(ctx context.Context, name string) (sweep.Sweep, error) {
	t.m.add("GetItem", 1)
	return t.Store.Sweep(ctx, name)
}

func (t *sweepTable) StartRun(ctx context.Context, r sweep.Run) error {
	t.m.add("TransactWriteItems", 1)
	return t.Store.StartRun(ctx, r)
}

func (t *sweepTable) SweepRun(ctx context.Context, name, id string) (sweep.Run, error) {
	t.m.add("GetItem", 1)
	return t.Store.SweepRun(ctx, name, id)
}

func (t *sweepTable) SaveRun(ctx context.Context, r sweep.Run) error {
	t.m.add("UpdateItem", 1) // a TransactWriteItems when it ends the run: one request either way
	return t.Store.SaveRun(ctx, r)
}

// sweepSlots are the budget's slots as table.Slots uses DynamoDB: an
// UpdateItem to take or free a slot, a BatchGetItem to read them.
type sweepSlots struct {
	budget.Slots
	m *requestMeter
}

func (s sweepSlots) TryTake(ctx context.Context, slot int, holder string, now, until time.Time) (bool, error) {
	s.m.add("UpdateItem", 1)
	return s.Slots.TryTake(ctx, slot, holder, now, until)
}

func (s sweepSlots) Free(ctx context.Context, slot int, holder string) error {
	s.m.add("UpdateItem", 1)
	return s.Slots.Free(ctx, slot, holder)
}

func (s sweepSlots) Vacant(ctx context.Context, n int, now time.Time) ([]int, error) {
	s.m.add("BatchGetItem", 1)
	return s.Slots.Vacant(ctx, n, now)
}

// sweepTokens counts the shared token's reads (a GetItem each) and
// writes (an UpdateItem each).
type sweepTokens struct {
	oauth.Store
	m *requestMeter
}

func (s sweepTokens) Load(ctx context.Context, key string) (oauth.Record, error) {
	s.m.add("GetItem", 1)
	return s.Store.Load(ctx, key)
}

func (s sweepTokens) TryLease(ctx context.Context, key, owner string, version int64, now, until time.Time) (bool, error) {
	s.m.add("UpdateItem", 1)
	return s.Store.TryLease(ctx, key, owner, version, now, until)
}

func (s sweepTokens) Save(ctx context.Context, key, owner string, rec oauth.Record) (bool, error) {
	s.m.add("UpdateItem", 1)
	return s.Store.Save(ctx, key, owner, rec)
}

// sweepQueue is a queue whose sends are counted: one SendMessage each.
type sweepQueue struct {
	*sqsbatch.MemoryQueue
	m *requestMeter
}

func (q sweepQueue) Enqueue(ctx context.Context, body, requestID string) error {
	q.m.add("SendMessage", 1)
	return q.MemoryQueue.Enqueue(ctx, body, requestID)
}

func (q sweepQueue) Wake(ctx context.Context, w convert.Wakeup, after time.Duration) error {
	q.m.add("SendMessage", 1)
	return q.MemoryQueue.Wake(ctx, w, after)
}
