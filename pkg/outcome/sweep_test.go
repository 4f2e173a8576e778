package outcome_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/outcome"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// sweeps is a sweep and its runs over fixed values.
type sweeps struct {
	s    sweep.Sweep
	runs map[string]sweep.Run
}

func (f sweeps) Sweep(_ context.Context, name string) (sweep.Sweep, error) {
	if name != f.s.Name {
		return sweep.Sweep{}, sweep.ErrNotFound
	}
	return f.s, nil
}

func (f sweeps) SweepRun(_ context.Context, _, id string) (sweep.Run, error) {
	r, ok := f.runs[id]
	if !ok {
		return sweep.Run{}, sweep.ErrNotFound
	}
	return r, nil
}

// TestOfRun: a run's outcomes are summed over its messages' requests; a
// request no longer stored makes them partial.
func TestOfRun(t *testing.T) {
	done := jobs.Job{ID: "2", State: jobs.Completed, LeadIDs: []string{"11", "12"}, FailedCount: 1,
		Results: []jobs.LeadResult{{LeadID: "11", Conversion: jobs.Converted}, {LeadID: "12", Conversion: jobs.NotConverted}}}
	run := sweep.Run{Sweep: "nightly", ID: "2026-11-28T02:00:00Z", Counts: sweep.Counts{Messages: 3}}
	req := func(n int, leads ...string) jobs.Request {
		return jobs.Request{ID: sweep.MessageRequestID("nightly", run.ID, n), LeadIDs: leads}
	}
	s := stored{
		jobs: map[string]jobs.Job{"2": done},
		claims: map[string]jobs.Claim{
			"11": {LeadID: "11", State: jobs.ClaimScheduled, JobID: "2"},
			"12": {LeadID: "12", State: jobs.ClaimScheduled, JobID: "2"},
			"13": {LeadID: "13", State: jobs.Rejected, Reason: "not converted by Zoho in job 2, after 2 attempts"},
			"21": {LeadID: "21", State: jobs.Lettered, Reason: "MANDATORY_NOT_FOUND"},
		},
		reqs: map[string]jobs.Request{},
	}
	for _, r := range []jobs.Request{req(1, "11", "12", "13"), req(2, "21", "22")} { // the third expired
		s.reqs[r.ID] = r
	}
	for _, tc := range []struct {
		budget int
		want   outcome.RunOutcomes
		used   int
	}{
		{10, outcome.RunOutcomes{Converted: 1, NotConverted: 1, Rejected: 2, Pending: 1, Messages: 3, MessagesRead: 2, Partial: true,
			ByState: map[string]int{outcome.Converted: 1, outcome.NotConverted: 1, outcome.Rejected: 1, outcome.DeadLettered: 1, outcome.Queued: 1}}, 3},
		{1, outcome.RunOutcomes{Converted: 1, NotConverted: 1, Rejected: 1, Messages: 3, MessagesRead: 1, Partial: true,
			ByState: map[string]int{outcome.Converted: 1, outcome.NotConverted: 1, outcome.Rejected: 1}}, 1},
	} {
		t.Run(fmt.Sprint("budget ", tc.budget), func(t *testing.T) {
			got, used, err := outcome.OfRun(context.Background(), s, run, tc.budget)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) || used != tc.used {
				t.Errorf("got %+v (%d read)\nwant %+v (%d read)", got, used, tc.want, tc.used)
			}
		})
	}
}

// TestOfSweepBoundsItsReads: the runs are shown newest first; outcomes
// are read for RunMessages messages in all, the rest said partial or left
// out, and an expired run is skipped.
func TestOfSweepBoundsItsReads(t *testing.T) {
	f := sweeps{s: sweep.Sweep{Name: "nightly", RecentRuns: []string{"r0", "r1", "r2", "r3"}}, runs: map[string]sweep.Run{}}
	s := stored{reqs: map[string]jobs.Request{}}
	for i, msgs := range []int{4, 4, outcome.RunMessages - 2, 0} {
		id := fmt.Sprint("r", i)
		if i == 0 {
			continue // expired: listed by the sweep, no longer stored
		}
		f.runs[id] = sweep.Run{Sweep: "nightly", ID: id, Counts: sweep.Counts{Messages: msgs}, End: sweep.EndDone}
		for n := 1; n <= msgs; n++ {
			rid := sweep.MessageRequestID("nightly", id, n)
			s.reqs[rid] = jobs.Request{ID: rid, LeadIDs: []string{fmt.Sprint(i, n)}}
		}
	}
	rep, err := outcome.OfSweep(context.Background(), f, s, "nightly")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Runs {
		o := "none"
		if r.Outcomes != nil {
			o = fmt.Sprintf("%d/%d partial=%t pending=%d", r.Outcomes.MessagesRead, r.Outcomes.Messages, r.Outcomes.Partial, r.Outcomes.Pending)
		}
		got = append(got, r.ID+" "+o)
	}
	want := []string{"r3 0/0 partial=false pending=0", fmt.Sprintf("r2 %d/%d partial=false pending=%d", outcome.RunMessages-2, outcome.RunMessages-2, outcome.RunMessages-2),
		"r1 2/4 partial=true pending=2"} // r0 expired
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runs\n got %q\nwant %q", got, want)
	}
	if _, err := outcome.OfSweep(context.Background(), f, s, "other"); !errors.Is(err, sweep.ErrNotFound) {
		t.Errorf("unknown sweep: %v", err)
	}
}
