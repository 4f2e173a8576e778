package zohosim

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The metadata calls Zoho's official SDKs make before the call asked of
// them: Fields Metadata for the module a request body or a response
// carries records of (mass_convert's Deals, Get Records' Leads), and the
// current user and org, which the SDK reads once per new token to name
// its token store entry. A client that never makes them meets none of this.

// The org and user every simulator describes.
const (
	DefaultUserEmail = "sim.admin@example.com"
	DefaultOrgID     = "3652397000000004001"
	DefaultOrgZGID   = "70079551"
)

// A fieldMeta is one field as Fields Metadata describes it; picklist is
// nil unless the field is a picklist.
type fieldMeta struct {
	apiName, label, dataType, jsonType string
	length                             int
	mandatory, custom                  bool
	picklist                           []string
}

// customLeadFields describes the fields SetLeadFields added to Leads, as
// text custom fields, by name: Fields Metadata lists every field COQL
// selects on, as Zoho's would.
func (s *Server) customLeadFields() []fieldMeta {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []fieldMeta
	for _, name := range slices.Sorted(maps.Keys(s.customFields)) {
		if slices.Contains(leadFieldNames, name) {
			continue
		}
		out = append(out, fieldMeta{apiName: name, label: strings.ReplaceAll(name, "_", " "), dataType: "text",
			jsonType: "string", length: 255, custom: true})
	}
	return out
}

// dealStages are the stages of a default org's Standard pipeline.
var dealStages = []string{"Qualification", "Needs Analysis", "Value Proposition", "Identify Decision Makers",
	"Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"}

// moduleFields lists, per module, the fields the simulated org reports.
// They are a default org's standard fields that need no further metadata:
// a lookup field would send an SDK on to fetch the looked-up module's
// fields too. Pipeline's mandatory flag follows Options.PipelinesEnabled.
// Leads leave out the conversion fields, whose types the doc leaves open
// (an SDK reads fields it has no metadata for by their JSON shape).
var moduleFields = map[string][]fieldMeta{
	"Deals": {
		{apiName: "Deal_Name", label: "Deal Name", dataType: "text", jsonType: "string", length: 120, mandatory: true},
		{apiName: "Stage", label: "Stage", dataType: "picklist", jsonType: "string", length: 120, mandatory: true, picklist: dealStages},
		{apiName: "Closing_Date", label: "Closing Date", dataType: "date", jsonType: "string", length: 20, mandatory: true},
		{apiName: "Pipeline", label: "Pipeline", dataType: "picklist", jsonType: "string", length: 120, picklist: []string{"Standard"}},
		{apiName: "Amount", label: "Amount", dataType: "currency", jsonType: "double", length: 16},
		{apiName: "Description", label: "Description", dataType: "textarea", jsonType: "string", length: 32000},
		{apiName: "Owner", label: "Deal Owner", dataType: "ownerlookup", jsonType: "jsonobject", length: 120},
	},
	"Leads": {
		{apiName: "First_Name", label: "First Name", dataType: "text", jsonType: "string", length: 40},
		{apiName: "Last_Name", label: "Last Name", dataType: "text", jsonType: "string", length: 80, mandatory: true},
		{apiName: "Company", label: "Company", dataType: "text", jsonType: "string", length: 200},
		{apiName: "Email", label: "Email", dataType: "email", jsonType: "string", length: 100},
		{apiName: "Lead_Status", label: "Lead Status", dataType: "picklist", jsonType: "string", length: 120,
			picklist: []string{"-None-", "Attempted to Contact", "Contact in Future", "Contacted", "Junk Lead", "Lost Lead", "Not Contacted", "Pre-Qualified", "Not Qualified"}},
		{apiName: "Lead_Source", label: "Lead Source", dataType: "picklist", jsonType: "string", length: 120,
			picklist: []string{"-None-", "Advertisement", "Cold Call", "Employee Referral", "External Referral", "Online Store",
				"Partner", "Public Relations", "Sales Email Alias", "Seminar Partner", "Internal Seminar", "Trade Show", "Web Download",
				"Web Research", "Chat"}},
		{apiName: "Owner", label: "Lead Owner", dataType: "ownerlookup", jsonType: "jsonobject", length: 120},
	},
}

