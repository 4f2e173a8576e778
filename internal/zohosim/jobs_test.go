package zohosim

import (
	"slices"
	"testing"
	"time"
)

func TestJobProgression(t *testing.T) {
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(10)
	e.s.FailLeads(ids[1], ids[8], ids[9])
	jobID := e.schedule(ids...)
	for _, id := range ids {
		if e.s.HasLead(id) {
			t.Fatalf("lead %s still submittable while its job is scheduled", id)
		}
	}
	steps := []struct {
		advance time.Duration
		want    jobCounts
	}{
		{0, jobCounts{"SCHEDULED", 10, 0, 10, 0}},
		{time.Minute - time.Nanosecond, jobCounts{"SCHEDULED", 10, 0, 10, 0}},
		{time.Nanosecond, jobCounts{"IN PROGRESS", 10, 0, 10, 0}},
		{time.Minute, jobCounts{"IN PROGRESS", 10, 4, 5, 1}},
		{time.Minute - time.Nanosecond, jobCounts{"IN PROGRESS", 10, 7, 1, 2}},
		{time.Nanosecond, jobCounts{"COMPLETED", 10, 7, 0, 3}},
		{time.Hour, jobCounts{"COMPLETED", 10, 7, 0, 3}},
	}
	for i, st := range steps {
		e.clock.Advance(st.advance)
		e.tok = e.s.IssueToken() // the last step outlives a token
		if i == len(steps)-2 {
			// Failed leads return when the job ends, whether or not
			// anyone asks for its status.
			for k, id := range ids {
				if want := k == 1 || k >= 8; e.s.HasLead(id) != want {
					t.Errorf("HasLead(ids[%d]) = %v, want %v", k, !want, want)
				}
			}
		}
		if got := e.status(jobID); got != st.want {
			t.Errorf("step %d: status = %+v, want %+v", i, got, st.want)
		}
	}
	info, ok := e.s.Job(jobID)
	if !ok || info.State != JobCompleted || !slices.Equal(info.FailedIDs, []string{ids[1], ids[8], ids[9]}) ||
		!slices.Equal(info.IDs, ids) || !info.ScheduledAt.Equal(t0) {
		t.Errorf("Job = %+v, %v", info, ok)
	}

	// Converted leads are gone for good.
	e.convert("v7", idsBody(ids[0])).wantError(t, 400, "INVALID_DATA", `{"api_name":"ids","json_path":"$.ids[0]"}`)

	// Failed leads may be submitted again, and fail again until fixed.
	failed := []string{ids[1], ids[8], ids[9]}
	again := e.schedule(failed...)
	e.clock.Advance(3 * time.Minute)
	if got, want := e.status(again), (jobCounts{"FAILED", 3, 0, 0, 3}); got != want {
		t.Errorf("all-failed job: %+v, want %+v", got, want)
	}
	e.s.UnfailLeads(failed...)
	fixed := e.schedule(failed...)
	e.clock.Advance(3 * time.Minute)
	if got, want := e.status(fixed), (jobCounts{"COMPLETED", 3, 3, 0, 0}); got != want {
		t.Errorf("fixed job: %+v, want %+v", got, want)
	}
	if n := e.s.LeadCount(); n != 0 {
		t.Errorf("LeadCount = %d, want 0", n)
	}
	if jobs := e.s.Jobs(); len(jobs) != 3 || jobs[0].ID != jobID || jobs[1].ID != again || jobs[2].ID != fixed {
		t.Errorf("Jobs = %+v", jobs)
	}
	if _, ok := e.s.Job("1"); ok {
		t.Error("Job(unknown) reported a job")
	}
}

func TestJobInstant(t *testing.T) {
	e := newEnv(t, Options{ScheduledFor: -1, InProgressFor: -1})
	ids := e.s.SeedLeadRange(2)
	e.s.FailLeads(ids[0])
	jobID := e.schedule(ids...)
	if !e.s.HasLead(ids[0]) || e.s.HasLead(ids[1]) {
		t.Error("an instant job did not settle its leads at once")
	}
	if got, want := e.status(jobID), (jobCounts{"COMPLETED", 2, 1, 0, 1}); got != want {
		t.Errorf("status = %+v, want %+v", got, want)
	}
}

