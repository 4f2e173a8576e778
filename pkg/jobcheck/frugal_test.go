package jobcheck_test

import (
	"context"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/credits"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// frugalRig is a rig whose checker learns completion times and leases jobs
// on its store, as the status function's is; learned seeds the statistic
// of 50-lead jobs with that many seconds, three times.
func frugalRig(t *testing.T, store jobs.Store, sim zohosim.Options, learned int64) *rig {
	t.Helper()
	cfg := jobcheck.Config{Leases: store.(jobs.CheckLeaser), Completions: store.(jobs.CompletionStats)}
	r := newRig(t, store, sim, cfg)
	if learned > 0 {
		c := jobs.Completions{}
		c.Add(jobcheck.SizeBucket(50), learned, learned, learned)
		if err := store.(jobs.CompletionStats).AddCompletions(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rig) readCalls() int { return r.sim.Stats().Calls[zohosim.EndpointGetLeads] }

// TestFirstCheckReadsBackFirst: where jobs of its size have usually
// finished by its first check, a job whose leads all read converted ends
// COMPLETED with every outcome after one Get Records call and no status
// call; a checker without the statistic pays a status call too.
func TestFirstCheckReadsBackFirst(t *testing.T) {
	for _, tc := range []struct {
		name          string
		learned       int64
		status, reads int
	}{
		{"learned", 40, 0, 1},
		{"fixed schedule", 0, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
				r := frugalRig(t, s.New(), zohosim.Options{ScheduledFor: 10 * time.Second, InProgressFor: 20 * time.Second}, tc.learned)
				j := r.schedule(t, 1, 50, nil)[0]
				r.clock.Advance(time.Minute)
				rep := r.run(context.Background(), jobcheck.Request{})
				if got := r.statusCalls(); got != tc.status || r.readCalls() != tc.reads {
					t.Fatalf("%d status calls and %d reads, want %d and %d; report %+v", got, r.readCalls(), tc.status, tc.reads, rep)
				}
				got := r.job(t, j.ID)
				if got.State != jobs.Completed || got.Converted != 50 || len(got.Results) != 50 || rep.Finished != 1 || rep.LeadsConverted != 50 {
					t.Fatalf("job %s converted %d, %d results; report %+v", got.State, got.Converted, len(got.Results), rep)
				}
				for _, res := range got.Results {
					if res.Conversion != jobs.Converted {
						t.Fatalf("lead %s: %s", res.LeadID, res.Conversion)
					}
				}
			})
		})
	}
}

// TestReadFirstNeverEndsARunningJob: a job whose leads read back partly
// converted (Zoho is still running it) is not settled by the read-back:
// the status call decides, the job stays open, nothing is sent again, and
// once Zoho ends it the leads get their outcomes.
func TestReadFirstNeverEndsARunningJob(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		r := frugalRig(t, s.New(), zohosim.Options{ScheduledFor: 30 * time.Second, InProgressFor: 5 * time.Minute}, 40)
		j := r.schedule(t, 1, 50, func(int) int { return 3 })[0]
		r.zoho.partial = &partialConversion{show: 20}
		ctx := context.Background()
		r.clock.Advance(time.Minute)
		rep := r.run(ctx, jobcheck.Request{})
		if got := r.job(t, j.ID); !got.State.Open() || len(got.Results) != 0 || len(r.resent.sent()) != 0 {
			t.Fatalf("a running job was settled: %s, %d results, resent %v; report %+v", got.State, len(got.Results), r.resent.sent(), rep)
		}
		if r.statusCalls() != 1 || r.readCalls() != 1 {
			t.Fatalf("%d status calls, %d reads: want the read, then the status", r.statusCalls(), r.readCalls())
		}
		r.zoho.partial = nil
		for range 10 {
			r.clock.Advance(5 * time.Minute)
			r.run(ctx, jobcheck.Request{})
		}
		got := r.job(t, j.ID)
		if got.State != jobs.Failed && got.State != jobs.Completed || len(got.Results) != 50 || len(r.resent.sent()) != 1 {
			t.Fatalf("job ended %s with %d results, resent %v", got.State, len(got.Results), r.resent.sent())
		}
	})
}

