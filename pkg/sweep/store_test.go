package sweep_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// stores is the sweep side of a job store: both implement it.
type stores interface {
	sweep.Store
	sweep.Catalog
}

func forEachStore(t *testing.T, test func(t *testing.T, st stores, claims sweep.Claims)) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		js := s.New()
		test(t, js.(stores), js)
	})
}

var t0 = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)

func TestStoreContract(t *testing.T) {
	forEachStore(t, func(t *testing.T, st stores, _ sweep.Claims) {
		ctx := context.Background()
		if _, err := st.Sweep(ctx, "nightly"); !errors.Is(err, sweep.ErrNotFound) {
			t.Fatalf("unknown sweep: %v", err)
		}
		if err := st.StartRun(ctx, sweep.Run{Sweep: "nightly", ID: "r1"}); !errors.Is(err, sweep.ErrNotFound) {
			t.Fatalf("run of an unknown sweep: %v", err)
		}
		def := sweep.Sweep{Name: "nightly", Schedule: "cron(0 2 * * ? *)", TimeZone: "Europe/Berlin",
			Condition: "Lead_Status = 'Qualified'", Options: json.RawMessage(`{"Deals":{"Deal_Name":"x"}}`),
			MaxLeads: 500, Enabled: true, CreatedAt: t0}
		if err := st.PutSweep(ctx, def); err != nil {
			t.Fatal(err)
		}
		got, err := st.Sweep(ctx, "nightly")
		if err != nil || got.Name != def.Name || got.Schedule != def.Schedule || got.TimeZone != def.TimeZone ||
			got.Condition != def.Condition || string(got.Options) != string(def.Options) || got.MaxLeads != 500 ||
			!got.Enabled || !got.CreatedAt.Equal(t0) || got.OpenRun != "" {
			t.Fatalf("stored sweep: %+v %v", got, err)
		}

		run := sweep.Run{Sweep: "nightly", ID: "2026-03-01T02:00:00Z", StartedAt: t0, LeaseOwner: "a", LeaseUntil: t0.Add(time.Minute), Invocations: 1}
		if err := st.StartRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		if err := st.StartRun(ctx, sweep.Run{Sweep: "nightly", ID: "other"}); !errors.Is(err, sweep.ErrChanged) {
			t.Fatalf("a second run while one is open: %v", err)
		}
		// Redefining keeps the open run.
		def.MaxLeads = 700
		if err := st.PutSweep(ctx, def); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Sweep(ctx, "nightly"); got.OpenRun != run.ID || got.LastRun != run.ID || got.MaxLeads != 700 {
			t.Fatalf("after redefining: %+v", got)
		}

		r, err := st.SweepRun(ctx, "nightly", run.ID)
		if err != nil || r.Version != 1 || r.LeaseOwner != "a" || !r.LeaseUntil.Equal(run.LeaseUntil) || !r.StartedAt.Equal(t0) {
			t.Fatalf("stored run: %+v %v", r, err)
		}
		r.Cursor, r.Matched, r.Queued, r.SkippedClaimed, r.SkippedConverted, r.SkippedNotFound = "3652397000001000050", 50, 40, 5, 3, 2
		r.Messages, r.COQLCalls, r.ReadCalls = 1, 1, 1
		if err := st.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveRun(ctx, r); !errors.Is(err, sweep.ErrChanged) {
			t.Fatalf("a save on a stale version: %v", err)
		}
		r.Version++
		got2, err := st.SweepRun(ctx, "nightly", run.ID)
		if err != nil || got2.Version != 2 || got2.Cursor != r.Cursor || got2.Queued != 40 || got2.SkippedClaimed != 5 ||
			got2.SkippedConverted != 3 || got2.SkippedNotFound != 2 || got2.Matched != 50 || got2.Messages != 1 {
			t.Fatalf("saved run: %+v %v", got2, err)
		}

		r.End, r.EndedAt, r.LeaseOwner, r.LeaseUntil = sweep.EndDone, t0.Add(time.Minute), "", time.Time{}
		if err := st.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Sweep(ctx, "nightly"); got.OpenRun != "" || got.LastRun != run.ID {
			t.Fatalf("after the run ended: %+v", got)
		}
		if got, _ := st.SweepRun(ctx, "nightly", run.ID); got.End != sweep.EndDone || !got.EndedAt.Equal(t0.Add(time.Minute)) || got.Version != 3 {
			t.Fatalf("ended run: %+v", got)
		}
		// An ended run's id is taken for good.
		if err := st.StartRun(ctx, sweep.Run{Sweep: "nightly", ID: run.ID}); !errors.Is(err, sweep.ErrChanged) {
			t.Fatalf("starting an ended run again: %v", err)
		}
		if err := st.StartRun(ctx, sweep.Run{Sweep: "nightly", ID: "next"}); err != nil {
			t.Fatalf("the next run: %v", err)
		}
		if _, err := st.SweepRun(ctx, "nightly", "nope"); !errors.Is(err, sweep.ErrNotFound) {
			t.Fatalf("unknown run: %v", err)
		}
	})
}

