package outcome_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/outcome"
)

// stored is a Reader over fixed claims, jobs and requests: the views'
// derivation is what is under test here (the stores have contract tests).
type stored struct {
	claims map[string]jobs.Claim
	jobs   map[string]jobs.Job
	reqs   map[string]jobs.Request
	err    error // every read fails with it when set
}

func (s stored) Job(_ context.Context, id string) (jobs.Job, error) {
	if s.err != nil {
		return jobs.Job{}, s.err
	}
	j, ok := s.jobs[id]
	if !ok {
		return jobs.Job{}, jobs.ErrNotFound
	}
	return j, nil
}

func (s stored) Claims(_ context.Context, ids []string) ([]jobs.Claim, error) {
	if s.err != nil {
		return nil, s.err
	}
	var out []jobs.Claim
	for _, id := range ids {
		if c, ok := s.claims[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s stored) Request(_ context.Context, id string) (jobs.Request, error) {
	r, ok := s.reqs[id]
	if !ok {
		return jobs.Request{}, jobs.ErrNotFound
	}
	return r, nil
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func TestLeadStates(t *testing.T) {
	running := jobs.Job{ID: "1", State: jobs.InProgress, LeadIDs: []string{"11"}, CreatedAt: t0, NextCheckAt: t0.Add(time.Minute)}
	readBack := jobs.Job{ID: "2", State: jobs.Completed, LeadIDs: []string{"21", "22"}, FailedCount: 1,
		Results: []jobs.LeadResult{{LeadID: "21", Conversion: jobs.Converted, ContactID: "c21"}, {LeadID: "22", Conversion: jobs.NotConverted}}}
	clean := jobs.Job{ID: "3", State: jobs.Completed, LeadIDs: []string{"31"}}
	failed := jobs.Job{ID: "4", State: jobs.Failed, LeadIDs: []string{"41"}}
	stale := jobs.Job{ID: "5", State: jobs.Stale, LeadIDs: []string{"51"}, Reason: "open for more than 24h"}
	doubt := jobs.Job{ID: "doubt-x", State: jobs.InDoubt, LeadIDs: []string{"61"}}
	s := stored{
		jobs: map[string]jobs.Job{"1": running, "2": readBack, "3": clean, "4": failed, "5": stale, "doubt-x": doubt},
		claims: map[string]jobs.Claim{
			"11": {LeadID: "11", State: jobs.ClaimScheduled, JobID: "1", Attempts: 1},
			"21": {LeadID: "21", State: jobs.ClaimScheduled, JobID: "2", Attempts: 1},
			"22": {LeadID: "22", State: jobs.Retry, JobID: "2", Attempts: 1},
			"31": {LeadID: "31", State: jobs.ClaimScheduled, JobID: "3"},
			"41": {LeadID: "41", State: jobs.ClaimScheduled, JobID: "4"},
			"51": {LeadID: "51", State: jobs.ClaimScheduled, JobID: "5"},
			"61": {LeadID: "61", State: jobs.ClaimInDoubt, JobID: "doubt-x"},
			"71": {LeadID: "71", State: jobs.ClaimScheduled, JobID: "7"}, // its job expired first
			"81": {LeadID: "81", State: jobs.Rejected, Reason: convert.ConvertedElsewhere + "in job 9"},
			"82": {LeadID: "82", State: jobs.Lettered, Reason: "MANDATORY_NOT_FOUND"},
			"84": {LeadID: "84", State: jobs.Rejected, Reason: "dead-lettered: MANDATORY_NOT_FOUND"}, // the previous version's
			"83": {LeadID: "83", State: jobs.Rejected, Reason: "not converted by Zoho in job 2, after 2 attempts", Attempts: 2},
		},
	}
	for _, tc := range []struct {
		lead, state, reason, job, contact string
	}{
		{"11", outcome.Scheduled, "", "1", ""},
		{"21", outcome.Converted, "", "2", "c21"},
		{"22", outcome.Retrying, "not converted by Zoho in 2; sent again", "2", ""},
		{"31", outcome.Converted, "", "3", ""}, // ended cleanly, not read back
		{"41", outcome.NotConverted, "", "4", ""},
		{"51", outcome.Stale, "open for more than 24h", "5", ""},
		{"61", outcome.InDoubt, "", "doubt-x", ""},
		{"71", outcome.Scheduled, "", "7", ""},
		{"81", outcome.Converted, "in job 9", "", ""},
		{"82", outcome.DeadLettered, "MANDATORY_NOT_FOUND", "", ""},
		{"84", outcome.DeadLettered, "MANDATORY_NOT_FOUND", "", ""},
		{"83", outcome.Rejected, "not converted by Zoho in job 2, after 2 attempts", "", ""},
	} {
		t.Run(tc.lead, func(t *testing.T) {
			rep, err := outcome.OfLead(context.Background(), s, tc.lead)
			if err != nil {
				t.Fatal(err)
			}
			if rep.State != tc.state || rep.Reason != tc.reason || rep.JobID != tc.job || rep.ContactID != tc.contact {
				t.Fatalf("got %+v, want %+v", rep.Lead, tc)
			}
			// The job is shown with a lead whose claim still points at it.
			c := s.claims[tc.lead]
			_, known := s.jobs[tc.job]
			if want := known && (c.State == jobs.ClaimScheduled || c.State == jobs.ClaimInDoubt); want != (rep.Job != nil) {
				t.Fatalf("job shown %v, want %v", rep.Job, want)
			}
		})
	}

	if _, err := outcome.OfLead(context.Background(), s, "99"); !errors.Is(err, outcome.ErrNoRecord) {
		t.Errorf("a lead without a claim: %v", err)
	}
	broken := stored{err: errors.New("throttled")}
	if _, err := outcome.OfLead(context.Background(), broken, "11"); err == nil || errors.Is(err, outcome.ErrNoRecord) {
		t.Errorf("a failed read: %v", err)
	}
}

// TestRequestAndJobViews: a request's leads in its order with counts, the
// unclaimed ones of a dead-lettered request shown so; a job's leads with
// where they went since.
func TestRequestAndJobViews(t *testing.T) {
	ctx := context.Background()
	j := jobs.Job{ID: "2", State: jobs.Completed, LeadIDs: []string{"21", "22", "23", "21"}, FailedCount: 1,
		Results: []jobs.LeadResult{{LeadID: "21", Conversion: jobs.Converted}, {LeadID: "22", Conversion: jobs.NotConverted}, {LeadID: "23", Conversion: jobs.NotConverted}}}
	s := stored{
		jobs: map[string]jobs.Job{"2": j},
		claims: map[string]jobs.Claim{
			"21": {LeadID: "21", State: jobs.ClaimScheduled, JobID: "2", Attempts: 1},
			"22": {LeadID: "22", State: jobs.Retry, JobID: "2", Attempts: 1},
			"23": {LeadID: "23", State: jobs.Rejected, Reason: "not converted", Attempts: 2},
		},
		reqs: map[string]jobs.Request{
			"ok":   {ID: "ok", LeadIDs: []string{"23", "21", "24"}, CreatedAt: t0},
			"dead": {ID: "dead", LeadIDs: []string{"24", "21"}, FailCode: "INVALID_DATA", FailReason: "$.ids[0]: bad"},
		},
	}
	rep, err := outcome.OfRequest(ctx, s, "ok")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(rep.Leads); got != "23:REJECTED 21:CONVERTED 24:QUEUED " ||
		rep.Counts[outcome.Rejected] != 1 || rep.Counts[outcome.Converted] != 1 || rep.Counts[outcome.Queued] != 1 {
		t.Errorf("request: %s %v", got, rep.Counts)
	}
	rep, err = outcome.OfRequest(ctx, s, "dead")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(rep.Leads); got != "24:DEAD_LETTERED 21:CONVERTED " || rep.Leads[0].Reason != "INVALID_DATA: $.ids[0]: bad" {
		t.Errorf("dead-lettered request: %s %+v", got, rep.Leads)
	}
	if _, err := outcome.OfRequest(ctx, s, "none"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("unknown request: %v", err)
	}

	v, err := outcome.OfJob(ctx, s, "2")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(v.Leads); got != "21:CONVERTED 22:RETRYING 23:REJECTED " || v.Status != "COMPLETED" || v.Failed != 1 {
		t.Errorf("job: %s %+v", got, v)
	}
	if _, err := outcome.OfJob(ctx, s, "3"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
}

func states(leads []outcome.Lead) string {
	s := ""
	for _, l := range leads {
		s += l.ID + ":" + l.State + " "
	}
	return s
}
