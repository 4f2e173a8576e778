package zoho

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// apisPath is Zoho's API catalogue, which exists in v8 only: it lists each
// endpoint with the credits one call costs (zoho-crm-api.md section 4).
const apisPath = "/crm/v8/__apis"

// EndpointCost is what Zoho bills for one method of one endpoint.
type EndpointCost struct {
	Path       string // as Zoho lists it, e.g. /crm/v8/Leads/actions/mass_convert
	Method     string
	MinCredits int
	MaxCredits int
}

// BridgeCall is a call the bridge makes, as an operator knows it.
type BridgeCall struct {
	Op     string // as Call.Op and the ZohoRequests metric name it
	Method string
	Path   string // under /crm/{version}
}

// BridgeCalls are every CRM call the bridge makes.
var BridgeCalls = []BridgeCall{
	{"mass_convert", http.MethodPost, massConvertPath},
	{"convert_status", http.MethodGet, massConvertPath},
	{"get_leads", http.MethodGet, leadsPath},
	{"coql", http.MethodPost, coqlPath},
	{"lead_fields", http.MethodGet, fieldsPath},
}

// Credits asks Zoho what each endpoint costs (GET /crm/v8/__apis), in the
// v8 catalogue whatever version the client speaks: a v7 call is billed as
// its v8 twin. An error is always an *APIError.
func (c *Client) Credits(ctx context.Context) ([]EndpointCost, error) {
	const op = "apis"
	resp, err := c.call(ctx, op, http.MethodGet, apisPath, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	var body struct {
		APIs []struct {
			Path string `json:"path"`
			Ops  []struct {
				Method     string      `json:"method"`
				MinCredits json.Number `json:"min_credits"`
				MaxCredits json.Number `json:"max_credits"`
			} `json:"operation_types"`
		} `json:"__apis"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		return nil, &APIError{Op: op, HTTPStatus: resp.status, Class: Retryable, IDIndex: -1,
			Message: describeUnreadable(resp.body, err), Err: err}
	}
	var out []EndpointCost
	for _, api := range body.APIs {
		for _, o := range api.Ops {
			minC, _ := o.MinCredits.Int64()
			maxC, _ := o.MaxCredits.Int64()
			out = append(out, EndpointCost{Path: api.Path, Method: strings.ToUpper(o.Method),
				MinCredits: int(minC), MaxCredits: int(maxC)})
		}
	}
	return out, nil
}

var versionPrefix = regexp.MustCompile(`^/crm/v[0-9]+`)

// CostOf finds what call costs in costs, whatever the version in Zoho's
// path: false when Zoho does not list it.
func CostOf(costs []EndpointCost, call BridgeCall) (EndpointCost, bool) {
	for _, c := range costs {
		if strings.EqualFold(c.Method, call.Method) && versionPrefix.ReplaceAllString(c.Path, "") == call.Path {
			return c, true
		}
	}
	return EndpointCost{}, false
}