// TestCatalogContract: sweeps are listed, paused, resumed and deleted, and
// a sweep lists its last runs, on both stores.
func TestCatalogContract(t *testing.T) {
	forEachStore(t, func(t *testing.T, st stores, _ sweep.Claims) {
		ctx := context.Background()
		if got, err := st.Sweeps(ctx); err != nil || len(got) != 0 {
			t.Fatalf("no sweeps yet: %v %v", got, err)
		}
		for _, name := range []string{"nightly", "hourly"} {
			if err := st.PutSweep(ctx, sweep.Sweep{Name: name, Schedule: "rate(1 hour)", TimeZone: "UTC",
				Condition: "Lead_Status = 'Qualified'", MaxLeads: 10, Enabled: true, CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := st.Sweeps(ctx)
		if err != nil || len(got) != 2 || got[0].Name != "hourly" || got[1].Name != "nightly" || got[0].Schedule != "rate(1 hour)" {
			t.Fatalf("two sweeps, by name: %+v %v", got, err)
		}

		if err := st.SetEnabled(ctx, "nightly", false); err != nil {
			t.Fatal(err)
		}
		if s, _ := st.Sweep(ctx, "nightly"); s.Enabled || s.MaxLeads != 10 {
			t.Fatalf("paused: %+v", s)
		}
		if err := st.SetEnabled(ctx, "nightly", true); err != nil {
			t.Fatal(err)
		}
		if s, _ := st.Sweep(ctx, "nightly"); !s.Enabled {
			t.Fatalf("resumed: %+v", s)
		}
		if err := st.SetEnabled(ctx, "nope", true); !errors.Is(err, sweep.ErrNotFound) {
			t.Fatalf("pausing an unknown sweep: %v", err)
		}

		// The sweep keeps its last sweep.RecentRuns run ids, oldest first.
		var ids []string
		for i := range sweep.RecentRuns + 3 {
			id := "r" + string(rune('a'+i))
			ids = append(ids, id)
			r := sweep.Run{Sweep: "nightly", ID: id, StartedAt: t0, Version: 1}
			if err := st.StartRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			r.End = sweep.EndDone
			if err := st.SaveRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		s, _ := st.Sweep(ctx, "nightly")
		if want := ids[3:]; !slices.Equal(s.RecentRuns, want) {
			t.Fatalf("recent runs %v, want %v", s.RecentRuns, want)
		}
		// Redefining keeps them; a custom view is kept, and dropped again.
		for _, view := range []string{"3652397000000087501", ""} {
			if err := st.PutSweep(ctx, sweep.Sweep{Name: "nightly", Schedule: "rate(2 hours)", TimeZone: "UTC",
				Condition: "Lead_Status = 'Qualified'", View: view, MaxLeads: 10, Enabled: true}); err != nil {
				t.Fatal(err)
			}
			if s, _ := st.Sweep(ctx, "nightly"); len(s.RecentRuns) != sweep.RecentRuns || s.Schedule != "rate(2 hours)" || s.View != view {
				t.Fatalf("after redefining with view %q: %+v", view, s)
			}
		}

		if err := st.DeleteSweep(ctx, "nightly"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Sweep(ctx, "nightly"); !errors.Is(err, sweep.ErrNotFound) {
			t.Fatalf("deleted sweep: %v", err)
		}
		if got, err := st.Sweeps(ctx); err != nil || len(got) != 1 || got[0].Name != "hourly" {
			t.Fatalf("after deleting: %+v %v", got, err)
		}
		if err := st.DeleteSweep(ctx, "nightly"); !errors.Is(err, sweep.ErrNotFound) {
			t.Fatalf("deleting twice: %v", err)
		}
		// Its runs stay until they expire.
		if _, err := st.SweepRun(ctx, "nightly", ids[0]); err != nil {
			t.Fatalf("a deleted sweep's run: %v", err)
		}
	})
}

func TestFieldStoreContract(t *testing.T) {
	forEachStore(t, func(t *testing.T, st stores, _ sweep.Claims) {
		ctx := context.Background()
		fs, ok := st.(sweep.FieldStore)
		if !ok {
			t.Fatal("the store keeps no fields of Leads")
		}
		if f, err := fs.LeadFields(ctx); err != nil || !f.SeenAt.IsZero() || len(f.Names) != 0 {
			t.Fatalf("none recorded yet: %+v %v", f, err)
		}
		for _, want := range []sweep.LeadFields{
			{Names: []string{"Last_Name", "Lead_Status", "Territory"}, SeenAt: t0},
			{Names: []string{"Last_Name"}, SeenAt: t0.Add(sweep.FieldsMaxAge)},
		} {
			if err := fs.SaveLeadFields(ctx, want); err != nil {
				t.Fatal(err)
			}
			if got, err := fs.LeadFields(ctx); err != nil || !got.SeenAt.Equal(want.SeenAt) || !slices.Equal(got.Names, want.Names) {
				t.Fatalf("saved %+v, read %+v %v", want, got, err)
			}
		}
	})
}
