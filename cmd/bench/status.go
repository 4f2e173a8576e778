package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// Deployment facts of the status function (template.yaml, pkg/status).
const (
	statusTimeout    = 120 * time.Second // StatusFunction's Timeout
	statusStopMargin = 10 * time.Second  // jobcheck.Config.StopMargin's default; the run also keeps a tenth of its time
	statusSchedule   = 5 * time.Minute   // the StatusSchedule parameter's default, rate(5 minutes)
	statusEvent      = `{"source":"schedule"}`
	// statusTimeScale is how much faster than real time the timed runs go:
	// the latency, the deadline and the stop margin are divided by it, and
	// the time measured multiplied by it.
	statusTimeScale = 10
)

// statusBudget is the time a status run spends taking jobs: its timeout
// less the margin it keeps, max(10 s, a tenth of the time it started with).
func statusBudget() time.Duration {
	return statusTimeout - max(statusStopMargin, statusTimeout/10)
}

// statusConfig is the status function's configuration as Lambda would
// load it (template.yaml's defaults), with Zoho pointed at the simulator.
func statusConfig(table string) (config.Status, error) {
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": table,
		"ZOHO_ACCOUNTS_URL": simURL, "ZOHO_API_URL": simURL}
	return config.LoadStatus(func(k string) string { return env[k] })
}

// openJobs is a simulator holding n open jobs of zoho.MaxIDsPerCall leads
// each, as the convert function records them, due one minute after they
// were scheduled, and the item the DynamoDB store writes for each.
type openJobs struct {
	sim   *zohosim.Server
	clock *zohosim.ManualClock
	jobs  []jobs.Job
	items []map[string]types.AttributeValue
	sizes map[string]itemSizes // by job id
}

// itemSizes are the sizes, DynamoDB's way, of a job's item and of its
// entry in the keys-only open-jobs index.
type itemSizes struct{ item, entry int }

// seedOpenJobs builds n open jobs with a deal: the first through the real
// convert handler (an SQS batch of single-lead messages), the others
// scheduled in the simulator with the same options and recorded as copies
// of the first with their own job id, leads and message ids. The DynamoDB
// store's own RecordJob, on a client that only captures what it is asked
// to write, gives each job's item.
func seedOpenJobs(ctx context.Context, n int) (*openJobs, error) {
	o := &openJobs{clock: newClock(), sizes: make(map[string]itemSizes, n)}
	o.sim = zohosim.New(zohosim.Options{Clock: o.clock})
	leads := o.sim.SeedLeadRange(n * zoho.MaxIDsPerCall)

	mem := jobs.NewMemoryStore()
	fn, err := newFunction(o.sim, o.clock, 0, oauth.NewMemoryStore(), mem)
	if err != nil {
		return nil, err
	}
	msgs := make([]message, zoho.MaxIDsPerCall)
	for i, id := range leads[:zoho.MaxIDsPerCall] {
		req := optionSet(1)
		req.IDs = []string{id}
		body, err := json.Marshal(req)
		if err != nil {
			return nil, err
		}
		msgs[i] = message{id: messageID(0, i), body: string(body)}
	}
	bs, err := batches(msgs)
	if err != nil {
		return nil, err
	}
	if back, err := invoke(ctx, fn, bs[0]); err != nil || len(back) > 0 || len(fn.dead.Letters()) > 0 {
		return nil, fmt.Errorf("the first job through the convert function: %v, %d messages handed back, %d dead-lettered", err, len(back), len(fn.dead.Letters()))
	}
	sjobs := o.sim.Jobs()
	if len(sjobs) != 1 {
		return nil, fmt.Errorf("the convert function made %d jobs of %d leads, want 1", len(sjobs), zoho.MaxIDsPerCall)
	}
	first, err := mem.Job(ctx, sjobs[0].ID)
	if err != nil {
		return nil, err
	}

	client, _, err := newZohoClient(o.sim, o.clock, oauth.NewMemoryStore(), zoho.RetryPolicy{Attempts: 1})
	if err != nil {
		return nil, err
	}
	capture := &captureDDB{}
	shape := table.NewJobStore(capture, "jobs")
	for k := range n {
		j := first
		if k > 0 {
			req := optionSet(1)
			req.IDs = leads[k*zoho.MaxIDsPerCall : (k+1)*zoho.MaxIDsPerCall]
			if j.ID, err = client.MassConvert(ctx, &req); err != nil {
				return nil, fmt.Errorf("scheduling job %d: %w", k+1, err)
			}
			j.LeadIDs = req.IDs
			j.Sources = make([]string, len(req.IDs))
			for i := range j.Sources {
				j.Sources[i] = messageID(k, i)
			}
		}
		if err := shape.RecordJob(ctx, j, o.clock.Now().Add(30*24*time.Hour)); err != nil {
			return nil, err
		}
		it := capture.item
		o.jobs = append(o.jobs, j)
		o.items = append(o.items, it)
		o.sizes[j.ID] = itemSizes{item: itemSize(it), entry: itemSize(map[string]types.AttributeValue{
			"pk": it["pk"], "open_shard": it["open_shard"], "next_check_at": it["next_check_at"]})}
	}
	o.clock.Advance(time.Minute) // every job is due
	return o, nil
}