// fieldsMeta answers GET /crm/v8/settings/fields?module=: every field of
// the module, as Zoho's v8 Fields Metadata API shapes it.
func (s *Server) fieldsMeta(q url.Values) (int, any) {
	module := strings.TrimSpace(q.Get("module"))
	if module == "" {
		return (&apiError{http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
			obj{"param_name": "module"}}).reply()
	}
	moduleID, known := moduleIDs[module]
	if !known {
		return (&apiError{http.StatusBadRequest, "INVALID_MODULE", "the module name given seems to be invalid",
			obj{"param_name": "module"}}).reply()
	}
	metas := moduleFields[module]
	if module == "Leads" {
		metas = append(slices.Clip(metas), s.customLeadFields()...)
	}
	fields := make([]obj, 0, len(metas))
	for i, m := range metas {
		mandatory := m.mandatory || m.apiName == "Pipeline" && s.opts.PipelinesEnabled
		f := obj{
			"api_name":         m.apiName,
			"id":               fieldID(moduleID, i),
			"field_label":      m.label,
			"display_label":    m.label,
			"data_type":        m.dataType,
			"json_type":        m.jsonType,
			"length":           m.length,
			"system_mandatory": mandatory,
			"custom_field":     m.custom,
			"read_only":        false,
			"field_read_only":  false,
			"visible":          true,
			"webhook":          true,
			"created_source":   "default",
			"operation_type": obj{
				"web_update": true, "api_create": true, "web_create": true, "api_update": true,
			},
			"pick_list_values": picklist(moduleID, i, m.picklist),
			"lookup":           obj{},
		}
		fields = append(fields, f)
	}
	return http.StatusOK, obj{"fields": fields}
}

// picklist describes the values of field number i of a module.
func picklist(moduleID string, i int, values []string) []obj {
	out := make([]obj, 0, len(values))
	for k, v := range values {
		out = append(out, obj{
			"display_value":   v,
			"actual_value":    v,
			"reference_value": v,
			"sequence_number": k + 1,
			"type":            "used",
			"id":              fieldID(moduleID, 100*(i+1)+k),
		})
	}
	return out
}

// fieldID derives a stable 19-digit field id from the module's id.
func fieldID(moduleID string, n int) string {
	return fmt.Sprintf("%s%06d", moduleID[:len(moduleID)-6], 300000+n)
}

// usersAPI answers GET /crm/v8/users. Only type=CurrentUser is simulated,
// the one call the SDK makes: the token's user, who is the default user.
func (s *Server) usersAPI(q url.Values) (int, any) {
	if t := q.Get("type"); t != "CurrentUser" {
		return (&apiError{http.StatusBadRequest, "INVALID_DATA", "invalid data", obj{"param_name": "type"}}).reply()
	}
	user := obj{
		"id":         DefaultUserID,
		"first_name": "Sim",
		"last_name":  "Admin",
		"full_name":  "Sim Admin",
		"email":      DefaultUserEmail,
		"status":     "active",
		"confirm":    true,
		"role":       obj{"name": "CEO", "id": "3652397000000026005"},
		"profile":    obj{"name": "Administrator", "id": "3652397000000026011"},
		"time_zone":  "Etc/UTC",
		"locale":     "en_US",
		"language":   "en_US",
		"country":    "US",
		"zuid":       "70079552",
	}
	return http.StatusOK, obj{
		"users": []obj{user},
		"info":  obj{"per_page": 200, "count": 1, "page": 1, "more_records": false},
	}
}

// org answers GET /crm/v8/org, whose zgid the SDK pairs with the current
// user's email.
func (s *Server) org() (int, any) {
	return http.StatusOK, obj{"org": []obj{{
		"id":            DefaultOrgID,
		"company_name":  "Zoho Simulator",
		"zgid":          DefaultOrgZGID,
		"primary_email": DefaultUserEmail,
		"time_zone":     "Etc/UTC",
		"country_code":  "US",
		"currency":      "US Dollar - USD",
		"iso_code":      "USD",
		"type":          "production",
	}}}
}
