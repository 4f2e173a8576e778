// Row 5's check of its read-unit estimate against the DynamoDB store on moto.

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

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
	o, err := seedOpenJobs(ctx, crossJobs, zohosim.Options{})
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
	warm, err := m.tokenStore(ctx, ddb, tableName)
	if err != nil {
		return moto, estimate, err
	}
	if err := warmTokens(ctx, o.sim, o.clock, warm); err != nil {
		return moto, estimate, err
	}
	meter := &meteredDDB{api: ddb, sizes: o.sizes}
	motoTokens, err := m.tokenStore(ctx, meter, tableName)
	if err != nil {
		return moto, estimate, err
	}
	moto, err = invokeStatus(ctx, o, cfg, app.StatusDeps{Shared: app.Shared{Secret: secret.Static(simSecret),
		Tokens: motoTokens, Now: o.clock.Now, Out: io.Discard}, Jobs: table.NewJobStore(meter, tableName)})
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
	res, err := fn.Invoke(rctx, json.RawMessage(statusEvent))
	if err != nil {
		return statusRun{}, err
	}
	rep, ok := res.(jobcheck.Report)
	if !ok {
		return statusRun{}, fmt.Errorf("status answered %T, want jobcheck.Report", res)
	}
	return statusRun{rep: rep, calls: o.sim.Stats().Calls[zohosim.EndpointStatus] - before}, nil
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
