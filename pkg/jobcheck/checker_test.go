package jobcheck_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

var casings = []string{"upper", "title", "lower", "underscore"}

// failPattern: every tenth job fails all its leads (FAILED), another tenth
// one of them (COMPLETED with Failed_Count 1).
func failPattern(leadsEach int) func(k int) int {
	return func(k int) int {
		switch k % 10 {
		case 3:
			return leadsEach
		case 7:
			return 1
		}
		return 0
	}
}

// TestJobsRunToTheirEnd: open jobs move from scheduled through in progress
// to completed or failed, in every casing; runs a minute apart follow them
// to the end with Zoho's counts, never asking about a job twice in a run nor
// more often than jobs are due.
func TestJobsRunToTheirEnd(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		n := 1000
		if s.Dynamo {
			n = 60 // moto copies its tables on every transaction
		}
		r := newRig(t, s.New(), zohosim.Options{StatusCasings: casings}, jobcheck.Config{})
		created := r.schedule(t, n, 2, failPattern(2))
		ctx := context.Background()
		var runs, calls int
		for r.clock.Advance(time.Minute); ; r.clock.Advance(time.Minute) {
			if runs++; runs > 40 {
				t.Fatal("jobs still open after 40 runs")
			}
			due, before := r.due(t), r.statusCalls()
			rep := r.run(ctx, jobcheck.Request{})
			made := r.statusCalls() - before
			calls += made
			if made > due || made != rep.Checked || rep.LeftDue != 0 || rep.Errors != 0 || rep.Conflicts != 0 {
				t.Fatalf("run %d: %d status calls for %d due jobs; report %+v", runs, made, due, rep)
			}
			for id, c := range r.zoho.take() {
				if c > 1 {
					t.Fatalf("run %d asked about job %s %d times", runs, id, c)
				}
			}
			if due == 0 && r.due(t) == 0 && allTerminal(t, r, created) {
				break
			}
		}
		var failed, released int
		for _, c := range created {
			j, info := r.job(t, c.ID), zohoJob(t, r, c.ID)
			want := map[zohosim.JobState]jobs.State{zohosim.JobCompleted: jobs.Completed, zohosim.JobFailed: jobs.Failed}[info.State]
			if j.State != want || j.ZohoStatus != info.Status || j.Total != info.Total || j.Converted != info.Converted ||
				j.FailedCount != info.Failed || j.Waiting != info.NotConverted || j.NotConverted != 0 || j.ExpiresAt.IsZero() || !j.NextCheckAt.IsZero() {
				t.Fatalf("job %s stored as %+v; Zoho says %+v", c.ID, j, info)
			}
			if j.Checks < 2 || j.Version != int64(j.Checks)+1 {
				t.Fatalf("job %s: %d checks at version %d", c.ID, j.Checks, j.Version)
			}
			if j.State == jobs.Failed {
				failed++
			}
			if info.Failed > 0 {
				released++
			}
		}
		if failed != n/10 || released != n/5 {
			t.Fatalf("%d failed, %d with failures; want %d and %d", failed, released, n/10, n/5)
		}
		t.Logf("%d jobs: %d runs, %d status calls", n, runs, calls)
	})
}

func allTerminal(t testing.TB, r *rig, js []jobs.Job) bool {
	t.Helper()
	got, err := r.statusStore().Jobs(context.Background(), idsOf(js))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range got {
		if j.State.Open() {
			return false
		}
	}
	return len(got) == len(js)
}

func zohoJob(t testing.TB, r *rig, id string) zohosim.JobInfo {
	t.Helper()
	info, ok := r.sim.Job(id)
	if !ok {
		t.Fatalf("the simulator does not know job %s", id)
	}
	return info
}