// partialConversion makes the leads of one job read back as a running job
// shows them: the first show converted, the rest not yet.
type partialConversion struct{ show int }

// TestFirstCheckWaitsForJobsOfItsSize: the first check of a job comes when
// recent jobs of its size have usually finished, not a minute after the
// record: the runs before it ask Zoho nothing; then one read finishes it.
// The time learned is bounded by FirstCheckMax.
func TestFirstCheckWaitsForJobsOfItsSize(t *testing.T) {
	for _, tc := range []struct {
		name    string
		learned int64
		first   time.Duration
	}{
		{"three minutes", 180, 3 * time.Minute},
		{"bounded", 3600, jobcheck.DefaultFirstCheckMax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
				r := frugalRig(t, s.New(), zohosim.Options{ScheduledFor: time.Minute, InProgressFor: time.Minute}, tc.learned)
				j := r.schedule(t, 1, 50, nil)[0]
				ctx := context.Background()
				r.clock.Advance(time.Minute)
				if rep := r.run(ctx, jobcheck.Request{}); rep.Deferred != 1 || r.statusCalls()+r.readCalls() != 0 {
					t.Fatalf("first due run: report %+v, %d calls", rep, r.statusCalls()+r.readCalls())
				}
				if got := r.job(t, j.ID).NextCheckAt; !got.Equal(j.CreatedAt.Add(tc.first)) {
					t.Fatalf("first check at %s after the record, want %s", got.Sub(j.CreatedAt), tc.first)
				}
				r.clock.Set(j.CreatedAt.Add(tc.first))
				r.run(ctx, jobcheck.Request{})
				if got := r.job(t, j.ID); got.State != jobs.Completed || len(got.Results) != 50 {
					t.Fatalf("job %s, %d results", got.State, len(got.Results))
				}
				want := 1 // 3 minutes: usually done, read first
				if tc.learned > int64(jobcheck.DefaultFirstCheckMax/time.Second) {
					want = 2 // past the bound: status first, then the read-back
				}
				if calls := r.statusCalls() + r.readCalls(); calls != want {
					t.Fatalf("%d calls to finish the job, want %d", calls, want)
				}
			})
		})
	}
}

// TestCompletionTimesAreLearned: a run that sees a job end stores how long
// Zoho took (the latest Lead_Conversion_Time Zoho gives) in the job's size
// bucket, once per run.
func TestCompletionTimesAreLearned(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		store := s.New()
		r := frugalRig(t, store, zohosim.Options{ScheduledFor: 20 * time.Second, InProgressFor: 40 * time.Second}, 0)
		r.schedule(t, 2, 5, nil)
		r.clock.Advance(2 * time.Minute)
		if rep := r.run(context.Background(), jobcheck.Request{}); rep.Finished != 2 {
			t.Fatalf("report %+v", rep)
		}
		c, err := store.(jobs.CompletionStats).Completions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := c[jobcheck.SizeBucket(5)]; len(got) != 2 || got[0] != 60 || got[1] != 60 {
			t.Fatalf("completion times %v, want [60 60] in bucket %s", c, jobcheck.SizeBucket(5))
		}
	})
}

