package zohosim

import (
	"slices"
	"strings"
)

// DefaultScopes are what the bridge's setup asks for: both mass_convert
// scopes, reading leads back, and selecting them with COQL (sweeps).
var DefaultScopes = []string{
	"ZohoCRM.mass_convert.leads.CREATE",
	"ZohoCRM.mass_convert.leads.READ",
	"ZohoCRM.modules.leads.READ",
	"ZohoCRM.coql.READ",
	"ZohoCRM.settings.fields.READ",
}

// endpointScopes are the scopes that each allow a CRM endpoint
// (zoho-crm-api.md sections 1, 2 and 6). An endpoint not listed needs none
// the simulator checks.
var endpointScopes = map[Endpoint][]string{
	EndpointMassConvert: {"ZohoCRM.mass_convert.leads.CREATE"},
	EndpointStatus:      {"ZohoCRM.mass_convert.leads.READ"},
	EndpointGetLeads:    {"ZohoCRM.modules.leads.READ", "ZohoCRM.modules.leads.ALL", "ZohoCRM.modules.ALL"},
	// COQL needs its own scope; the module's READ is needed besides
	// (section 8), which the simulator does not check.
	EndpointCOQL: {"ZohoCRM.coql.READ"},
	// Fields Metadata: Zoho's page names these three.
	EndpointFields: {"ZohoCRM.settings.fields.READ", "ZohoCRM.settings.fields.ALL", "ZohoCRM.settings.ALL"},
	// Search reads records as Get Records does.
	EndpointSearch: {"ZohoCRM.modules.leads.READ", "ZohoCRM.modules.leads.ALL", "ZohoCRM.modules.ALL"},
}

// allows reports whether the grant's scopes let a token call ep. Zoho
// matches scope names without regard to case.
func (s *Server) allows(ep Endpoint) bool {
	need, listed := endpointScopes[ep]
	if !listed {
		return true
	}
	return slices.ContainsFunc(s.opts.Scopes, func(have string) bool {
		return slices.ContainsFunc(need, func(n string) bool { return strings.EqualFold(strings.TrimSpace(have), n) })
	})
}
