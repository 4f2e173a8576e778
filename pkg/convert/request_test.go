package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

const reqTestDeal = `"Deals":{"Deal_Name":"Big deal","Stage":"Qualification","Closing_Date":"2026-03-31"}`

// reqTestOwner is the default owner of the tests' decoders: most tests are
// about something other than assign_to, which every request needs.
const reqTestOwner = "3652397000000186017"

// reqTestJSON and reqTestForm decode with reqTestOwner as the default owner.
func reqTestJSON(body []byte, version string) (*zoho.ConvertRequest, error) {
	return (&Decoder{APIVersion: version, DefaultOwner: reqTestOwner}).JSON(body)
}

func reqTestForm(body []byte, version string) (*zoho.ConvertRequest, error) {
	return (&Decoder{APIVersion: version, DefaultOwner: reqTestOwner}).Form(body)
}

// reqTestErrors returns the problems of err, failing unless it is a
// *ValidationError.
func reqTestErrors(t *testing.T, err error) []FieldError {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	if len(ve.Errors) == 0 || len(ve.Errors) > reqMaxErrors {
		t.Fatalf("%d field errors, want 1 to %d", len(ve.Errors), reqMaxErrors)
	}
	return ve.Errors
}

// reqTestWant fails unless err reports code at path.
func reqTestWant(t *testing.T, err error, code, path string) FieldError {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %s at %s", code, path)
	}
	errs := reqTestErrors(t, err)
	for _, fe := range errs {
		if fe.JSONPath == path {
			if fe.Code != code {
				t.Fatalf("%s: code %s, want %s (%s)", path, fe.Code, code, fe.Message)
			}
			if fe.Message == "" {
				t.Fatalf("%s: empty message", path)
			}
			return fe
		}
	}
	t.Fatalf("no error at %s; got %+v", path, errs)
	return FieldError{}
}

func reqTestIDs(n int, quote bool) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint(3652397000009835021 + i)
		if quote {
			ids[i] = `"` + ids[i] + `"`
		}
	}
	return strings.Join(ids, ",")
}

func TestDecodeJSONAccepts(t *testing.T) {
	for name, body := range map[string]string{
		"ids only":         `{"ids":["1"]}`,
		"19 digits":        `{"ids":["3652397000009835021","9223372036854775807"]}`,
		"max ids":          `{"ids":[` + reqTestIDs(MaxIDs, true) + `]}`,
		"nulls are absent": `{"ids":["1"],"Deals":null,"assign_to":null,"portal_user_type":null,"related_modules":null,"carry_over_tags":null,"move_attachments_to":null,"apply_assignment_threshold":null}`,
		"empty lists":      `{"ids":["1"],"related_modules":[],"carry_over_tags":[]}`,
		"everything": `{"ids":["1","2"],` + reqTestDeal + `,"assign_to":{"id":"11","name":"Ann"},"portal_user_type":{"id":"12"},
			"related_modules":[{"api_name":"Tasks","id":"21"},{"api_name":"Events","id":"22"},{"api_name":"Calls","id":"23"}],
			"carry_over_tags":[{"api_name":"Contacts","id":"31"},{"api_name":"Deals","id":"32"},{"api_name":"Accounts","id":"33"}],
			"move_attachments_to":{"api_name":"Accounts","id":"33"},"apply_assignment_threshold":false}`,
		"whitespace": " \n{ \"ids\" : [ \"1\" ] }\t\n",
		"max size":   `{"ids":["1"]}` + strings.Repeat(" ", MaxBodyBytes-len(`{"ids":["1"]}`)),
	} {
		t.Run(name, func(t *testing.T) {
			req, err := reqTestJSON([]byte(body), "v8")
			if err != nil {
				t.Fatal(err)
			}
			if err := validateRequest(req, "v8"); err != nil {
				t.Fatalf("decoded request does not validate: %v", err)
			}
		})
	}
}

func TestDecodeJSONFields(t *testing.T) {
	body := `{"ids":["3652397000009835021","42"],` + reqTestDeal + `,"assign_to":{"id":"11","name":"Ann"},"portal_user_type":{"id":"12"},
		"related_modules":[{"api_name":"Tasks","id":"21"}],"carry_over_tags":[{"api_name":"Deals","id":"32"}],
		"move_attachments_to":{"api_name":"Deals","id":"32"},"apply_assignment_threshold":true}`
	req, err := reqTestJSON([]byte(body), "v8")
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	want := &zoho.ConvertRequest{
		IDs: []string{"3652397000009835021", "42"},
		Deals: &zoho.Deal{
			"Deal_Name":    json.RawMessage(`"Big deal"`),
			"Stage":        json.RawMessage(`"Qualification"`),
			"Closing_Date": json.RawMessage(`"2026-03-31"`),
		},
		AssignTo:                 &zoho.Ref{ID: "11", Name: "Ann"},
		PortalUserType:           &zoho.Ref{ID: "12"},
		RelatedModules:           []zoho.ModuleRef{{APIName: "Tasks", ID: "21"}},
		CarryOverTags:            []zoho.ModuleRef{{APIName: "Deals", ID: "32"}},
		MoveAttachmentsTo:        &zoho.ModuleRef{APIName: "Deals", ID: "32"},
		ApplyAssignmentThreshold: &yes,
	}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("got %+v\nwant %+v", req, want)
	}
}

