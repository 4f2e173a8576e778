package httpapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
)

// TestLeadOutcomes: a job's leads read SCHEDULED until it ends, then
// CONVERTED, or RETRYING when Zoho did not convert them and they were sent
// again, as read back, by job and by lead.
func TestLeadOutcomes(t *testing.T) {
	r := newRig(t, key, nil)
	ids := r.sim.SeedLeadRange(3)
	r.sim.FailLeads(ids[0])
	res, body := r.do(t, "POST", "/conversions", "application/json", zohotest.Body(ids...), bearer)
	if res.StatusCode != 202 || len(body["jobs"].([]any)) != 1 {
		t.Fatalf("POST: %d %v", res.StatusCode, body)
	}
	jobID := body["jobs"].([]any)[0].(map[string]any)["job_id"].(string)

	states := func(path string) []string {
		t.Helper()
		res, v := r.do(t, "GET", path, "", "", bearer)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", path, res.StatusCode, v)
		}
		var out []string
		for _, l := range v["leads"].([]any) {
			l := l.(map[string]any)
			if l["job_id"] != jobID {
				t.Errorf("GET %s: lead %v", path, l)
			}
			out = append(out, l["state"].(string))
		}
		return out
	}
	if got := states("/conversions/" + jobID); !slices.Equal(got, []string{"SCHEDULED", "SCHEDULED", "SCHEDULED"}) {
		t.Errorf("while the job runs: %v", got)
	}
	if res, v := r.do(t, "GET", "/leads/"+ids[1], "", "", bearer); res.StatusCode != 200 || v["state"] != "SCHEDULED" {
		t.Errorf("GET lead while the job runs: %d %v", res.StatusCode, v)
	}

	checker, err := jobcheck.New(jobcheck.Config{Zoho: r.z.Client, Store: r.store, Now: r.z.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.z.Clock.Advance(5 * time.Minute)
	if rep := checker.Run(context.Background(), jobcheck.Request{}); rep.Finished != 1 || rep.LeadsConverted != 2 {
		t.Fatalf("status run %+v", rep)
	}
	if got := states("/conversions/" + jobID); !slices.Equal(got, []string{"RETRYING", "CONVERTED", "CONVERTED"}) {
		t.Errorf("after the job: %v", got)
	}
	res, v := r.do(t, "GET", "/leads/"+ids[1], "", "", bearer)
	job, _ := v["job"].(map[string]any)
	if res.StatusCode != 200 || v["state"] != "CONVERTED" || v["job_id"] != jobID || job["status"] != "COMPLETED" {
		t.Errorf("GET converted lead: %d %v", res.StatusCode, v)
	}
	// The lead Zoho did not convert is sent again, its attempt counted.
	if res, v := r.do(t, "GET", "/leads/"+ids[0], "", "", bearer); res.StatusCode != 200 || v["state"] != "RETRYING" ||
		v["attempts"] != float64(1) || v["job_id"] != jobID {
		t.Errorf("GET lead sent again: %d %v", res.StatusCode, v)
	}
	for _, path := range []string{"/leads/abc", "/leads/" + strings.Repeat("1", 20)} {
		if res, v := r.do(t, "GET", path, "", "", bearer); res.StatusCode != 400 {
			t.Errorf("GET %s: %d %v", path, res.StatusCode, v)
		}
	}
	if res, _ := r.do(t, "DELETE", "/leads/"+ids[1], "", "", bearer); res.StatusCode != 405 {
		t.Errorf("DELETE lead: %d", res.StatusCode)
	}
	if res, _ := r.do(t, "GET", "/leads/"+ids[1], "", "", nil); res.StatusCode != 401 {
		t.Errorf("GET lead without the key: %d", res.StatusCode)
	}
}
