package zohosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var jobIDPattern = regexp.MustCompile(`^[0-9]{19}$`)

func TestMassConvertValidation(t *testing.T) {
	const (
		tasks    = "3652397000000002011"
		events   = "3652397000000002013"
		calls    = "3652397000000002015"
		contacts = "3652397000000002003"
		deals    = "3652397000000002005"
		accounts = "3652397000000002001"
		deal     = `"Deal_Name":"D","Stage":"Qualification","Closing_Date":"2026-03-31"`
	)
	fiftyOne := make([]string, 51)
	for i := range fiftyOne {
		fiftyOne[i] = fmt.Sprintf(`"%d"`, 100+i)
	}
	tests := []struct {
		name      string
		version   string
		pipelines bool
		body      string // L0..L4 stand for seeded leads, ALL for all 50 of them
		bare      bool   // send body as written; otherwise it gets an owner (owned)
		status    int    // 0: scheduled
		code      string
		details   string
	}{
		{name: "not json", body: `{"ids":`, status: 400, code: "INVALID_DATA", details: `{}`},
		{name: "array body", body: `["L0"]`, status: 400, code: "INVALID_DATA", details: `{}`},
		{name: "null body", body: `null`, status: 400, code: "INVALID_DATA", details: `{}`},
		{name: "ids missing", body: `{}`, status: 400, code: "MANDATORY_NOT_FOUND", details: `{"api_name":"ids","json_path":"$.ids"}`},
		{name: "ids null", body: `{"ids":null}`, status: 400, code: "MANDATORY_NOT_FOUND", details: `{"api_name":"ids","json_path":"$.ids"}`},
		{name: "ids empty", body: `{"ids":[]}`, status: 400, code: "MANDATORY_NOT_FOUND", details: `{"api_name":"ids","json_path":"$.ids"}`},
		{name: "51 ids", body: `{"ids":[` + strings.Join(fiftyOne, ",") + `]}`, status: 400, code: "LIMIT_EXCEEDED",
			details: `{"limit":50,"limit_due_to":[{"api_name":"ids","json_path":"$.ids"}]}`},
		{name: "id as number", body: `{"ids":["L0",L1]}`},
		{name: "id as fraction", body: `{"ids":["L0",3652397000001000002.0]}`, status: 400, code: "INVALID_DATA",
			details: `{"expected_data_type":"long","api_name":"ids","json_path":"$.ids[1]"}`},
		{name: "id as exponent", body: `{"ids":[3.652397000001e18]}`, status: 400, code: "INVALID_DATA",
			details: `{"expected_data_type":"long","api_name":"ids","json_path":"$.ids[0]"}`},
		{name: "id negative", body: `{"ids":[-1]}`, status: 400, code: "INVALID_DATA",
			details: `{"expected_data_type":"long","api_name":"ids","json_path":"$.ids[0]"}`},
		{name: "id not digits", body: `{"ids":["L0","L1","12a"]}`, status: 400, code: "INVALID_DATA",
			details: `{"expected_data_type":"long","api_name":"ids","json_path":"$.ids[2]"}`},
		{name: "id of 20 digits", body: `{"ids":["36523970000010000011"]}`, status: 400, code: "INVALID_DATA",
			details: `{"expected_data_type":"long","api_name":"ids","json_path":"$.ids[0]"}`},
		{name: "id beyond int64", body: `{"ids":["9999999999999999999"]}`, status: 400, code: "INVALID_DATA",
			details: `{"expected_data_type":"long","api_name":"ids","json_path":"$.ids[0]"}`},
		{name: "id empty", body: `{"ids":[""]}`, status: 400, code: "INVALID_DATA",
			details: `{"expected_data_type":"long","api_name":"ids","json_path":"$.ids[0]"}`},
		{name: "id format before Deals", body: `{"ids":["x"],"Deals":{}}`, status: 400, code: "INVALID_DATA",
			details: `{"expected_data_type":"long","api_name":"ids","json_path":"$.ids[0]"}`},

		{name: "deal ok", body: `{"ids":["L0"],"Deals":{` + deal + `}}`},
		{name: "deal name missing", body: `{"ids":["L0"],"Deals":{"Stage":"S","Closing_Date":"2026-03-31"}}`, status: 400,
			code: "MANDATORY_NOT_FOUND", details: `{"api_name":"Deal_Name","json_path":"$.Deals.Deal_Name"}`},
		{name: "deal name empty", body: `{"ids":["L0"],"Deals":{"Deal_Name":"","Stage":"S","Closing_Date":"2026-03-31"}}`, status: 400,
			code: "MANDATORY_NOT_FOUND", details: `{"api_name":"Deal_Name","json_path":"$.Deals.Deal_Name"}`},
		{name: "stage missing", body: `{"ids":["L0"],"Deals":{"Deal_Name":"D","Closing_Date":"2026-03-31"}}`, status: 400,
			code: "MANDATORY_NOT_FOUND", details: `{"api_name":"Stage","json_path":"$.Deals.Stage"}`},
		{name: "closing date missing", body: `{"ids":["L0"],"Deals":{"Deal_Name":"D","Stage":"S"}}`, status: 400,
			code: "MANDATORY_NOT_FOUND", details: `{"api_name":"Closing_Date","json_path":"$.Deals.Closing_Date"}`},
		{name: "pipeline missing", pipelines: true, body: `{"ids":["L0"],"Deals":{` + deal + `}}`, status: 400,
			code: "MANDATORY_NOT_FOUND", details: `{"api_name":"Pipeline","json_path":"$.Deals.Pipeline"}`},
		{name: "pipeline given", pipelines: true, body: `{"ids":["L0"],"Deals":{` + deal + `,"Pipeline":"Standard"}}`},
		{name: "closing date format", body: `{"ids":["L0"],"Deals":{"Deal_Name":"D","Stage":"S","Closing_Date":"31/03/2026"}}`, status: 400,
			code: "INVALID_DATA", details: `{"expected_data_type":"date","api_name":"Closing_Date","json_path":"$.Deals.Closing_Date"}`},
		{name: "closing date impossible", body: `{"ids":["L0"],"Deals":{"Deal_Name":"D","Stage":"S","Closing_Date":"2026-02-30"}}`, status: 400,
			code: "INVALID_DATA", details: `{"expected_data_type":"date","api_name":"Closing_Date","json_path":"$.Deals.Closing_Date"}`},
		{name: "deals not object", body: `{"ids":["L0"],"Deals":[]}`, status: 400,
			code: "INVALID_DATA", details: `{"expected_data_type":"jsonobject","api_name":"Deals","json_path":"$.Deals"}`},
		{name: "deal custom fields", body: `{"ids":["L0"],"Deals":{` + deal + `,"Amount":1200.50,"Region__c":"EMEA"}}`},

		{name: "assign_to missing", bare: true, body: `{"ids":["L0"]}`, status: 400,
			code: "MANDATORY_NOT_FOUND", details: `{"api_name":"assign_to","json_path":"$.assign_to"}`},
		{name: "assign_to null", bare: true, body: `{"ids":["L0"],"assign_to":null}`, status: 400,
			code: "MANDATORY_NOT_FOUND", details: `{"api_name":"assign_to","json_path":"$.assign_to"}`},
		{name: "assign_to missing, ids first", bare: true, body: `{"ids":[]}`, status: 400,
			code: "MANDATORY_NOT_FOUND", details: `{"api_name":"ids","json_path":"$.ids"}`},
		{name: "assign_to known", body: `{"ids":["L0"],"assign_to":{"id":"3652397000000186017","name":"Ann"}}`},
		{name: "assign_to unknown", body: `{"ids":["L0"],"assign_to":{"id":"1"}}`, status: 400,
			code: "INVALID_DATA", details: `{"api_name":"assign_to","json_path":"$.assign_to.id"}`},
		{name: "assign_to without id", body: `{"ids":["L0"],"assign_to":{}}`, status: 400,
			code: "INVALID_DATA", details: `{"api_name":"assign_to","json_path":"$.assign_to.id"}`},
		{name: "portal type known", body: `{"ids":["L0"],"portal_user_type":{"id":"3652397000000431001"}}`},
		{name: "portal type unknown", body: `{"ids":["L0"],"portal_user_type":{"id":"7"}}`, status: 400,
			code: "INVALID_DATA", details: `{"api_name":"id","json_path":"$.portal_user_type.id"}`},

		{name: "related modules ok", version: "v8", body: `{"ids":["L0"],"related_modules":[{"api_name":"Tasks","id":"` + tasks +
			`"},{"api_name":"Events","id":"` + events + `"},{"api_name":"Calls","id":"` + calls + `"}]}`},
		{name: "related module id missing", body: `{"ids":["L0"],"related_modules":[{"api_name":"Tasks"}]}`, status: 400,
			code: "EXPECTED_FIELD_MISSING", details: `{"expected_fields":[{"api_name":"id","json_path":"$.related_modules[0].id"}]}`},
		{name: "related module both missing", body: `{"ids":["L0"],"related_modules":[{"api_name":"Tasks","id":"` + tasks + `"},{}]}`, status: 400,
			code: "EXPECTED_FIELD_MISSING", details: `{"expected_fields":[{"api_name":"api_name","json_path":"$.related_modules[1].api_name"},{"api_name":"id","json_path":"$.related_modules[1].id"}]}`},
		{name: "related module ambiguous", body: `{"ids":["L0"],"related_modules":[{"api_name":"Tasks","id":"` + calls + `"}]}`, status: 400,
			code: "AMBIGUITY_DURING_PROCESSING", details: `{"ambiguity_due_to":[{"api_name":"id","json_path":"$.related_modules[0].id"},{"api_name":"api_name","json_path":"$.related_modules[0].api_name"}]}`},
		{name: "related module not an activity", body: `{"ids":["L0"],"related_modules":[{"api_name":"Contacts","id":"` + contacts + `"}]}`, status: 400,
			code: "INVALID_DATA", details: `{"api_name":"api_name","json_path":"$.related_modules[0].api_name"}`},
		{name: "related module unknown id", body: `{"ids":["L0"],"related_modules":[{"api_name":"Tasks","id":"42"}]}`, status: 400,
			code: "INVALID_DATA", details: `{"api_name":"id","json_path":"$.related_modules[0].id"}`},
		{name: "related modules v8 cap", version: "v8", body: `{"ids":["L0"],"related_modules":[{"api_name":"Tasks","id":"` + tasks +
			`"},{"api_name":"Events","id":"` + events + `"},{"api_name":"Calls","id":"` + calls + `"},{"api_name":"Tasks","id":"` + tasks + `"}]}`,
			status: 400, code: "LIMIT_EXCEEDED", details: `{"limit":3,"limit_due_to":[{"api_name":"related_modules","json_path":"$.related_modules"}]}`},
		{name: "related modules v7 no cap", body: `{"ids":["L0"],"related_modules":[{"api_name":"Tasks","id":"` + tasks +
			`"},{"api_name":"Events","id":"` + events + `"},{"api_name":"Calls","id":"` + calls + `"},{"api_name":"Tasks","id":"` + tasks + `"}]}`},

		{name: "tags ok", version: "v8", body: `{"ids":["L0"],"carry_over_tags":[{"api_name":"Contacts","id":"` + contacts +
			`"},{"api_name":"Deals","id":"` + deals + `"},{"api_name":"Accounts","id":"` + accounts + `"}]}`},
		{name: "tags ambiguous", body: `{"ids":["L0"],"carry_over_tags":[{"api_name":"Contacts","id":"` + contacts + `"},{"api_name":"Deals","id":"` + tasks + `"}]}`,
			status: 400, code: "AMBIGUITY_DURING_PROCESSING", details: `{"ambiguity_due_to":[{"api_name":"id","json_path":"$.carry_over_tags[1].id"},{"api_name":"api_name","json_path":"$.carry_over_tags[1].api_name"}]}`},
		{name: "tags api_name missing", body: `{"ids":["L0"],"carry_over_tags":[{"id":"` + deals + `"}]}`, status: 400,
			code: "EXPECTED_FIELD_MISSING", details: `{"expected_fields":[{"api_name":"api_name","json_path":"$.carry_over_tags[0].api_name"}]}`},
		{name: "tags v8 cap", version: "v8", body: `{"ids":["L0"],"carry_over_tags":[{"api_name":"Contacts","id":"` + contacts +
			`"},{"api_name":"Deals","id":"` + deals + `"},{"api_name":"Accounts","id":"` + accounts + `"},{"api_name":"Deals","id":"` + deals + `"}]}`,
			status: 400, code: "LIMIT_EXCEEDED", details: `{"limit":3,"limit_due_to":[{"api_name":"carry_over_tags","json_path":"$.carry_over_tags"}]}`},
		{name: "tags not array", body: `{"ids":["L0"],"carry_over_tags":{"api_name":"Deals","id":"` + deals + `"}}`, status: 400,
			code: "INVALID_DATA", details: `{"expected_data_type":"jsonarray","api_name":"carry_over_tags","json_path":"$.carry_over_tags"}`},

		{name: "attachments ok", body: `{"ids":["L0"],"move_attachments_to":{"api_name":"Deals","id":"` + deals + `"}}`},
		{name: "attachments ambiguous", body: `{"ids":["L0"],"move_attachments_to":{"api_name":"Contacts","id":"` + accounts + `"}}`, status: 400,
			code: "AMBIGUITY_DURING_PROCESSING", details: `{"ambiguity_due_to":[{"api_name":"id","json_path":"$.move_attachments_to.id"},{"api_name":"api_name","json_path":"$.move_attachments_to.api_name"}]}`},
		{name: "attachments id missing", body: `{"ids":["L0"],"move_attachments_to":{"api_name":"Deals"}}`, status: 400,
			code: "EXPECTED_FIELD_MISSING", details: `{"expected_fields":[{"api_name":"id","json_path":"$.move_attachments_to.id"}]}`},
		{name: "attachments to activity", body: `{"ids":["L0"],"move_attachments_to":{"api_name":"Tasks","id":"` + tasks + `"}}`, status: 400,
			code: "INVALID_DATA", details: `{"api_name":"api_name","json_path":"$.move_attachments_to.api_name"}`},
		{name: "attachments as array", body: `{"ids":["L0"],"move_attachments_to":[{"api_name":"Deals","id":"` + deals + `"}]}`, status: 400,
			code: "INVALID_DATA", details: `{"expected_data_type":"jsonobject","api_name":"move_attachments_to","json_path":"$.move_attachments_to"}`},

		{name: "threshold v8 bool", version: "v8", body: `{"ids":["L0"],"apply_assignment_threshold":false}`},
		{name: "threshold v8 string", version: "v8", body: `{"ids":["L0"],"apply_assignment_threshold":"yes"}`, status: 400,
			code: "INVALID_DATA", details: `{"expected_data_type":"boolean","api_name":"apply_assignment_threshold","json_path":"$.apply_assignment_threshold"}`},
		{name: "threshold v7 ignored", body: `{"ids":["L0"],"apply_assignment_threshold":"yes"}`},

		{name: "unknown lead", body: `{"ids":["L0","L1","3652397000009999999","L2"]}`, status: 400,
			code: "INVALID_DATA", details: `{"api_name":"ids","json_path":"$.ids[2]"}`},
		{name: "first unknown lead only", body: `{"ids":["L0","1","2"]}`, status: 400,
			code: "INVALID_DATA", details: `{"api_name":"ids","json_path":"$.ids[1]"}`},
		{name: "duplicate in request", body: `{"ids":["L0","L1","L0"]}`, status: 400,
			code: "INVALID_DATA", details: `{"api_name":"ids","json_path":"$.ids[2]"}`},
		{name: "fifty ids", body: `{"ids":[ALL]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{PipelinesEnabled: tt.pipelines})
			leads := e.s.SeedLeadRange(50)
			body := strings.ReplaceAll(tt.body, "ALL", `"`+strings.Join(leads, `","`)+`"`)
			for i, id := range leads[:5] {
				body = strings.ReplaceAll(body, fmt.Sprintf("L%d", i), id)
			}
			if !tt.bare {
				body = owned(body)
			}
			version := tt.version
			if version == "" {
				version = "v7"
			}
			a := e.convert(version, body)
			if tt.status != 0 {
				a.wantError(t, tt.status, tt.code, tt.details)
				if n := e.s.LeadCount(); n != 50 {
					t.Errorf("a refused call took leads: %d left of 50", n)
				}
				if st := e.s.Stats(); st.JobsScheduled != 0 || st.IDsSubmitted != 0 {
					t.Errorf("a refused call was counted as scheduled: %+v", st)
				}
				return
			}
			if a.status != http.StatusAccepted || a.body["code"] != "SCHEDULED" || a.body["status"] != "success" ||
				a.body["message"] != "Mass Convert scheduled successfully" {
				t.Fatalf("got %d %s, want 202 SCHEDULED", a.status, a.raw)
			}
			if _, wrapped := a.body["data"]; wrapped {
				t.Errorf("mass_convert answer wrapped in data: %s", a.raw)
			}
			jobID, _ := a.body["details"].(map[string]any)["job_id"].(string)
			if !jobIDPattern.MatchString(jobID) {
				t.Fatalf("job_id %q is not a 19-digit string", jobID)
			}
			if e.s.HasLead(leads[0]) {
				t.Errorf("lead %s still in the store after scheduling", leads[0])
			}
			if a := e.convert(version, body); a.status == http.StatusAccepted {
				t.Errorf("resubmission scheduled again: %s", a.raw)
			}
		})
	}
}

func TestMassConvertKeepsDeals(t *testing.T) {
	e := newEnv(t, Options{})
	lead := e.s.SeedLeadRange(1)[0]
	e.schedule(lead)
	a := e.convert("v8", idsBody(lead))
	a.wantError(t, 400, "INVALID_DATA", `{"api_name":"ids","json_path":"$.ids[0]"}`)

	lead = e.s.SeedLeadRange(1)[0]
	a = e.convert("v8", owned(`{"ids":["`+lead+`"],"Deals":{"Deal_Name":"D","Stage":"S","Closing_Date":"2026-03-31","Amount":1200.50}}`))
	if a.status != http.StatusAccepted {
		t.Fatalf("got %d %s", a.status, a.raw)
	}
	jobID := a.body["details"].(map[string]any)["job_id"].(string)
	info, ok := e.s.Job(jobID)
	if !ok || info.Version != "v8" || info.Deals["Amount"] != json.Number("1200.50") || info.Deals["Deal_Name"] != "D" {
		t.Fatalf("Job(%s) = %+v, %v", jobID, info, ok)
	}
	if !json.Valid(info.Body) || len(info.IDs) != 1 || info.IDs[0] != lead {
		t.Errorf("job lost its request: %+v", info)
	}
}

func TestSuccessStatus(t *testing.T) {
	e := newEnv(t, Options{SuccessStatus: http.StatusOK})
	a := e.convert("v7", idsBody(e.s.SeedLeadRange(1)...))
	if a.status != http.StatusOK || a.body["code"] != "SCHEDULED" {
		t.Fatalf("got %d %s, want 200 SCHEDULED", a.status, a.raw)
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/crm/v7/Contacts", 404, "INVALID_URL_PATTERN"},
		{"GET", "/crm/v6/Leads", 404, "INVALID_URL_PATTERN"},
		{"POST", "/crm/v6/Leads/actions/mass_convert", 404, "INVALID_URL_PATTERN"},
		{"POST", "/crm/v7/leads/actions/mass_convert", 404, "INVALID_URL_PATTERN"},
		{"POST", "/crm/v7/Leads/actions/mass_convert/", 404, "INVALID_URL_PATTERN"},
		{"GET", "/oauth/v2/token", 404, "INVALID_URL_PATTERN"},
		{"PUT", "/crm/v7/Leads/actions/mass_convert", 400, "INVALID_REQUEST_METHOD"},
		{"DELETE", "/crm/v8/Leads/actions/mass_convert", 400, "INVALID_REQUEST_METHOD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			e.do(tt.method, tt.path, e.auth(), "").wantError(t, tt.status, tt.code, `{}`)
		})
	}
	if st := e.s.Stats(); len(st.Calls) != 0 {
		t.Errorf("unrouted calls counted: %v", st.Calls)
	}
}

func TestCRMAuth(t *testing.T) {
	e := newEnv(t, Options{})
	expired := e.s.IssueToken()
	e.clock.Advance(tokenLifetime)
	e.tok = e.s.IssueToken()
	revoked := e.s.IssueToken()
	e.s.InvalidateToken(revoked)
	tests := []struct {
		name, header string
		status       int
		code         string
	}{
		{"live", e.auth(), 400, "INVALID_DATA"}, // past auth, on to the unknown job
		{"missing", "", 401, "AUTHENTICATION_FAILURE"},
		{"bearer", "Bearer " + e.tok, 401, "AUTHENTICATION_FAILURE"},
		{"lower-case scheme", "zoho-oauthtoken " + e.tok, 401, "AUTHENTICATION_FAILURE"},
		{"scheme only", "Zoho-oauthtoken ", 401, "AUTHENTICATION_FAILURE"},
		{"unknown", "Zoho-oauthtoken 1000.deadbeef.deadbeef", 401, "INVALID_TOKEN"},
		{"expired", "Zoho-oauthtoken " + expired, 401, "INVALID_TOKEN"},
		{"invalidated", "Zoho-oauthtoken " + revoked, 401, "INVALID_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			details := `{}`
			if tt.status == 400 {
				details = `{"param_name":"job_id"}`
			}
			e.do("GET", massConvertPath+"?job_id=1", tt.header, "").wantError(t, tt.status, tt.code, details)
		})
	}
	if got := e.s.Stats().InvalidTokenAnswers; got != len(tests)-1 {
		t.Errorf("InvalidTokenAnswers = %d, want %d", got, len(tests)-1)
	}
	a := e.do("GET", massConvertPath+"?job_id=1", "Zoho-oauthtoken "+expired, "")
	if a.body["message"] != "invalid oauth token" {
		t.Errorf("INVALID_TOKEN message = %v", a.body["message"])
	}
	e.s.ExpireAllTokens()
	e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 401, "INVALID_TOKEN", `{}`)
}

func TestStatusErrors(t *testing.T) {
	e := newEnv(t, Options{})
	e.do("GET", massConvertPath, e.auth(), "").wantError(t, 400, "REQUIRED_PARAM_MISSING", `{"param_name":"job_id"}`)
	e.do("GET", "/crm/v8/Leads/actions/mass_convert?job_id=", e.auth(), "").wantError(t, 400, "REQUIRED_PARAM_MISSING", `{"param_name":"job_id"}`)
	a := e.do("GET", massConvertPath+"?job_id=3652397000009835020", e.auth(), "")
	a.wantError(t, 400, "INVALID_DATA", `{"param_name":"job_id"}`)
	if a.body["message"] != "The jobid given seems to be invalid" {
		t.Errorf("message = %v", a.body["message"])
	}
}

// Zoho's own SDK sends ids as JSON numbers; they are taken digit for digit.
func TestNumericIDs(t *testing.T) {
	e := newEnv(t, Options{})
	leads := e.s.SeedLeadRange(2)
	body := fmt.Sprintf(`{"ids":[%s,%s],"assign_to":{"id":3652397000000186017}}`, leads[0], leads[1])
	a := e.convert("v7", body)
	if a.status != http.StatusAccepted {
		t.Fatalf("got %d %s, want 202", a.status, a.raw)
	}
	info, ok := e.s.Job(a.body["details"].(map[string]any)["job_id"].(string))
	if !ok || !slices.Equal(info.IDs, leads) {
		t.Errorf("job holds %v, want %v", info.IDs, leads)
	}
}
