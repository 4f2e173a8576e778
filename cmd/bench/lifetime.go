// Row 5's job lifetime lines: the DynamoDB units one job costs from its
// record to its end, in the table's layout and in the previous one, each
// metered on moto (billing.go) through the same sequence: the job recorded
// as the convert function records it, then checked by the real checker
// at each time its backoff sets, until Zoho says it completed.

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// lifetimeStore is what the lifetime needs of a layout's store.
type lifetimeStore interface {
	jobs.CheckStore
	RecordJob(ctx context.Context, job jobs.Job, claimsExpire time.Time) error
	Job(ctx context.Context, id string) (jobs.Job, error)
}

// layout is a way of keeping jobs in the table: its store on a billed
// client (with an unbilled one beside it), and the indexes its items enter.
type layout struct {
	name    string
	indexes []string
	store   func(billed, plain table.API, table string) lifetimeStore
}

// layouts are the layouts compared: the first is the baseline.
var layouts = []layout{
	{name: "previous", indexes: []string{table.LegacyOpenIndex}, store: newPreviousStore},
	{name: "CHK#", indexes: []string{table.OpenIndex}, store: func(billed, _ table.API, t string) lifetimeStore { return table.NewJobStore(billed, t) }},
}

// jobDurations are how long Zoho takes over the measured jobs.
var jobDurations = []time.Duration{3 * time.Minute, 30 * time.Minute}

// lifetime is what one job cost in one layout.
type lifetime struct {
	record     billing   // RecordJob
	open       []billing // each check that left the job open
	terminal   billing   // the check that ended it
	total      billing
	checkTimes []time.Duration // after the record
}

func (l lifetime) checks() int { return len(l.open) + 1 }

// measureLifetime records one job of zoho.MaxIDsPerCall leads that Zoho
// completes after d, in the layout, on a fresh table on moto, and has the
// real checker follow it to its end, one run at each due time.
func measureLifetime(ctx context.Context, m *motoServer, lay layout, d time.Duration) (lifetime, error) {
	var l lifetime
	o, err := seedOpenJobs(ctx, 1, zohosim.Options{ScheduledFor: time.Minute, InProgressFor: d - time.Minute})
	if err != nil {
		return l, err
	}
	name, err := m.createJobsTable(ctx)
	if err != nil {
		return l, err
	}
	defer m.deleteTable(name)
	meter, err := newBillingDDB(ctx, m.dynamo(), name, lay.indexes...)
	if err != nil {
		return l, err
	}
	st := lay.store(meter, m.dynamo(), name)
	plain := lay.store(m.dynamo(), m.dynamo(), name) // reads the job between runs, unbilled

	j := o.jobs[0]
	mark := meter.reading()
	if err := st.RecordJob(ctx, j, j.CreatedAt.Add(30*24*time.Hour+48*time.Hour)); err != nil {
		return l, fmt.Errorf("recording: %w", err)
	}
	l.record = meter.reading().minus(mark)

	client, _, err := newZohoClient(o.sim, o.clock, oauth.NewMemoryStore(), zoho.RetryPolicy{Attempts: 1})
	if err != nil {
		return l, err
	}
	checker, err := jobcheck.New(jobcheck.Config{Zoho: client, Store: st, Now: o.clock.Now})
	if err != nil {
		return l, err
	}
	for range 20 {
		cur, err := plain.Job(ctx, j.ID)
		if err != nil {
			return l, err
		}
		if !cur.State.Open() {
			if cur.State != jobs.Completed || len(l.checkTimes) == 0 {
				return l, fmt.Errorf("the job ended %s after %d checks", cur.State, len(l.checkTimes))
			}
			l.total = meter.reading()
			return l, nil
		}
		if next := cur.NextCheckAt; next.After(o.clock.Now()) {
			o.clock.Set(next)
		}
		l.checkTimes = append(l.checkTimes, o.clock.Now().Sub(j.CreatedAt))
		mark := meter.reading()
		rep := checker.Run(ctx, jobcheck.Request{})
		if rep.Checked != 1 || rep.Errors > 0 {
			return l, fmt.Errorf("check %d: %+v", len(l.checkTimes), rep)
		}
		b := meter.reading().minus(mark)
		if rep.Finished == 1 {
			l.terminal = b
		} else {
			l.open = append(l.open, b)
		}
	}
	return l, fmt.Errorf("the job was still open after 20 checks")
}

// lifetimeSamples measures every layout over each job duration: the
// last layout is ours, the first the baseline.
func lifetimeSamples(ctx context.Context, m *motoServer) ([]sample, error) {
	var out []sample
	for _, d := range jobDurations {
		got := make([]lifetime, len(layouts))
		for i, lay := range layouts {
			var err error
			if got[i], err = measureLifetime(ctx, m, lay, d); err != nil {
				return nil, fmt.Errorf("%s layout, a job of %s: %w", lay.name, human(d), err)
			}
		}
		base, ours := got[0], got[len(got)-1]
		key := fmt.Sprintf("-%dm", int(d.Minutes()))
		size := fmt.Sprintf("(a job of 50 leads done in %s: %d checks)", human(d), ours.checks())
		perOpen := func(l lifetime) float64 { return float64(l.open[0].jobWCU()) }
		out = append(out,
			sample{key: "status/job_wcu" + key, measure: "DynamoDB write units per job lifetime " + size, unit: "WCU",
				ours: float64(ours.total.jobWCU()), baseline: float64(base.total.jobWCU()), floor: none,
				note: fmt.Sprintf("job items and index entries, metered on moto: record %d, open checks %s, the last %d; the baseline (%s layout): record %d, open checks %s, the last %d; checks at %v; the claims' writes (%d in the record) are the same in both",
					ours.record.jobWCU(), wcuList(ours.open), ours.terminal.jobWCU(), layouts[0].name, base.record.jobWCU(), wcuList(base.open), base.terminal.jobWCU(),
					ours.checkTimes, ours.record.wcu[table.LeadPrefix])},
			sample{key: "status/check_wcu" + key, measure: "DynamoDB write units per status check that leaves the job open " + size, unit: "WCU",
				ours: perOpen(ours), baseline: perOpen(base), floor: none,
				note: "the check's item and its index entry"},
			sample{key: "status/check_rcu" + key, measure: "DynamoDB read units per status check that leaves the job open " + size, unit: "RCU",
				ours: ours.open[0].totalRCU(), baseline: base.open[0].totalRCU(), floor: none,
				note: fmt.Sprintf("the due query (one open job: %.1f) and the job's read (%.1f; the baseline %.1f)",
					ours.open[0].rcu["Query"], ours.open[0].rcu["BatchGetItem"], base.open[0].rcu["BatchGetItem"])},
			sample{key: "status/job_rcu" + key, measure: "DynamoDB read units per job lifetime " + size, unit: "RCU",
				ours: ours.total.totalRCU(), baseline: base.total.totalRCU(), floor: none,
				note: fmt.Sprintf("one open job in the table: the due query %.1f, the job reads %.1f (%d BatchGetItem); the baseline: %.1f and %.1f",
					ours.total.rcu["Query"], ours.total.rcu["BatchGetItem"], ours.total.requests["BatchGetItem"], base.total.rcu["Query"], base.total.rcu["BatchGetItem"])},
		)
	}
	return out, nil
}

func wcuList(bs []billing) string {
	s := ""
	for i, b := range bs {
		if i > 0 {
			s += "+"
		}
		s += fmt.Sprint(b.jobWCU())
	}
	return s
}
