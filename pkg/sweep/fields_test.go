package sweep_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

func TestConditionFields(t *testing.T) {
	tests := []struct {
		cond string
		want []string
	}{
		{"Lead_Status = 'Qualified'", []string{"Lead_Status"}},
		{"Lead_Status = 'Qualified' and (Lead_Source = 'Web' or Lead_Source in ('Fair'))", []string{"Lead_Status", "Lead_Source"}},
		{"Email is not null and Phone not like '+49%' and Rating = -1", []string{"Email", "Phone", "Rating"}},
		// A value is never a field, even one that reads like a name.
		{"Last_Name = 'Lead_Status'", []string{"Last_Name"}},
	}
	for _, tt := range tests {
		got, err := sweep.ConditionFields(tt.cond)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ConditionFields(%q) = %v, %v; want %v", tt.cond, got, err, tt.want)
		}
	}
	var ce *sweep.ConditionError
	if _, err := sweep.ConditionFields("Lead_Status = 'x';"); !errors.As(err, &ce) {
		t.Errorf("a bad condition: %v, want a ConditionError", err)
	}
}

func TestCheckFields(t *testing.T) {
	seen := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	known := sweep.LeadFields{Names: []string{"Last_Name", "Lead_Status", "Lead_Source"}, SeenAt: seen}
	tests := []struct {
		cond   string
		fields sweep.LeadFields
		bad    string // the field refused, or "" accepted
	}{
		{"Lead_Status = 'Qualified' and Lead_Source = 'Web'", known, ""},
		{"lead_status = 'Qualified'", known, ""}, // a doubt over case never refuses
		{"id = 3652397000000123456", known, ""},
		{"Lead_Status = 'Qualified' and Lead_Stauts = 'Web'", known, "Lead_Stauts"},
		{"Territory = 'North'", sweep.LeadFields{}, ""}, // nothing recorded: nothing checked
	}
	for _, tt := range tests {
		err := sweep.CheckFields(tt.cond, tt.fields)
		var unknown *sweep.UnknownFieldError
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("%q: %v, want accepted", tt.cond, err)
		case tt.bad != "" && (!errors.As(err, &unknown) || unknown.Field != tt.bad ||
			!strings.Contains(err.Error(), tt.bad) || !strings.Contains(err.Error(), seen.Format(time.RFC3339))):
			t.Errorf("%q: %v, want %s refused, naming when the fields were seen", tt.cond, err, tt.bad)
		}
	}
}

// TestRunRecordsLeadFields: a run records the fields of Leads when none
// are recorded or those are a day old, and otherwise asks Zoho nothing
// more; a Zoho refusal of the metadata leaves the run itself alone.
func TestRunRecordsLeadFields(t *testing.T) {
	ctx := context.Background()
	m := memstore.New()
	r := newRig(t, m, m, zohosim.Options{}, 3, 0, 0, 0)
	r.z.Sim.SetLeadFields(r.convertible[0], map[string]any{"Territory": "North"})
	runner, err := sweep.NewRunner(sweep.Config{Zoho: zohoHook{r.z.Client, r}, Store: m, Claims: m, Queue: r.q,
		Decoder: decoder(), Now: r.z.Clock.Now, Fields: m})
	if err != nil {
		t.Fatal(err)
	}
	fieldCalls := func() int { return r.z.Sim.Stats().Calls[zohosim.EndpointFields] }

	if _, err := runner.Run(ctx, "nightly", sweep.Options{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	f, _ := m.LeadFields(ctx)
	if !f.SeenAt.Equal(r.z.Clock.Now()) || !slices.Contains(f.Names, "Lead_Status") || !slices.Contains(f.Names, "Territory") || fieldCalls() != 1 {
		t.Fatalf("after the first run: %+v, %d metadata calls", f, fieldCalls())
	}
	r.z.Clock.Advance(time.Hour)
	if _, err := runner.Run(ctx, "nightly", sweep.Options{DryRun: true}); err != nil || fieldCalls() != 1 {
		t.Fatalf("a run an hour later: %v, %d metadata calls, want still 1", err, fieldCalls())
	}
	r.z.Clock.Advance(sweep.FieldsMaxAge)
	r.z.Sim.Script(zohosim.EndpointFields, zohosim.Fault{Kind: zohosim.NoPermission})
	rep, err := runner.Run(ctx, "nightly", sweep.Options{})
	if err != nil || rep.End != sweep.EndDone || rep.Queued != 3 {
		t.Fatalf("a run whose metadata call Zoho refused: %+v %v", rep, err)
	}
	if g, _ := m.LeadFields(ctx); !g.SeenAt.Equal(f.SeenAt) {
		t.Fatalf("the refused reading replaced the fields: %+v", g)
	}
	if _, err := runner.Run(ctx, "nightly", sweep.Options{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if g, _ := m.LeadFields(ctx); !g.SeenAt.Equal(r.z.Clock.Now()) || fieldCalls() != 3 {
		t.Fatalf("a day later: %+v, %d metadata calls, want 3", g, fieldCalls())
	}
}