func messageID(job, i int) string {
	return fmt.Sprintf("5b7f2c1e-8a4d-%04x-%04x-%012d", job>>16&0xffff, job&0xffff, i)
}

// captureDDB keeps the job item of the last RecordJob instead of writing it.
type captureDDB struct {
	table.API // nil: any other call panics
	item      map[string]types.AttributeValue
}

func (c *captureDDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if len(in.TransactItems) == 0 || in.TransactItems[0].Put == nil {
		return nil, errors.New("capture: the first item of RecordJob's transaction is not the job's Put")
	}
	c.item = in.TransactItems[0].Put.Item
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// statusRun is one status run over open jobs.
type statusRun struct {
	rep   jobcheck.Report
	calls int           // status calls the simulator answered
	wall  time.Duration // real time, multiplied back by statusTimeScale when timed
	reads meterReading
}

// timeStatusRun runs the real checker over the open jobs in the in-memory
// store, metered by estimatingStore, with the simulator's latency, the
// function's deadline and its stop margin all divided by statusTimeScale.
// The checker is configured as app.NewStatus configures it, but for the
// scaled margin; a warm token is in the shared token store, as in a
// running deployment, and the run's own token source reads it once.
func timeStatusRun(ctx context.Context, s settings, o *openJobs) (statusRun, error) {
	cfg, err := statusConfig("embedded")
	if err != nil {
		return statusRun{}, err
	}
	est, err := newEstimatingStore(ctx, o)
	if err != nil {
		return statusRun{}, err
	}
	tokens := oauth.NewMemoryStore()
	if err := warmTokens(ctx, o.sim, o.clock, tokens); err != nil {
		return statusRun{}, err
	}
	hc := &http.Client{Transport: delayed{next: o.sim.Transport(), latency: s.latency / statusTimeScale}, Timeout: 30 * time.Second}
	source, err := oauth.NewSource(oauth.Config{Secret: secret.Static(simSecret), Store: meteredTokens{tokens, &est.meter},
		HTTPClient: hc, AccountsURL: simURL, Now: o.clock.Now})
	if err != nil {
		return statusRun{}, err
	}
	client, err := zoho.New(zoho.Config{HTTPClient: hc, Tokens: source, APIURL: simURL})
	if err != nil {
		return statusRun{}, err
	}
	checker, err := jobcheck.New(jobcheck.Config{Zoho: client, Store: est, Concurrency: cfg.Concurrency,
		StaleAfter: cfg.StaleAfter, Retention: cfg.JobRetention, StopMargin: statusStopMargin / statusTimeScale, Now: o.clock.Now})
	if err != nil {
		return statusRun{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, statusTimeout/statusTimeScale)
	defer cancel()
	before := o.sim.Stats().Calls[zohosim.EndpointStatus]
	t0 := time.Now()
	rep := checker.Run(rctx, jobcheck.Request{})
	wall := time.Since(t0)
	return statusRun{rep: rep, calls: o.sim.Stats().Calls[zohosim.EndpointStatus] - before,
		wall: wall * statusTimeScale, reads: est.meter.reading()}, nil
}

// delayed adds latency to every request, as the simulator's Latency does
// (the seeding goes without).
type delayed struct {
	next    http.RoundTripper
	latency time.Duration
}

func (d delayed) RoundTrip(r *http.Request) (*http.Response, error) {
	if d.latency > 0 {
		t := time.NewTimer(d.latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			return nil, r.Context().Err()
		case <-t.C:
		}
	}
	return d.next.RoundTrip(r)
}

// The estimate is checked against the DynamoDB store on moto, on a run
// small enough for moto: crossJobs due jobs, the intake stopped after
// crossStop status calls, so that the run also counts what it left.
const (
	crossJobs = 250
	crossStop = 150
)

// crossCheck runs the real status handler twice over the same crossJobs
// open jobs, with zero latency, its intake stopped after crossStop calls:
// on the DynamoDB store on moto, metered by meteredDDB, and on the
// in-memory store, metered by estimatingStore. It returns both readings.
func crossCheck(ctx context.Context, m *motoServer) (moto, estimate statusRun, err error) {
	o, err := seedOpenJobs(ctx, crossJobs)
	if err != nil {
		return moto, estimate, err
	}
	tableName, err := m.createJobsTable(ctx)
	if err != nil {
		return moto, estimate, err
	}
	defer m.deleteTable(tableName)
	cfg, err := statusConfig(tableName)
	if err != nil {
		return moto, estimate, err
	}
	ddb := m.dynamo()
	if err := batchWrite(ctx, ddb, tableName, o.items); err != nil {
		return moto, estimate, err
	}
	if err := warmTokens(ctx, o.sim, o.clock, table.NewTokenStore(ddb, tableName)); err != nil {
		return moto, estimate, err
	}
	meter := &meteredDDB{api: ddb, sizes: o.sizes}
	moto, err = invokeStatus(ctx, o, cfg, app.StatusDeps{Shared: app.Shared{Secret: secret.Static(simSecret),
		Tokens: table.NewTokenStore(meter, tableName), Now: o.clock.Now, Out: io.Discard}, Jobs: table.NewJobStore(meter, tableName)})
	if err != nil {
		return moto, estimate, fmt.Errorf("on moto: %w", err)
	}
	moto.reads = meter.reading()

	est, err := newEstimatingStore(ctx, o)
	if err != nil {
		return moto, estimate, err
	}
	tokens := oauth.NewMemoryStore()
	if err := warmTokens(ctx, o.sim, o.clock, tokens); err != nil {
		return moto, estimate, err
	}
	estimate, err = invokeStatus(ctx, o, cfg, app.StatusDeps{Shared: app.Shared{Secret: secret.Static(simSecret),
		Tokens: meteredTokens{tokens, &est.meter}, Now: o.clock.Now, Out: io.Discard}, Jobs: est})
	estimate.reads = est.meter.reading()
	return moto, estimate, err
}

// invokeStatus invokes the status function as the schedule does, its
// intake stopped after crossStop status calls: the context then reports
// its deadline exceeded, and the calls in flight finish, as they do when
// a real run reaches its margin.
func invokeStatus(ctx context.Context, o *openJobs, cfg config.Status, d app.StatusDeps) (statusRun, error) {
	rctx := &intakeCtx{Context: ctx}
	d.HTTPClient = &http.Client{Transport: stopper{next: o.sim.Transport(), after: crossStop, ctx: rctx}, Timeout: 30 * time.Second}
	fn, err := app.NewStatus(cfg, d)
	if err != nil {
		return statusRun{}, err
	}
	before := o.sim.Stats().Calls[zohosim.EndpointStatus]
	t0 := time.Now()
	res, err := fn.Invoke(rctx, json.RawMessage(statusEvent))
	wall := time.Since(t0)
	if err != nil {
		return statusRun{}, err
	}
	rep, ok := res.(jobcheck.Report)
	if !ok {
		return statusRun{}, fmt.Errorf("status answered %T, want jobcheck.Report", res)
	}
	return statusRun{rep: rep, calls: o.sim.Stats().Calls[zohosim.EndpointStatus] - before, wall: wall}, nil
}

// batchWrite puts items 25 to a request (DynamoDB's cap), a few requests
// at a time.
func batchWrite(ctx context.Context, ddb *dynamodb.Client, table string, items []map[string]types.AttributeValue) error {
	work := make(chan []map[string]types.AttributeValue)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for chunk := range work {
				reqs := make([]types.WriteRequest, len(chunk))
				for i, it := range chunk {
					reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
				}
				pending := map[string][]types.WriteRequest{table: reqs}
				for len(pending) > 0 {
					out, err := ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
					if err != nil {
						mu.Lock()
						firstErr = errors.Join(firstErr, fmt.Errorf("writing jobs: %w", err))
						mu.Unlock()
						break
					}
					pending = out.UnprocessedItems
				}
			}
		})
	}
	for start := 0; start < len(items); start += 25 {
		work <- items[start:min(start+25, len(items))]
	}
	close(work)
	wg.Wait()
	return firstErr
}

