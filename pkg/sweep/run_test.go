package sweep_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// queue records the messages a run sends.
type queue struct {
	mu   sync.Mutex
	msgs []string
	reqs []string // each message's request id
	fail error
}

func (q *queue) Enqueue(_ context.Context, body, requestID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	q.msgs, q.reqs = append(q.msgs, body), append(q.reqs, requestID)
	return nil
}

// ids decodes every message as the convert function would and returns
// their ids in order, failing on a duplicate or a message over 1,000 ids.
func (q *queue) ids(t *testing.T) []string {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	var all []string
	seen := map[string]bool{}
	for _, m := range q.msgs {
		req, err := convert.DecodeJSON([]byte(m), "v7")
		if err != nil {
			t.Fatalf("a queued message does not decode: %v\n%s", err, m)
		}
		if req.AssignTo == nil || req.AssignTo.ID != zohotest.Owner || req.Deals == nil {
			t.Fatalf("a queued message without the sweep's options: %s", m)
		}
		for _, id := range req.IDs {
			if seen[id] {
				t.Fatalf("lead %s queued twice", id)
			}
			seen[id] = true
		}
		all = append(all, req.IDs...)
	}
	return all
}

// rig is a simulator with leads, a store, a queue and a runner.
type rig struct {
	t      *testing.T
	z      *zohotest.Zoho
	st     stores
	claims sweep.Claims
	q      *queue
	// convertible are the leads a run should queue.
	convertible []string
	// onRead runs before every Get Records call (the deadline test's clock).
	onRead func()
}

type zohoHook struct {
	*zoho.Client
	r *rig
}

func (h zohoHook) GetLeads(ctx context.Context, ids []string) ([]zoho.Lead, error) {
	if h.r.onRead != nil {
		h.r.onRead()
	}
	return h.Client.GetLeads(ctx, ids)
}

const options = `{"Deals":{"Deal_Name":"Nightly","Stage":"Qualification","Closing_Date":"2026-12-31"}}`

// newRig seeds qualified leads: n convertible, converted already, claimed
// already, plus others of another status, interleaved by id.
func newRig(t *testing.T, st stores, claims sweep.Claims, opts zohosim.Options, n, converted, claimed, other int) *rig {
	t.Helper()
	if st == nil {
		m := memstore.New()
		st, claims = m, m
	}
	z := zohotest.Start(t, opts, 2)
	r := &rig{t: t, z: z, st: st, claims: claims, q: &queue{}}
	ctx := context.Background()
	total := n + converted + claimed + other
	ids := z.Sim.SeedLeadRange(total)
	var conv, claim []string
	for i, id := range ids {
		status := "Qualified"
		switch {
		case i%4 == 3 && len(conv) < converted:
			conv = append(conv, id)
		case i%4 == 2 && len(claim) < claimed:
			claim = append(claim, id)
		case i%4 == 1 && other > 0:
			other--
			status = "Contacted"
		default:
			r.convertible = append(r.convertible, id)
		}
		z.Sim.SetLeadFields(id, map[string]any{"Lead_Status": status, "Lead_Source": "Web"})
	}
	if len(r.convertible) != n {
		t.Fatalf("seeded %d convertible leads, want %d", len(r.convertible), n)
	}
	for c := range slices.Chunk(conv, 50) {
		if _, err := z.Client.MassConvert(ctx, zohotest.Request(c...)); err != nil {
			t.Fatal(err)
		}
	}
	z.Clock.Advance(10 * time.Minute) // the jobs end: those leads are converted
	if len(claim) > 0 {
		js := claims.(jobs.Store)
		if got, _, err := js.Claim(ctx, "another-invocation", claim, z.Clock.Now(), z.Clock.Now().Add(time.Hour)); err != nil || len(got) != len(claim) {
			t.Fatalf("claiming: %v %v", got, err)
		}
	}
	r.define("nightly", sweep.MaxMaxLeads)
	return r
}

