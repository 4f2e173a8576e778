package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/credits"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// TestSweepEndToEnd: the status function runs a sweep over qualified
// leads, some converted already, some claimed, some of another status;
// it queues exactly the convertible ones, and the convert function,
// delivered the queue, converts them in ceil(n/50) mass_convert calls.
// The same run asked again queues nothing.
func TestSweepEndToEnd(t *testing.T) {
	const convertible, converted, claimed, other = 437, 40, 23, 30
	clock := zohosim.NewManualClock(time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC))
	sim := zohosim.New(zohosim.Options{Clock: clock})
	url, stop := sim.Start()
	t.Cleanup(stop)
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
		"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url, "MAX_WAIT_SECONDS": "60", "BATCHING_WINDOW_SECONDS": "20",
		"DEFAULT_OWNER_ID": zohotest.Owner}
	convertCfg, err := config.LoadConvert(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	statusCfg, err := config.LoadStatus(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	deps := app.NewEmbedded(sampleSecret(), clock.Now, io.Discard)
	convertFn, err := app.NewConvert(convertCfg, deps.Convert())
	if err != nil {
		t.Fatal(err)
	}
	statusFn, err := app.NewStatus(statusCfg, deps.Status())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// The leads, interleaved by id.
	ids := sim.SeedLeadRange(convertible + converted + claimed + other)
	var want, conv, held []string
	for i, id := range ids {
		status := "Qualified"
		switch {
		case i%5 == 1 && len(conv) < converted:
			conv = append(conv, id)
		case i%5 == 2 && len(held) < claimed:
			held = append(held, id)
		case i%5 == 3 && other > 0 && i/5 < other:
			status = "Contacted"
		default:
			want = append(want, id)
		}
		sim.SetLeadFields(id, map[string]any{"Lead_Status": status, "Lead_Source": "Web"})
	}
	if len(want) != convertible {
		t.Fatalf("seeded %d convertible leads, want %d", len(want), convertible)
	}
	// Converted by someone else (a Zoho workflow, a person): no claim of ours.
	tok := sim.IssueToken()
	for c := range slices.Chunk(conv, 50) {
		body, _ := json.Marshal(map[string]any{"ids": c, "assign_to": map[string]string{"id": zohotest.Owner}})
		req, _ := http.NewRequest("POST", url+"/crm/v7/Leads/actions/mass_convert", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Zoho-oauthtoken "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("converting beforehand: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	clock.Advance(5 * time.Minute)
	// Claimed by a request under way.
	if got, _, err := deps.Jobs.Claim(ctx, "another-invocation", held, clock.Now(), clock.Now().Add(time.Hour)); err != nil || len(got) != claimed {
		t.Fatalf("claiming: %v %v", got, err)
	}

	s := sweep.Sweep{Name: "qualified-web", Schedule: "cron(0 2 * * ? *)", TimeZone: "Europe/Berlin",
		Condition: "Lead_Status = 'Qualified' and Lead_Source = 'Web'",
		Options:   json.RawMessage(`{"Deals":{"Deal_Name":"Web lead","Stage":"Qualification","Closing_Date":"2026-12-31"}}`), Enabled: true}
	if err := s.Check(&convert.Decoder{APIVersion: "v7", DefaultOwner: statusCfg.DefaultOwner}); err != nil {
		t.Fatal(err)
	}
	if err := deps.Jobs.PutSweep(ctx, s); err != nil {
		t.Fatal(err)
	}
	sim.ResetStats()

	dry := invokeSweep(t, statusFn, `{"sweep":"qualified-web","dry_run":true}`)
	if !dry.DryRun || dry.Queued != convertible || deps.Queue.Len() != 0 {
		t.Fatalf("dry run: %+v, %d messages queued", dry, deps.Queue.Len())
	}

	rep := invokeSweep(t, statusFn, `{"sweep":"qualified-web","run":"2026-11-28T02:00:00Z"}`)
	if rep.End != sweep.EndDone || rep.Queued != convertible || rep.SkippedConverted != converted ||
		rep.SkippedClaimed != claimed || rep.Matched != convertible+converted+claimed || rep.Messages != 1 {
		t.Fatalf("run: %+v", rep)
	}
	again := invokeSweep(t, statusFn, `{"sweep":"qualified-web","run":"2026-11-28T02:00:00Z"}`)
	if !again.Repeated || deps.Queue.Len() != 1 {
		t.Fatalf("the same run again: %+v, %d messages", again, deps.Queue.Len())
	}

	calls := sim.Stats().Calls[zohosim.EndpointMassConvert]
	for range 3 { // the messages, then the accumulator's wake-up
		if _, err := deps.Deliver(ctx, convertFn, 10); err != nil {
			t.Fatal(err)
		}
		clock.Advance(90 * time.Second)
	}
	calls = sim.Stats().Calls[zohosim.EndpointMassConvert] - calls
	if wantCalls := (convertible + 49) / 50; calls != wantCalls {
		t.Errorf("mass_convert calls %d, want %d", calls, wantCalls)
	}
	var sent []string
	for _, j := range sim.Jobs() {
		sent = append(sent, j.IDs...)
	}
	slices.Sort(sent)
	// The jobs include those that converted conv beforehand.
	wantSent := slices.Sorted(slices.Values(slices.Concat(want, conv)))
	if !slices.Equal(sent, wantSent) {
		t.Errorf("Zoho was sent %d leads, want the %d convertible (and the %d converted beforehand)", len(sent), convertible, converted)
	}
}

func invokeSweep(t *testing.T, fn *app.Status, event string) sweep.Report {
	t.Helper()
	res, err := fn.Invoke(context.Background(), json.RawMessage(event))
	if err != nil {
		t.Fatalf("%s: %v", event, err)
	}
	rep, ok := res.(sweep.Report)
	if !ok {
		t.Fatalf("%s answered %T", event, res)
	}
	return rep
}

// TestSweepEventRefusals: a malformed event or an unknown sweep is an
// error naming the problem.
func TestSweepEventRefusals(t *testing.T) {
	r := newStatusOnEmbedded(t)
	for event, want := range map[string]string{
		`{"sweep": 5}`:                       `"sweep" must name a sweep`,
		`{"sweep": "a#b"}`:                   `"sweep" must name a sweep`,
		`{"sweep": "x", "dry_run": "yes"}`:   `"dry_run" must be true or false`,
		`{"sweep": "x", "run": "a/b"}`:       `"run" must be a run id`,
		`{"sweep": "x", "colour": "red"}`:    `unknown key "colour"`,
		`{"sweep": "nope"}`:                  `sweep "nope" is not defined`,
		`{"sweep": "nope", "dry_run": true}`: `sweep "nope" is not defined`,
	} {
		_, err := r.Invoke(context.Background(), json.RawMessage(event))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", event, err, want)
		}
	}
}

func newStatusOnEmbedded(t *testing.T) *app.Status {
	t.Helper()
	clock := zohosim.NewManualClock(time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC))
	sim := zohosim.New(zohosim.Options{Clock: clock})
	url, stop := sim.Start()
	t.Cleanup(stop)
	cfg, err := config.LoadStatus(func(k string) string {
		return map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
			"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	fn, err := app.NewStatus(cfg, app.NewEmbedded(sampleSecret(), clock.Now, io.Discard).Status())
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

// stoppedRun starts a sweep "nightly" over leads matching leads and runs
// its tick with a deadline the run reaches on the clock (every reading
// moves it a second), so that the run stops part way. env adds to the
// status function's environment.
func stoppedRun(t *testing.T, leads int, env map[string]string) (*app.Status, *app.Embedded, *zohosim.ManualClock, sweep.Report) {
	t.Helper()
	clock := zohosim.NewManualClock(time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC))
	sim := zohosim.New(zohosim.Options{Clock: clock})
	url, stop := sim.Start()
	t.Cleanup(stop)
	vars := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
		"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url, "DEFAULT_OWNER_ID": zohotest.Owner}
	maps.Copy(vars, env)
	cfg, err := config.LoadStatus(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	ticking := func() time.Time { clock.Advance(time.Second); return clock.Now() }
	deps := app.NewEmbedded(sampleSecret(), ticking, io.Discard)
	fn, err := app.NewStatus(cfg, deps.Status())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range sim.SeedLeadRange(leads) {
		sim.SetLeadFields(id, map[string]any{"Lead_Status": "Qualified"})
	}
	ctx := context.Background()
	s := sweep.Sweep{Name: "nightly", Schedule: "cron(0 2 * * ? *)", Condition: "Lead_Status = 'Qualified'",
		MaxLeads: sweep.MaxMaxLeads, Enabled: true}
	if err := s.Check(&convert.Decoder{APIVersion: "v7", DefaultOwner: cfg.DefaultOwner}); err != nil {
		t.Fatal(err)
	}
	if err := deps.Jobs.PutSweep(ctx, s); err != nil {
		t.Fatal(err)
	}
	withDeadline, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	res, err := fn.Invoke(withDeadline, json.RawMessage(`{"sweep":"nightly","run":"2026-11-28T02:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	first := res.(sweep.Report)
	if first.Stopped != sweep.StoppedDeadline || first.End != "" || first.Queued == 0 || first.Queued >= leads {
		t.Fatalf("the tick's invocation: %+v, want stopped at the deadline with part of the leads queued", first)
	}
	return fn, deps, clock, first
}

// TestScheduledInvocationFinishesAStoppedRun: a run that stops at its
// deadline is finished by the status function's next regular invocation
// (the schedule's event, not the sweep's), which queues each remaining
// lead once and starts no run of its own.
func TestScheduledInvocationFinishesAStoppedRun(t *testing.T) {
	const leads = 3000
	fn, deps, _, _ := stoppedRun(t, leads, nil)
	ctx := context.Background()

	// The regular invocation finishes it.
	if _, err := fn.Invoke(ctx, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	run, err := deps.Jobs.SweepRun(ctx, "nightly", "2026-11-28T02:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if run.End != sweep.EndDone || run.Queued != leads || run.Invocations != 2 {
		t.Fatalf("after the regular invocation: %+v, want done with %d queued in 2 invocations", run, leads)
	}
	got := queuedLeads(t, deps)
	if len(got) != leads {
		t.Fatalf("%d leads queued, want %d", len(got), leads)
	}
	// Each message is a request of the run, numbered in order, which
	// records its leads: how the run's outcomes are followed.
	byReq := map[string][]string{}
	for lead, req := range got {
		byReq[req] = append(byReq[req], lead)
	}
	if len(byReq) != run.Messages {
		t.Fatalf("%d request ids over %d messages", len(byReq), run.Messages)
	}
	for n := 1; n <= run.Messages; n++ {
		id := sweep.MessageRequestID("nightly", run.ID, n)
		rec, err := deps.Jobs.Request(ctx, id)
		if err != nil || len(rec.LeadIDs) != len(byReq[id]) {
			t.Fatalf("request %s: %d leads recorded (%v), %d carried", id, len(rec.LeadIDs), err, len(byReq[id]))
		}
	}

	// The next one has nothing to go on with, and starts nothing.
	if _, err := fn.Invoke(ctx, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if sw, err := deps.Jobs.Sweep(ctx, "nightly"); err != nil || sw.LastRun != run.ID || sw.OpenRun != "" {
		t.Fatalf("after another regular invocation: %+v %v, want no new run", sw, err)
	}
	if deps.Queue.Len() != 0 {
		t.Fatalf("%d more messages queued", deps.Queue.Len())
	}
}

// queuedLeads takes every message off the conversion queue and returns
// their leads, failing on a lead queued twice.
func queuedLeads(t *testing.T, deps *app.Embedded) map[string]string {
	t.Helper()
	byLead := map[string]string{} // lead -> its message's request id
	for {
		raw, ids := deps.Queue.Receive(10)
		if raw == nil {
			return byLead
		}
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		for _, rec := range ev.Records {
			req, err := convert.DecodeJSON([]byte(rec.Body), "v7")
			if err != nil {
				t.Fatalf("a queued message does not decode: %v", err)
			}
			reqID := ""
			if a, ok := rec.MessageAttributes["request_id"]; ok && a.StringValue != nil {
				reqID = *a.StringValue
			}
			for _, id := range req.IDs {
				if _, dup := byLead[id]; dup {
					t.Fatalf("lead %s queued twice", id)
				}
				byLead[id] = reqID
			}
		}
		deps.Queue.Delete(ids, events.SQSEventResponse{})
	}
}

// published records the run ends the status function announces.
type published struct{ events []sweep.RunEvent }

func (p *published) PublishRunEnded(_ context.Context, ev sweep.RunEvent) error {
	p.events = append(p.events, ev)
	return nil
}

// TestSweepRunEndIsAnnouncedAndCounted: a run Zoho refuses ends in error,
// is announced once with its reason and counted in SweepRunsFailed per
// sweep and without the sweep (the one alarm's metric); the same tick
// delivered again is neither announced nor counted again.
func TestSweepRunEndIsAnnouncedAndCounted(t *testing.T) {
	clock := zohosim.NewManualClock(time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC))
	sim := zohosim.New(zohosim.Options{Clock: clock})
	url, stop := sim.Start()
	t.Cleanup(stop)
	cfg, err := config.LoadStatus(func(k string) string {
		return map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
			"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url, "DEFAULT_OWNER_ID": zohotest.Owner}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	deps := app.NewEmbedded(sampleSecret(), clock.Now, &out)
	pub := &published{}
	sd := deps.Status()
	sd.SweepEvents = pub
	fn, err := app.NewStatus(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	s := sweep.Sweep{Name: "nightly", Schedule: "cron(0 2 * * ? *)", Condition: "Lead_Status = 'Qualified'", Enabled: true}
	if err := s.Check(&convert.Decoder{APIVersion: "v7", DefaultOwner: cfg.DefaultOwner}); err != nil {
		t.Fatal(err)
	}
	if err := deps.Jobs.PutSweep(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	sim.Script(zohosim.EndpointCOQL, zohosim.Fault{Kind: zohosim.NoPermission})

	const event = `{"sweep":"nightly","run":"2026-11-28T02:00:00Z"}`
	rep := invokeSweep(t, fn, event)
	if rep.End != sweep.EndError || !rep.EndedNow {
		t.Fatalf("run: %+v, want ended in error", rep)
	}
	if again := invokeSweep(t, fn, event); !again.Repeated || again.EndedNow {
		t.Fatalf("the tick again: %+v", again)
	}
	if len(pub.events) != 1 {
		t.Fatalf("%d events, want 1: %+v", len(pub.events), pub.events)
	}
	want := sweep.RunEvent{Sweep: "nightly", RunID: "2026-11-28T02:00:00Z", End: sweep.EndError, Reason: rep.Reason,
		Counts: sweep.Counts{COQLCalls: 1}, StartedAt: rep.StartedAt, EndedAt: rep.EndedAt}
	if got := pub.events[0]; !reflect.DeepEqual(got, want) || got.Reason == "" {
		t.Errorf("event\n got %+v\nwant %+v", got, want)
	}
	sums := testkit.EMFSums(t, out.Bytes())
	if sums["SweepRunsFailed"] != 1 || sums["SweepRunsFailed/nightly"] != 1 {
		t.Errorf("SweepRunsFailed %v, per sweep %v; want 1 each", sums["SweepRunsFailed"], sums["SweepRunsFailed/nightly"])
	}
}

// TestStoppedRunWaitsBelowTheCreditFloor: the regular invocation leaves a
// stopped run as it is while the org is below the credit floor (a sweep
// is optional work), and finishes it once the figure is above it again.
func TestStoppedRunWaitsBelowTheCreditFloor(t *testing.T) {
	const leads = 3000
	fn, deps, clock, _ := stoppedRun(t, leads, map[string]string{"MIN_ZOHO_CREDITS_LEFT": "1000"})
	ctx := context.Background()
	stopped, err := deps.Jobs.SweepRun(ctx, "nightly", "2026-11-28T02:00:00Z")
	if err != nil {
		t.Fatal(err)
	}

	// Zoho said 10 credits are left: below the floor of 1,000.
	if err := deps.Jobs.SaveCredits(ctx, credits.Seen{Left: 10, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := fn.Invoke(ctx, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if run, err := deps.Jobs.SweepRun(ctx, "nightly", stopped.ID); err != nil || run.Queued != stopped.Queued || run.End != "" {
		t.Fatalf("below the floor the run went on: %+v %v (before: %d queued)", run, err, stopped.Queued)
	}

	// Above it again, the next regular invocation finishes the run.
	if err := deps.Jobs.SaveCredits(ctx, credits.Seen{Left: 5000, At: clock.Now().Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute) // past the floor's cached reading
	if _, err := fn.Invoke(ctx, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if run, err := deps.Jobs.SweepRun(ctx, "nightly", stopped.ID); err != nil || run.End != sweep.EndDone || run.Queued != leads {
		t.Fatalf("above the floor: %+v %v, want done with %d queued", run, err, leads)
	}
}