func TestDecodeJSONRefuses(t *testing.T) {
	mods := func(key, list string) string { return `{"ids":["1"],"` + key + `":` + list + `}` }
	deal := func(fields string) string { return `{"ids":["1"],"Deals":{` + fields + `}}` }
	const name, stage = `"Deal_Name":"D",`, `"Stage":"S",`
	for _, tc := range []struct {
		name, body, version, code, path string
	}{
		{"invalid JSON", `{"ids":["1"]`, "", reqBadRequest, "$"},
		{"array", `[{"ids":["1"]}]`, "", reqBadRequest, "$"},
		{"null", `null`, "", reqBadRequest, "$"},
		{"string", `"ids"`, "", reqBadRequest, "$"},
		{"number", `1`, "", reqBadRequest, "$"},
		{"empty", ``, "", reqBadRequest, "$"},
		{"blank", " \n", "", reqBadRequest, "$"},
		{"trailing data", `{"ids":["1"]} {}`, "", reqBadRequest, "$"},
		{"trailing garbage", `{"ids":["1"]}x`, "", reqBadRequest, "$"},
		{"not UTF-8", "{\"ids\":[\"1\"],\"Deals\":{\"Deal_Name\":\"\xff\"}}", "", reqBadRequest, "$"},
		{"too large", `{"ids":["1"]}` + strings.Repeat(" ", MaxBodyBytes), "", reqLimit, "$"},
		{"unknown key", `{"ids":["1"],"Ids":["2"]}`, "", reqInvalid, "$.Ids"},
		{"data wrapper", `{"data":[{"ids":["1"]}]}`, "", reqInvalid, "$.data"},

		{"ids missing", `{}`, "", reqMandatory, "$.ids"},
		{"ids null", `{"ids":null}`, "", reqMandatory, "$.ids"},
		{"ids empty", `{"ids":[]}`, "", reqMandatory, "$.ids"},
		{"ids a string", `{"ids":"1"}`, "", reqInvalid, "$.ids"},
		{"ids an object", `{"ids":{"0":"1"}}`, "", reqInvalid, "$.ids"},
		{"too many ids", `{"ids":[` + reqTestIDs(MaxIDs+1, true) + `]}`, "", reqLimit, "$.ids"},
		{"too many numeric ids", `{"ids":[` + reqTestIDs(MaxIDs+1, false) + `]}`, "", reqLimit, "$.ids"},
		{"number id", `{"ids":["1",3652397000009835021]}`, "", reqInvalid, "$.ids[1]"},
		{"small number id", `{"ids":[7]}`, "", reqInvalid, "$.ids[0]"},
		{"empty id", `{"ids":[""]}`, "", reqInvalid, "$.ids[0]"},
		{"leading space", `{"ids":["1"," 2"]}`, "", reqInvalid, "$.ids[1]"},
		{"trailing space", `{"ids":["2 "]}`, "", reqInvalid, "$.ids[0]"},
		{"letters", `{"ids":["12a"]}`, "", reqInvalid, "$.ids[0]"},
		{"plus", `{"ids":["+12"]}`, "", reqInvalid, "$.ids[0]"},
		{"minus", `{"ids":["-12"]}`, "", reqInvalid, "$.ids[0]"},
		{"decimal", `{"ids":["1.0"]}`, "", reqInvalid, "$.ids[0]"},
		{"20 digits", `{"ids":["12345678901234567890"]}`, "", reqInvalid, "$.ids[0]"},
		{"beyond a long", `{"ids":["9223372036854775808"]}`, "", reqInvalid, "$.ids[0]"},
		{"non-ASCII digits", `{"ids":["١٢٣"]}`, "", reqInvalid, "$.ids[0]"},
		{"null id", `{"ids":["1",null]}`, "", reqInvalid, "$.ids[1]"},
		{"boolean id", `{"ids":[true]}`, "", reqInvalid, "$.ids[0]"},
		{"object id", `{"ids":[{"id":"1"}]}`, "", reqInvalid, "$.ids[0]"},
		{"duplicate id", `{"ids":["1","2","1"]}`, "", reqDuplicate, "$.ids[2]"},

		{"Deals a string", `{"ids":["1"],"Deals":"x"}`, "", reqInvalid, "$.Deals"},
		{"Deals an array", `{"ids":["1"],"Deals":[]}`, "", reqInvalid, "$.Deals"},
		{"Deals empty: name", deal(``), "", reqMandatory, "$.Deals.Deal_Name"},
		{"Deals empty: stage", deal(``), "", reqMandatory, "$.Deals.Stage"},
		{"Deals empty: date", deal(``), "", reqMandatory, "$.Deals.Closing_Date"},
		{"Deal_Name empty", deal(`"Deal_Name":"",` + stage + `"Closing_Date":"2026-03-31"`), "", reqMandatory, "$.Deals.Deal_Name"},
		{"Deal_Name blank", deal(`"Deal_Name":"  ",` + stage + `"Closing_Date":"2026-03-31"`), "", reqMandatory, "$.Deals.Deal_Name"},
		{"Deal_Name null", deal(`"Deal_Name":null,` + stage + `"Closing_Date":"2026-03-31"`), "", reqMandatory, "$.Deals.Deal_Name"},
		{"Deal_Name a number", deal(`"Deal_Name":5,` + stage + `"Closing_Date":"2026-03-31"`), "", reqInvalid, "$.Deals.Deal_Name"},
		{"Stage missing", deal(name + `"Closing_Date":"2026-03-31"`), "", reqMandatory, "$.Deals.Stage"},
		{"Stage an object", deal(name + `"Stage":{"name":"S"},"Closing_Date":"2026-03-31"`), "", reqInvalid, "$.Deals.Stage"},
		{"Closing_Date missing", deal(name + stage + `"Pipeline":"P"`), "", reqMandatory, "$.Deals.Closing_Date"},
		{"Closing_Date empty", deal(name + stage + `"Closing_Date":""`), "", reqMandatory, "$.Deals.Closing_Date"},
		{"Closing_Date not a day", deal(name + stage + `"Closing_Date":"2026-02-30"`), "", reqInvalid, "$.Deals.Closing_Date"},
		{"Closing_Date short", deal(name + stage + `"Closing_Date":"2026-3-31"`), "", reqInvalid, "$.Deals.Closing_Date"},
		{"Closing_Date European", deal(name + stage + `"Closing_Date":"31/03/2026"`), "", reqInvalid, "$.Deals.Closing_Date"},
		{"Closing_Date a time", deal(name + stage + `"Closing_Date":"2026-03-31T00:00:00Z"`), "", reqInvalid, "$.Deals.Closing_Date"},
		{"Closing_Date a number", deal(name + stage + `"Closing_Date":20260331`), "", reqInvalid, "$.Deals.Closing_Date"},

		{"assign_to a string", `{"ids":["1"],"assign_to":"11"}`, "", reqInvalid, "$.assign_to"},
		{"assign_to empty", `{"ids":["1"],"assign_to":{}}`, "", reqMandatory, "$.assign_to.id"},
		{"assign_to id empty", `{"ids":["1"],"assign_to":{"id":""}}`, "", reqMandatory, "$.assign_to.id"},
		{"assign_to id null", `{"ids":["1"],"assign_to":{"id":null,"name":"Ann"}}`, "", reqMandatory, "$.assign_to.id"},
		{"assign_to id letters", `{"ids":["1"],"assign_to":{"id":"ann"}}`, "", reqInvalid, "$.assign_to.id"},
		{"assign_to id a number", `{"ids":["1"],"assign_to":{"id":11}}`, "", reqInvalid, "$.assign_to.id"},
		{"assign_to name a number", `{"ids":["1"],"assign_to":{"id":"11","name":5}}`, "", reqInvalid, "$.assign_to.name"},
		{"assign_to extra key", `{"ids":["1"],"assign_to":{"id":"11","email":"a@b.c"}}`, "", reqInvalid, "$.assign_to.email"},
		{"portal_user_type empty", `{"ids":["1"],"portal_user_type":{}}`, "", reqMandatory, "$.portal_user_type.id"},
		{"portal_user_type id bad", `{"ids":["1"],"portal_user_type":{"id":"x1"}}`, "", reqInvalid, "$.portal_user_type.id"},
		{"portal_user_type an array", `{"ids":["1"],"portal_user_type":[{"id":"1"}]}`, "", reqInvalid, "$.portal_user_type"},

		{"related_modules an object", mods("related_modules", `{"api_name":"Tasks","id":"1"}`), "", reqInvalid, "$.related_modules"},
		{"related_modules four", mods("related_modules", `[{"api_name":"Tasks","id":"1"},{"api_name":"Events","id":"2"},{"api_name":"Calls","id":"3"},{"api_name":"Tasks","id":"4"}]`), "", reqLimit, "$.related_modules"},
		{"related_modules no id", mods("related_modules", `[{"api_name":"Tasks"}]`), "", reqExpected, "$.related_modules[0].id"},
		{"related_modules null id", mods("related_modules", `[{"api_name":"Tasks","id":null}]`), "", reqExpected, "$.related_modules[0].id"},
		{"related_modules no api_name", mods("related_modules", `[{"api_name":"Tasks","id":"1"},{"id":"2"}]`), "", reqExpected, "$.related_modules[1].api_name"},
		{"related_modules wrong module", mods("related_modules", `[{"api_name":"Contacts","id":"1"}]`), "", reqInvalid, "$.related_modules[0].api_name"},
		{"related_modules Meetings", mods("related_modules", `[{"api_name":"Meetings","id":"1"}]`), "", reqInvalid, "$.related_modules[0].api_name"},
		{"related_modules lower case", mods("related_modules", `[{"api_name":"tasks","id":"1"}]`), "", reqInvalid, "$.related_modules[0].api_name"},
		{"related_modules api_name a number", mods("related_modules", `[{"api_name":1,"id":"1"}]`), "", reqInvalid, "$.related_modules[0].api_name"},
		{"related_modules id letters", mods("related_modules", `[{"api_name":"Tasks","id":"x"}]`), "", reqInvalid, "$.related_modules[0].id"},
		{"related_modules id a number", mods("related_modules", `[{"api_name":"Tasks","id":1}]`), "", reqInvalid, "$.related_modules[0].id"},
		{"related_modules duplicate", mods("related_modules", `[{"api_name":"Tasks","id":"1"},{"api_name":"Calls","id":"2"},{"api_name":"Tasks","id":"3"}]`), "", reqDuplicate, "$.related_modules[2].api_name"},
		{"related_modules extra key", mods("related_modules", `[{"api_name":"Tasks","id":"1","name":"T"}]`), "", reqInvalid, "$.related_modules[0].name"},
		{"related_modules a string item", mods("related_modules", `["Tasks"]`), "", reqInvalid, "$.related_modules[0]"},
		{"related_modules a null item", mods("related_modules", `[null]`), "", reqInvalid, "$.related_modules[0]"},
		{"carry_over_tags wrong module", mods("carry_over_tags", `[{"api_name":"Tasks","id":"1"}]`), "", reqInvalid, "$.carry_over_tags[0].api_name"},
		{"carry_over_tags four", mods("carry_over_tags", `[{},{},{},{}]`), "", reqLimit, "$.carry_over_tags"},
		{"carry_over_tags no id", mods("carry_over_tags", `[{"api_name":"Deals"}]`), "", reqExpected, "$.carry_over_tags[0].id"},
		{"carry_over_tags duplicate", mods("carry_over_tags", `[{"api_name":"Deals","id":"1"},{"api_name":"Deals","id":"1"}]`), "", reqDuplicate, "$.carry_over_tags[1].api_name"},
		{"move_attachments_to an array", mods("move_attachments_to", `[{"api_name":"Deals","id":"1"}]`), "", reqInvalid, "$.move_attachments_to"},
		{"move_attachments_to wrong module", mods("move_attachments_to", `{"api_name":"Tasks","id":"1"}`), "", reqInvalid, "$.move_attachments_to.api_name"},
		{"move_attachments_to no id", mods("move_attachments_to", `{"api_name":"Deals"}`), "", reqExpected, "$.move_attachments_to.id"},
		{"move_attachments_to extra key", mods("move_attachments_to", `{"api_name":"Deals","id":"1","x":1}`), "", reqInvalid, "$.move_attachments_to.x"},

		{"threshold a string", `{"ids":["1"],"apply_assignment_threshold":"true"}`, "", reqInvalid, "$.apply_assignment_threshold"},
		{"threshold a number", `{"ids":["1"],"apply_assignment_threshold":1}`, "", reqInvalid, "$.apply_assignment_threshold"},
		{"threshold on v7", `{"ids":["1"],"apply_assignment_threshold":true}`, "v7", reqNotSupported, "$.apply_assignment_threshold"},
		{"threshold false on v7", `{"ids":["1"],"apply_assignment_threshold":false}`, "v7", reqNotSupported, "$.apply_assignment_threshold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version := tc.version
			if version == "" {
				version = "v8"
			}
			req, err := reqTestJSON([]byte(tc.body), version)
			if req != nil {
				t.Errorf("got a request with an error")
			}
			reqTestWant(t, err, tc.code, tc.path)
		})
	}
}