func (r *rig) define(name string, maxLeads int) {
	r.t.Helper()
	s := sweep.Sweep{Name: name, Schedule: "cron(0 2 * * ? *)", TimeZone: "Europe/Berlin",
		Condition: "Lead_Status = 'Qualified' and Lead_Source = 'Web'", Options: json.RawMessage(options), MaxLeads: maxLeads, Enabled: true}
	if err := s.Check(decoder()); err != nil {
		r.t.Fatal(err)
	}
	if err := r.st.PutSweep(context.Background(), s); err != nil {
		r.t.Fatal(err)
	}
}

func decoder() *convert.Decoder {
	return &convert.Decoder{APIVersion: "v7", DefaultOwner: zohotest.Owner}
}

func (r *rig) runner(reserve time.Duration) *sweep.Runner {
	r.t.Helper()
	reqs, _ := r.claims.(sweep.Requests)
	run, err := sweep.NewRunner(sweep.Config{Zoho: zohoHook{r.z.Client, r}, Store: r.st, Claims: r.claims, Queue: r.q,
		Requests: reqs, Decoder: decoder(), Now: r.z.Clock.Now, Reserve: reserve})
	if err != nil {
		r.t.Fatal(err)
	}
	return run
}

func (r *rig) run(name string, o sweep.Options) sweep.Report {
	r.t.Helper()
	rep, err := r.runner(0).Run(context.Background(), name, o)
	if err != nil {
		r.t.Fatalf("run: %v", err)
	}
	return rep
}

// TestRunQueuesTheConvertible: a run over 2,300 matching leads (COQL
// pages of 2,000) queues exactly those neither converted nor claimed, in
// messages of at most 1,000 ids with the sweep's options.
func TestRunQueuesTheConvertible(t *testing.T) {
	forEachStore(t, func(t *testing.T, st stores, claims sweep.Claims) {
		r := newRig(t, st, claims, zohosim.Options{}, 2150, 100, 50, 100)
		rep := r.run("nightly", sweep.Options{RunID: "2026-03-01T02:00:00Z"})
		if got := r.q.ids(t); !slices.Equal(got, r.convertible) {
			t.Fatalf("queued %d leads, want the %d convertible", len(got), len(r.convertible))
		}
		want := sweep.Report{Sweep: "nightly", RunID: "2026-03-01T02:00:00Z", End: sweep.EndDone,
			EndedNow: true, QueuedNow: 2150,
			Counts: sweep.Counts{Matched: 2300, SkippedConverted: 100, SkippedClaimed: 50, Queued: 2150, Messages: 3, COQLCalls: 2, ReadCalls: 46}}
		checkReport(t, rep, want)
		if st := r.z.Sim.Stats(); st.Calls[zohosim.EndpointCOQL] != 2 || st.Calls[zohosim.EndpointGetLeads] != 46 {
			t.Errorf("Zoho calls: %v", st.Calls)
		}
		stored, err := st.SweepRun(context.Background(), "nightly", rep.RunID)
		if err != nil || stored.End != sweep.EndDone || stored.Queued != 2150 || stored.LeaseOwner != "" {
			t.Errorf("stored run: %+v %v", stored, err)
		}
		if s, _ := st.Sweep(context.Background(), "nightly"); s.OpenRun != "" || s.LastRun != rep.RunID {
			t.Errorf("sweep after the run: %+v", s)
		}
	})
}

func checkReport(t *testing.T, got, want sweep.Report) {
	t.Helper()
	g := got
	g.StartedAt, g.EndedAt, g.Cursor, g.Sample = time.Time{}, time.Time{}, "", nil
	if !reflect.DeepEqual(g, want) {
		t.Errorf("report\n got %+v\nwant %+v", g, want)
	}
}

// TestRunTwiceQueuesOnce: the same run id (a schedule's tick delivered
// twice) queues nothing the second time; a new run finds the leads the
// first queued claimed once the convert function has them.
func TestRunTwiceQueuesOnce(t *testing.T) {
	r := newRig(t, nil, nil, zohosim.Options{}, 120, 10, 0, 0)
	first := r.run("nightly", sweep.Options{RunID: "tick-1"})
	second := r.run("nightly", sweep.Options{RunID: "tick-1"})
	if !second.Repeated || second.Queued != first.Queued || second.End != sweep.EndDone {
		t.Errorf("the run again: %+v", second)
	}
	if got := r.q.ids(t); len(got) != 120 {
		t.Errorf("queued %d, want 120 once", len(got))
	}
}

