package table_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// TestWritesBearTheSDKRetry: each write whose own effect makes its
// condition false (a version it bumps, a claim it moves) is applied, its
// answer lost, and sent again by the SDK (testkit.RetriedWrites). The
// retry must read as this write's success, not as another writer's, and
// apply nothing twice. (The protocol's writes: TestProtocolWithRetriedWrites.)
func TestWritesBearTheSDKRetry(t *testing.T) {
	cfg := awstest.Require(t)
	api := table.NewClient(cfg)
	name := awstest.CreateTableFromTemplate(t, cfg, "JobsTable")
	clean, retried := table.NewJobStore(api, name), table.NewJobStore(testkit.RetriedWrites(api), name)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"a check's save is saved, not a conflict", func(t *testing.T) {
			j := recordJobs(t, clean, 700, 1, 1)[0]
			j.State, j.Checks, j.CheckedAt, j.UpdatedAt, j.NextCheckAt = jobs.InProgress, 1, t0, t0, t0.Add(time.Minute)
			if err := retried.SaveCheck(ctx, j, 1); err != nil {
				t.Fatalf("SaveCheck: %v; want success", err)
			}
			if err := clean.SaveCheck(ctx, j, 1); err == nil {
				t.Fatal("another run's save at the old version succeeded; want a conflict")
			}
		}},
		{"a rejection is announced once", func(t *testing.T) {
			j := recordJobs(t, clean, 710, 1, 1)[0]
			j.State = jobs.Completed
			var announced []string
			p := jobs.SettlePolicy{MaxAttempts: 1, RetryUntil: t0.Add(time.Hour), RejectUntil: t0.Add(time.Hour),
				Rejected: func(c jobs.Claim, _ jobs.LeadResult) { announced = append(announced, c.LeadID) }}
			results := []jobs.LeadResult{{LeadID: j.LeadIDs[0], Conversion: jobs.NotConverted}}
			if _, err := retried.SettleLeads(ctx, j, results, p); err != nil {
				t.Fatal(err)
			}
			cs, err := clean.Claims(ctx, j.LeadIDs)
			if err != nil || len(cs) != 1 || cs[0].State != jobs.Rejected {
				t.Fatalf("claim %+v %v; want rejected", cs, err)
			}
			if !slices.Equal(announced, j.LeadIDs) {
				t.Fatalf("rejections announced: %v; want %v once", announced, j.LeadIDs)
			}
		}},
		{"completion times are added once", func(t *testing.T) {
			if err := retried.AddCompletions(ctx, jobs.Completions{"s10": {60}}); err != nil {
				t.Fatalf("AddCompletions: %v; want success", err)
			}
			if err := retried.AddCompletions(ctx, jobs.Completions{"s10": {70}}); err != nil {
				t.Fatalf("AddCompletions: %v; want success", err)
			}
			got, err := clean.Completions(ctx)
			if err != nil || !slices.Equal(got["s10"], []int64{60, 70}) {
				t.Fatalf("completion times %v %v; want s10: [60 70]", got, err)
			}
		}},
		{"a sweep run's save keeps its lease", func(t *testing.T) {
			if err := clean.PutSweep(ctx, sweep.Sweep{Name: "retried", Schedule: "rate(1 day)", TimeZone: "UTC",
				Condition: "Lead_Status = 'x'", MaxLeads: 10}); err != nil {
				t.Fatal(err)
			}
			if err := clean.StartRun(ctx, sweep.Run{Sweep: "retried", ID: "r1", StartedAt: t0, Version: 1}); err != nil {
				t.Fatal(err)
			}
			r, err := clean.SweepRun(ctx, "retried", "r1")
			if err != nil {
				t.Fatal(err)
			}
			r.Cursor, r.Queued = "3652397000001000050", 40
			if err := retried.SaveRun(ctx, r); err != nil {
				t.Fatalf("SaveRun: %v; want success", err)
			}
			if got, err := clean.SweepRun(ctx, "retried", "r1"); err != nil || got.Version != r.Version+1 || got.Queued != 40 {
				t.Fatalf("saved run %+v %v; want version %d", got, err, r.Version+1)
			}
		}},
	} {
		t.Run(tc.name, tc.run)
	}
}
