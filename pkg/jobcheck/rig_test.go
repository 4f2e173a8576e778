package jobcheck_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

func TestMain(m *testing.M) { awstest.Main(m) }

var t0 = zohotest.T0

// rig is a checker wired to the simulator and a store, as the Lambda is.
type rig struct {
	clock   *zohosim.ManualClock
	sim     *zohosim.Server
	client  *zoho.Client
	store   jobs.Store // and a jobs.CheckStore
	zoho    *countingZoho
	resent  *resends
	checker *jobcheck.Checker
}

// resends records what the checker puts back on the conversion queue.
type resends struct {
	mu     sync.Mutex
	bodies []string
}

func (q *resends) Enqueue(_ context.Context, body, _ string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bodies = append(q.bodies, body)
	return nil
}

func (q *resends) sent() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.bodies)
}

// newRig builds a rig; cfg's Zoho, Store and Now are filled in.
func newRig(t testing.TB, store jobs.Store, simOpts zohosim.Options, cfg jobcheck.Config) *rig {
	t.Helper()
	// One attempt per call: the checker, not the client, handles a 429 here.
	z := zohotest.Start(t, simOpts, 1)
	r := &rig{clock: z.Clock, sim: z.Sim, client: z.Client, store: store, zoho: &countingZoho{z: z.Client, calls: map[string]int{}}}
	cfg.Zoho, cfg.Store, cfg.Now = r.zoho, store.(jobs.CheckStore), z.Clock.Now
	if cfg.Resend == nil {
		r.resent = &resends{}
		cfg.Resend = r.resent
	}
	var err error
	if r.checker, err = jobcheck.New(cfg); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) statusStore() jobs.CheckStore { return r.store.(jobs.CheckStore) }

// schedule has the simulator schedule n jobs of leadsEach leads, the k-th
// failing fail(k) of its leads, and records them as the convert function
// does: first check a minute from now.
func (r *rig) schedule(t testing.TB, n, leadsEach int, fail func(k int) int) []jobs.Job {
	t.Helper()
	leads := r.sim.SeedLeadRange(n * leadsEach)
	out := make([]jobs.Job, n)
	for k := range n {
		ids := leads[k*leadsEach : (k+1)*leadsEach]
		if fail != nil {
			r.sim.FailLeads(ids[:fail(k)]...)
		}
		id, err := r.client.MassConvert(context.Background(), zohotest.Request(ids...))
		if err != nil {
			t.Fatal(err)
		}
		out[k] = r.record(t, id, ids)
	}
	return out
}

// record stores a job as the convert function does.
func (r *rig) record(t testing.TB, id string, leads []string) jobs.Job {
	t.Helper()
	now := r.clock.Now()
	j := jobs.Job{ID: id, State: jobs.Scheduled, LeadIDs: leads, Sources: []string{"msg-" + id}, APIVersion: "v7",
		Options:   `{"assign_to":{"id":"111"}}`,
		CreatedAt: now, UpdatedAt: now, NextCheckAt: now.Add(time.Minute)}
	if err := r.store.RecordJob(context.Background(), j, now.Add(32*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	j.Version = 1
	return j
}

func (r *rig) run(ctx context.Context, req jobcheck.Request) jobcheck.Report {
	return r.checker.Run(ctx, req)
}

func (r *rig) statusCalls() int { return r.sim.Stats().Calls[zohosim.EndpointStatus] }

func (r *rig) due(t testing.TB) int {
	t.Helper()
	n, err := r.statusStore().CountDue(context.Background(), r.clock.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (r *rig) job(t testing.TB, id string) jobs.Job {
	t.Helper()
	j, err := r.store.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// countingZoho counts status calls per job id.
type countingZoho struct {
	z     jobcheck.Zoho
	mu    sync.Mutex
	calls map[string]int
	// partial, when set, shows the leads of its job as a running job shows
	// them; beforeRead, when set, runs before each read.
	partial    *partialConversion
	beforeRead func()
}

func (c *countingZoho) ConvertStatus(ctx context.Context, id string) (zoho.JobStatus, error) {
	c.mu.Lock()
	c.calls[id]++
	c.mu.Unlock()
	return c.z.ConvertStatus(ctx, id)
}

func (c *countingZoho) GetLeads(ctx context.Context, ids []string) ([]zoho.Lead, error) {
	if f := c.beforeRead; f != nil {
		f()
	}
	leads, err := c.z.GetLeads(ctx, ids)
	if p := c.partial; p != nil && err == nil {
		for i := range leads {
			leads[i] = zohoLead(leads[i], i < p.show)
		}
	}
	return leads, err
}

// take returns the calls per job since the last take and starts afresh.
func (c *countingZoho) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls := c.calls
	c.calls = map[string]int{}
	return calls
}

// countingDDB counts the DynamoDB reads of the store.
type countingDDB struct {
	table.API
	queries, batchGets, itemsRead, updates, deletes atomic.Int64
}

func (c *countingDDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.API.Query(ctx, in, opts...)
	c.queries.Add(1)
	if err == nil {
		c.itemsRead.Add(int64(len(out.Items)))
	}
	return out, err
}

func (c *countingDDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out, err := c.API.BatchGetItem(ctx, in, opts...)
	c.batchGets.Add(1)
	if err == nil {
		for _, items := range out.Responses {
			c.itemsRead.Add(int64(len(items)))
		}
	}
	return out, err
}

func (c *countingDDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.updates.Add(1)
	return c.API.UpdateItem(ctx, in, opts...)
}

func (c *countingDDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.deletes.Add(1)
	return c.API.DeleteItem(ctx, in, opts...)
}

// ddbCounts is a snapshot of a countingDDB.
type ddbCounts struct{ queries, batchGets, itemsRead, updates, deletes int64 }

func (c *countingDDB) take() ddbCounts {
	return ddbCounts{c.queries.Swap(0), c.batchGets.Swap(0), c.itemsRead.Swap(0), c.updates.Swap(0), c.deletes.Swap(0)}
}
