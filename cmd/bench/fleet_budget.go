// Row 7, the deployment's Zoho concurrency budget: the API's synchronous
// requests, SQS batches and the status function busy at once on several
// instances, sharing one table (its SLOT# items), with the budget on
// (ZOHO_CONCURRENCY_BUDGET 8, the template's) and off (0).

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// The deployment busy at once: QueueMaximumConcurrency SQS instances
// with a batch each, two API instances with a ?wait=true request each
// (API Gateway runs as many as there are requests), and the status
// function over due jobs. Without the budget they would have
// 2x4 + 2x4 + 5 = 21 calls in flight: twice Zoho's 10.
const (
	budgetSQSInstances = queueMaxConcurrency
	budgetAPIInstances = 2
	budgetLeads        = 1000 // per SQS batch (single-lead messages) and per API request (Zoho's most per request)
	budgetDueJobs      = 40   // for the status function, of 50 leads each
)

// budgetRun is one run of the busy deployment.
type budgetRun struct {
	stats      zohosim.Stats
	wall       time.Duration
	handedBack int   // SQS messages the answers handed back
	apiCodes   []int // the API's answers
	status     jobcheck.Report
	problems   []string // answers that went wrong
}

// runBudget drives the busy deployment with ZOHO_CONCURRENCY_BUDGET
// budget (0: off) against a simulator with -latency per call, so that
// calls overlap, and no concurrency limit, so that what the deployment
// would send shows whole.
func runBudget(ctx context.Context, s settings, budget int) (budgetRun, error) {
	var r budgetRun
	clock := newClock()
	sim := zohosim.New(zohosim.Options{Clock: clock, Latency: s.latency})
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
		"ZOHO_ACCOUNTS_URL": simURL, "ZOHO_API_URL": simURL,
		"MAX_ZOHO_CONCURRENCY": strconv.Itoa(s.concurrency), "ZOHO_CONCURRENCY_BUDGET": strconv.Itoa(budget),
		"BATCHING_WINDOW_SECONDS": strconv.Itoa(int(batchingWindow.Seconds()))}
	get := func(k string) string { return env[k] }
	ccfg, err := config.LoadConvert(get)
	if err != nil {
		return r, err
	}
	scfg, err := config.LoadStatus(get)
	if err != nil {
		return r, err
	}
	deps := app.NewEmbedded(simSecret, clock.Now, io.Discard)
	deps.Shared.HTTPClient = simHTTPClient(sim)
	if err := warmTokens(ctx, sim, clock, deps.Tokens); err != nil {
		return r, err
	}
	if err := seedDueJobs(ctx, sim, clock, deps.Tokens, deps.Jobs); err != nil {
		return r, err
	}
	newConvert := func() (*app.Convert, error) { return app.NewConvert(ccfg, deps.Convert()) }
	statusFn, err := app.NewStatus(scfg, deps.Status())
	if err != nil {
		return r, err
	}
	type job struct {
		fn  *app.Convert
		raw json.RawMessage
		sqs []message
	}
	var work []job
	for range budgetSQSInstances {
		fn, err := newConvert()
		if err != nil {
			return r, err
		}
		ids := sim.SeedLeadRange(budgetLeads)
		msgs := make([]message, len(ids))
		for i, id := range ids {
			msgs[i] = message{id: fmt.Sprintf("msg-%s", id), body: requestBody(id, 0)}
		}
		bs, err := batches(msgs)
		if err != nil || len(bs) != 1 {
			return r, fmt.Errorf("budget: %d leads make %d SQS batches (%v), want 1", len(ids), len(bs), err)
		}
		work = append(work, job{fn: fn, raw: bs[0].event, sqs: msgs})
	}
	for k := range budgetAPIInstances {
		fn, err := newConvert()
		if err != nil {
			return r, err
		}
		req := optionSet(0)
		req.IDs = sim.SeedLeadRange(budgetLeads)
		body, err := json.Marshal(req)
		if err != nil {
			return r, err
		}
		ev := webhookEvent(fmt.Sprintf("sync-%d", k), string(body))
		var v2 events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(ev, &v2); err != nil {
			return r, err
		}
		v2.RawQueryString = "wait=true" // converted at once, answered with the jobs
		if ev, err = json.Marshal(v2); err != nil {
			return r, err
		}
		work = append(work, job{fn: fn, raw: ev})
	}

	sim.ResetStats() // the setup's calls are not the run's
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for _, w := range work {
		wg.Go(func() {
			ictx, cancel := context.WithTimeout(ctx, lambdaTimeout)
			defer cancel()
			res, err := w.fn.Invoke(ictx, w.raw)
			mu.Lock()
			defer mu.Unlock()
			switch a := res.(type) {
			case events.SQSEventResponse:
				r.handedBack += len(a.BatchItemFailures)
			case events.APIGatewayV2HTTPResponse:
				r.apiCodes = append(r.apiCodes, a.StatusCode)
				if a.StatusCode/100 != 2 {
					r.problems = append(r.problems, fmt.Sprintf("API answered %d: %.200s", a.StatusCode, a.Body))
				}
			default:
				r.problems = append(r.problems, fmt.Sprintf("answer %T, error %v", res, err))
			}
		})
	}
	wg.Go(func() {
		sctx, cancel := context.WithTimeout(ctx, statusTimeout)
		defer cancel()
		res, err := statusFn.Invoke(sctx, json.RawMessage(`{}`))
		mu.Lock()
		defer mu.Unlock()
		if rep, ok := res.(jobcheck.Report); ok {
			r.status = rep
		} else {
			r.problems = append(r.problems, fmt.Sprintf("status answer %T, error %v", res, err))
		}
	})
	wg.Wait()
	r.wall = time.Since(start)
	r.stats = sim.Stats()
	if r.handedBack > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d SQS messages handed back", r.handedBack))
	}
	if r.status.Checked != budgetDueJobs {
		r.problems = append(r.problems, fmt.Sprintf("status checked %d of %d due jobs", r.status.Checked, budgetDueJobs))
	}
	return r, nil
}