func idsOf(js []jobs.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

// TestFailedLeadsAreSentAgain: the leads of every ended job are read back
// from Zoho and the results stored with the job. The leads Zoho did not
// convert are sent again with their job's options, once; the claims of the
// leads it converted stand.
func TestFailedLeadsAreSentAgain(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		r := newRig(t, s.New(), zohosim.Options{}, jobcheck.Config{})
		fails := []int{3, 1, 0}
		js := r.schedule(t, 3, 3, func(k int) int { return fails[k] })
		r.clock.Advance(5 * time.Minute) // every job has ended
		m := obs.NewMetrics("status")
		rep := r.run(obs.WithMetrics(context.Background(), m), jobcheck.Request{})
		if rep.Finished != 3 || rep.Failed != 1 || rep.ReadBack != 3 || rep.ReadBackCalls != 3 ||
			rep.LeadsConverted != 5 || rep.LeadsNotConverted != 4 || rep.LeadsResent != 4 {
			t.Fatalf("report %+v", rep)
		}
		if got := r.sim.Stats().Calls[zohosim.EndpointGetLeads]; got != 3 {
			t.Errorf("%d Get Records calls, want one per job", got)
		}
		want := []string{
			`{"assign_to":{"id":"111"},"ids":["` + strings.Join(js[0].LeadIDs, `","`) + `"]}`,
			`{"assign_to":{"id":"111"},"ids":["` + js[1].LeadIDs[0] + `"]}`,
		}
		if got := r.resent.sent(); !sameElements(got, want) {
			t.Errorf("sent again:\n%v\nwant\n%v", got, want)
		}
		for k, j := range js {
			stored := r.job(t, j.ID)
			if len(stored.Results) != 3 {
				t.Errorf("job %d: results %+v", k, stored.Results)
			}
			claimed, held, err := r.store.Claim(context.Background(), "resubmit", j.LeadIDs, r.clock.Now(), r.clock.Now().Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			// The simulator fails a job's first fails[k] leads.
			if !slices.Equal(claimed, j.LeadIDs[:fails[k]]) || len(held) != 3-fails[k] {
				t.Errorf("job %d (%d failed leads): claimed %v, held %d", k, fails[k], claimed, len(held))
			}
		}
		if got := testkit.FlushEMF(t, m); got["LeadsReadBack"] != 9 || got["LeadsResent"] != 4 || got["ReadBackSkipped"] != 0 ||
			got["LeadsConverted"] != 5 || got["LeadsNotConverted"] != 4 {
			t.Errorf("metrics %v", got)
		}
	})
}

// TestLeadsOutOfAttemptsAreRejected: a lead Zoho did not convert in its
// second job is rejected, with the job named, and not sent again.
func TestLeadsOutOfAttemptsAreRejected(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{}, jobcheck.Config{MaxLeadAttempts: 2})
	j := r.schedule(t, 1, 2, func(int) int { return 1 })[0]
	r.clock.Advance(5 * time.Minute)
	if rep := r.run(context.Background(), jobcheck.Request{}); rep.LeadsResent != 1 {
		t.Fatalf("first run %+v", rep)
	}
	// The convert function sends the lead again, and Zoho fails it again.
	lead := j.LeadIDs[:1]
	id, err := r.client.MassConvert(context.Background(), zohotest.Request(lead...))
	if err != nil {
		t.Fatal(err)
	}
	second := r.record(t, id, lead)
	r.clock.Advance(5 * time.Minute)
	if rep := r.run(context.Background(), jobcheck.Request{}); rep.LeadsNotConverted != 1 || rep.LeadsResent != 0 {
		t.Fatalf("second run %+v", rep)
	}
	if n := len(r.resent.sent()); n != 1 {
		t.Errorf("%d requests sent again, want the first only", n)
	}
	c, err := r.store.Claims(context.Background(), lead)
	if err != nil || len(c) != 1 || c[0].State != jobs.Rejected ||
		c[0].Reason != "not converted by Zoho in job "+second.ID+", after 2 attempts" {
		t.Fatalf("claim %+v, %v", c, err)
	}
}

