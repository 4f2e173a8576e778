package table_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// TestListingsForOperators: open jobs come from the index, whatever their
// due time; ended jobs from a scan, by end time and state, newest first,
// and a limit says that more may exist.
func TestListingsForOperators(t *testing.T) {
	cfg := awstest.Require(t)
	client := awstest.CheckExpressions(t, table.NewClient(cfg))
	st := table.NewJobStore(client, awstest.CreateTableFromTemplate(t, cfg, "JobsTable"))
	ctx := context.Background()
	js := recordJobs(t, st, 0, 4, 2)
	end := func(j jobs.Job, s jobs.State, at time.Time) {
		t.Helper()
		j.State, j.UpdatedAt, j.CheckedAt, j.NextCheckAt, j.ExpiresAt = s, at, at, time.Time{}, at.Add(24*time.Hour)
		if err := st.SaveCheck(ctx, j, j.Version); err != nil {
			t.Fatal(err)
		}
	}
	end(js[0], jobs.Completed, t0.Add(10*time.Minute))
	end(js[1], jobs.Stale, t0.Add(20*time.Minute+500*time.Millisecond))
	end(js[2], jobs.Completed, t0.Add(30*time.Minute))
	if err := st.RecordRequest(ctx, jobs.Request{ID: "req-1", LeadIDs: []string{"1"}, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}

	open, err := st.OpenJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := idsOf(open); !slices.Equal(got, []string{js[3].ID}) || len(open[0].LeadIDs) != 2 {
		t.Fatalf("open jobs %v", got)
	}

	for _, tc := range []struct {
		name string
		q    table.FinishedQuery
		want []jobs.Job
		more bool
	}{
		{"all, newest first", table.FinishedQuery{Since: t0, Limit: 10}, []jobs.Job{js[2], js[1], js[0]}, false},
		{"since, within the second", table.FinishedQuery{Since: t0.Add(20 * time.Minute), Limit: 10}, []jobs.Job{js[2], js[1]}, false},
		{"since, exact", table.FinishedQuery{Since: t0.Add(20*time.Minute + 600*time.Millisecond), Limit: 10}, []jobs.Job{js[2]}, false},
		{"stale only", table.FinishedQuery{State: jobs.Stale, Limit: 10}, []jobs.Job{js[1]}, false},
		{"limited", table.FinishedQuery{Since: t0, Limit: 2}, []jobs.Job{js[2], js[1]}, true},
		{"none", table.FinishedQuery{Since: t0.Add(time.Hour), Limit: 10}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := st.FinishedJobs(ctx, client, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := idsOf(res.Jobs); !slices.Equal(got, idsOf(tc.want)) || res.More != tc.more {
				t.Fatalf("found %v (more %v), want %v (more %v)", got, res.More, idsOf(tc.want), tc.more)
			}
			// 4 jobs of 2 items, 8 claims, 1 request: the scan reads them all.
			if res.Scanned < 17 || res.Pages < 1 {
				t.Fatalf("scanned %d items in %d pages", res.Scanned, res.Pages)
			}
		})
	}
	t.Run("capped", func(t *testing.T) {
		res, err := st.FinishedJobs(ctx, client, table.FinishedQuery{State: jobs.Stale, Limit: 10, MaxScanned: 3})
		if err != nil {
			t.Fatal(err)
		}
		if res.Scanned != 3 || !res.More {
			t.Fatalf("scanned %d items (more %v), want 3 and more", res.Scanned, res.More)
		}
	})
}
