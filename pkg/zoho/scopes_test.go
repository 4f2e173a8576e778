package zoho_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// TestCheckScopes: the CRM says which of the bridge's scopes a grant holds,
// broader ones included, and a probe changes nothing.
func TestCheckScopes(t *testing.T) {
	for _, tt := range []struct {
		name    string
		scopes  []string
		missing []string
	}{
		{"the setup's five", zohosim.DefaultScopes, nil},
		{"modules.ALL reads leads, settings.ALL the fields", []string{zoho.ScopeMassConvertCreate, zoho.ScopeMassConvertRead, "ZohoCRM.modules.ALL", zoho.ScopeCOQLRead, "ZohoCRM.settings.ALL"}, nil},
		{"no create", []string{zoho.ScopeMassConvertRead, zoho.ScopeLeadsRead, zoho.ScopeCOQLRead, zoho.ScopeFieldsRead}, []string{zoho.ScopeMassConvertCreate}},
		{"mass convert only", []string{zoho.ScopeMassConvertCreate, zoho.ScopeMassConvertRead}, []string{zoho.ScopeLeadsRead, zoho.ScopeCOQLRead, zoho.ScopeFieldsRead}},
		{"no COQL", []string{zoho.ScopeMassConvertCreate, zoho.ScopeMassConvertRead, zoho.ScopeLeadsRead, zoho.ScopeFieldsRead}, []string{zoho.ScopeCOQLRead}},
		{"no fields", []string{zoho.ScopeMassConvertCreate, zoho.ScopeMassConvertRead, zoho.ScopeLeadsRead, zoho.ScopeCOQLRead}, []string{zoho.ScopeFieldsRead}},
		{"none", []string{"ZohoCRM.settings.READ"}, zoho.RequiredScopes},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sim := zohosim.New(zohosim.Options{Scopes: tt.scopes})
			base, stop := sim.Start()
			t.Cleanup(stop)
			checks, err := zoho.CheckScopes(context.Background(), &http.Client{}, base, sim.IssueToken())
			if err != nil {
				t.Fatal(err)
			}
			var missing []string
			for _, c := range checks {
				if !c.Granted {
					missing = append(missing, c.Scope)
				}
			}
			if len(checks) != len(zoho.RequiredScopes) || len(missing) != len(tt.missing) {
				t.Fatalf("checks %+v, want missing %v", checks, tt.missing)
			}
			for i := range missing {
				if missing[i] != tt.missing[i] {
					t.Fatalf("missing %v, want %v", missing, tt.missing)
				}
			}
			if st := sim.Stats(); st.JobsScheduled != 0 || st.Calls[zohosim.EndpointMassConvert] != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
	t.Run("refused token", func(t *testing.T) {
		sim := zohosim.New(zohosim.Options{})
		base, stop := sim.Start()
		t.Cleanup(stop)
		if _, err := zoho.CheckScopes(context.Background(), &http.Client{}, base, "1000.nottoken"); err == nil {
			t.Fatal("a refused token passed the check")
		}
	})
}