func sameElements(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestReadBackWithoutScope: a grant without ZohoCRM.modules.leads.READ
// cannot read leads back. Every lead of a job that failed leads is released,
// as before the read-back, with one warning per run.
func TestReadBackWithoutScope(t *testing.T) {
	var logs strings.Builder
	r := newRig(t, memstore.New(), zohosim.Options{
		Scopes: []string{"ZohoCRM.mass_convert.leads.CREATE", "ZohoCRM.mass_convert.leads.READ"},
	}, jobcheck.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	js := r.schedule(t, 2, 3, func(int) int { return 1 })
	r.clock.Advance(5 * time.Minute)
	m := obs.NewMetrics("status")
	rep := r.run(obs.WithMetrics(context.Background(), m), jobcheck.Request{})
	if rep.Finished != 2 || rep.LeadsResent != 0 || rep.ReadBack != 0 || rep.LeadsConverted != 0 || rep.Errors != 0 || len(r.resent.sent()) != 0 {
		t.Fatalf("report %+v", rep)
	}
	for k, j := range js {
		claimed, _, err := r.store.Claim(context.Background(), "resubmit", j.LeadIDs, r.clock.Now(), r.clock.Now().Add(time.Minute))
		if err != nil || len(claimed) != 3 {
			t.Errorf("job %d: claimed %v, %v; want every lead free", k, claimed, err)
		}
	}
	if n := strings.Count(logs.String(), "lacks ZohoCRM.modules.leads.READ"); n != 1 {
		t.Errorf("%d scope warnings in the run, want 1:\n%s", n, logs.String())
	}
	if got := testkit.FlushEMF(t, m); got["ReadBackSkipped"] != 2 || got["ZohoErrors/OAUTH_SCOPE_MISMATCH"] != 2 {
		t.Errorf("metrics %v", got)
	}
}

// TestReadBackRetried: while Zoho cannot answer the read, the job stays due
// with its claims; the next run reads and releases.
func TestReadBackRetried(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{}, jobcheck.Config{})
	j := r.schedule(t, 1, 3, func(int) int { return 1 })[0]
	r.clock.Advance(5 * time.Minute)
	r.sim.FaultRate(zohosim.EndpointGetLeads, zohosim.InternalError, 1, 1)
	if rep := r.run(context.Background(), jobcheck.Request{}); rep.Finished != 0 || rep.Errors != 1 || rep.ReadBackCalls != 1 {
		t.Fatalf("first run %+v", rep)
	}
	if got := r.job(t, j.ID); !got.State.Open() || r.due(t) != 1 {
		t.Fatalf("job %s after a failed read, %d due; want it open and due", got.State, r.due(t))
	}
	r.sim.ClearFaults()
	if rep := r.run(context.Background(), jobcheck.Request{}); rep.Finished != 1 || rep.LeadsConverted != 2 || rep.Errors != 0 {
		t.Fatalf("second run %+v", rep)
	}
	claimed, _, err := r.store.Claim(context.Background(), "resubmit", j.LeadIDs, r.clock.Now(), r.clock.Now().Add(time.Minute))
	if err != nil || !slices.Equal(claimed, j.LeadIDs[:1]) {
		t.Fatalf("claimed %v, %v; want only the lead Zoho did not convert", claimed, err)
	}
}

// TestOverlappingRuns: two runs over the same jobs at once. Each job is
// stored once per round; the loser of each race reports a conflict.
func TestOverlappingRuns(t *testing.T) {
	// The serial moto: a threaded one checks a condition and writes without
	// holding a lock in between, so two conditional updates of one item at
	// once may both pass (seen here: two saves of one job at version 1).
	testkit.ForEachSerialStore(t, func(t *testing.T, s testkit.Stores) {
		n := 100 // one page, which both runs read before either checks a job
		if s.Dynamo {
			n = 20
		}
		store := s.New()
		b := &barrierStore{CheckStore: store, parties: 2, open: make(chan struct{})}
		r := newRig(t, store, zohosim.Options{StatusCasings: casings}, jobcheck.Config{})
		// Both runs use one store through the barrier: each reads its first
		// page of jobs before either checks anything.
		r.checker, _ = jobcheck.New(jobcheck.Config{Zoho: r.zoho, Store: b, Now: r.clock.Now})
		created := r.schedule(t, n, 1, failPattern(1))
		for round := 1; ; round++ {
			r.clock.Advance(time.Minute)
			if round > 20 {
				t.Fatal("jobs still open after 20 rounds")
			}
			due := r.due(t)
			reps := make([]jobcheck.Report, 2)
			var wg sync.WaitGroup
			for i := range reps {
				wg.Go(func() { reps[i] = r.run(context.Background(), jobcheck.Request{}) })
			}
			wg.Wait()
			checked, conflicts := reps[0].Checked+reps[1].Checked, reps[0].Conflicts+reps[1].Conflicts
			if checked != due || reps[0].Errors+reps[1].Errors != 0 {
				t.Fatalf("round %d: %d due, reports %+v", round, due, reps)
			}
			if round == 1 && conflicts != n {
				t.Fatalf("round 1: %d conflicts, want %d (both runs read every job first)", conflicts, n)
			}
			if due == 0 && allTerminal(t, r, created) {
				break
			}
		}
		for _, c := range created {
			j, info := r.job(t, c.ID), zohoJob(t, r, c.ID)
			if j.Version != int64(j.Checks)+1 || j.Converted != info.Converted || j.FailedCount != info.Failed || j.State.Open() {
				t.Fatalf("job %s: %+v; Zoho says %+v", c.ID, j, info)
			}
		}
	})
}

// barrierStore holds every Jobs call until parties of them have read.
type barrierStore struct {
	jobs.CheckStore
	parties int
	mu      sync.Mutex
	arrived int
	open    chan struct{}
}

func (b *barrierStore) Jobs(ctx context.Context, ids []string) ([]jobs.Job, error) {
	js, err := b.CheckStore.Jobs(ctx, ids)
	b.mu.Lock()
	if b.arrived++; b.arrived == b.parties {
		close(b.open)
	}
	b.mu.Unlock()
	select {
	case <-b.open:
	case <-ctx.Done():
	}
	return js, err
}

// TestLittleTimeLeft: a run whose deadline is inside the stop margin takes
// no job, leaves them all due, and returns at once.
func TestLittleTimeLeft(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		r := newRig(t, s.New(), zohosim.Options{}, jobcheck.Config{})
		r.schedule(t, 12, 1, nil)
		r.clock.Advance(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		m := obs.NewMetrics("status")
		rep := r.run(obs.WithMetrics(ctx, m), jobcheck.Request{})
		if rep.Stopped != jobcheck.StoppedDeadline || rep.Checked != 0 || rep.LeftDue != 12 || r.statusCalls() != 0 {
			t.Fatalf("report %+v after %d status calls", rep, r.statusCalls())
		}
		if ctx.Err() != nil {
			t.Fatal("the run did not return before its deadline")
		}
		if due := r.due(t); due != 12 {
			t.Fatalf("%d jobs due after the run, want 12", due)
		}
		if got := testkit.FlushEMF(t, m)["JobsLeftDue"]; got != 12 {
			t.Fatalf("JobsLeftDue %v", got)
		}
	})
}

