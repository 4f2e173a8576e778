package convert

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// formTestEncode escapes each key and value of "k=v&k=v", so tests can be
// written readably.
func formTestEncode(pairs string) string {
	var out []string
	for p := range strings.SplitSeq(pairs, "&") {
		k, v, _ := strings.Cut(p, "=")
		out = append(out, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return strings.Join(out, "&")
}

func TestDecodeFormFields(t *testing.T) {
	body := formTestEncode("ids=3652397000009835021, 42 ,7&id=8&ids=9,&Deals.Deal_Name= Big deal &Deals.Stage=Qualification" +
		"&Deals.Closing_Date=2026-03-31&Deals.Amount=12.50&Deals.Pipeline=&assign_to=11&portal_user_type= 12 " +
		"&related_modules=Tasks:21, Calls : 23&related_modules=Events:22&carry_over_tags=Contacts:31&move_attachments_to=Deals:32" +
		"&apply_assignment_threshold=FALSE")
	req, err := reqTestForm([]byte(body+"\r\n"), "v8")
	if err != nil {
		t.Fatal(err)
	}
	no := false
	want := &zoho.ConvertRequest{
		IDs: []string{"3652397000009835021", "42", "7", "8", "9"},
		Deals: &zoho.Deal{
			"Deal_Name":    json.RawMessage(`" Big deal "`),
			"Stage":        json.RawMessage(`"Qualification"`),
			"Closing_Date": json.RawMessage(`"2026-03-31"`),
			"Amount":       json.RawMessage(`"12.50"`),
		},
		AssignTo:                 &zoho.Ref{ID: "11"},
		PortalUserType:           &zoho.Ref{ID: "12"},
		RelatedModules:           []zoho.ModuleRef{{APIName: "Tasks", ID: "21"}, {APIName: "Calls", ID: "23"}, {APIName: "Events", ID: "22"}},
		CarryOverTags:            []zoho.ModuleRef{{APIName: "Contacts", ID: "31"}},
		MoveAttachmentsTo:        &zoho.ModuleRef{APIName: "Deals", ID: "32"},
		ApplyAssignmentThreshold: &no,
	}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("got  %+v\nwant %+v", req, want)
	}
}

func TestDecodeFormAccepts(t *testing.T) {
	for name, body := range map[string]string{
		"one id":          "id=3652397000009835021",
		"plus as space":   "ids=1,+2",
		"spaces escaped":  "ids=1%2C%202",
		"empty optionals": "ids=1&assign_to=&portal_user_type=&related_modules=&carry_over_tags=&move_attachments_to=&apply_assignment_threshold=",
		"empty pairs":     "&ids=1&&",
		"key only":        "ids=1&assign_to",
		"v7 without threshold": "ids=1&Deals.Deal_Name=D&Deals.Stage=S&Deals.Closing_Date=2026-03-31&" +
			"Deals.Custom_Field__c=x",
	} {
		t.Run(name, func(t *testing.T) {
			req, err := reqTestForm([]byte(body), "v7")
			if err != nil {
				t.Fatal(err)
			}
			if err := validateRequest(req, "v7"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDecodeFormMatchesJSON: a form and the JSON it stands for are one
// request, so they share a mass_convert call.
func TestDecodeFormMatchesJSON(t *testing.T) {
	form, err := reqTestForm([]byte(formTestEncode("ids=5, 6&Deals.Deal_Name=D&Deals.Stage=S&Deals.Closing_Date=2026-03-31&Deals.Amount=10"+
		"&assign_to=11&related_modules=Calls:23,Tasks:21&apply_assignment_threshold=true")), "v8")
	if err != nil {
		t.Fatal(err)
	}
	js, err := reqTestJSON([]byte(`{"ids":["5","6"],"Deals":{"Deal_Name":"D","Stage":"S","Closing_Date":"2026-03-31","Amount":"10"},
		"assign_to":{"id":"11"},"related_modules":[{"api_name":"Tasks","id":"21"},{"api_name":"Calls","id":"23"}],"apply_assignment_threshold":true}`), "v8")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(form.IDs, js.IDs) || Fingerprint(form) != Fingerprint(js) {
		t.Errorf("form %s %v\njson %s %v", Options(form), form.IDs, Options(js), js.IDs)
	}
}

func TestDecodeFormRefuses(t *testing.T) {
	const deal = "&Deals.Deal_Name=D&Deals.Stage=S&Deals.Closing_Date=2026-03-31"
	for _, tc := range []struct {
		name, body, version, code, path string
	}{
		{"bad escape", "ids=1%zz", "", reqBadRequest, "$"},
		{"bad escape in key", "i%ds=1", "", reqBadRequest, "$"},
		{"semicolon", "ids=1;Deals.Stage=S", "", reqBadRequest, "$"},
		{"not UTF-8", "ids=1&Deals.Deal_Name=\xff", "", reqBadRequest, "$"},
		{"escaped not UTF-8", "ids=1&Deals.Deal_Name=%ff", "", reqBadRequest, "$"},
		{"too large", "ids=1&x=" + strings.Repeat("a", MaxBodyBytes), "", reqLimit, "$"},
		{"JSON sent as form", `{"ids":["1"]}`, "", reqInvalid, `$.{"ids":["1"]}`},

		{"no ids", "", "", reqMandatory, "$.ids"},
		{"ids empty", "ids=&id=", "", reqMandatory, "$.ids"},
		{"ids blank items", "ids=,+,", "", reqMandatory, "$.ids"},
		{"id letters", "ids=1,abc", "", reqInvalid, "$.ids[1]"},
		{"id inner space", "ids=1+2", "", reqInvalid, "$.ids[0]"},
		{"id plus sign", "ids=%2B1", "", reqInvalid, "$.ids[0]"},
		{"id 20 digits", "id=12345678901234567890", "", reqInvalid, "$.ids[0]"},
		{"too many ids", "ids=" + reqTestIDs(MaxIDs+1, false), "", reqLimit, "$.ids"},
		{"duplicate across keys", "ids=1,2&id=2", "", reqDuplicate, "$.ids[2]"},

		{"unknown key", "ids=1&lead_id=2", "", reqInvalid, "$.lead_id"},
		{"wrong case", "ids=1&Assign_To=2", "", reqInvalid, "$.Assign_To"},
		{"JSON-style key", "ids=1&assign_to.id=2", "", reqInvalid, "$.assign_to.id"},
		{"Deals without field", "ids=1&Deals.=x" + deal, "", reqInvalid, "$.Deals"},
		{"Deals missing fields", "ids=1&Deals.Amount=5", "", reqMandatory, "$.Deals.Deal_Name"},
		{"Deals empty mandatory", "ids=1&Deals.Deal_Name=&Deals.Stage=S&Deals.Closing_Date=2026-03-31", "", reqMandatory, "$.Deals.Deal_Name"},
		{"Deals blank mandatory", "ids=1&Deals.Deal_Name=+&Deals.Stage=S&Deals.Closing_Date=2026-03-31", "", reqMandatory, "$.Deals.Deal_Name"},
		{"Deals bad date", "ids=1&Deals.Deal_Name=D&Deals.Stage=S&Deals.Closing_Date=31.03.2026", "", reqInvalid, "$.Deals.Closing_Date"},
		{"Deals repeated", "ids=1" + deal + "&Deals.Stage=T", "", reqDuplicate, "$.Deals.Stage"},

		{"assign_to letters", "ids=1&assign_to=ann", "", reqInvalid, "$.assign_to.id"},
		{"assign_to repeated", "ids=1&assign_to=1&assign_to=2", "", reqDuplicate, "$.assign_to"},
		{"portal_user_type letters", "ids=1&portal_user_type=x", "", reqInvalid, "$.portal_user_type.id"},

		{"related_modules no colon", "ids=1&related_modules=Tasks:1,Calls", "", reqInvalid, "$.related_modules[1]"},
		{"related_modules no id", "ids=1&related_modules=Tasks:", "", reqExpected, "$.related_modules[0].id"},
		{"related_modules no name", "ids=1&related_modules=:5", "", reqExpected, "$.related_modules[0].api_name"},
		{"related_modules bad id", "ids=1&related_modules=Tasks:x", "", reqInvalid, "$.related_modules[0].id"},
		{"related_modules wrong module", "ids=1&related_modules=Deals:1", "", reqInvalid, "$.related_modules[0].api_name"},
		{"related_modules duplicate across keys", "ids=1&related_modules=Tasks:1&related_modules=Tasks:2", "", reqDuplicate, "$.related_modules[1].api_name"},
		{"related_modules four", "ids=1&related_modules=Tasks:1,Events:2,Calls:3,Tasks:4", "", reqLimit, "$.related_modules"},
		{"carry_over_tags wrong module", "ids=1&carry_over_tags=Calls:1", "", reqInvalid, "$.carry_over_tags[0].api_name"},
		{"carry_over_tags no colon", "ids=1&carry_over_tags=Deals", "", reqInvalid, "$.carry_over_tags[0]"},
		{"move_attachments_to two", "ids=1&move_attachments_to=Deals:1,Contacts:2", "", reqInvalid, "$.move_attachments_to"},
		{"move_attachments_to no colon", "ids=1&move_attachments_to=Deals", "", reqInvalid, "$.move_attachments_to"},
		{"move_attachments_to wrong module", "ids=1&move_attachments_to=Tasks:1", "", reqInvalid, "$.move_attachments_to.api_name"},
		{"move_attachments_to no id", "ids=1&move_attachments_to=Deals:", "", reqExpected, "$.move_attachments_to.id"},
		{"move_attachments_to repeated", "ids=1&move_attachments_to=Deals:1&move_attachments_to=Deals:1", "", reqDuplicate, "$.move_attachments_to"},

		{"threshold yes", "ids=1&apply_assignment_threshold=yes", "", reqInvalid, "$.apply_assignment_threshold"},
		{"threshold 1", "ids=1&apply_assignment_threshold=1", "", reqInvalid, "$.apply_assignment_threshold"},
		{"threshold on v7", "ids=1&apply_assignment_threshold=true", "v7", reqNotSupported, "$.apply_assignment_threshold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version := tc.version
			if version == "" {
				version = "v8"
			}
			req, err := reqTestForm([]byte(tc.body), version)
			if req != nil {
				t.Errorf("got a request with an error")
			}
			reqTestWant(t, err, tc.code, tc.path)
		})
	}
}
