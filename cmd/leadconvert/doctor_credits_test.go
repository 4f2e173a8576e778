package main

import (
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/credits"
)

// TestDoctorShowsCredits: doctor shows the org's credits as the functions
// last saw them against the stack's floor and, above it, what each call
// the bridge makes costs from Zoho's catalogue; below it, it makes no
// Zoho call at all (no catalogue, no probes) and warns.
func TestDoctorShowsCredits(t *testing.T) {
	for _, tc := range []struct {
		name       string
		left       int
		want       []string
		scopes     string
		zohoCalls  int
		catalogues int
	}{
		{name: "above the floor", left: 500, scopes: "ok",
			want: []string{"ok", "500 credits left", "above the floor of 100",
				"credits per call (GET /crm/v8/__apis): mass_convert 5, convert_status 1, get_leads 1, coql 1"},
			zohoCalls: 3, catalogues: 1},
		{name: "below the floor", left: 50, scopes: "skip  scopes        the org is below the credit floor",
			want: []string{"warn", "50 credits left", "below the floor of 100", "doctor spends no credits on probes", "fix: find what spends"}},
		{name: "no figure", left: -2, scopes: "ok",
			want:      []string{"ok", "the functions have seen no figure from Zoho yet", "above the floor of 100", "mass_convert 5"},
			zohoCalls: 3, catalogues: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deploy(t, zohosim.Options{Credits: map[zohosim.Endpoint]int{zohosim.EndpointMassConvert: 5}})
			d.params["MinZohoCreditsLeft"] = "100"
			storedToken(t, d)
			if tc.left > -2 {
				store := table.NewJobStore(table.NewClient(d.cfg), d.table)
				if err := store.SaveCredits(t.Context(), credits.Seen{Left: tc.left, At: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			d.sim.ResetStats()
			_, report := d.doctor(d.args(d.newStack()))
			l := line(report, "credits")
			for _, w := range tc.want {
				if !strings.Contains(l, w) {
					t.Errorf("credits line %q lacks %q", l, w)
				}
			}
			if got := line(report, "scopes"); !strings.HasPrefix(got, tc.scopes) {
				t.Errorf("scopes line %q, want it to start %q", got, tc.scopes)
			}
			st := d.sim.Stats()
			calls := 0
			for ep, n := range st.Calls {
				if ep != zohosim.EndpointToken {
					calls += n
				}
			}
			if calls != tc.zohoCalls || st.Calls[zohosim.EndpointAPIs] != tc.catalogues {
				t.Errorf("%d CRM calls, %d catalogue calls; want %d and %d", calls, st.Calls[zohosim.EndpointAPIs], tc.zohoCalls, tc.catalogues)
			}
		})
	}
}