// TestRunNearItsDeadlineGoesOn: an invocation that nears its deadline
// stores its cursor and gives the run up; the next goes on from there, and
// together they queue every convertible lead once. While the first holds
// the run, another invocation queues nothing.
func TestRunNearItsDeadlineGoesOn(t *testing.T) {
	forEachStore(t, func(t *testing.T, st stores, claims sweep.Claims) {
		r := newRig(t, st, claims, zohosim.Options{}, 900, 60, 40, 0)
		// Each Get Records call takes a simulated minute; an invocation has
		// ten, and stops once less than one is left.
		ctx := context.Background()
		var busy sweep.Report
		calls := 0
		r.onRead = func() {
			r.z.Clock.Advance(time.Minute)
			if calls++; calls == 3 {
				// A second invocation while the first holds the run.
				var err error
				if busy, err = r.runner(time.Minute).Run(ctx, "nightly", sweep.Options{Deadline: r.z.Clock.Now().Add(10 * time.Minute)}); err != nil {
					t.Errorf("second invocation: %v", err)
				}
			}
		}
		deadline := r.z.Clock.Now().Add(10 * time.Minute)
		first, err := r.runner(time.Minute).Run(ctx, "nightly", sweep.Options{Deadline: deadline})
		if err != nil {
			t.Fatal(err)
		}
		if busy.Stopped != "busy" || busy.Queued != 0 {
			t.Errorf("the invocation meanwhile: %+v", busy)
		}
		if first.Stopped != "deadline" || first.End != "" || first.ReadCalls != 10 || first.Queued == 0 {
			t.Fatalf("first invocation: %+v", first)
		}
		runs := 1
		for rep := first; rep.End == ""; runs++ {
			if runs > 5 {
				t.Fatalf("the run never ended: %+v", rep)
			}
			rep, err = r.runner(time.Minute).Run(ctx, "nightly", sweep.Options{Deadline: r.z.Clock.Now().Add(10 * time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if rep.RunID != first.RunID {
				t.Fatalf("invocation %d made a new run %s", runs+1, rep.RunID)
			}
			first = rep
		}
		if got := r.q.ids(t); !slices.Equal(got, r.convertible) {
			t.Fatalf("queued %d leads, want the %d convertible", len(got), len(r.convertible))
		}
		if first.Matched != 1000 || first.SkippedConverted != 60 || first.SkippedClaimed != 40 || first.Queued != 900 || first.End != sweep.EndDone {
			t.Errorf("final report: %+v", first)
		}
		stored, _ := st.SweepRun(ctx, "nightly", first.RunID)
		if stored.Invocations != runs {
			t.Errorf("invocations %d, want %d", stored.Invocations, runs)
		}
	})
}

// TestRunStopsAtMaxLeads: a run queues max_leads and counts the rest.
func TestRunStopsAtMaxLeads(t *testing.T) {
	r := newRig(t, nil, nil, zohosim.Options{}, 300, 0, 0, 0)
	r.define("capped", 120)
	rep := r.run("capped", sweep.Options{})
	if got := r.q.ids(t); !slices.Equal(got, r.convertible[:120]) {
		t.Fatalf("queued %d, want the first 120", len(got))
	}
	if rep.End != sweep.EndMaxLeads || rep.Queued != 120 || rep.OverMax != 180 || rep.MoreOverMax || rep.ReadCalls != 3 {
		t.Errorf("report: %+v", rep)
	}
}

// TestRunDry counts and samples, and neither queues nor stores.
func TestRunDry(t *testing.T) {
	r := newRig(t, nil, nil, zohosim.Options{}, 80, 15, 5, 10)
	rep := r.run("nightly", sweep.Options{DryRun: true})
	if len(r.q.msgs) != 0 {
		t.Fatalf("a dry run queued %d messages", len(r.q.msgs))
	}
	if !rep.DryRun || rep.Queued != 80 || rep.SkippedConverted != 15 || rep.SkippedClaimed != 5 || rep.Matched != 100 ||
		!slices.Equal(rep.Sample, r.convertible[:sweep.SampleSize]) || rep.COQLCalls != 1 || rep.ReadCalls != 2 {
		t.Errorf("dry run: %+v", rep)
	}
	// The sample's names, as Zoho has them (the simulator's leads are "Lead <id>").
	for _, id := range rep.Sample {
		if rep.SampleNames[id] != "Lead "+id {
			t.Errorf("sample %s named %q", id, rep.SampleNames[id])
		}
	}
	// 1 COQL page, 2 reads of 50, and 80 leads in ceil(80/50) = 2 calls.
	if want := (sweep.CallEstimate{COQL: 1, GetRecords: 2, MassConvert: 2, Total: 5}); rep.Calls == nil || *rep.Calls != want {
		t.Errorf("estimated calls: %+v, want %+v", rep.Calls, want)
	}
	if s, _ := r.st.Sweep(context.Background(), "nightly"); s.OpenRun != "" || s.LastRun != "" {
		t.Errorf("a dry run stored a run: %+v", s)
	}
}

// TestRunZohoErrorEndsIt: a refusal ends the run with Zoho's reason.
func TestRunZohoErrorEndsIt(t *testing.T) {
	ctx := context.Background()
	t.Run("coql scope", func(t *testing.T) {
		r := newRig(t, nil, nil, zohosim.Options{Scopes: []string{"ZohoCRM.modules.leads.READ", "ZohoCRM.mass_convert.leads.CREATE"}}, 10, 0, 0, 0)
		rep := r.run("nightly", sweep.Options{})
		if rep.End != sweep.EndError || !strings.Contains(rep.Reason, "OAUTH_SCOPE_MISMATCH") || rep.Queued != 0 {
			t.Errorf("report: %+v", rep)
		}
	})
	t.Run("invalid query", func(t *testing.T) {
		r := newRig(t, nil, nil, zohosim.Options{}, 10, 0, 0, 0)
		s, _ := r.st.Sweep(ctx, "nightly")
		s.Condition = "No_Such_Field = 'x'"
		r.st.PutSweep(ctx, s)
		rep := r.run("nightly", sweep.Options{})
		if rep.End != sweep.EndError || !strings.Contains(rep.Reason, "INVALID_QUERY") {
			t.Errorf("report: %+v", rep)
		}
		if s, _ := r.st.Sweep(ctx, "nightly"); s.OpenRun != "" {
			t.Errorf("an ended run left open: %+v", s)
		}
	})
	t.Run("read back", func(t *testing.T) {
		r := newRig(t, nil, nil, zohosim.Options{}, 120, 0, 0, 0)
		r.z.Sim.Script(zohosim.EndpointGetLeads, zohosim.Fault{}, zohosim.Fault{Kind: zohosim.NoPermission})
		rep := r.run("nightly", sweep.Options{})
		if rep.End != sweep.EndError || !strings.Contains(rep.Reason, "NO_PERMISSION") || rep.Queued != 50 || rep.Matched != 50 || rep.ReadCalls != 2 {
			t.Errorf("report: %+v", rep)
		}
		if got := r.q.ids(t); !slices.Equal(got, r.convertible[:50]) {
			t.Errorf("queued %d, want the first chunk's 50", len(got))
		}
	})
}

// TestRunOverAView: a sweep over a custom view queues exactly the view's
// convertible leads, narrowed by its condition when it has one; a view
// Zoho does not know ends the run with Zoho's reason.
func TestRunOverAView(t *testing.T) {
	const cvid = "3652397000000087501"
	ctx := context.Background()
	tests := []struct {
		name, condition string
		// want picks, of the rig's convertible leads (all Web), those
		// the view (every fourth) and the condition select.
		want func(i int, id string) bool
	}{
		{"view alone", "", func(i int, _ string) bool { return i%4 == 0 }},
		{"view and condition", "Lead_Source = 'Web' and Company = 'Acme'", func(i int, _ string) bool { return i%4 == 0 && i%8 == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil, nil, zohosim.Options{}, 40, 5, 0, 0)
			var want []string
			for i, id := range r.convertible {
				f := map[string]any{"Territory": nil}
				if i%4 == 0 {
					f["Territory"] = "North"
				}
				if i%8 == 0 {
					f["Company"] = "Acme"
				}
				r.z.Sim.SetLeadFields(id, f)
				if tt.want(i, id) {
					want = append(want, id)
				}
			}
			r.z.Sim.DefineView(cvid, "Territory = 'North'")
			s, _ := r.st.Sweep(ctx, "nightly")
			s.View, s.Condition = cvid, tt.condition
			if err := s.Check(decoder()); err != nil {
				t.Fatal(err)
			}
			r.st.PutSweep(ctx, s)
			rep := r.run("nightly", sweep.Options{})
			if got := r.q.ids(t); !slices.Equal(got, want) || rep.End != sweep.EndDone || rep.Matched != len(want) {
				t.Errorf("queued %v, want %v; report %+v", got, want, rep)
			}
		})
	}
	t.Run("unknown view", func(t *testing.T) {
		r := newRig(t, nil, nil, zohosim.Options{}, 10, 0, 0, 0)
		s, _ := r.st.Sweep(ctx, "nightly")
		s.View = cvid
		r.st.PutSweep(ctx, s)
		rep := r.run("nightly", sweep.Options{})
		if rep.End != sweep.EndError || !strings.Contains(rep.Reason, "INVALID_QUERY") || rep.Queued != 0 {
			t.Errorf("report: %+v", rep)
		}
		if len(r.q.msgs) != 0 {
			t.Errorf("queued %d messages", len(r.q.msgs))
		}
	})
}

// TestRunBothReadingsOfCOQL: whether or not COQL returns converted leads,
// a run queues the same leads (it reads every candidate back).
func TestRunBothReadingsOfCOQL(t *testing.T) {
	r := newRig(t, nil, nil, zohosim.Options{COQLHidesConverted: true}, 90, 30, 0, 0)
	rep := r.run("nightly", sweep.Options{})
	if got := r.q.ids(t); !slices.Equal(got, r.convertible) || rep.SkippedConverted != 0 || rep.Matched != 90 {
		t.Errorf("queued %d, report %+v", len(got), rep)
	}
}

func TestRunRefusals(t *testing.T) {
	r := newRig(t, nil, nil, zohosim.Options{}, 1, 0, 0, 0)
	ctx := context.Background()
	_, err := r.runner(0).Run(ctx, "nope", sweep.Options{})
	var unknown *sweep.UnknownSweepError
	if !errors.As(err, &unknown) {
		t.Errorf("unknown sweep: %v", err)
	}
	s, _ := r.st.Sweep(ctx, "nightly")
	s.Enabled = false
	r.st.PutSweep(ctx, s)
	_, err = r.runner(0).Run(ctx, "nightly", sweep.Options{})
	var paused *sweep.PausedError
	if !errors.As(err, &paused) {
		t.Errorf("paused sweep: %v", err)
	}
}

func TestSweepCheck(t *testing.T) {
	good := func() sweep.Sweep {
		return sweep.Sweep{Name: "web-leads_1", Schedule: "rate(1 day)", Condition: "Lead_Status = 'Qualified'", Options: json.RawMessage(options)}
	}
	s := good()
	if err := s.Check(decoder()); err != nil || s.MaxLeads != sweep.DefaultMaxLeads || s.TimeZone != "UTC" {
		t.Fatalf("a good sweep: %v, max_leads %d, time zone %q", err, s.MaxLeads, s.TimeZone)
	}
	tests := []struct {
		edit func(*sweep.Sweep)
		want string
	}{
		{func(s *sweep.Sweep) { s.Name = "a#b" }, "sweep name"},
		{func(s *sweep.Sweep) { s.Condition = "x = 1;" }, "semicolon"},
		{func(s *sweep.Sweep) { s.Condition = "" }, "a condition, a custom view, or both"},
		{func(s *sweep.Sweep) { s.View = "12ab" }, "custom view's id"},
		{func(s *sweep.Sweep) { s.View = "3652397000000087501 or 1" }, "custom view's id"},
		{func(s *sweep.Sweep) { s.View = "01" }, "custom view's id"},
		{func(s *sweep.Sweep) { s.MaxLeads = -1 }, "max_leads"},
		{func(s *sweep.Sweep) { s.Schedule = "" }, "want cron"},
		{func(s *sweep.Sweep) { s.Schedule = "cron(0 2 * * * *)" }, "must be '?'"},
		{func(s *sweep.Sweep) { s.TimeZone = "Berlin" }, "IANA"},
		{func(s *sweep.Sweep) { s.Options = json.RawMessage(`{"ids":["1"]}`) }, "ids are chosen by the run"},
		{func(s *sweep.Sweep) { s.Options = json.RawMessage(`[1]`) }, "not a JSON object"},
		{func(s *sweep.Sweep) { s.Options = json.RawMessage(`{"Deals":{"Deal_Name":"x"}}`) }, "$.Deals.Stage"},
		{func(s *sweep.Sweep) { s.Options = json.RawMessage(`{"colour":"red"}`) }, "unknown key"},
	}
	for _, tt := range tests {
		s := good()
		tt.edit(&s)
		if err := s.Check(decoder()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", s, err, tt.want)
		}
	}
	// A view alone, or a view narrowed by a condition, is a selection.
	for _, cond := range []string{"", "Lead_Source = 'Web'"} {
		s = good()
		s.View, s.Condition = "3652397000000087501", cond
		if err := s.Check(decoder()); err != nil {
			t.Errorf("view with condition %q: %v", cond, err)
		}
	}
	// Without a default owner, options must name one.
	s = good()
	if err := s.Check(&convert.Decoder{APIVersion: "v7"}); err == nil || !strings.Contains(err.Error(), "assign_to") {
		t.Errorf("no owner anywhere: %v", err)
	}
}

// TestContinueOpen: the scheduled invocation goes on with a run stopped at
// its deadline and no other: a sweep without a run under way gets none, a
// paused sweep's run waits, and a run another invocation holds is left
// to it.
func TestContinueOpen(t *testing.T) {
	forEachStore(t, func(t *testing.T, st stores, claims sweep.Claims) {
		ctx := context.Background()
		r := newRig(t, st, claims, zohosim.Options{}, 300, 0, 0, 0)
		r.define("idle", sweep.MaxMaxLeads) // same leads, never run: must not start
		r.onRead = func() { r.z.Clock.Advance(time.Minute) }
		first, err := r.runner(time.Minute).Run(ctx, "nightly", sweep.Options{RunID: "tick-1", Deadline: r.z.Clock.Now().Add(3 * time.Minute)})
		if err != nil || first.Stopped != sweep.StoppedDeadline || first.Queued == 0 {
			t.Fatalf("first invocation: %+v %v", first, err)
		}

		// Paused: the run waits.
		if err := st.SetEnabled(ctx, "nightly", false); err != nil {
			t.Fatal(err)
		}
		reps, err := r.runner(time.Minute).ContinueOpen(ctx, sweep.Options{})
		if err != nil || len(reps) != 0 {
			t.Fatalf("with the sweep paused: %+v %v", reps, err)
		}
		if err := st.SetEnabled(ctx, "nightly", true); err != nil {
			t.Fatal(err)
		}

		reps, err = r.runner(time.Minute).ContinueOpen(ctx, sweep.Options{})
		if err != nil || len(reps) != 1 || reps[0].RunID != "tick-1" || reps[0].End != sweep.EndDone || !reps[0].EndedNow ||
			reps[0].QueuedNow != 300-first.Queued {
			t.Fatalf("continued: %+v %v", reps, err)
		}
		if got := r.q.ids(t); !slices.Equal(got, r.convertible) {
			t.Fatalf("queued %d leads, want the %d convertible once", len(got), len(r.convertible))
		}
		// Each message, whichever invocation sent it, is the run's next
		// request, which lists its leads.
		for i, body := range r.q.msgs {
			id := sweep.MessageRequestID("nightly", "tick-1", i+1)
			req, _ := convert.DecodeJSON([]byte(body), "v7")
			rec, err := claims.(jobs.Requests).Request(ctx, id)
			if r.q.reqs[i] != id || err != nil || !slices.Equal(rec.LeadIDs, req.IDs) {
				t.Errorf("message %d: request %q, recorded %v (%v), want %s with its %d leads", i+1, r.q.reqs[i], rec.LeadIDs, err, id, len(req.IDs))
			}
		}
		for _, name := range []string{"nightly", "idle"} {
			if sw, _ := st.Sweep(ctx, name); sw.OpenRun != "" || name == "idle" && sw.LastRun != "" {
				t.Errorf("sweep %s after: %+v", name, sw)
			}
		}
		if reps, err := r.runner(time.Minute).ContinueOpen(ctx, sweep.Options{}); err != nil || len(reps) != 0 {
			t.Errorf("nothing under way: %+v %v", reps, err)
		}
		// Asked for a run that ended meanwhile (the list was read before
		// its end), OnlyOpen starts none.
		for _, name := range []string{"idle", "nightly"} {
			rep, err := r.runner(time.Minute).Run(ctx, name, sweep.Options{RunID: "tick-2", OnlyOpen: true})
			if sw, _ := st.Sweep(ctx, name); err != nil || rep.Stopped != sweep.StoppedNoOpenRun || sw.OpenRun != "" || sw.LastRun == "tick-2" {
				t.Errorf("sweep %s, only open: %+v %v; sweep %+v", name, rep, err, sw)
			}
		}
	})
}

// TestContinueOpenLeavesAHeldRun: a run whose lease stands is not taken.
func TestContinueOpenLeavesAHeldRun(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil, nil, zohosim.Options{}, 120, 0, 0, 0)
	var reps []sweep.Report
	r.onRead = func() {
		if reps == nil {
			var err error
			if reps, err = r.runner(0).ContinueOpen(ctx, sweep.Options{}); err != nil {
				t.Errorf("continuing meanwhile: %v", err)
			}
		}
	}
	if rep := r.run("nightly", sweep.Options{RunID: "tick-1"}); rep.End != sweep.EndDone || rep.Queued != 120 {
		t.Fatalf("the run: %+v", rep)
	}
	if len(reps) != 1 || reps[0].Stopped != sweep.StoppedBusy || reps[0].QueuedNow != 0 {
		t.Fatalf("continuing while the run is held: %+v", reps)
	}
	if got := r.q.ids(t); len(got) != 120 {
		t.Fatalf("queued %d, want 120 once", len(got))
	}
}

// failingRequests cannot record a request: the table is unavailable.
type failingRequests struct{}

func (failingRequests) RecordRequest(context.Context, jobs.Request) error {
	return errors.New("table unavailable")
}

// TestRunStaysOpenWhenARequestIsNotRecorded: a message whose request
// cannot be recorded is not sent, and the run is not ended in error (the
// store failed, not Zoho): it stays open for the next invocation.
func TestRunStaysOpenWhenARequestIsNotRecorded(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil, nil, zohosim.Options{}, 120, 0, 0, 0)
	run, err := sweep.NewRunner(sweep.Config{Zoho: r.z.Client, Store: r.st, Claims: r.claims, Queue: r.q,
		Requests: failingRequests{}, Decoder: decoder(), Now: r.z.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.Run(ctx, "nightly", sweep.Options{RunID: "tick-1"}); err == nil || !strings.Contains(err.Error(), "table unavailable") {
		t.Fatalf("run: %v, want the store's error", err)
	}
	stored, err := r.st.SweepRun(ctx, "nightly", "tick-1")
	if err != nil || stored.End != "" || stored.Queued != 0 || len(r.q.msgs) != 0 {
		t.Fatalf("after: %+v %v, %d messages", stored, err, len(r.q.msgs))
	}
}