// seedDueJobs schedules budgetDueJobs jobs in the simulator, ten calls at
// a time (setup, before the run's clock and counters), records them in
// store as the convert function would, and lets them come due.
func seedDueJobs(ctx context.Context, sim *zohosim.Server, clock *zohosim.ManualClock, tokens oauth.Store, store *memstore.Store) error {
	client, _, err := newZohoClient(sim, clock, tokens, zoho.RetryPolicy{Attempts: 1})
	if err != nil {
		return err
	}
	errs := make([]error, budgetDueJobs)
	sem := make(chan struct{}, zohoSubConcurrency)
	var wg sync.WaitGroup
	for k := range budgetDueJobs {
		req := optionSet(0)
		req.IDs = sim.SeedLeadRange(zoho.MaxIDsPerCall)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			id, err := client.MassConvert(ctx, &req)
			if err == nil {
				now := clock.Now()
				err = store.RecordJob(ctx, jobs.Job{ID: id, State: jobs.Scheduled, LeadIDs: req.IDs, CreatedAt: now, UpdatedAt: now,
					NextCheckAt: now.Add(time.Minute)}, now.Add(30*24*time.Hour))
			}
			errs[k] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("seeding due jobs: %w", err)
		}
	}
	clock.Advance(time.Minute)
	return nil
}

// budgetSample is the line: the most calls in flight with the budget on
// against the same run with it off.
func budgetSample(ctx context.Context, s settings) (sample, error) {
	ours, err := runBudget(ctx, s, templateBudget)
	if err != nil {
		return sample{}, fmt.Errorf("budget %d: %w", templateBudget, err)
	}
	off, err := runBudget(ctx, s, 0)
	if err != nil {
		return sample{}, fmt.Errorf("budget off: %w", err)
	}
	var problem []string
	if ours.stats.MaxInFlight > templateBudget {
		problem = append(problem, fmt.Sprintf("%d calls in flight with a budget of %d", ours.stats.MaxInFlight, templateBudget))
	}
	if ours.stats.DuplicateSubmissions > 0 || off.stats.DuplicateSubmissions > 0 {
		problem = append(problem, fmt.Sprintf("leads sent twice: %d, %d", ours.stats.DuplicateSubmissions, off.stats.DuplicateSubmissions))
	}
	for _, p := range ours.problems {
		problem = append(problem, "ours: "+p)
	}
	for _, p := range off.problems {
		problem = append(problem, "budget off: "+p)
	}
	calls := func(r budgetRun) int {
		return r.stats.Calls[zohosim.EndpointMassConvert] + r.stats.Calls[zohosim.EndpointStatus]
	}
	demand := (budgetSQSInstances+budgetAPIInstances)*s.concurrency + statusConcurrency()
	return sample{key: "fleet/budget/max-in-flight", measure: "most Zoho calls in flight: API ?wait=true + SQS + status at once", unit: "count",
		ours: float64(ours.stats.MaxInFlight), baseline: float64(off.stats.MaxInFlight), floor: templateBudget,
		problem: strings.Join(problem, "; "),
		note: fmt.Sprintf("cap: ZOHO_CONCURRENCY_BUDGET %d; baseline: the same run with it 0 (Zoho allows %d); %d SQS instances x %s single-lead msgs, %d API instances x %s ids, status over %d due jobs: up to %d at once (MAX_ZOHO_CONCURRENCY %d, STATUS_CONCURRENCY %d); at %s per call: %d calls in %.1f s, budget off %.1f s",
			templateBudget, zohoSubConcurrency, budgetSQSInstances, thousands(budgetLeads), budgetAPIInstances, thousands(budgetLeads), budgetDueJobs,
			demand, s.concurrency, statusConcurrency(), s.latency, calls(ours), ours.wall.Seconds(), off.wall.Seconds())}, nil
}

// statusConcurrency is STATUS_CONCURRENCY when the variable is unset.
func statusConcurrency() int {
	cfg, err := statusConfig("embedded")
	if err != nil {
		panic(err) // a fixed, valid environment
	}
	return cfg.Concurrency
}