// TestOverlappingRunsLeaseTheJob: a second run that reaches a job while
// the first is reading its leads back reads nothing and sends nothing:
// the job is the first run's, and Zoho is paid once. Without the lease
// (no Leases) both runs read the leads back.
func TestOverlappingRunsLeaseTheJob(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lease bool
		reads int
	}{
		{"leased", true, 1},
		{"no lease", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.ForEachSerialStore(t, func(t *testing.T, s testkit.Stores) {
				store := s.New()
				r := newRig(t, store, zohosim.Options{ScheduledFor: 10 * time.Second, InProgressFor: 10 * time.Second}, jobcheck.Config{})
				j := r.schedule(t, 1, 50, func(int) int { return 2 })[0]
				cfg := jobcheck.Config{Zoho: r.zoho, Store: store.(jobs.CheckStore), Now: r.clock.Now, Resend: r.resent}
				if tc.lease {
					cfg.Leases = store.(jobs.CheckLeaser)
				}
				first, err := jobcheck.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				second, _ := jobcheck.New(cfg)
				var overlap jobcheck.Report
				r.zoho.beforeRead = func() {
					r.zoho.beforeRead = nil
					overlap = second.Run(context.Background(), jobcheck.Request{})
				}
				r.clock.Advance(time.Minute)
				rep := first.Run(context.Background(), jobcheck.Request{})
				if r.readCalls() != tc.reads {
					t.Fatalf("%d reads, want %d; first %+v, second %+v", r.readCalls(), tc.reads, rep, overlap)
				}
				if tc.lease && (overlap.Conflicts != 1 || overlap.ReadBack != 0 || len(r.resent.sent()) != 1) {
					t.Fatalf("second run %+v, resent %v", overlap, r.resent.sent())
				}
				if got := r.job(t, j.ID); got.State != jobs.Completed || len(got.Results) != 50 {
					t.Fatalf("job %s with %d results", got.State, len(got.Results))
				}
			})
		})
	}
}

// zohoLead is a lead as a running job shows it.
func zohoLead(l zoho.Lead, converted bool) zoho.Lead {
	l.Converted, l.ContactID, l.AccountID, l.DealID, l.ConvertedAt = converted, "", "", "", time.Time{}
	if converted {
		l.ContactID = "c" + l.ID
	}
	return l
}

// floorAt is a credit floor a test moves.
type floorAt struct{ below bool }

func (f *floorAt) Below(context.Context) (bool, credits.Seen) { return f.below, credits.Seen{} }

// TestCreditFloorHoldsResends: below the credit floor a job whose leads
// need sending again stays open and sends nothing, and while the floor
// holds its looks cost Zoho nothing; a clean job still ends with its
// outcomes (following what is at Zoho is not optional). Above the floor
// again, the held job's leads are read back and sent again by themselves.
func TestCreditFloorHoldsResends(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		floor := &floorAt{below: true}
		store := s.New()
		r := newRig(t, store, zohosim.Options{ScheduledFor: 10 * time.Second, InProgressFor: 10 * time.Second}, jobcheck.Config{Floor: floor})
		js := r.schedule(t, 2, 10, func(k int) int { return 3 * k }) // the second fails 3 leads
		ctx := context.Background()
		r.clock.Advance(time.Minute)
		rep := r.run(ctx, jobcheck.Request{})
		clean, failing := r.job(t, js[0].ID), r.job(t, js[1].ID)
		if clean.State != jobs.Completed || len(clean.Results) != 10 {
			t.Fatalf("clean job below the floor: %s, %d results", clean.State, len(clean.Results))
		}
		if !failing.State.Open() || failing.Reason != jobcheck.HeldReason || len(r.resent.sent()) != 0 || rep.Held != 1 || !rep.BelowCreditFloor {
			t.Fatalf("failing job below the floor: %s %q, resent %v; report %+v", failing.State, failing.Reason, r.resent.sent(), rep)
		}
		before := r.statusCalls() + r.readCalls()
		r.clock.Advance(20 * time.Minute)
		if rep := r.run(ctx, jobcheck.Request{}); rep.Held != 1 || r.statusCalls()+r.readCalls() != before {
			t.Fatalf("held job looked at with %d Zoho calls; report %+v", r.statusCalls()+r.readCalls()-before, rep)
		}
		floor.below = false
		r.clock.Advance(20 * time.Minute)
		r.run(ctx, jobcheck.Request{})
		got := r.job(t, js[1].ID)
		if got.State.Open() || len(got.Results) != 10 || got.Reason == jobcheck.HeldReason || len(r.resent.sent()) != 1 {
			t.Fatalf("above the floor again: %s %q, %d results, resent %v", got.State, got.Reason, len(got.Results), r.resent.sent())
		}
	})
}