// TestThrottledJobsStayDue: Zoho answers 429 (both shapes) and 500 to some
// calls; those jobs stay due, the others are checked.
func TestThrottledJobsStayDue(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		r := newRig(t, s.New(), zohosim.Options{}, jobcheck.Config{Concurrency: 1})
		r.schedule(t, 10, 1, nil)
		r.clock.Advance(time.Minute)
		r.sim.Script(zohosim.EndpointStatus, zohosim.Fault{Kind: zohosim.TooManyRequests}, zohosim.Fault{},
			zohosim.Fault{Kind: zohosim.TooManyRequestsLegacy}, zohosim.Fault{}, zohosim.Fault{Kind: zohosim.InternalError})
		m := obs.NewMetrics("status")
		rep := r.run(obs.WithMetrics(context.Background(), m), jobcheck.Request{})
		if rep.Checked != 7 || rep.Errors != 3 || rep.Stopped != "" || rep.LeftDue != 0 {
			t.Fatalf("report %+v", rep)
		}
		if due := r.due(t); due != 3 {
			t.Fatalf("%d jobs due, want the 3 refused", due)
		}
		got := testkit.FlushEMF(t, m)
		if got["ZohoErrors/TOO_MANY_REQUESTS"] != 2 || got["ZohoErrors/INTERNAL_ERROR"] != 1 || got["JobsChecked"] != 7 {
			t.Fatalf("metrics %v", got)
		}
		// The next run picks them up.
		if rep := r.run(context.Background(), jobcheck.Request{}); rep.Checked != 3 {
			t.Fatalf("second run %+v", rep)
		}
	})
}

