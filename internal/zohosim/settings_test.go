package zohosim

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"
)

// fieldsOf decodes a Fields Metadata answer into api_name -> field.
func (a answer) fieldsOf(t *testing.T) map[string]map[string]any {
	t.Helper()
	var v struct{ Fields []map[string]any }
	if a.status != http.StatusOK || json.Unmarshal(a.raw, &v) != nil || len(v.Fields) == 0 {
		t.Fatalf("fields: %d %s", a.status, a.raw)
	}
	out := map[string]map[string]any{}
	for _, f := range v.Fields {
		name, _ := f["api_name"].(string)
		for _, key := range []string{"id", "field_label", "display_label", "data_type", "json_type"} {
			if s, _ := f[key].(string); s == "" {
				t.Errorf("field %q without %s: %v", name, key, f)
			}
		}
		if _, ok := f["system_mandatory"].(bool); !ok {
			t.Errorf("field %q without system_mandatory: %v", name, f)
		}
		out[name] = f
	}
	return out
}

func TestFieldsMetadata(t *testing.T) {
	type want struct{ dataType, jsonType string }
	deals := map[string]want{
		"Deal_Name":    {"text", "string"},
		"Stage":        {"picklist", "string"},
		"Closing_Date": {"date", "string"},
		"Pipeline":     {"picklist", "string"},
	}
	tests := []struct {
		name      string
		opts      Options
		path      string
		fields    map[string]want
		mandatory []string // system_mandatory fields among those listed
	}{
		{"deals v8", Options{}, "/crm/v8/settings/fields?module=Deals", deals, []string{"Deal_Name", "Stage", "Closing_Date"}},
		{"deals v7", Options{}, "/crm/v7/settings/fields?module=Deals", deals, []string{"Deal_Name", "Stage", "Closing_Date"}},
		{"deals with pipelines", Options{PipelinesEnabled: true}, "/crm/v8/settings/fields?module=Deals", deals,
			[]string{"Deal_Name", "Stage", "Closing_Date", "Pipeline"}},
		{"leads", Options{}, "/crm/v8/settings/fields?module=Leads",
			map[string]want{"Last_Name": {"text", "string"}, "Lead_Status": {"picklist", "string"}}, []string{"Last_Name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts)
			got := e.do("GET", tt.path, e.auth(), "").fieldsOf(t)
			for name, w := range tt.fields {
				f, ok := got[name]
				if !ok {
					t.Errorf("no field %s", name)
					continue
				}
				if f["data_type"] != w.dataType || f["json_type"] != w.jsonType {
					t.Errorf("%s: data_type %v json_type %v, want %s %s", name, f["data_type"], f["json_type"], w.dataType, w.jsonType)
				}
			}
			for name, f := range got {
				want := false
				for _, m := range tt.mandatory {
					want = want || m == name
				}
				if f["system_mandatory"] != want {
					t.Errorf("%s: system_mandatory %v, want %v", name, f["system_mandatory"], want)
				}
				if f["data_type"] == "lookup" {
					t.Errorf("%s: a lookup would send an SDK on to the looked-up module", name)
				}
			}
		})
	}
}

// TestFieldsMetadataListsCustomFields: a field SetLeadFields adds to Leads
// is listed, as a custom field, beside the standard ones COQL knows.
func TestFieldsMetadataListsCustomFields(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.SetLeadFields(e.s.SeedLeadRange(1)[0], map[string]any{"Territory": "North", "Lead_Source": "Web"})
	got := e.do("GET", "/crm/v7/settings/fields?module=Leads", e.auth(), "").fieldsOf(t)
	for _, name := range []string{"Last_Name", "Lead_Status", "Lead_Source", "Territory"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no field %s in %v", name, slices.Collect(maps.Keys(got)))
		}
	}
	if got["Territory"]["custom_field"] != true || got["Lead_Source"]["custom_field"] != false {
		t.Errorf("custom_field: Territory %v, Lead_Source %v", got["Territory"]["custom_field"], got["Lead_Source"]["custom_field"])
	}
}

