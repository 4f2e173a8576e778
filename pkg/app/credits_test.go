package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// TestCreditFloorEndToEnd: MIN_ZOHO_CREDITS_LEFT reaches the status
// function from its environment; the figure Zoho sends on a status call
// is shared through the store; below it a sweep is held (its answer says
// so) and the next run reports the floor; an hour without news lifts it
// by itself.
func TestCreditFloorEndToEnd(t *testing.T) {
	clock := zohosim.NewManualClock(time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC))
	sim := zohosim.New(zohosim.Options{Clock: clock, DailyCredits: 20})
	url, stop := sim.Start()
	t.Cleanup(stop)
	cfg, err := config.LoadStatus(func(k string) string {
		return map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
			"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url, "MIN_ZOHO_CREDITS_LEFT": "15"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	deps := app.NewEmbedded(sampleSecret(), clock.Now, io.Discard)
	fn, err := app.NewStatus(cfg, deps.Status())
	if err != nil {
		t.Fatal(err)
	}
	// The org's other integrations spend 12 credits; a job of ours is open.
	tok := sim.IssueToken()
	call := func(method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Zoho-oauthtoken "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for range 11 {
		call("GET", "/crm/v8/__apis", "")
	}
	lead := sim.SeedLeadRange(1)[0]
	var scheduled struct {
		Details struct {
			JobID string `json:"job_id"`
		} `json:"details"`
	}
	body, _ := json.Marshal(map[string]any{"ids": []string{lead}, "assign_to": map[string]string{"id": zohotest.Owner}})
	if err := json.NewDecoder(call("POST", "/crm/v7/Leads/actions/mass_convert", string(body)).Body).Decode(&scheduled); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := clock.Now()
	if err := deps.Jobs.RecordJob(ctx, jobs.Job{ID: scheduled.Details.JobID, State: jobs.Scheduled, LeadIDs: []string{lead},
		Options: `{"assign_to":{"id":"` + zohotest.Owner + `"}}`, CreatedAt: now, UpdatedAt: now, NextCheckAt: now}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := fn.Invoke(ctx, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if seen, _ := deps.Jobs.LoadCredits(ctx); seen.Left < 0 || seen.Left >= 15 {
		t.Fatalf("shared figure %+v after a status call past half the credits", seen)
	}
	res, err := fn.Invoke(ctx, json.RawMessage(`{"sweep":"nightly"}`))
	if held, ok := res.(app.SweepHeld); err != nil || !ok || held.Floor != 15 {
		t.Fatalf("sweep below the floor: %#v, %v", res, err)
	}
	clock.Advance(time.Minute)
	res, _ = fn.Invoke(ctx, json.RawMessage(`{}`))
	if rep, ok := res.(jobcheck.Report); !ok || !rep.BelowCreditFloor {
		t.Fatalf("status run below the floor: %#v", res)
	}
	clock.Advance(61 * time.Minute)
	if _, err := fn.Invoke(ctx, json.RawMessage(`{"sweep":"nightly"}`)); err == nil || !strings.Contains(err.Error(), `"nightly" is not defined`) {
		t.Fatalf("an hour later the sweep should be run (and found undefined): %v", err)
	}
}