// TestZohoErrorsStopTheRun: while Zoho refuses everything, a run stops
// after MaxZohoErrors calls and leaves the rest due.
func TestZohoErrorsStopTheRun(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		r := newRig(t, s.New(), zohosim.Options{}, jobcheck.Config{Concurrency: 1, PageSize: 10, MaxZohoErrors: 4})
		r.schedule(t, 30, 1, nil)
		r.clock.Advance(time.Minute)
		r.sim.FaultRate(zohosim.EndpointStatus, zohosim.TooManyRequests, 1, 1)
		rep := r.run(context.Background(), jobcheck.Request{})
		if rep.Stopped != jobcheck.StoppedZohoErrors || rep.Errors != 4 || rep.LeftDue != 26 || r.statusCalls() != 4 {
			t.Fatalf("report %+v after %d status calls", rep, r.statusCalls())
		}
		if due := r.due(t); due != 30 {
			t.Fatalf("%d due, want all 30", due)
		}
	})
}

// TestTokenRefusedMidRun: a 401 in the middle of a run, and tokens expired
// between runs, cost one refresh each and no job.
func TestTokenRefusedMidRun(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{}, jobcheck.Config{Concurrency: 1})
	r.schedule(t, 6, 1, nil)
	r.clock.Advance(time.Minute)
	r.sim.Script(zohosim.EndpointStatus, zohosim.Fault{}, zohosim.Fault{}, zohosim.Fault{Kind: zohosim.Unauthorized})
	if rep := r.run(context.Background(), jobcheck.Request{}); rep.Checked != 6 || rep.Errors != 0 {
		t.Fatalf("report %+v", rep)
	}
	r.sim.ExpireAllTokens()
	r.clock.Advance(time.Minute)
	if rep := r.run(context.Background(), jobcheck.Request{}); rep.Checked != 6 || rep.Errors != 0 {
		t.Fatalf("report after the tokens expired %+v", rep)
	}
	if st := r.sim.Stats(); st.TokensIssued != 3 || st.InvalidTokenAnswers != 2 || st.Calls[zohosim.EndpointStatus] != 14 {
		t.Fatalf("simulator saw %+v", st)
	}
}

// TestUnknownAndStaleJobs: Zoho does not know one job; another is still
// scheduled long after its time.
func TestUnknownAndStaleJobs(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		r := newRig(t, s.New(), zohosim.Options{ScheduledFor: 48 * time.Hour}, jobcheck.Config{})
		unknown := r.record(t, "3652397000000000001", nil)
		old := r.schedule(t, 1, 1, nil)[0]
		r.clock.Advance(23 * time.Hour)
		young := r.schedule(t, 1, 1, nil)[0]
		r.clock.Advance(time.Hour)
		m := obs.NewMetrics("status")
		rep := r.run(obs.WithMetrics(context.Background(), m), jobcheck.Request{})
		if rep.Checked != 3 || rep.Finished != 2 || rep.Unknown != 1 || rep.Stale != 1 {
			t.Fatalf("report %+v", rep)
		}
		now := r.clock.Now()
		for _, tc := range []struct {
			job    jobs.Job
			status jobs.State
			reason string
		}{
			{unknown, jobs.UnknownToZoho, "INVALID_DATA"},
			{old, jobs.Stale, `still "SCHEDULED" 24h0m`},
			{young, jobs.Scheduled, ""},
		} {
			j := r.job(t, tc.job.ID)
			if j.State != tc.status || !strings.Contains(j.Reason, tc.reason) || (tc.reason == "") != (j.Reason == "") {
				t.Errorf("job %s: %s %q, want %s %q", j.ID, j.State, j.Reason, tc.status, tc.reason)
			}
			if !j.State.Open() && (!j.ExpiresAt.Equal(now.Add(30*24*time.Hour)) || !j.NextCheckAt.IsZero()) {
				t.Errorf("terminal job %s expires %s, next check %s", j.ID, j.ExpiresAt, j.NextCheckAt)
			}
		}
		if due := r.due(t); due != 0 {
			t.Fatalf("%d due", due)
		}
		got := testkit.FlushEMF(t, m)
		if got["JobsStale"] != 1 || got["JobsFinished/STALE"] != 1 || got["JobsFinished/UNKNOWN"] != 1 || got["ZohoErrors/INVALID_DATA"] != 1 {
			t.Fatalf("metrics %v", got)
		}
	})
}

