// Meters of DynamoDB reads: the estimating in-memory store and the meter
// around the real DynamoDB client on moto. Row 5 compares the two.

package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// meterReading is what a meter saw: requests by kind and their read units.
type meterReading struct {
	queries, batchGets, gets, updates int
	queryRCU, batchRCU, getRCU        float64
	jobItems, jobBytes                int // job items BatchGetItem read, and their total size
}

func (r meterReading) rcu() float64 { return r.queryRCU + r.batchRCU + r.getRCU }

func (r meterReading) requests() string {
	return fmt.Sprintf("Query %d, BatchGetItem %d, GetItem %d, UpdateItem %d", r.queries, r.batchGets, r.gets, r.updates)
}

type meter struct {
	mu sync.Mutex
	r  meterReading
}

func (m *meter) add(f func(r *meterReading)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.r)
}

func (m *meter) reading() meterReading {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.r
}

// estimatingStore is the in-memory job store, metered as the DynamoDB
// store would be charged: it counts the requests table.JobStore makes for
// each call (Query pages of up to 1 MB reading the whole open-checks index
// for a run's first page of due jobs or a count from the start, one
// BatchGetItem per 50 jobs (100 items: JOB# and CHK#), one UpdateItem per
// check)
// and the read units of the items they read, sized from the item the
// DynamoDB store writes for each job. crossCheck compares it with the
// DynamoDB store on moto.
type estimatingStore struct {
	*memstore.Store
	sizes map[string]itemSizes
	meter meter
}

