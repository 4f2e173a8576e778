package table_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func leadIDs(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("36523970000%08d", from+i)
	}
	return out
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// claim claims ids for run.
func claim(t *testing.T, st jobs.Store, run string, ids []string, now time.Time) ([]string, []jobs.Claim) {
	t.Helper()
	claimed, held, err := st.Claim(context.Background(), jobs.RunOwner(run), ids, now, now.Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return claimed, held
}

func TestClaimsExclude(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		ids := leadIDs(0, 3)
		if got, _ := claim(t, st, "a", ids, t0); len(got) != 3 {
			t.Fatalf("claimed %v, want all 3", got)
		}
		got, held := claim(t, st, "b", append(leadIDs(2, 2), ids[0]), t0.Add(time.Minute))
		if !slices.Equal(got, leadIDs(3, 1)) || len(held) != 2 {
			t.Fatalf("b claimed %v, held %v; want only the new lead", got, held)
		}
		for _, h := range held {
			if h.State != jobs.Pending || h.Owner != "a" {
				t.Errorf("held claim %+v, want pending by a", h)
			}
		}
		// Claiming again is harmless for the owner (an SDK retry does it).
		if got, held := claim(t, st, "a", ids, t0.Add(time.Minute)); len(got) != 3 || len(held) != 0 {
			t.Fatalf("a claiming its own leads again: claimed %v, held %v", got, held)
		}
		// a's claims lapse after five minutes.
		if got, _ := claim(t, st, "b", ids, t0.Add(6*time.Minute)); len(got) != 3 {
			t.Fatalf("after the lapse b claimed %v, want all 3", got)
		}
	})
}

func TestReleaseOnlyOwnPendingClaims(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		ids := leadIDs(10, 2)
		claim(t, st, "a", ids, t0)
		if err := st.Release(context.Background(), "b", ids); err != nil {
			t.Fatal(err)
		}
		if got, _ := claim(t, st, "c", ids, t0); len(got) != 0 {
			t.Fatal("a release by another owner dropped the claims")
		}
		if err := st.Release(context.Background(), "a", ids); err != nil {
			t.Fatal(err)
		}
		if got, _ := claim(t, st, "c", ids, t0); len(got) != 2 {
			t.Fatalf("after release c claimed %v", got)
		}
	})
}

func TestRecordJobPointsClaimsAtIt(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		ids := leadIDs(20, 50)
		claim(t, st, "a", ids, t0)
		job := jobs.Job{ID: "3652397000009835020", State: jobs.Scheduled, LeadIDs: ids,
			Fingerprint: "fp", Options: `{"Deals":{"Deal_Name":"x"}}`, Sources: []string{"msg-1", "msg-2"},
			APIVersion: "v7", CreatedAt: t0, UpdatedAt: t0, NextCheckAt: t0.Add(time.Minute)}
		if err := st.RecordJob(context.Background(), job, t0.Add(31*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err := st.Job(context.Background(), job.ID)
		if err != nil {
			t.Fatal(err)
		}
		job.Version = 1
		if !equalJobs(got, job) {
			t.Fatalf("stored\n %+v\nwant\n %+v", got, job)
		}
		_, held := claim(t, st, "b", ids[:3], t0.Add(time.Hour))
		if len(held) != 3 || held[0].State != jobs.ClaimScheduled || held[0].JobID != job.ID {
			t.Fatalf("held %+v; want claims pointing at the job", held)
		}
		other := job
		other.LeadIDs = ids[:1]
		if err := st.RecordJob(context.Background(), other, t0); !errors.Is(err, jobs.ErrJobExists) {
			t.Fatalf("another job under a stored id: %v, want ErrJobExists", err)
		}
		if _, err := st.Job(context.Background(), "404"); !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("unknown job: %v", err)
		}
	})
}

func equalJobs(a, b jobs.Job) bool {
	return a.ID == b.ID && a.State == b.State && slices.Equal(a.LeadIDs, b.LeadIDs) &&
		slices.Equal(a.Sources, b.Sources) && a.Fingerprint == b.Fingerprint && a.Options == b.Options &&
		a.APIVersion == b.APIVersion && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		a.NextCheckAt.Equal(b.NextCheckAt) && a.Version == b.Version
}

func TestRejectedLeadsStayDoneUntilExpiry(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		id := leadIDs(80, 1)
		claim(t, st, "a", id, t0)
		if err := st.Reject(context.Background(), "a", id[0], "INVALID_DATA: the id given seems to be invalid", t0.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		_, held := claim(t, st, "b", id, t0.Add(time.Hour))
		if len(held) != 1 || held[0].State != jobs.Rejected || held[0].Reason == "" {
			t.Fatalf("held %+v, want the rejection", held)
		}
		if got, _ := claim(t, st, "b", id, t0.Add(25*time.Hour)); len(got) != 1 {
			t.Fatal("an expired rejection still blocks the lead")
		}
	})
}

// TestClaimAcrossTransactions: more leads than one transaction holds, with
// held leads spread through them.
func TestClaimAcrossTransactions(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		ids := leadIDs(100, 250)
		var taken []string
		for i := 0; i < len(ids); i += 7 {
			taken = append(taken, ids[i])
		}
		claim(t, st, "a", taken, t0)
		got, held := claim(t, st, "b", ids, t0)
		if len(got) != len(ids)-len(taken) || len(held) != len(taken) {
			t.Fatalf("claimed %d and held %d of %d; want %d held", len(got), len(held), len(ids), len(taken))
		}
		// Reading them back crosses BatchGetItem's 100 keys as well.
		claims, err := st.Claims(context.Background(), append(ids, leadIDs(900, 3)...))
		if err != nil {
			t.Fatal(err)
		}
		owners := map[jobs.Owner]int{}
		for _, c := range claims {
			owners[c.Owner]++
		}
		if len(claims) != len(ids) || owners["a"] != len(taken) || owners["b"] != len(got) {
			t.Fatalf("read %d claims (by owner %v) of %d leads; want a %d and b %d", len(claims), owners, len(ids), len(taken), len(got))
		}
	})
}
