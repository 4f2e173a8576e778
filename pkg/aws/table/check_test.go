package table_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// statusStore runs a contract test of the status operations on both stores.
func statusStore(t *testing.T, test func(t *testing.T, st jobs.CheckStore, rec jobs.Store)) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) { test(t, st, st) })
}

// recordJobs records n jobs of leadsEach leads, the k-th due at t0+k seconds,
// and returns them as recorded (version 1).
func recordJobs(t *testing.T, st jobs.Store, from, n, leadsEach int) []jobs.Job {
	t.Helper()
	out := make([]jobs.Job, n)
	for k := range n {
		j := jobs.Job{ID: fmt.Sprintf("36523970000098%05d", from+k), State: jobs.Scheduled,
			LeadIDs: leadIDs(1000+(from+k)*leadsEach, leadsEach), Sources: []string{"msg"}, APIVersion: "v7",
			Options: `{"Deals":{"Deal_Name":"x"}}`, CreatedAt: t0, UpdatedAt: t0, NextCheckAt: t0.Add(time.Duration(k) * time.Second)}
		if err := st.RecordJob(context.Background(), j, t0.Add(30*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		j.Version = 1
		out[k] = j
	}
	return out
}

// allDue pages through DueJobs.
func allDue(t *testing.T, st jobs.CheckStore, now time.Time, limit int) (ids []string, pages int) {
	t.Helper()
	cursor := ""
	for {
		page, next, err := st.DueJobs(context.Background(), now, limit, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > limit {
			t.Fatalf("page of %d ids, limit %d", len(page), limit)
		}
		ids, pages = append(ids, page...), pages+1
		if next == "" {
			return ids, pages
		}
		cursor = next
	}
}

func idsOf(js []jobs.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

func TestDueJobsOldestFirstInPages(t *testing.T) {
	statusStore(t, func(t *testing.T, st jobs.CheckStore, rec jobs.Store) {
		js := recordJobs(t, rec, 0, 7, 1)
		ctx := context.Background()
		for _, tc := range []struct {
			now   time.Time
			limit int
			want  []jobs.Job
		}{
			{t0.Add(-time.Second), 3, nil},
			{t0, 3, js[:1]},
			{t0.Add(4 * time.Second), 2, js[:5]},
			{t0.Add(time.Hour), 3, js},
			{t0.Add(time.Hour), 100, js},
		} {
			got, pages := allDue(t, st, tc.now, tc.limit)
			if !slices.Equal(got, idsOf(tc.want)) {
				t.Errorf("due at %s, pages of %d: %v, want %v", tc.now.Sub(t0), tc.limit, got, idsOf(tc.want))
			}
			if max := len(tc.want)/tc.limit + 1; pages > max {
				t.Errorf("%d pages for %d jobs in pages of %d", pages, len(tc.want), tc.limit)
			}
			n, err := st.CountDue(ctx, tc.now, "")
			if err != nil || n != len(tc.want) {
				t.Errorf("CountDue at %s = %d, %v; want %d", tc.now.Sub(t0), n, err, len(tc.want))
			}
		}
		// CountDue from a cursor counts what the following pages hold.
		_, next, err := st.DueJobs(ctx, t0.Add(time.Hour), 3, "")
		if err != nil {
			t.Fatal(err)
		}
		if n, err := st.CountDue(ctx, t0.Add(time.Hour), next); err != nil || n != 4 {
			t.Errorf("CountDue after the first page = %d, %v; want 4", n, err)
		}
		if _, _, err := st.DueJobs(ctx, t0, 3, "not a cursor"); err == nil {
			t.Error("a malformed cursor was accepted")
		}
	})
}

func TestJobsReadsInOrder(t *testing.T) {
	statusStore(t, func(t *testing.T, st jobs.CheckStore, rec jobs.Store) {
		js := recordJobs(t, rec, 100, 3, 2)
		ids := []string{js[2].ID, "404", js[0].ID, js[2].ID, js[1].ID}
		got, err := st.Jobs(context.Background(), ids)
		if err != nil {
			t.Fatal(err)
		}
		want := []jobs.Job{js[2], js[0], js[1]}
		if len(got) != len(want) {
			t.Fatalf("read %v, want %v", idsOf(got), idsOf(want))
		}
		for i := range want {
			if !equalJobs(got[i], jobs.Job{ID: want[i].ID, State: want[i].State, LeadIDs: want[i].LeadIDs,
				Sources: want[i].Sources, APIVersion: want[i].APIVersion, CreatedAt: t0, UpdatedAt: t0,
				NextCheckAt: want[i].NextCheckAt, Version: 1}) {
				t.Errorf("read\n %+v\nwant\n %+v (options left out)", got[i], want[i])
			}
		}
	})
}

// TestJobsBatches reads more jobs than one BatchGetItem takes.
func TestJobsBatches(t *testing.T) {
	statusStore(t, func(t *testing.T, st jobs.CheckStore, rec jobs.Store) {
		js := recordJobs(t, rec, 200, 130, 0)
		got, err := st.Jobs(context.Background(), idsOf(js))
		if err != nil || !slices.Equal(idsOf(got), idsOf(js)) {
			t.Fatalf("read %d of %d jobs: %v", len(got), len(js), err)
		}
	})
}

func TestSaveCheck(t *testing.T) {
	statusStore(t, func(t *testing.T, st jobs.CheckStore, rec jobs.Store) {
		ctx := context.Background()
		j := recordJobs(t, rec, 400, 2, 1)[0]
		now := t0.Add(time.Minute)

		// Open: new counts, still in the index at the new time.
		j.State, j.ZohoStatus, j.Total, j.Converted, j.Waiting = jobs.InProgress, "in progress", 1, 0, 1
		j.CheckedAt, j.UpdatedAt, j.Checks, j.NextCheckAt = now, now, 1, now.Add(2*time.Minute)
		if err := st.SaveCheck(ctx, j, 1); err != nil {
			t.Fatal(err)
		}
		got, _ := rec.Job(ctx, j.ID)
		if got.Version != 2 || got.State != jobs.InProgress || got.ZohoStatus != "in progress" || got.Checks != 1 ||
			!got.CheckedAt.Equal(now) || !got.NextCheckAt.Equal(j.NextCheckAt) || got.Waiting != 1 {
			t.Fatalf("after an open check: %+v", got)
		}
		if ids, _ := allDue(t, st, now.Add(2*time.Minute), 10); !slices.Contains(ids, j.ID) {
			t.Fatal("the open job left the index")
		}
		if ids, _ := allDue(t, st, now.Add(time.Minute), 10); slices.Contains(ids, j.ID) {
			t.Fatal("the job is due before its next check")
		}

		// A writer holding the old version loses.
		if err := st.SaveCheck(ctx, j, 1); !errors.Is(err, jobs.ErrConflict) {
			t.Fatalf("save at a stale version: %v, want ErrConflict", err)
		}

		// Terminal: out of the index, with a TTL.
		j.State, j.ZohoStatus, j.Converted, j.Waiting, j.Checks = jobs.Completed, "COMPLETED", 1, 0, 2
		j.NextCheckAt, j.ExpiresAt = time.Time{}, now.Add(30*24*time.Hour)
		if err := st.SaveCheck(ctx, j, 2); err != nil {
			t.Fatal(err)
		}
		got, _ = rec.Job(ctx, j.ID)
		if got.Version != 3 || got.State != jobs.Completed || !got.NextCheckAt.IsZero() ||
			!got.ExpiresAt.Equal(j.ExpiresAt) || got.Converted != 1 {
			t.Fatalf("after the terminal check: %+v", got)
		}
		if ids, _ := allDue(t, st, now.Add(time.Hour), 10); slices.Contains(ids, j.ID) {
			t.Fatal("the terminal job is still in the index")
		}

		// Unknown: reason kept, raw status may be empty.
		u := recordJobs(t, rec, 402, 1, 0)[0]
		u.State, u.Reason, u.Checks, u.CheckedAt, u.UpdatedAt = jobs.UnknownToZoho, "zoho: INVALID_DATA", 1, now, now
		if err := st.SaveCheck(ctx, u, 1); err != nil {
			t.Fatal(err)
		}
		if got, _ := rec.Job(ctx, u.ID); got.State != jobs.UnknownToZoho || got.Reason != u.Reason || got.ZohoStatus != "" {
			t.Fatalf("unknown job: %+v", got)
		}

		missing := jobs.Job{ID: "404", State: jobs.Completed}
		if err := st.SaveCheck(ctx, missing, 1); !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("save of a missing job: %v", err)
		}
		open := jobs.Job{ID: j.ID, State: jobs.InProgress}
		if err := st.SaveCheck(ctx, open, 3); err == nil {
			t.Fatal("an open job without a next check was saved")
		}
	})
}

// TestSettleLeads: what becomes of each lead of an ended job, by its
// read-back outcome, its attempts so far and whether its claim still
// points at the job; settling twice does nothing more.
func TestSettleLeads(t *testing.T) {
	statusStore(t, func(t *testing.T, st jobs.CheckStore, rec jobs.Store) {
		ctx := context.Background()
		j := recordJobs(t, rec, 500, 1, 6)[0]
		ids := j.LeadIDs
		// ids[0] was submitted again and now belongs to a newer job.
		newer := jobs.Job{ID: "3652397000009899999", State: jobs.Scheduled, LeadIDs: ids[:1],
			CreatedAt: t0, UpdatedAt: t0, NextCheckAt: t0}
		if err := rec.RecordJob(ctx, newer, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		// ids[5] is on its second call: the first job did not convert it.
		second := jobs.Job{ID: "3652397000009888888", State: jobs.Scheduled, LeadIDs: ids[5:], CreatedAt: t0, UpdatedAt: t0, NextCheckAt: t0}
		if err := rec.RecordJob(ctx, second, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		results := []jobs.LeadResult{
			{LeadID: ids[0], Conversion: jobs.NotConverted},
			{LeadID: ids[1], Conversion: jobs.Converted, ContactID: "c1", AccountID: "a1"},
		}
		policy := jobs.SettlePolicy{MaxAttempts: 2, RetryUntil: t0.Add(time.Hour), RejectUntil: t0.Add(2 * time.Hour)}
		for try := range 2 {
			retry, err := st.SettleLeads(ctx, j, results, policy)
			if err != nil || len(retry) != 0 {
				t.Fatalf("try %d: retry %v, %v; want none (ids[0] moved on, ids[1] converted)", try, retry, err)
			}
			retry, err = st.SettleLeads(ctx, second, []jobs.LeadResult{{LeadID: ids[5], Conversion: jobs.NotConverted}}, policy)
			if err != nil || len(retry) != 0 {
				t.Fatalf("try %d: retry %v, %v; want none (ids[5] is out of attempts)", try, retry, err)
			}
		}
		got, err := rec.Claims(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]jobs.Claim{}
		for _, c := range got {
			byID[c.LeadID] = c
		}
		if c := byID[ids[0]]; c.State != jobs.ClaimScheduled || c.JobID != newer.ID {
			t.Errorf("a lead of a newer job was moved: %+v", c)
		}
		if c := byID[ids[1]]; c.State != jobs.ClaimScheduled || c.JobID != j.ID {
			t.Errorf("a converted lead's claim changed: %+v", c)
		}
		if c := byID[ids[5]]; c.State != jobs.Rejected || c.Reason != "not converted by Zoho in job "+second.ID+", after 2 attempts" {
			t.Errorf("a lead out of attempts: %+v", c)
		}
		stored, err := rec.Job(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := stored.Result(ids[1]); !ok || r != results[1] || len(stored.Results) != 2 {
			t.Errorf("stored results %+v", stored.Results)
		}

		// A lead on its first call that Zoho did not convert is sent again:
		// claimable at once, and its attempts carry over to the next job.
		j2 := recordJobs(t, rec, 600, 1, 1)[0]
		retry, err := st.SettleLeads(ctx, j2, []jobs.LeadResult{{LeadID: j2.LeadIDs[0], Conversion: jobs.NotConverted}}, policy)
		if err != nil || !slices.Equal(retry, j2.LeadIDs) {
			t.Fatalf("retry %v, %v", retry, err)
		}
		if again, err := st.SettleLeads(ctx, j2, []jobs.LeadResult{{LeadID: j2.LeadIDs[0], Conversion: jobs.NotConverted}}, policy); err != nil || !slices.Equal(again, j2.LeadIDs) {
			t.Fatalf("a repeated settle must name the retry again: %v, %v", again, err)
		}
		if got, held := claim(t, rec, "b", j2.LeadIDs, t0.Add(time.Minute)); len(got) != 1 || len(held) != 0 {
			t.Fatalf("a retry claim could not be claimed: %v, %+v", got, held)
		}
		c, err := rec.Claims(ctx, j2.LeadIDs)
		if err != nil || len(c) != 1 || c[0].Attempts != 1 || c[0].State != jobs.Pending {
			t.Fatalf("claimed again: %+v, %v; want pending with 1 attempt", c, err)
		}
	})
}

// TestDueJobsOldestDueFirstAsTheyWereRead: the order is the order of the
// next checks, whatever the ids and the order of recording, and a job
// checked while a run pages through them neither comes back nor makes the
// run skip another.
func TestDueJobsOldestDueFirstAsTheyWereRead(t *testing.T) {
	statusStore(t, func(t *testing.T, st jobs.CheckStore, rec jobs.Store) {
		ctx := context.Background()
		// Ids ascending, recorded in the opposite order, due in yet another.
		ids := []string{"3652397000009870001", "3652397000009870002", "3652397000009870003", "3652397000009870004"}
		created := []time.Duration{3 * time.Second, 2 * time.Second, time.Second, 0}
		due := []time.Duration{2 * time.Second, 0, 3 * time.Second, time.Second}
		js := make([]jobs.Job, len(ids))
		for k, id := range ids {
			c := t0.Add(created[k])
			js[k] = jobs.Job{ID: id, State: jobs.Scheduled, LeadIDs: leadIDs(7000+k, 1), CreatedAt: c, UpdatedAt: c,
				NextCheckAt: t0.Add(due[k])}
			if err := rec.RecordJob(ctx, js[k], t0.Add(30*24*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		now := t0.Add(time.Minute)
		byDue := []string{ids[1], ids[3], ids[0], ids[2]}
		if got, _ := allDue(t, st, now, 100); !slices.Equal(got, byDue) {
			t.Fatalf("due %v, want %v, oldest due first", got, byDue)
		}
		if got, _ := allDue(t, st, t0.Add(time.Second), 100); !slices.Equal(got, byDue[:2]) {
			t.Fatalf("due at +1s %v, want %v", got, byDue[:2])
		}

		// A run reads a page of two, checks its jobs (due again within the
		// run's minute, as a short backoff makes them), and reads on from
		// its cursor: it finds the other two, once each.
		page, next, err := st.DueJobs(ctx, now, 2, "")
		if err != nil || !slices.Equal(page, byDue[:2]) || next == "" {
			t.Fatalf("first page %v, cursor %q, %v", page, next, err)
		}
		for _, k := range []int{1, 3} {
			j := js[k]
			j.State, j.Checks, j.CheckedAt, j.UpdatedAt, j.NextCheckAt = jobs.InProgress, 1, now, now, t0.Add(4*time.Second)
			if err := st.SaveCheck(ctx, j, 1); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := st.CountDue(ctx, now, next); err != nil || n != 2 {
			t.Fatalf("CountDue from the cursor = %d, %v; want 2", n, err)
		}
		var rest []string
		for next != "" {
			page, next, err = st.DueJobs(ctx, now, 2, next)
			if err != nil {
				t.Fatal(err)
			}
			rest = append(rest, page...)
		}
		if !slices.Equal(rest, byDue[2:]) {
			t.Fatalf("after the checks the run read %v, want %v", rest, byDue[2:])
		}
		// The next run takes the jobs left since +2s before those checked
		// since.
		if got, _ := allDue(t, st, now, 100); !slices.Equal(got, []string{ids[0], ids[2], ids[1], ids[3]}) {
			t.Fatalf("a new run finds %v due, want the two not checked first", got)
		}
	})
}

// TestCallsInDoubtPageLikeJobs: calls in doubt are due like jobs, and a
// page's cursor may name them (their ids are not Zoho's digits).
func TestCallsInDoubtPageLikeJobs(t *testing.T) {
	statusStore(t, func(t *testing.T, st jobs.CheckStore, rec jobs.Store) {
		ctx := context.Background()
		js := recordJobs(t, rec, 700, 2, 1)
		want := idsOf(js)
		for k := range 3 {
			d := jobs.Job{ID: fmt.Sprintf("%s%016x", jobs.DoubtPrefix, 0xabc0+k), State: jobs.InDoubt, LeadIDs: leadIDs(9000+k, 1),
				CreatedAt: t0, UpdatedAt: t0, NextCheckAt: t0.Add(time.Duration(k) * time.Second)}
			if err := rec.RecordJob(ctx, d, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			want = append(want, d.ID)
		}
		got, pages := allDue(t, st, t0.Add(time.Minute), 2)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || pages < 3 {
			t.Fatalf("due %v in %d pages, want %v", got, pages, want)
		}
	})
}

// TestEachKindKeepsItsNotConverted: a check saves a job of Zoho's Waiting
// and a call in doubt's NotConverted, and only that one: the other kind's
// field is not stored.
func TestEachKindKeepsItsNotConverted(t *testing.T) {
	statusStore(t, func(t *testing.T, st jobs.CheckStore, rec jobs.Store) {
		ctx := context.Background()
		doubt := jobs.Job{ID: jobs.DoubtPrefix + "00000000000abcf0", State: jobs.InDoubt, LeadIDs: leadIDs(9100, 1),
			CreatedAt: t0, UpdatedAt: t0, NextCheckAt: t0}
		if err := rec.RecordJob(ctx, doubt, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		doubt.Version = 1
		for _, tc := range []struct {
			j             jobs.Job
			wait, notConv int
		}{{recordJobs(t, rec, 900, 1, 1)[0], 3, 0}, {doubt, 0, 2}} {
			j := tc.j
			j.Total, j.Waiting, j.NotConverted = 5, 3, 2
			j.Checks, j.CheckedAt, j.UpdatedAt, j.NextCheckAt = 1, t0, t0, t0.Add(time.Minute)
			if err := st.SaveCheck(ctx, j, 1); err != nil {
				t.Fatal(err)
			}
			got, err := rec.Job(ctx, j.ID)
			if err != nil || got.Waiting != tc.wait || got.NotConverted != tc.notConv || got.NotConvertedFigure() != tc.wait+tc.notConv {
				t.Fatalf("%s reads Waiting %d, NotConverted %d, %v; want %d, %d", j.ID, got.Waiting, got.NotConverted, err, tc.wait, tc.notConv)
			}
		}
	})
}

// TestRecordingAJobTwice: the same job recorded again (an attempt whose
// answer was lost) is a success that changes nothing; another job under a
// stored id is refused.
func TestRecordingAJobTwice(t *testing.T) {
	statusStore(t, func(t *testing.T, _ jobs.CheckStore, rec jobs.Store) {
		ctx := context.Background()
		j := recordJobs(t, rec, 800, 1, 2)[0]
		j.Version = 0
		if err := rec.RecordJob(ctx, j, t0.Add(30*24*time.Hour)); err != nil {
			t.Fatalf("the same job again: %v", err)
		}
		c, err := rec.Claims(ctx, j.LeadIDs)
		if err != nil || len(c) != 2 || c[0].Attempts != 1 || c[1].Attempts != 1 {
			t.Fatalf("claims %+v, %v; want one attempt each", c, err)
		}
		other := j
		other.LeadIDs = leadIDs(8900, 2)
		if err := rec.RecordJob(ctx, other, t0.Add(time.Hour)); !errors.Is(err, jobs.ErrJobExists) {
			t.Fatalf("another job under a stored id: %v, want ErrJobExists", err)
		}
	})
}