func TestJobClockBackwards(t *testing.T) {
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(2)
	e.clock.Set(t0.Add(time.Hour))
	e.tok = e.s.IssueToken()
	late := e.schedule(ids[0])
	e.clock.Set(t0)
	early := e.schedule(ids[1])
	e.clock.Advance(3 * time.Minute)
	if got := e.status(early).Status; got != "COMPLETED" {
		t.Errorf("early job = %s, want COMPLETED", got)
	}
	if got := e.status(late).Status; got != "SCHEDULED" {
		t.Errorf("late job = %s, want SCHEDULED", got)
	}
}

func TestStatusCasings(t *testing.T) {
	e := newEnv(t, Options{StatusCasings: []string{"upper", "Title", "lower", "underscore", "upper_underscore"}})
	ids := e.s.SeedLeadRange(6)
	e.s.FailLeads(ids[5])
	var jobs []string
	for _, id := range ids {
		jobs = append(jobs, e.schedule(id))
	}
	want := [][]string{
		{"SCHEDULED", "Scheduled", "scheduled", "scheduled", "SCHEDULED", "SCHEDULED"},
		{"IN PROGRESS", "In progress", "in progress", "in_progress", "IN_PROGRESS", "IN PROGRESS"},
		{"COMPLETED", "Completed", "completed", "completed", "COMPLETED", "FAILED"},
	}
	for phase, advance := range []time.Duration{0, time.Minute, 2 * time.Minute} {
		e.clock.Advance(advance)
		for i, jobID := range jobs {
			if got := e.status(jobID).Status; got != want[phase][i] {
				t.Errorf("phase %d job %d: Status = %q, want %q", phase, i, got, want[phase][i])
			}
		}
	}
	if info, _ := e.s.Job(jobs[1]); info.State != JobCompleted || info.Status != "Completed" {
		t.Errorf("JobInfo = %+v", info)
	}
}

func TestUnknownCasingPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted an unknown casing")
		}
	}()
	New(Options{StatusCasings: []string{"camel"}})
}

func TestSeedLeads(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.SeedLeads("3652397000000500001", "3652397000000500002")
	ids := e.s.SeedLeadRange(3)
	if len(ids) != 3 || slices.Contains(ids, "3652397000000500001") || e.s.LeadCount() != 5 {
		t.Fatalf("SeedLeadRange = %v, LeadCount = %d", ids, e.s.LeadCount())
	}
	for _, id := range ids {
		if !jobIDPattern.MatchString(id) || !e.s.HasLead(id) {
			t.Errorf("lead %q is not a seeded 19-digit id", id)
		}
	}
	// Seeding a converted lead makes it new again, not a duplicate.
	e.schedule("3652397000000500001")
	e.s.SeedLeads("3652397000000500001")
	e.schedule("3652397000000500001")
	if n := e.s.Stats().DuplicateSubmissions; n != 0 {
		t.Errorf("DuplicateSubmissions = %d, want 0", n)
	}
}

func TestDirectory(t *testing.T) {
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(2)
	body := `{"ids":["` + ids[0] + `"],"assign_to":{"id":"3652397000000999001"},"portal_user_type":{"id":"3652397000000999002"}}`
	e.convert("v7", body).wantError(t, 400, "INVALID_DATA", `{"api_name":"assign_to","json_path":"$.assign_to.id"}`)
	e.s.AddUser("3652397000000999001")
	e.convert("v7", body).wantError(t, 400, "INVALID_DATA", `{"api_name":"id","json_path":"$.portal_user_type.id"}`)
	e.s.AddPortalUserType("3652397000000999002")
	if a := e.convert("v7", body); a.status != 202 {
		t.Fatalf("got %d %s", a.status, a.raw)
	}
	for name, id := range map[string]string{"Tasks": "3652397000000002011", "Events": "3652397000000002013", "Calls": "3652397000000002015",
		"Contacts": "3652397000000002003", "Accounts": "3652397000000002001", "Deals": "3652397000000002005", "Nope": ""} {
		if got := e.s.ModuleID(name); got != id {
			t.Errorf("ModuleID(%s) = %q, want %q", name, got, id)
		}
	}
}
