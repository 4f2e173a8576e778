package zohosim

import (
	"net/http"
	"net/url"
	"testing"
)

func TestScopes(t *testing.T) {
	tests := []struct {
		name   string
		scopes []string
		denied map[Endpoint]bool
	}{
		{"default", nil, map[Endpoint]bool{}},
		{"mass convert only", []string{"ZohoCRM.mass_convert.leads.CREATE", "ZohoCRM.mass_convert.leads.READ"},
			map[Endpoint]bool{EndpointGetLeads: true}},
		{"modules.ALL reads, any case", []string{"zohocrm.modules.all"},
			map[Endpoint]bool{EndpointMassConvert: true, EndpointStatus: true}},
		{"none", []string{}, map[Endpoint]bool{EndpointMassConvert: true, EndpointStatus: true, EndpointGetLeads: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{Scopes: tt.scopes})
			lead := e.s.SeedLeadRange(1)[0]
			calls := map[Endpoint]func() answer{
				EndpointMassConvert: func() answer { return e.convert("v7", idsBody(lead)) },
				EndpointStatus: func() answer {
					return e.do("GET", massConvertPath+"?job_id=3652397000009835020", e.auth(), "")
				},
				EndpointGetLeads: func() answer {
					return e.getLeads(url.Values{"ids": {lead}, "fields": {"id"}})
				},
			}
			for ep, call := range calls {
				a := call()
				if tt.denied[ep] {
					a.wantError(t, http.StatusUnauthorized, "OAUTH_SCOPE_MISMATCH", `{}`)
				} else if a.body["code"] == "OAUTH_SCOPE_MISMATCH" {
					t.Errorf("%v refused for scope: %s", ep, a.raw)
				}
			}
		})
	}
}