func TestDecodeJSONMessages(t *testing.T) {
	fe := reqTestWant(t, reqTestDecodeErr(`{"ids":[3652397000009835021]}`), reqInvalid, "$.ids[0]")
	if !strings.Contains(fe.Message, "float64") || !strings.Contains(fe.Message, "string") {
		t.Errorf("number id: message %q does not explain why ids are strings", fe.Message)
	}
	fe = reqTestWant(t, reqTestDecodeErr(`{"ids":["5","6","5"]}`), reqDuplicate, "$.ids[2]")
	if !strings.Contains(fe.Message, "$.ids[0]") {
		t.Errorf("duplicate: message %q does not name the earlier index", fe.Message)
	}
	fe = reqTestWant(t, reqTestDecodeErr(`{"ids":[`+reqTestIDs(MaxIDs+1, true)+`]}`), reqLimit, "$.ids")
	if !strings.Contains(fe.Message, "1000") {
		t.Errorf("limit: message %q does not say the maximum", fe.Message)
	}
	fe = reqTestWant(t, reqTestDecodeErr(`{"ids":["1"],"foo":1}`), reqInvalid, "$.foo")
	if !strings.Contains(fe.Message, "apply_assignment_threshold") {
		t.Errorf("unknown key: message %q does not list the allowed keys", fe.Message)
	}
	fe = reqTestWant(t, reqTestDecodeErrV(`{"ids":["1"],"apply_assignment_threshold":true}`, "v7"), reqNotSupported, "$.apply_assignment_threshold")
	if !strings.Contains(fe.Message, "ZOHO_API_VERSION=v8") {
		t.Errorf("v7 threshold: message %q does not say what to change", fe.Message)
	}
}