// TestNamedJobs: job_ids are checked now, due or not; terminal and unknown
// ones are skipped.
func TestNamedJobs(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{}, jobcheck.Config{})
	js := r.schedule(t, 3, 1, nil)
	r.clock.Advance(5 * time.Minute)
	if rep := r.run(context.Background(), jobcheck.Request{JobIDs: []string{js[0].ID}}); rep.Finished != 1 {
		t.Fatalf("report %+v", rep)
	}
	rep := r.run(context.Background(), jobcheck.Request{JobIDs: []string{js[0].ID, js[1].ID, "3652397000000000404"}})
	if rep.Checked != 1 || rep.Skipped != 2 || rep.LeftDue != 0 {
		t.Fatalf("report %+v", rep)
	}
	if j := r.job(t, js[2].ID); j.Checks != 0 {
		t.Fatalf("an unnamed job was checked: %+v", j)
	}
}

func TestNextCheckAfter(t *testing.T) {
	want := []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, jobcheck.NextCheckAfter(n))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("backoff %v, want %v", got, want)
	}
}

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		event string
		want  []string
		err   bool
	}{
		{``, nil, false},
		{`null`, nil, false},
		{`{}`, nil, false},
		{`"a string input"`, nil, false},
		{`{"version":"0","source":"aws.scheduler","detail-type":"Scheduled Event","detail":"{}"}`, nil, false},
		{`{"job_ids":null}`, nil, false},
		{`{"job_ids":["3652397000009835001","3652397000009835002","3652397000009835001"]}`, []string{"3652397000009835001", "3652397000009835002"}, false},
		{`{"job_ids":[]}`, nil, true},
		{`{"job_ids":"3652397000009835001"}`, nil, true},
		{`{"job_ids":[3652397000009835001]}`, nil, true},
		{`{"job_ids":["12a"]}`, nil, true},
		{`{"job_ids":[`, nil, true},
	} {
		req, err := jobcheck.ParseRequest([]byte(tc.event))
		if (err != nil) != tc.err || !slices.Equal(req.JobIDs, tc.want) {
			t.Errorf("ParseRequest(%s) = %v, %v; want %v, error %v", tc.event, req.JobIDs, err, tc.want, tc.err)
		}
	}
}

// TestStoreErrorsDoNotFailTheRun: a store that cannot be read is counted
// and logged; the run still returns a report.
func TestStoreErrorsDoNotFailTheRun(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{}, jobcheck.Config{})
	c, _ := jobcheck.New(jobcheck.Config{Zoho: r.zoho, Store: brokenStore{r.statusStore()}, Now: r.clock.Now})
	if rep := c.Run(context.Background(), jobcheck.Request{}); rep.Errors != 1 || rep.Checked != 0 {
		t.Fatalf("report %+v", rep)
	}
}

type brokenStore struct{ jobs.CheckStore }