// Stage's picklist carries the values a client validates a deal against.
func TestFieldsPicklist(t *testing.T) {
	e := newEnv(t, Options{})
	stage := e.do("GET", "/crm/v8/settings/fields?module=Deals", e.auth(), "").fieldsOf(t)["Stage"]
	values, _ := stage["pick_list_values"].([]any)
	var display []string
	for _, v := range values {
		p, _ := v.(map[string]any)
		if p["actual_value"] == nil || p["id"] == nil {
			t.Errorf("picklist value without actual_value or id: %v", p)
		}
		s, _ := p["display_value"].(string)
		display = append(display, s)
	}
	if len(display) == 0 || display[0] != "Qualification" {
		t.Errorf("Stage values %v, want Qualification first", display)
	}
}

func TestSettingsErrors(t *testing.T) {
	tests := []struct {
		name, method, path string
		noAuth             bool
		status             int
		code, details      string
	}{
		{"fields without module", "GET", "/crm/v8/settings/fields", false, 400, "REQUIRED_PARAM_MISSING", `{"param_name":"module"}`},
		{"fields of unknown module", "GET", "/crm/v8/settings/fields?module=Nope", false, 400, "INVALID_MODULE", `{"param_name":"module"}`},
		{"users without type", "GET", "/crm/v8/users", false, 400, "INVALID_DATA", `{"param_name":"type"}`},
		{"users of another type", "GET", "/crm/v8/users?type=AllUsers", false, 400, "INVALID_DATA", `{"param_name":"type"}`},
		{"fields by POST", "POST", "/crm/v8/settings/fields?module=Deals", false, 400, "INVALID_REQUEST_METHOD", ""},
		{"users by POST", "POST", "/crm/v8/users?type=CurrentUser", false, 400, "INVALID_REQUEST_METHOD", ""},
		{"org by POST", "POST", "/crm/v8/org", false, 400, "INVALID_REQUEST_METHOD", ""},
		{"fields without token", "GET", "/crm/v8/settings/fields?module=Deals", true, 401, "AUTHENTICATION_FAILURE", ""},
		{"users without token", "GET", "/crm/v8/users?type=CurrentUser", true, 401, "AUTHENTICATION_FAILURE", ""},
		{"org without token", "GET", "/crm/v8/org", true, 401, "AUTHENTICATION_FAILURE", ""},
		{"unknown version", "GET", "/crm/v6/users?type=CurrentUser", false, 404, "INVALID_URL_PATTERN", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			auth := e.auth()
			if tt.noAuth {
				auth = ""
			}
			e.do(tt.method, tt.path, auth, "").wantError(t, tt.status, tt.code, tt.details)
		})
	}
}

func TestCurrentUserAndOrg(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.do("GET", "/crm/v8/users?type=CurrentUser", e.auth(), "")
	var users struct {
		Users []struct {
			ID, Email, Status string
		}
		Info struct {
			Count       int
			MoreRecords *bool `json:"more_records"`
		}
	}
	if a.status != http.StatusOK || json.Unmarshal(a.raw, &users) != nil {
		t.Fatalf("users: %d %s", a.status, a.raw)
	}
	if len(users.Users) != 1 || users.Users[0].ID != DefaultUserID || users.Users[0].Email != DefaultUserEmail ||
		users.Users[0].Status != "active" || users.Info.Count != 1 || users.Info.MoreRecords == nil || *users.Info.MoreRecords {
		t.Errorf("users: %s", a.raw)
	}

	a = e.do("GET", "/crm/v8/org", e.auth(), "")
	var org struct{ Org []struct{ ID, ZGID string } }
	if a.status != http.StatusOK || json.Unmarshal(a.raw, &org) != nil || len(org.Org) != 1 ||
		org.Org[0].ID != DefaultOrgID || org.Org[0].ZGID != DefaultOrgZGID {
		t.Errorf("org: %d %s", a.status, a.raw)
	}

	st := e.s.Stats()
	if st.Calls[EndpointUsers] != 1 || st.Calls[EndpointOrg] != 1 || st.Calls[EndpointFields] != 0 {
		t.Errorf("calls %v", st.Calls)
	}
	for ep, name := range map[Endpoint]string{EndpointFields: "fields", EndpointUsers: "users", EndpointOrg: "org"} {
		if ep.String() != name {
			t.Errorf("%d.String() = %q, want %q", int(ep), ep.String(), name)
		}
	}
}