func reqTestDecodeErr(body string) error { return reqTestDecodeErrV(body, "v8") }

func reqTestDecodeErrV(body, version string) error {
	_, err := reqTestJSON([]byte(body), version)
	return err
}

// TestDecodeJSONCollects checks that every problem is reported, once, in
// the order of the request, however it was found.
func TestDecodeJSONCollects(t *testing.T) {
	body := `{"zzz":1,"apply_assignment_threshold":"no","ids":[" 1",2,"3","3"],"Deals":{"Stage":7},"assign_to":{"id":"x"},"related_modules":[{"api_name":"Tasks","id":"1","x":0}]}`
	errs := reqTestErrors(t, reqTestDecodeErr(body))
	var got []string
	for _, fe := range errs {
		got = append(got, fe.Code+" "+fe.JSONPath)
	}
	want := []string{
		"INVALID_DATA $.ids[0]",
		"INVALID_DATA $.ids[1]",
		"DUPLICATE_DATA $.ids[3]",
		"MANDATORY_NOT_FOUND $.Deals.Deal_Name",
		"INVALID_DATA $.Deals.Stage",
		"MANDATORY_NOT_FOUND $.Deals.Closing_Date",
		"INVALID_DATA $.assign_to.id",
		"INVALID_DATA $.related_modules[0].x",
		"INVALID_DATA $.apply_assignment_threshold",
		"INVALID_DATA $.zzz",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDecodeJSONCapsErrors(t *testing.T) {
	ids := strings.TrimSuffix(strings.Repeat(`"x",`, MaxIDs), ",")
	errs := reqTestErrors(t, reqTestDecodeErr(`{"ids":[`+ids+`]}`))
	if len(errs) != reqMaxErrors || errs[0].JSONPath != "$.ids[0]" || errs[reqMaxErrors-1].JSONPath != "$.ids[19]" {
		t.Errorf("got %d errors, %s to %s", len(errs), errs[0].JSONPath, errs[len(errs)-1].JSONPath)
	}
}

func TestDecodeJSONDeepNesting(t *testing.T) {
	nest := func(depth int) string {
		return `{"ids":["1"],` + reqTestDeal[:len(reqTestDeal)-1] + `,"X":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}}`
	}
	reqTestWant(t, reqTestDecodeErr(nest(100_000)), reqBadRequest, "$")
	req, err := reqTestJSON([]byte(nest(5000)), "v8")
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(req) == "" {
		t.Fatal("no fingerprint")
	}
}

func TestIDSurvivesRoundTrip(t *testing.T) {
	const id = "3652397000009835021"
	req, err := DecodeJSON([]byte(`{"ids":["`+id+`"],"assign_to":{"id":"`+id+`"}}`), "v8")
	if err != nil {
		t.Fatal(err)
	}
	if req.IDs[0] != id || req.AssignTo.ID != id {
		t.Fatalf("id %q, want %q", req.IDs[0], id)
	}
	out, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"ids":["` + id + `"],"assign_to":{"id":"` + id + `"}}`; string(out) != want {
		t.Fatalf("marshalled %s, want %s", out, want)
	}
}

func TestDealFieldsKeepTypes(t *testing.T) {
	body := `{"ids":["1"],"Deals":{"Deal_Name":"D","Stage":"S","Closing_Date":"2026-03-31","Pipeline":"Standard",
		"Amount": 12345678901234567890, "Rate": 1.50, "Big": 1e400, "Flag": true, "Nothing": null,
		"Account_Name": {"id": "3652397000009835021", "name": "Acme"}, "Tags": [1, "two", {"three": 3}]}}`
	req, err := reqTestJSON([]byte(body), "v8")
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"Amount":12345678901234567890`, `"Rate":1.50`, `"Big":1e400`, `"Flag":true`, `"Nothing":null`,
		`"Account_Name":{"id":"3652397000009835021","name":"Acme"}`, `"Tags":[1,"two",{"three":3}]`,
		`"Pipeline":"Standard"`,
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("marshalled request lacks %s:\n%s", want, out)
		}
		if !bytes.Contains(Options(req), []byte(want)) {
			t.Errorf("options lack %s:\n%s", want, Options(req))
		}
	}
}