func (brokenStore) DueJobs(context.Context, time.Time, int, string) ([]string, string, error) {
	return nil, "", errors.New("throttled")
}

// panickyZoho panics when asked about one job.
type panickyZoho struct {
	jobcheck.Zoho
	job string
}

func (p panickyZoho) ConvertStatus(ctx context.Context, id string) (zoho.JobStatus, error) {
	if id == p.job {
		panic("status of the poison job")
	}
	return p.Zoho.ConvertStatus(ctx, id)
}

// TestPanicInOneCheck: a panic while checking one job fails that job
// only: the run checks the others and answers its report, counting the
// job as an error and leaving it due; the panic is logged with its stack.
// Before, it ended the process, and the run's report with it.
func TestPanicInOneCheck(t *testing.T) {
	for _, concurrency := range []int{1, 3} {
		t.Run(fmt.Sprintf("concurrency %d", concurrency), func(t *testing.T) {
			r := newRig(t, memstore.New(), zohosim.Options{}, jobcheck.Config{})
			js := r.schedule(t, 6, 1, nil)
			r.clock.Advance(time.Minute)
			var logs bytes.Buffer
			checker, err := jobcheck.New(jobcheck.Config{Zoho: panickyZoho{Zoho: r.zoho, job: js[2].ID}, Store: r.statusStore(),
				Now: r.clock.Now, Concurrency: concurrency, Logger: obs.NewLogger(&logs, slog.LevelInfo)})
			if err != nil {
				t.Fatal(err)
			}
			m := obs.NewMetrics("status")
			rep := checker.Run(obs.WithMetrics(context.Background(), m), jobcheck.Request{})
			if rep.Checked != 5 || rep.Errors != 1 || rep.LeftDue != 0 {
				t.Errorf("report %+v; want 5 checked, 1 error", rep)
			}
			if due := r.due(t); due != 1 {
				t.Errorf("%d jobs due; want the poison one", due)
			}
			if j := r.job(t, js[2].ID); j.Checks != 0 || !j.State.Open() {
				t.Errorf("poison job %+v; want unchecked and open", j)
			}
			if got := testkit.FlushEMF(t, m); got["Panics"] != 1 {
				t.Errorf("metrics %v; want Panics 1", got)
			}
			if l := logs.String(); !strings.Contains(l, `"msg":"panic recovered"`) || !strings.Contains(l, `"job_id":"`+js[2].ID+`"`) ||
				!strings.Contains(l, "panickyZoho.ConvertStatus") {
				t.Errorf("the panic is not logged with the job and its stack:\n%s", l)
			}
		})
	}
}

// TestCallInDoubtIsSettled: a call in doubt is read back, never asked about
// by job id. Leads Zoho converted (by a job nobody recorded) are settled as
// converted; a lead that reads as not converted is given the doubt window
// (another job may hold it), then sent again.
func TestCallInDoubtIsSettled(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{}, jobcheck.Config{DoubtWindow: 10 * time.Minute})
	ids := r.sim.SeedLeadRange(3)
	if _, err := r.client.MassConvert(context.Background(), zohotest.Request(ids[:2]...)); err != nil {
		t.Fatal(err) // the job whose answer was lost
	}
	now := r.clock.Now()
	doubt := jobs.Job{ID: jobs.DoubtPrefix + "1", State: jobs.InDoubt, LeadIDs: ids, Options: `{}`,
		CreatedAt: now, UpdatedAt: now, NextCheckAt: now.Add(3 * time.Minute)}
	if err := r.store.RecordJob(context.Background(), doubt, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(3 * time.Minute)
	if rep := r.run(context.Background(), jobcheck.Request{}); rep.Checked != 1 || rep.Finished != 0 || rep.ReadBackCalls != 1 {
		t.Fatalf("first run %+v", rep)
	}
	r.clock.Advance(10 * time.Minute)
	rep := r.run(context.Background(), jobcheck.Request{})
	if rep.Finished != 1 || rep.Doubts != 1 || rep.LeadsConverted != 2 || rep.LeadsResent != 1 {
		t.Fatalf("second run %+v", rep)
	}
	if n := r.statusCalls(); n != 0 {
		t.Errorf("%d status calls for a call in doubt", n)
	}
	if got := r.resent.sent(); len(got) != 1 || got[0] != `{"ids":["`+ids[2]+`"]}` {
		t.Errorf("sent again %v", got)
	}
	if j := r.job(t, doubt.ID); j.State != jobs.Settled || len(j.Results) != 3 || j.Converted != 2 {
		t.Errorf("settled %+v", j)
	}
}

