// Row 5, status checking: the row itself and the status function's
// deployment facts it reproduces. The run, the seeded jobs, the read-unit
// meter and the check on moto live in status_*.go, meter.go, readunits.go.

package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/config"
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
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": table, "TOKEN_KEY_ID": "embedded",
		"ZOHO_ACCOUNTS_URL": simURL, "ZOHO_API_URL": simURL}
	return config.LoadStatus(func(k string) string { return env[k] })
}

// openJobs is a simulator holding n open jobs of zoho.MaxIDsPerCall leads

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
		o, err := seedOpenJobs(ctx, n, zohosim.Options{})
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
	out = append(out, sample{key: "status/moto_check", measure: fmt.Sprintf("%s (%d due jobs)", what, crossJobs), unit: "RCU",
		ours: a.rcu(), baseline: none, floor: none, problem: problem,
		note: fmt.Sprintf("the real handler on the DynamoDB store on moto, intake stopped after %d calls: %s, %d left due; the estimate on the same run: %.1f RCU, %s",
			crossStop, a.requests(), onMoto.rep.LeftDue, b.rcu(), b.requests())})
	life, err := lifetimeSamples(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("job lifetimes: %w", err)
	}
	return append(out, life...), nil
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
	sizes := o.sizes[o.jobs[0].ID]
	perJob := readUnits(sizes.item, false) + readUnits(sizes.check, false) // the fewest: each checked job's two items read once
	ideal := time.Duration(math.Ceil(float64(n)/float64(concurrency))) * s.latency
	out := []sample{
		{key: "status/calls" + key, measure: "Zoho status calls per run " + size, unit: "calls",
			ours: float64(run.calls), baseline: none, floor: float64(rep.Checked), problem: problem,
			note: "floor: one per job checked (Zoho has no batch status); one UpdateItem per check"},
		{key: "status/rcu" + key, measure: "DynamoDB read units per run " + size, unit: "RCU",
			ours: r.rcu(), baseline: none, floor: float64(rep.Checked) * perJob, problem: problem,
			note: fmt.Sprintf("estimated from item sizes: Query %d (%.1f: the open-checks index, read once), BatchGetItem %d (%.1f: %s items, JOB# of %.1f KB and CHK# of %d bytes), GetItem %d (%.1f: the token); floor %.1f per job checked",
				r.queries, r.queryRCU, r.batchGets, r.batchRCU, thousands(int64(r.jobItems)), float64(sizes.item)/1024, sizes.check, r.gets, r.getRCU, perJob)},
		{key: "status/time" + key, measure: "time per run " + size, unit: "s",
			ours: run.wall.Seconds(), baseline: none, floor: budget.Seconds(), problem: problem,
			note: fmt.Sprintf("cap: the %s timeout less the stop margin; %d calls in flight, %s each; without the cap ceil(%s/%d) x latency = %.0f s (computed); run %dx faster than real time",
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