// intakeCtx reports context.DeadlineExceeded from Err once stop is set,
// which is what the checker looks at before taking each job. Done never
// closes early: calls and writes in flight go on.
type intakeCtx struct {
	context.Context
	started atomic.Int64 // status calls
	stop    atomic.Bool
}

func (c *intakeCtx) Err() error {
	if c.stop.Load() {
		return context.DeadlineExceeded
	}
	return c.Context.Err()
}

// stopper sets ctx.stop when the after-th status call starts.
type stopper struct {
	next  http.RoundTripper
	after int64
	ctx   *intakeCtx
}

func (s stopper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/mass_convert") && s.ctx.started.Add(1) >= s.after {
		s.ctx.stop.Store(true)
	}
	return s.next.RoundTrip(r)
}

// ---- DynamoDB read units ----

// DynamoDB charges reads by the size of the whole item read, projection
// or not, rounded up to 4 KB: one read unit per 4 KB strongly consistent,
// half a unit eventually consistent; per item for GetItem and
// BatchGetItem, per request (everything read together) for Query, where a
// Select COUNT query costs what the same query returning its items does;
// a request that reads nothing still costs one unit. The open-jobs index
// holds keys only, and index reads are eventually consistent.

// meterReading is what a meter saw: requests by kind and their read units.
type meterReading struct {
	queries, batchGets, gets, updates, deletes int
	queryRCU, batchRCU, getRCU                 float64
	jobItems, jobBytes                         int // job items BatchGetItem read, and their total size
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

// readUnits is what reading size bytes in one unit of charge costs.
func readUnits(size int, consistent bool) float64 {
	u := float64(max(1, (size+4095)/4096))
	if !consistent {
		u /= 2
	}
	return u
}

// queryPageBytes is the most data one Query page reads.
const queryPageBytes = 1 << 20

// estimatingStore is the in-memory job store, metered as the DynamoDB
// store would be charged: it counts the requests DynamoStore makes for
// each call (one Query per page of due jobs, one BatchGetItem per 100
// jobs, one UpdateItem per check, Query pages of up to 1 MB to count)
// and the read units of the items they read, sized from the item the
// DynamoDB store writes for each job. crossCheck compares it with the
// DynamoDB store on moto.
type estimatingStore struct {
	*jobs.MemoryStore
	sizes map[string]itemSizes
	meter meter
}

func newEstimatingStore(ctx context.Context, o *openJobs) (*estimatingStore, error) {
	e := &estimatingStore{MemoryStore: jobs.NewMemoryStore(), sizes: o.sizes}
	for _, j := range o.jobs {
		if err := e.RecordJob(ctx, j, o.clock.Now().Add(30*24*time.Hour)); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e *estimatingStore) DueJobs(ctx context.Context, now time.Time, limit int, cursor string) ([]string, string, error) {
	ids, next, err := e.MemoryStore.DueJobs(ctx, now, limit, cursor)
	if err != nil {
		return ids, next, err
	}
	size := 0
	for _, id := range ids {
		size += e.sizes[id].entry
	}
	e.meter.add(func(r *meterReading) {
		r.queries++
		r.queryRCU += readUnits(size, false)
		if next == "" && len(ids) == max(limit, 1) {
			// DynamoDB returns a cursor with every page that reaches its
			// limit: the checker reads one more page, or counts from it,
			// and finds nothing.
			r.queries++
			r.queryRCU += readUnits(0, false)
		}
	})
	return ids, next, nil
}

func (e *estimatingStore) CountDue(ctx context.Context, now time.Time, cursor string) (int, error) {
	ids, _, err := e.MemoryStore.DueJobs(ctx, now, math.MaxInt32, cursor)
	if err != nil {
		return 0, err
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
	return len(ids), nil
}

func (e *estimatingStore) Jobs(ctx context.Context, ids []string) ([]jobs.Job, error) {
	js, err := e.MemoryStore.Jobs(ctx, ids)
	if err != nil {
		return js, err
	}
	distinct := map[string]bool{}
	for _, id := range ids {
		distinct[id] = true
	}
	var rcu float64
	size := 0
	for _, j := range js {
		n := e.sizes[j.ID].item
		rcu += readUnits(n, false)
		size += n
	}
	e.meter.add(func(r *meterReading) {
		r.batchGets += (len(distinct) + 99) / 100
		r.batchRCU += rcu
		r.jobItems += len(js)
		r.jobBytes += size
	})
	return js, nil
}

func (e *estimatingStore) SaveCheck(ctx context.Context, j jobs.Job, prev int64) error {
	e.meter.add(func(r *meterReading) { r.updates++ })
	return e.MemoryStore.SaveCheck(ctx, j, prev)
}

func (e *estimatingStore) ReleaseJobClaims(ctx context.Context, j jobs.Job) (int, error) {
	distinct := map[string]bool{}
	for _, id := range j.LeadIDs {
		distinct[id] = true
	}
	e.meter.add(func(r *meterReading) { r.deletes += len(distinct) })
	return e.MemoryStore.ReleaseJobClaims(ctx, j)
}

// meteredTokens counts token record reads: a strongly consistent GetItem
// of a small item each, as oauth.DynamoStore.Load makes.
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
			s, ok := m.sizes[strings.TrimPrefix(itemKey(it), "JOB#")]
			if !ok {
				return out, fmt.Errorf("meter: BatchGetItem read %q, whose size is not known", itemKey(it))
			}
			rcu += readUnits(s.item, consistent)
			items, size = items+1, size+s.item
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
	if in.Select == types.SelectCount {
		again := *in
		again.Select = ""
		o, err := m.api.Query(ctx, &again)
		if err != nil {
			return out, err
		}
		if len(o.Items) != int(out.Count) {
			return out, fmt.Errorf("meter: a count of %d, and %d items for the same query", out.Count, len(o.Items))
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

func (m *meteredDDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	m.add(func(r *meterReading) { r.deletes++ })
	return m.api.DeleteItem(ctx, in, opts...)
}

func (m *meteredDDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return m.api.TransactWriteItems(ctx, in, opts...)
}

func itemKey(it map[string]types.AttributeValue) string {
	if v, ok := it["pk"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// itemSize is an item's size as DynamoDB counts it: attribute names plus
// values; strings and binaries by length, numbers about one byte per two
// significant digits plus one, lists and maps 3 bytes plus their elements
// with a byte each.
func itemSize(it map[string]types.AttributeValue) int {
	n := 0
	for k, v := range it {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, e := range v.Value {
			n += len(e)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, e := range v.Value {
			n += numberSize(e)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, e := range v.Value {
			n += len(e)
		}
		return n
	}
	return 0
}

func numberSize(s string) int {
	s = strings.TrimLeft(s, "+-")
	intPart, frac, _ := strings.Cut(s, ".")
	digits := strings.TrimRight(strings.TrimLeft(intPart+frac, "0"), "0")
	return (len(digits)+1)/2 + 1
}

// ---- the row ----

// rowStatus is row 5: for each size, one scheduled run of the real
// checker over that many due jobs, time compressed, on the in-memory
// store metered as DynamoDB would charge the DynamoDB store; and, in the
// first repetition, the check of that estimate against the DynamoDB store
// on moto (skipped without moto).
func rowStatus(ctx context.Context, s settings, rep int) ([]sample, error) {
	cfg, err := statusConfig("embedded")
	if err != nil {
		return nil, err
	}
	var out []sample
	for _, n := range s.statusJobs {
		o, err := seedOpenJobs(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("%d jobs: %w", n, err)
		}
		run, err := timeStatusRun(ctx, s, o)
		if err != nil {
			return nil, fmt.Errorf("%d jobs: %w", n, err)
		}
		out = append(out, statusSamples(s, cfg.Concurrency, n, o, run)...)
	}
	if rep > 0 {
		return out, nil
	}
	const what = "DynamoDB read units, estimate vs moto"
	m, err := sharedMoto()
	if errors.Is(err, errSkipped) {
		return append(out, skipped("status/moto_check", what, "no .venv/bin/moto_server")), nil
	}
	if err != nil {
		return nil, err
	}
	onMoto, est, err := crossCheck(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("checking the estimate on moto: %w", err)
	}
	a, b := onMoto.reads, est.reads
	var problem string
	// The intake stops within a few calls of crossStop, so the checks may
	// differ by a few; the pages read and the count may not.
	if a.queries != b.queries || a.batchGets != b.batchGets || a.gets != b.gets || a.rcu() != b.rcu() ||
		onMoto.rep.Checked+onMoto.rep.LeftDue != crossJobs || est.rep.Checked+est.rep.LeftDue != crossJobs ||
		a.updates != onMoto.rep.Checked || b.updates != est.rep.Checked || onMoto.rep.Errors+est.rep.Errors > 0 {
		problem = fmt.Sprintf("moto: %s, %.1f RCU, %+v; estimate: %s, %.1f RCU, %+v", a.requests(), a.rcu(), onMoto.rep, b.requests(), b.rcu(), est.rep)
	}
	return append(out, sample{key: "status/moto_check", measure: fmt.Sprintf("%s (%d due jobs)", what, crossJobs), unit: "RCU",
		ours: a.rcu(), baseline: none, floor: none, problem: problem,
		note: fmt.Sprintf("the real handler on the DynamoDB store on moto, intake stopped after %d calls: %s, %d left due; the estimate on the same run: %.1f RCU, %s",
			crossStop, a.requests(), onMoto.rep.LeftDue, b.rcu(), b.requests())}), nil
}

func statusSamples(s settings, concurrency, n int, o *openJobs, run statusRun) []sample {
	size := fmt.Sprintf("(%s due jobs)", thousands(int64(n)))
	key := fmt.Sprintf("-%d", n)
	rep, r := run.rep, run.reads
	var problem string
	switch {
	case rep.Errors > 0:
		problem = fmt.Sprintf("%d errors", rep.Errors)
	case run.calls != rep.Checked+rep.Conflicts:
		problem = fmt.Sprintf("%d status calls for %d jobs checked", run.calls, rep.Checked)
	case rep.Checked+rep.LeftDue != n:
		problem = fmt.Sprintf("checked %d + left due %d, want %d", rep.Checked, rep.LeftDue, n)
	}
	budget := statusBudget()
	jobBytes := o.sizes[o.jobs[0].ID].item
	perJob := readUnits(jobBytes, false) // the fewest: each checked job's item read once
	ideal := time.Duration(math.Ceil(float64(n)/float64(concurrency))) * s.latency
	out := []sample{
		{key: "status/calls" + key, measure: "Zoho status calls per run " + size, unit: "calls",
			ours: float64(run.calls), baseline: none, floor: float64(rep.Checked), problem: problem,
			note: "floor: one per job checked (Zoho has no batch status); one UpdateItem per check"},
		{key: "status/rcu" + key, measure: "DynamoDB read units per run " + size, unit: "RCU",
			ours: r.rcu(), baseline: none, floor: float64(rep.Checked) * perJob, problem: problem,
			note: fmt.Sprintf("estimated from item sizes: Query %d (%.1f: index pages, count of the rest), BatchGetItem %d (%.1f: %s job items of %.1f KB), GetItem %d (%.1f: the token); floor %.1f per job checked",
				r.queries, r.queryRCU, r.batchGets, r.batchRCU, thousands(int64(r.jobItems)), float64(jobBytes)/1024, r.gets, r.getRCU, perJob)},
		{key: "status/time" + key, measure: "time per run " + size, unit: "s",
			ours: run.wall.Seconds(), baseline: none, floor: budget.Seconds(), problem: problem,
			note: fmt.Sprintf("cap: the %s timeout less the stop margin; %d calls in flight, %s each; ideal ceil(%s/%d) x latency = %.0f s; run %dx faster than real time",
				human(statusTimeout), concurrency, s.latency, thousands(int64(n)), concurrency, ideal.Seconds(), statusTimeScale)},
	}
	if rep.Stopped != "" {
		fit := int(budget/max(s.latency, time.Millisecond)) * concurrency
		runs := int(math.Ceil(float64(n) / float64(max(rep.Checked, 1))))
		out = append(out, sample{key: "status/checked" + key, measure: "jobs checked per run " + size, unit: "count",
			ours: float64(rep.Checked), baseline: none, floor: float64(fit), problem: problem,
			note: fmt.Sprintf("stopped at the margin (%s), the rest left due for the next run and counted; cap: %.0f s / %s x %d in flight; %d runs reach every job: %s at rate(%s)",
				rep.Stopped, budget.Seconds(), s.latency, concurrency, runs, human(time.Duration(runs)*statusSchedule), human(statusSchedule))})
	}
	return out
}

// skipped is the one line of a row whose tools are missing.
func skipped(key, title, why string) sample {
	return sample{key: key, measure: title, ours: none, baseline: none, floor: none, note: errSkipped.Error() + " (" + why + ")"}
}
