package zoho

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// fieldsPath is Fields Metadata, under /crm/{version}.
const fieldsPath = "/settings/fields"

// LeadFields returns the API names of the fields of Leads (GET
// /crm/{version}/settings/fields?module=Leads), in Zoho's order: what a
// sweep's condition may name. It needs ScopeFieldsRead (or
// ZohoCRM.settings.fields.ALL, ZohoCRM.settings.ALL); a refusal is an
// *APIError like every other, which a caller may take as "not known".
func (c *Client) LeadFields(ctx context.Context) ([]string, error) {
	const op = "lead_fields"
	resp, err := c.call(ctx, op, http.MethodGet, fieldsPath, url.Values{"module": {"Leads"}}, nil, nil)
	if err != nil {
		return nil, err
	}
	var body struct {
		Fields []struct {
			APIName string `json:"api_name"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		return nil, &APIError{Op: op, HTTPStatus: resp.status, Class: Retryable, IDIndex: -1,
			Message: describeUnreadable(resp.body, err), Err: err}
	}
	names := make([]string, 0, len(body.Fields))
	for i, f := range body.Fields {
		if f.APIName == "" {
			return nil, &APIError{Op: op, HTTPStatus: resp.status, Class: Retryable, IDIndex: -1,
				Message: "a field without an api_name: fields[" + strconv.Itoa(i) + "]"}
		}
		names = append(names, f.APIName)
	}
	return names, nil
}