func TestFingerprint(t *testing.T) {
	base := `{"ids":["1"],"Deals":{"Deal_Name":"D","Stage":"S","Closing_Date":"2026-03-31","Amount":10,"Account_Name":{"id":"5","name":"A"}},
		"assign_to":{"id":"11"},"related_modules":[{"api_name":"Tasks","id":"21"},{"api_name":"Calls","id":"23"}],
		"carry_over_tags":[{"api_name":"Deals","id":"32"}],"move_attachments_to":{"api_name":"Deals","id":"32"},"apply_assignment_threshold":true}`
	fp := func(body string) string {
		t.Helper()
		req, err := reqTestJSON([]byte(body), "v8")
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return Fingerprint(req)
	}
	want := fp(base)
	if len(want) != 64 {
		t.Fatalf("fingerprint %q is not hex SHA-256", want)
	}
	for name, body := range map[string]string{
		"other ids": strings.Replace(base, `"ids":["1"]`, `"ids":["2","3"]`, 1),
		"reordered": `{"apply_assignment_threshold":true,"move_attachments_to":{"id":"32","api_name":"Deals"},
			"carry_over_tags":[{"id":"32","api_name":"Deals"}],"related_modules":[{"api_name":"Calls","id":"23"},{"api_name":"Tasks","id":"21"}],
			"assign_to":{"id":"11"},"Deals":{"Account_Name":{"name":"A","id":"5"},"Amount":10,"Closing_Date":"2026-03-31","Stage":"S","Deal_Name":"D"},"ids":["9"]}`,
		"whitespace": strings.NewReplacer(`"Amount":10`, `"Amount" :  10 `, `{"id":"5","name":"A"}`, "{ \"id\" : \"5\",\n\t\"name\": \"A\" }").Replace(base),
		"empty name": strings.Replace(base, `"assign_to":{"id":"11"}`, `"assign_to":{"id":"11","name":""}`, 1),
		"nulls":      strings.Replace(base, `"assign_to"`, `"portal_user_type":null,"assign_to"`, 1),
		"escapes":    strings.Replace(base, `"Stage":"S"`, `"Stage":"\u0053"`, 1),
	} {
		if got := fp(body); got != want {
			t.Errorf("%s: fingerprint differs:\n%s\n%s", name, Options(reqTestMust(t, body)), Options(reqTestMust(t, base)))
		}
	}
	for name, body := range map[string]string{
		"Deal_Name":            strings.Replace(base, `"Deal_Name":"D"`, `"Deal_Name":"E"`, 1),
		"Stage":                strings.Replace(base, `"Stage":"S"`, `"Stage":"T"`, 1),
		"Closing_Date":         strings.Replace(base, `2026-03-31`, `2026-04-01`, 1),
		"Amount":               strings.Replace(base, `"Amount":10`, `"Amount":11`, 1),
		"Amount type":          strings.Replace(base, `"Amount":10`, `"Amount":"10"`, 1),
		"extra Deals field":    strings.Replace(base, `"Amount":10`, `"Amount":10,"Pipeline":"P"`, 1),
		"lookup":               strings.Replace(base, `"name":"A"`, `"name":"B"`, 1),
		"no Deals":             strings.Replace(base, `"Deals":{"Deal_Name":"D","Stage":"S","Closing_Date":"2026-03-31","Amount":10,"Account_Name":{"id":"5","name":"A"}},`, ``, 1),
		"assign_to":            strings.Replace(base, `"assign_to":{"id":"11"}`, `"assign_to":{"id":"12"}`, 1),
		"assign_to name":       strings.Replace(base, `"assign_to":{"id":"11"}`, `"assign_to":{"id":"11","name":"Ann"}`, 1),
		"portal_user_type":     strings.Replace(base, `"assign_to"`, `"portal_user_type":{"id":"11"},"assign_to"`, 1),
		"related module id":    strings.Replace(base, `"id":"21"`, `"id":"22"`, 1),
		"related module gone":  strings.Replace(base, `{"api_name":"Tasks","id":"21"},`, ``, 1),
		"carry_over_tags":      strings.Replace(base, `"carry_over_tags":[{"api_name":"Deals","id":"32"}]`, `"carry_over_tags":[{"api_name":"Contacts","id":"31"}]`, 1),
		"move_attachments_to":  strings.Replace(base, `"move_attachments_to":{"api_name":"Deals","id":"32"}`, `"move_attachments_to":{"api_name":"Accounts","id":"33"}`, 1),
		"threshold false":      strings.Replace(base, `"apply_assignment_threshold":true`, `"apply_assignment_threshold":false`, 1),
		"threshold by default": strings.Replace(base, `,"apply_assignment_threshold":true`, ``, 1),
	} {
		if body == base {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if fp(body) == want {
			t.Errorf("%s: same fingerprint for different options", name)
		}
	}
}

func reqTestMust(t *testing.T, body string) *zoho.ConvertRequest {
	t.Helper()
	req, err := reqTestJSON([]byte(body), "v8")
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestOptions(t *testing.T) {
	req := reqTestMust(t, `{"ids":["1"],"related_modules":[{"api_name":"Tasks","id":"2"},{"api_name":"Calls","id":"1"}],
		"Deals":{"Stage":"S","Deal_Name":"D","Closing_Date":"2026-03-31","X":{"b":1, "a":[2, 1]}},"assign_to":{"id":"3"}}`)
	want := `{"Deals":{"Closing_Date":"2026-03-31","Deal_Name":"D","Stage":"S","X":{"a":[2,1],"b":1}},"assign_to":{"id":"3"},` +
		`"related_modules":[{"api_name":"Calls","id":"1"},{"api_name":"Tasks","id":"2"}]}`
	if got := string(Options(req)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if req.RelatedModules[0].APIName != "Tasks" {
		t.Error("Options reordered the request's own modules")
	}
	// Options round-trips into a request, so a job can rebuild its calls.
	var back zoho.ConvertRequest
	if err := json.Unmarshal(Options(req), &back); err != nil {
		t.Fatal(err)
	}
	back.IDs = req.IDs
	if Fingerprint(&back) != Fingerprint(req) {
		t.Error("options do not round-trip")
	}
	if got := string(Options(nil)); got != "{}" {
		t.Errorf("Options(nil) = %s", got)
	}
}

func TestValidate(t *testing.T) {
	good := func() *zoho.ConvertRequest {
		d := zoho.Deal{}
		d.SetString(zoho.DealName, "D")
		d.SetString(zoho.DealStage, "S")
		d.SetString(zoho.DealClosingDate, "2026-03-31")
		return &zoho.ConvertRequest{IDs: []string{"1"}, Deals: &d, AssignTo: &zoho.Ref{ID: reqTestOwner}}
	}
	if err := validateRequest(good(), "v7"); err != nil {
		t.Fatal(err)
	}
	reqTestWant(t, validateRequest(nil, "v8"), reqBadRequest, "$")
	reqTestWant(t, validateRequest(&zoho.ConvertRequest{}, "v8"), reqMandatory, "$.ids")

	req := good()
	(*req.Deals)["Broken"] = json.RawMessage(`{"a":`)
	reqTestWant(t, validateRequest(req, "v8"), reqInvalid, "$.Deals.Broken")
	if !json.Valid(Options(req)) {
		t.Errorf("Options of an invalid Deal is not JSON: %s", Options(req))
	}

	req = good()
	req.Deals = &zoho.Deal{}
	reqTestWant(t, validateRequest(req, "v8"), reqMandatory, "$.Deals.Stage")

	req = good()
	req.AssignTo = nil
	reqTestWant(t, validateRequest(req, "v8"), reqMandatory, "$.assign_to")

	req = good()
	req.IDs = []string{"1", "1"}
	reqTestWant(t, validateRequest(req, "v8"), reqDuplicate, "$.ids[1]")

	req = good()
	req.MoveAttachmentsTo = &zoho.ModuleRef{ID: "1"}
	reqTestWant(t, validateRequest(req, "v8"), reqExpected, "$.move_attachments_to.api_name")

	req = good()
	no := false
	req.ApplyAssignmentThreshold = &no
	reqTestWant(t, validateRequest(req, "v7"), reqNotSupported, "$.apply_assignment_threshold")
	if err := validateRequest(req, "v8"); err != nil {
		t.Fatal(err)
	}
}

func TestValidationErrorText(t *testing.T) {
	err := reqTestDecodeErr(`{"ids":["1","x"],"Deals":{"Deal_Name":"D","Closing_Date":"2026-03-31"}}`)
	want := `invalid conversion request: $.ids[1]: "x" is not a lead id; ` + reqIDRule +
		`; $.Deals.Stage: Stage is required when a deal is created`
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
}

func TestValidationErrorBody(t *testing.T) {
	err := reqTestDecodeErr(`{"ids":["1","x"],"Deals":{"Deal_Name":"D","Closing_Date":"2026-03-31"}}`)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	var body struct {
		Code    string            `json:"code"`
		Details map[string]string `json:"details"`
		Message string            `json:"message"`
		Status  string            `json:"status"`
		Errors  []FieldError      `json:"errors"`
	}
	dec := json.NewDecoder(bytes.NewReader(ve.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("%s: %v", ve.Body(), err)
	}
	if body.Code != reqInvalid || body.Status != "error" || body.Message != ve.Errors[0].Message ||
		!reflect.DeepEqual(body.Details, map[string]string{"json_path": "$.ids[1]"}) ||
		!reflect.DeepEqual(body.Errors, ve.Errors) || len(body.Errors) != 2 {
		t.Errorf("body %s", ve.Body())
	}
	if !strings.HasPrefix(string(ve.Body()), `{"code":"INVALID_DATA","details":{"json_path":"$.ids[1]"},"message":`) {
		t.Errorf("body does not lead with Zoho's keys: %s", ve.Body())
	}
	if b := (&ValidationError{}).Body(); !json.Valid(b) || !bytes.Contains(b, []byte(`"status":"error"`)) {
		t.Errorf("empty error body %s", b)
	}
}

// TestMessagesEchoLittle feeds long and hostile input to every place a
// message or path may quote it.
func TestMessagesEchoLittle(t *testing.T) {
	long := strings.Repeat("A", 5000)
	hostile := "\x1b[31m\n\r\u202e<script>" + long
	for _, s := range []string{long, hostile} {
		q, _ := json.Marshal(s)
		js := string(q)
		bodies := []string{
			`{"ids":[` + js + `]}`,
			`{"ids":["1"],` + js + `:1}`,
			`{"ids":["1"],"Deals":{"Deal_Name":"D","Stage":"S","Closing_Date":` + js + `}}`,
			`{"ids":["1"],"assign_to":{"id":` + js + `}}`,
			`{"ids":["1"],"assign_to":{"id":"1",` + js + `:1}}`,
			`{"ids":["1"],"related_modules":[{"api_name":` + js + `,"id":` + js + `}]}`,
			`{"ids":["1"],"move_attachments_to":{"api_name":"Deals","id":"1",` + js + `:1}}`,
			`{"ids":["1"],"apply_assignment_threshold":` + js + `}`,
			`{"ids":["1"]}` + js,
		}
		for _, b := range bodies {
			_, err := reqTestJSON([]byte(b), "v8")
			reqTestEchoesLittle(t, err)
		}
		for _, f := range []string{"ids=" + s, s + "=1", "ids=1&Deals.Closing_Date=" + s, "ids=1&related_modules=" + s,
			"ids=1&move_attachments_to=" + s, "ids=1&apply_assignment_threshold=" + s, "ids=1&Deals." + s + "=1&Deals." + s + "=2"} {
			_, err := reqTestForm([]byte(formTestEncode(f)), "v8")
			reqTestEchoesLittle(t, err)
		}
	}
}

func reqTestEchoesLittle(t *testing.T, err error) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	for _, text := range []string{ve.Error(), string(ve.Body())} {
		if strings.Contains(text, strings.Repeat("A", reqFragMax+1)) {
			t.Errorf("more than %d characters of input echoed: %.200s", reqFragMax, text)
		}
	}
	for _, fe := range ve.Errors {
		for _, text := range []string{fe.JSONPath, fe.Message} {
			if strings.ContainsAny(text, "\x1b\n\r\u202e") {
				t.Errorf("unsanitised input echoed: %q", text)
			}
		}
	}
}

func TestFragment(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"abc":                       "abc",
		"a\nb\x00c\u202e":           "a?b?c?",
		"\xff":                      "?",
		strings.Repeat("é", 40):     strings.Repeat("é", 40),
		strings.Repeat("é", 41):     strings.Repeat("é", 37) + "...",
		strings.Repeat("x", 100000): strings.Repeat("x", 37) + "...",
	} {
		if got := reqFragment(in); got != want {
			t.Errorf("reqFragment(%.50q) = %q, want %q", in, got, want)
		}
	}
}

// TestLeadingZerosAreRefused: Zoho writes ids without leading zeros, and
// de-duplication compares strings, so "0123" beside "123" would be a second
// copy of one lead, claimed and sent twice. Every encoding refuses it, at
// its own index, and names the id it probably meant.
func TestLeadingZerosAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name, json, form, path, hint string
	}{
		{"leading zero", `{"ids":["123","0123"]}`, "ids=123,0123", "$.ids[1]", `"123"`},
		{"many zeros", `{"ids":["123","5","0000000000000000123"]}`, "ids=123&ids=5&id=0000000000000000123", "$.ids[2]", `"123"`},
		{"zero", `{"ids":["0"]}`, "id=0", "$.ids[0]", "0 names no record"},
		{"zeros", `{"ids":["1","00"]}`, "ids=1,00", "$.ids[1]", "0 names no record"},
		{"owner", `{"ids":["1"],"assign_to":{"id":"011"}}`, "ids=1&assign_to=011", "$.assign_to.id", `"11"`},
		{"portal user type", `{"ids":["1"],"portal_user_type":{"id":"0"}}`, "ids=1&portal_user_type=0", "$.portal_user_type.id", "0 names no record"},
		{"module", `{"ids":["1"],"related_modules":[{"api_name":"Calls","id":"023"}]}`, "ids=1&related_modules=Calls:023", "$.related_modules[0].id", `"23"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decoder{APIVersion: "v8", DefaultOwner: reqTestOwner}
			for enc, decode := range map[string]func() (*zoho.ConvertRequest, error){
				"json":    func() (*zoho.ConvertRequest, error) { return DecodeJSON([]byte(tc.json), "v8") },
				"decoder": func() (*zoho.ConvertRequest, error) { return d.JSON([]byte(tc.json)) },
				"form":    func() (*zoho.ConvertRequest, error) { return DecodeForm([]byte(tc.form), "v8") },
			} {
				req, err := decode()
				if req != nil {
					t.Fatalf("%s: accepted %v", enc, req.IDs)
				}
				fe := reqTestWant(t, err, reqInvalid, tc.path)
				if !strings.Contains(fe.Message, "leading zero") || !strings.Contains(fe.Message, tc.hint) {
					t.Errorf("%s: message %q does not explain the leading zero (want %s)", enc, fe.Message, tc.hint)
				}
				if !strings.Contains(err.Error(), tc.path+": ") {
					t.Errorf("%s: error %q does not name %s", enc, err, tc.path)
				}
			}
		})
	}
}

// TestOwnerRequiredOrDefault: Zoho's Mass Convert requires assign_to. A
// request without one gets the deployment's default owner, or is refused
// at $.assign_to before any call; with the default applied, it has the same
// options (fingerprint) as a request that names that owner itself.
func TestOwnerRequiredOrDefault(t *testing.T) {
	const other = "3652397000000186099"
	for _, tc := range []struct {
		name, json, form string
		owner, want      string // want "": refused at $.assign_to
	}{
		{"absent, no default", `{"ids":["1"]}`, "ids=1", "", ""},
		{"null, no default", `{"ids":["1"],"assign_to":null}`, "ids=1&assign_to=", "", ""},
		{"absent, default", `{"ids":["1"]}`, "ids=1", reqTestOwner, reqTestOwner},
		{"null, default", `{"ids":["1"],"assign_to":null}`, "ids=1&assign_to=", reqTestOwner, reqTestOwner},
		{"named, no default", `{"ids":["1"],"assign_to":{"id":"` + other + `"}}`, "ids=1&assign_to=" + other, "", other},
		{"named, default", `{"ids":["1"],"assign_to":{"id":"` + other + `"}}`, "ids=1&assign_to=" + other, reqTestOwner, other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decoder{APIVersion: "v8", DefaultOwner: tc.owner}
			for enc, decode := range map[string]func() (*zoho.ConvertRequest, error){
				"decoder": func() (*zoho.ConvertRequest, error) { return d.JSON([]byte(tc.json)) },
				"form":    func() (*zoho.ConvertRequest, error) { return d.Form([]byte(tc.form)) },
			} {
				req, err := decode()
				if tc.want == "" {
					fe := reqTestWant(t, err, reqMandatory, "$.assign_to")
					if !strings.Contains(fe.Message, "DEFAULT_OWNER_ID") {
						t.Errorf("%s: message %q does not say how to set a default", enc, fe.Message)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", enc, err)
				}
				if req.AssignTo == nil || *req.AssignTo != (zoho.Ref{ID: tc.want}) {
					t.Fatalf("%s: assign_to %+v, want %s", enc, req.AssignTo, tc.want)
				}
				named, err := DecodeJSON([]byte(`{"ids":["2"],"assign_to":{"id":"`+tc.want+`"}}`), "v8")
				if err != nil {
					t.Fatal(err)
				}
				if Fingerprint(req) != Fingerprint(named) {
					t.Errorf("%s: fingerprint differs from a request naming %s itself:\n%s\n%s", enc, tc.want, Options(req), Options(named))
				}
			}
		})
	}
	// A broken owner is refused, not replaced by the default.
	d := Decoder{APIVersion: "v8", DefaultOwner: reqTestOwner}
	_, err := d.JSON([]byte(`{"ids":["1"],"assign_to":{}}`))
	reqTestWant(t, err, reqMandatory, "$.assign_to.id")
	_, err = d.JSON([]byte(`{"ids":["1"],"assign_to":{"id":"ann"}}`))
	reqTestWant(t, err, reqInvalid, "$.assign_to.id")
}
