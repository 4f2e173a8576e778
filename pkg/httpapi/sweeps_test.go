package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/httpapi"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/outcome"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// TestGetSweep: GET /sweeps/{name} answers the definition and the last
// runs, newest first, with their leads' outcomes read from the runs'
// requests; a name that cannot be a sweep's is 400, an unknown sweep 404.
func TestGetSweep(t *testing.T) {
	r := newRig(t, key, nil, func(c *httpapi.Config) { c.Sweeps = c.Jobs.(outcome.Runs) }) // the same store
	ctx := context.Background()
	t0 := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	s := sweep.Sweep{Name: "qualified-web", Schedule: "cron(0 2 * * ? *)", TimeZone: "Europe/Berlin",
		Condition: "Lead_Status = 'Qualified'", Options: json.RawMessage(`{"Deals":{"Deal_Name":"Web"}}`), MaxLeads: 1000,
		Enabled: true, CreatedAt: t0}
	if err := r.store.PutSweep(ctx, s); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"2026-11-27T02:00:00Z", "2026-11-28T02:00:00Z"} {
		run := sweep.Run{Sweep: s.Name, ID: id, StartedAt: t0.Add(time.Duration(i-1) * 24 * time.Hour), Version: 1}
		if err := r.store.StartRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		run.Matched, run.SkippedConverted, run.Queued, run.Messages = 3, 1, 2, 1
		run.End, run.EndedAt = sweep.EndDone, run.StartedAt.Add(time.Minute)
		if i == 1 {
			run.End, run.Reason = sweep.EndError, "selecting leads: NO_PERMISSION"
		}
		if err := r.store.SaveRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		leads := []string{"1001", "1002"}
		if err := r.store.RecordRequest(ctx, jobs.Request{ID: sweep.MessageRequestID(s.Name, id, 1), LeadIDs: leads, CreatedAt: run.StartedAt}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.store.FailRequest(ctx, sweep.MessageRequestID(s.Name, "2026-11-28T02:00:00Z", 1), "INVALID_DATA", "Deal_Name"); err != nil {
		t.Fatal(err)
	}

	res, v := r.do(t, "GET", "/sweeps/qualified-web", "", "", bearer)
	if res.StatusCode != 200 {
		t.Fatalf("GET: %d %v", res.StatusCode, v)
	}
	if v["name"] != "qualified-web" || v["condition"] != s.Condition || v["max_leads"] != 1000.0 || v["enabled"] != true {
		t.Errorf("definition: %v", v)
	}
	runs := v["runs"].([]any)
	if len(runs) != 2 {
		t.Fatalf("runs: %v", runs)
	}
	newest, oldest := runs[0].(map[string]any), runs[1].(map[string]any)
	if newest["run_id"] != "2026-11-28T02:00:00Z" || newest["end"] != "error" || newest["reason"] != "selecting leads: NO_PERMISSION" ||
		newest["matched"] != 3.0 || newest["skipped_converted"] != 1.0 || newest["queued"] != 2.0 {
		t.Errorf("newest run: %v", newest)
	}
	for _, tc := range []struct {
		run           map[string]any
		field         string
		want, pending float64
	}{
		{newest, "rejected", 2, 0}, // its message was dead-lettered
		{oldest, "pending", 2, 2},  // queued, not yet converted
	} {
		o := tc.run["outcomes"].(map[string]any)
		if o[tc.field] != tc.want || o["pending"] != tc.pending || o["messages_read"] != 1.0 || o["partial"] != nil {
			t.Errorf("run %v outcomes: %v", tc.run["run_id"], o)
		}
	}
	for _, leak := range []string{"lease_owner", "cursor", "version"} {
		if _, ok := newest[leak]; ok {
			t.Errorf("a run shows its %s", leak)
		}
	}

	for _, tc := range []struct {
		method, path string
		header       map[string]string
		status       int
	}{
		{"GET", "/sweeps/nope", bearer, 404},
		{"GET", "/sweeps/a.b", bearer, 400},
		{"GET", "/sweeps/" + strings.Repeat("n", 65), bearer, 400},
		{"POST", "/sweeps/qualified-web", bearer, 405},
		{"GET", "/sweeps/qualified-web", nil, 401},
	} {
		if res, v := r.do(t, tc.method, tc.path, "", "", tc.header); res.StatusCode != tc.status {
			t.Errorf("%s %s: %d %v, want %d", tc.method, tc.path, res.StatusCode, v, tc.status)
		}
	}
}

// TestGetSweepWithoutSweeps: an API without a sweep store knows no sweep.
func TestGetSweepWithoutSweeps(t *testing.T) {
	r := newRig(t, key, nil)
	if res, v := r.do(t, "GET", "/sweeps/qualified-web", "", "", bearer); res.StatusCode != 404 {
		t.Errorf("GET: %d %v, want 404", res.StatusCode, v)
	}
}