func newEstimatingStore(ctx context.Context, o *openJobs) (*estimatingStore, error) {
	e := &estimatingStore{Store: memstore.New(), sizes: o.sizes}
	for _, j := range o.jobs {
		if err := e.RecordJob(ctx, j, o.clock.Now().Add(30*24*time.Hour)); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// DueJobs bills the first page's read of the whole index, in Query pages
// of up to 1 MB; the pages after it come from the cursor, unbilled, as
// the DynamoDB store serves them. The seeded jobs are all due, so the
// entries of the due jobs are every entry the index holds.
func (e *estimatingStore) DueJobs(ctx context.Context, now time.Time, limit int, cursor string) ([]string, string, error) {
	if cursor == "" {
		if err := e.billIndexRead(ctx, now); err != nil {
			return nil, "", err
		}
	}
	return e.Store.DueJobs(ctx, now, limit, cursor)
}

func (e *estimatingStore) CountDue(ctx context.Context, now time.Time, cursor string) (int, error) {
	if cursor == "" {
		if err := e.billIndexRead(ctx, now); err != nil {
			return 0, err
		}
	}
	return e.Store.CountDue(ctx, now, cursor)
}

func (e *estimatingStore) billIndexRead(ctx context.Context, now time.Time) error {
	ids, _, err := e.Store.DueJobs(ctx, now, math.MaxInt32, "")
	if err != nil {
		return err
	}
	pages, page := []int{0}, 0
	for _, id := range ids {
		n := e.sizes[id].entry
		if pages[page]+n > queryPageBytes {
			pages, page = append(pages, 0), page+1
		}
		pages[page] += n
	}
	e.meter.add(func(r *meterReading) {
		for _, size := range pages {
			r.queries++
			r.queryRCU += readUnits(size, false)
		}
	})
	return nil
}

func (e *estimatingStore) Jobs(ctx context.Context, ids []string) ([]jobs.Job, error) {
	js, err := e.Store.Jobs(ctx, ids)
	if err != nil {
		return js, err
	}
	distinct := map[string]bool{}
	for _, id := range ids {
		distinct[id] = true
	}
	// Each job is two items: JOB# and CHK#, billed one by one.
	var rcu float64
	size := 0
	for _, j := range js {
		s := e.sizes[j.ID]
		rcu += readUnits(s.item, false) + readUnits(s.check, false)
		size += s.item + s.check
	}
	e.meter.add(func(r *meterReading) {
		r.batchGets += (2*len(distinct) + 99) / 100
		r.batchRCU += rcu
		r.jobItems += 2 * len(js)
		r.jobBytes += size
	})
	return js, nil
}

func (e *estimatingStore) SaveCheck(ctx context.Context, j jobs.Job, prev int64) error {
	e.meter.add(func(r *meterReading) { r.updates++ })
	return e.Store.SaveCheck(ctx, j, prev)
}

// Completions bills the read of the completion times the DynamoDB store
// makes once a run with a first check to make: an eventually consistent
// GetItem of a small item (none here: no job ended yet).
func (e *estimatingStore) Completions(ctx context.Context) (jobs.Completions, error) {
	c, err := e.Store.Completions(ctx)
	e.meter.add(func(r *meterReading) { r.gets++; r.getRCU += readUnits(0, false) })
	return c, err
}

// AddCompletions bills the DynamoDB store's strongly consistent read and
// its conditional update.
func (e *estimatingStore) AddCompletions(ctx context.Context, add jobs.Completions) error {
	e.meter.add(func(r *meterReading) { r.gets++; r.getRCU += readUnits(0, true); r.updates++ })
	return e.Store.AddCompletions(ctx, add)
}

// LeaseCheck bills the DynamoDB store's one conditional update.
func (e *estimatingStore) LeaseCheck(ctx context.Context, id string, version int64, owner string, now, until time.Time) error {
	e.meter.add(func(r *meterReading) { r.updates++ })
	return e.Store.LeaseCheck(ctx, id, version, owner, now, until)
}

// meteredTokens counts token record reads: a strongly consistent GetItem
// of a small item each, as table.TokenStore.Load makes.
type meteredTokens struct {
	oauth.Store
	m *meter
}

func (t meteredTokens) Load(ctx context.Context, key string) (oauth.Record, error) {
	t.m.add(func(r *meterReading) { r.gets++; r.getRCU += readUnits(0, true) })
	return t.Store.Load(ctx, key)
}

// meteredDDB meters the DynamoDB stores' requests to moto (whose own
// ConsumedCapacity is a constant per request): the requests as made, the
// read units from the sizes of the items they read. A job item is sized
// as written (BatchGetItem returns only the projected attributes), an
// index entry as returned, a count by running the same query for its
// items (that query is not counted).
type meteredDDB struct {
	api   *dynamodb.Client
	sizes map[string]itemSizes // by job id
	meter
}

func (m *meteredDDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := m.api.GetItem(ctx, in, opts...)
	if err == nil {
		size := itemSize(out.Item) // the stores' GetItem reads whole items
		m.add(func(r *meterReading) { r.gets++; r.getRCU += readUnits(size, aws.ToBool(in.ConsistentRead)) })
	}
	return out, err
}

func (m *meteredDDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out, err := m.api.BatchGetItem(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	var rcu float64
	var items, size int
	for name, got := range out.Responses {
		consistent := aws.ToBool(in.RequestItems[name].ConsistentRead)
		for _, it := range got {
			pk := itemKey(it)
			s, ok := m.sizes[strings.TrimPrefix(strings.TrimPrefix(pk, table.JobPrefix), table.CheckPrefix)]
			if !ok {
				return out, fmt.Errorf("meter: BatchGetItem read %q, whose size is not known", pk)
			}
			n := s.item
			if strings.HasPrefix(pk, table.CheckPrefix) {
				n = s.check
			}
			rcu += readUnits(n, consistent)
			items, size = items+1, size+n
		}
	}
	m.add(func(r *meterReading) { r.batchGets++; r.batchRCU += rcu; r.jobItems += items; r.jobBytes += size })
	return out, nil
}

func (m *meteredDDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := m.api.Query(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	read := out.Items
	if in.Select == types.SelectCount || in.FilterExpression != nil {
		// What the query read, due or not.
		o, err := m.api.Query(ctx, unfiltered(in))
		if err != nil {
			return out, err
		}
		read = o.Items
	}
	size := 0
	for _, it := range read {
		size += itemSize(it)
	}
	rcu := readUnits(size, aws.ToBool(in.ConsistentRead))
	m.add(func(r *meterReading) { r.queries++; r.queryRCU += rcu })
	return out, nil
}

func (m *meteredDDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	m.add(func(r *meterReading) { r.updates++ })
	return m.api.UpdateItem(ctx, in, opts...)
}

func (m *meteredDDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return m.api.PutItem(ctx, in, opts...)
}

func (m *meteredDDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return m.api.DeleteItem(ctx, in, opts...)
}

func (m *meteredDDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return m.api.TransactWriteItems(ctx, in, opts...)
}