// TestCallInDoubtWithARefusedTokenStaysDue: a read-back whose token Zoho
// keeps refusing, even after a refresh, says nothing of the leads: the
// call in doubt stays due with its leads held, instead of releasing them
// unread (their messages were answered long ago: nothing would send them
// again), and the next run that can read settles it.
func TestCallInDoubtWithARefusedTokenStaysDue(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{}, jobcheck.Config{DoubtWindow: 10 * time.Minute})
	ids := r.sim.SeedLeadRange(2)
	now := r.clock.Now()
	doubt := jobs.Job{ID: jobs.DoubtPrefix + "1", State: jobs.InDoubt, LeadIDs: ids, Options: `{}`,
		CreatedAt: now, UpdatedAt: now, NextCheckAt: now.Add(3 * time.Minute)}
	if err := r.store.RecordJob(context.Background(), doubt, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(15 * time.Minute) // past the doubt window: a read settles it
	r.sim.FaultRate(zohosim.EndpointGetLeads, zohosim.Unauthorized, 1, 1)
	if rep := r.run(context.Background(), jobcheck.Request{}); rep.Finished != 0 || rep.LeadsResent != 0 {
		t.Fatalf("run with the token refused %+v", rep)
	}
	if j := r.job(t, doubt.ID); j.State != jobs.InDoubt || len(r.resent.sent()) != 0 {
		t.Fatalf("the call in doubt after an unread run: %s, sent again %v; want it still in doubt", j.State, r.resent.sent())
	}
	r.sim.ClearFaults()
	r.clock.Advance(5 * time.Minute)
	if rep := r.run(context.Background(), jobcheck.Request{}); rep.Finished != 1 || rep.LeadsResent != 2 {
		t.Fatalf("the next run %+v; want it settled and both leads sent again", rep)
	}
}

// TestPermanentRefusalEndsTheRun: a grant without the status scope makes
// Zoho refuse every status call alike. The run stops at the first refusals
// (at most one per call in flight) instead of asking about every due job,
// the jobs it held wait an hour, and the metric raises the alarm.
func TestPermanentRefusalEndsTheRun(t *testing.T) {
	const due, concurrency = 30, 3
	r := newRig(t, memstore.New(), zohosim.Options{
		Scopes: []string{"ZohoCRM.mass_convert.leads.CREATE", "ZohoCRM.modules.leads.READ"},
	}, jobcheck.Config{Concurrency: concurrency, PageSize: 10})
	r.schedule(t, due, 1, nil)
	r.clock.Advance(time.Minute)
	m := obs.NewMetrics("status")
	rep := r.run(obs.WithMetrics(context.Background(), m), jobcheck.Request{})
	if calls := r.statusCalls(); calls > concurrency || rep.Stopped != jobcheck.StoppedZohoRefused {
		t.Fatalf("%d status calls for %d due jobs, stopped %q; want at most %d and %q", calls, due, rep.Stopped, concurrency, jobcheck.StoppedZohoRefused)
	}
	if got := testkit.FlushEMF(t, m); got["StatusRefused"] < 1 {
		t.Errorf("metrics %v; want StatusRefused", got)
	}
	left := r.due(t)
	if left >= due || left < due-10 {
		t.Errorf("%d jobs still due; want the page the run held (up to 10) pushed back", left)
	}
	r.clock.Advance(time.Hour)
	if n := r.due(t); n != due {
		t.Errorf("%d jobs due an hour later, want all %d", n, due)
	}
}
