package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/rie"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestBootstrapThroughRIE builds the function as it is deployed and invokes
// it through the Runtime Interface Emulator with the sample events, against
// moto and the Zoho simulator: the schedule checks the due job, job_ids the
// two named ones.
func TestBootstrapThroughRIE(t *testing.T) {
	cfg := awstest.Require(t)
	bin := rie.Build(t, "./functions/status")
	tableName := awstest.CreateTableFromTemplate(t, cfg, "JobsTable")
	secretARN := awstest.CreateSecret(t, cfg, zohotest.SecretJSON(""))
	clock := zohosim.NewManualClock(time.Now())
	sim := zohosim.New(zohosim.Options{Clock: clock, StatusCasings: []string{"title"}})
	url, stop := sim.Start()
	t.Cleanup(stop)

	// Three jobs, as the convert function records them; the simulator
	// numbers them from 3652397000009835001, the ids of events/status-job-ids.json.
	// Only the third is due.
	client, err := zoho.New(zoho.Config{Tokens: staticToken(sim.IssueToken()), APIURL: url})
	if err != nil {
		t.Fatal(err)
	}
	store := table.NewJobStore(table.NewClient(cfg), tableName)
	now := time.Now()
	var ids []string
	for k, lead := range sim.SeedLeadRange(3) {
		id, err := client.MassConvert(t.Context(), zohotest.Request(lead))
		if err != nil {
			t.Fatal(err)
		}
		next := now.Add(time.Hour)
		if k == 2 {
			next = now.Add(-time.Minute)
		}
		j := jobs.Job{ID: id, State: jobs.Scheduled, LeadIDs: []string{lead}, CreatedAt: now, UpdatedAt: now, NextCheckAt: next}
		if err := store.RecordJob(t.Context(), j, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	clock.Advance(10 * time.Minute) // Zoho has finished them

	fn := rie.Start(t, bin, "JOBS_TABLE="+tableName, "TOKEN_KEY_ID="+awstest.CreateKey(t, cfg), "ZOHO_SECRET_ID="+secretARN,
		"ZOHO_ACCOUNTS_URL="+url, "ZOHO_API_URL="+url, "AWS_LAMBDA_FUNCTION_TIMEOUT=60")
	for _, tc := range []struct {
		event string
		want  jobcheck.Report
		done  []string
	}{
		{"schedule.json", jobcheck.Report{Checked: 1, Changed: 1, Finished: 1, ReadBack: 1, ReadBackCalls: 1, LeadsConverted: 1}, ids[2:]},
		{"status-job-ids.json", jobcheck.Report{Checked: 2, Changed: 2, Finished: 2, ReadBack: 2, ReadBackCalls: 2, LeadsConverted: 2}, ids},
	} {
		var rep jobcheck.Report
		if out := fn.Invoke(t, testkit.SampleEvent(t, tc.event)); json.Unmarshal(out, &rep) != nil {
			t.Fatalf("%s: answer %s", tc.event, out)
		}
		rep.DurationMS = 0
		if rep != tc.want {
			t.Fatalf("%s: report %+v, want %+v", tc.event, rep, tc.want)
		}
		for _, id := range tc.done {
			if j, err := store.Job(t.Context(), id); err != nil || j.State != jobs.Completed || j.ZohoStatus != "Completed" {
				t.Fatalf("%s: job %s is %+v, %v", tc.event, id, j, err)
			}
		}
	}
	if n, err := store.CountDue(t.Context(), time.Now().Add(2*time.Hour), ""); err != nil || n != 0 {
		t.Fatalf("%d jobs still open, %v", n, err)
	}
	// A malformed request is the one thing the function fails on.
	var fnErr struct{ ErrorMessage, ErrorType string }
	if out := fn.Invoke(t, []byte(`{"job_ids":["not-an-id"]}`)); json.Unmarshal(out, &fnErr) != nil ||
		!strings.Contains(fnErr.ErrorMessage, "job_ids[0]") {
		t.Fatalf("bad job_ids answered %s", out)
	}
	if out := fn.Output(); !strings.Contains(out, `"RunDuration"`) || !strings.Contains(out, `"JobsFinished"`) {
		t.Fatalf("no EMF metrics in the function's output:\n%s", out)
	}
}

// staticToken hands out one access token the simulator issued.
type staticToken string

func (s staticToken) Token(context.Context) (zoho.Token, error) {
	return zoho.Token{AccessToken: string(s), Expiry: time.Now().Add(time.Hour)}, nil
}

func (staticToken) Invalidate(context.Context, zoho.Token) error { return nil }
