package jobcheck_test

import (
	"context"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
)

// BenchmarkRunThousandDue measures one status run over 1,000 due jobs on
// DynamoDB (moto): Zoho status calls and DynamoDB operations per run,
// counted by a wrapper around the DynamoDB client. Each iteration seeds a
// fresh table (untimed; about a minute in moto), so run it once:
//
//	go test -run '^$' -bench RunThousandDue -benchtime 1x ./pkg/status
//
// It then follows the jobs to their end and logs every run's figures.
func BenchmarkRunThousandDue(b *testing.B) {
	const n = 1000
	cfg := awstest.Require(b)
	var first ddbCounts
	var calls int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ddb := &countingDDB{API: table.NewClient(cfg)}
		r := newRig(b, table.NewJobStore(ddb, awstest.CreateTableFromTemplate(b, cfg, "JobsTable")),
			zohosim.Options{StatusCasings: casings}, jobcheck.Config{})
		created := r.schedule(b, n, 1, failPattern(1))
		r.clock.Advance(time.Minute)
		if due := r.due(b); due != n {
			b.Fatalf("%d due, want %d", due, n)
		}
		ddb.take()
		before := r.statusCalls()
		b.StartTimer()

		rep := r.run(context.Background(), jobcheck.Request{})

		b.StopTimer()
		c := ddb.take()
		first.queries += c.queries
		first.batchGets += c.batchGets
		first.itemsRead += c.itemsRead
		first.updates += c.updates
		first.deletes += c.deletes
		calls += r.statusCalls() - before
		if rep.Checked != n {
			b.Fatalf("first run %+v", rep)
		}
		logRun(b, 1, n, rep, r.statusCalls()-before, c)
		for run := 2; !allTerminal(b, r, created); run++ {
			if run > 20 {
				b.Fatal("jobs still open after 20 runs")
			}
			r.clock.Advance(time.Minute)
			due, before := r.due(b), r.statusCalls()
			ddb.take()
			rep := r.run(context.Background(), jobcheck.Request{})
			logRun(b, run, due, rep, r.statusCalls()-before, ddb.take())
		}
	}
	per := func(v int64) float64 { return float64(v) / float64(b.N) }
	b.ReportMetric(float64(calls)/float64(b.N), "status-calls/run")
	b.ReportMetric(per(first.queries), "ddb-queries/run")
	b.ReportMetric(per(first.batchGets), "ddb-batchgets/run")
	b.ReportMetric(per(first.itemsRead), "ddb-items-read/run")
	b.ReportMetric(per(first.updates), "ddb-updates/run")
}

func logRun(b *testing.B, run, due int, rep jobcheck.Report, calls int, c ddbCounts) {
	b.Helper()
	b.Logf("run %d: %4d due, %4d status calls, %2d Query pages, %2d BatchGetItem, %4d items read, %4d UpdateItem, %3d DeleteItem; checked %d, finished %d (failed %d), resent %d",
		run, due, calls, c.queries, c.batchGets, c.itemsRead, c.updates, c.deletes, rep.Checked, rep.Finished, rep.Failed, rep.LeadsResent)
}
