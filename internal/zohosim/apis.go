package zohosim

import "net/http"

// The API catalogue: GET /crm/v8/__apis lists each endpoint with the
// credits a call costs, min_credits and max_credits (zoho-crm-api.md
// section 4), so that a deployment can read what Zoho bills at run time
// instead of guessing. The simulator lists the endpoints it serves at the
// costs it charges (Options.Credits, 1 when not listed), for both API
// in Zoho's shape:
//
//	{"__apis": [{"path": "/crm/v8/Leads/actions/mass_convert",
//	  "operation_types": [{"method": "POST", "oauth_scope": "ZohoCRM.mass_convert.leads.CREATE",
//	    "min_credits": 1, "max_credits": 1}, ...]}, ...]}
//
// A path Zoho serves under several methods has one operation type each.
// The catalogue lists the v8 paths; a v7 call costs what its v8 twin does.

// catalogue is the simulator's endpoints by path (under /crm/{version})
// and method.
var catalogue = []struct {
	path string
	ops  []catalogueOp
}{
	{"/Leads/actions/mass_convert", []catalogueOp{{http.MethodPost, EndpointMassConvert}, {http.MethodGet, EndpointStatus}}},
	{"/Leads", []catalogueOp{{http.MethodGet, EndpointGetLeads}}},
	{"/Leads/search", []catalogueOp{{http.MethodGet, EndpointSearch}}},
	{"/Leads/{id}/actions/convert", []catalogueOp{{http.MethodPost, EndpointConvertLead}}},
	{"/coql", []catalogueOp{{http.MethodPost, EndpointCOQL}}},
	{"/settings/fields", []catalogueOp{{http.MethodGet, EndpointFields}}},
	{"/users", []catalogueOp{{http.MethodGet, EndpointUsers}}},
	{"/org", []catalogueOp{{http.MethodGet, EndpointOrg}}},
	{"/__apis", []catalogueOp{{http.MethodGet, EndpointAPIs}}},
}

type catalogueOp struct {
	method string
	ep     Endpoint
}

// Cost is what a call to ep costs in credits: Options.Credits, else 1.
func (s *Server) Cost(ep Endpoint) int {
	if c, ok := s.opts.Credits[ep]; ok {
		return c
	}
	return 1
}

// apis answers GET /crm/v8/__apis.
func (s *Server) apis() (int, any) {
	var list []map[string]any
	for _, e := range catalogue {
		var ops []map[string]any
		for _, op := range e.ops {
			cost := s.Cost(op.ep)
			o := map[string]any{"method": op.method, "min_credits": cost, "max_credits": cost}
			if scopes := endpointScopes[op.ep]; len(scopes) > 0 {
				o["oauth_scope"] = scopes[0]
			}
			ops = append(ops, o)
		}
		list = append(list, map[string]any{"path": "/crm/v8" + e.path, "operation_types": ops})
	}
	return http.StatusOK, map[string]any{"__apis": list}
}
