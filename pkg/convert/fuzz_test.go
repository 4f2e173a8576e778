package convert

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"ids":["3652397000009835021"]}`,
		`{"ids":["1","2"],"Deals":{"Deal_Name":"D","Stage":"S","Closing_Date":"2026-03-31","Amount":12345678901234567890,"Lookup":{"id":"5","name":"N"}},` +
			`"assign_to":{"id":"11","name":"Ann"},"portal_user_type":{"id":"12"},"related_modules":[{"api_name":"Tasks","id":"21"},{"api_name":"Calls","id":"23"}],` +
			`"carry_over_tags":[{"api_name":"Deals","id":"32"}],"move_attachments_to":{"api_name":"Deals","id":"32"},"apply_assignment_threshold":true}`,
		`{"ids":[1,"1","1"," 1","",null,{},[]],"x":1}`,
		`{"ids":["1"],"Deals":{}}`,
		`{"ids":["1"],"Deals":{"Deal_Name":null,"Stage":5,"Closing_Date":"2026-02-30"}}`,
		`{"ids":["1"],"related_modules":[{"api_name":"Tasks"},{"id":"1"},null,"x",{"api_name":"Tasks","id":"1","y":2}]}`,
		`{"ids":["1"],"move_attachments_to":[],"assign_to":"1","apply_assignment_threshold":"true"}`,
		`{"ids":["1"],"Deals":{"X":"\u0000\ud800<>&"}}`,
		`{"ids":["1"]} x`, `[]`, `null`, ``, `{`, "\xff", `{"":{"":[]}}`,
		`{"ids":["1"],"Deals":{"X":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}}`,
		`{"ids":["123","0123","0000000000000000123","0"]}`, `{"ids":[123,0123,0]}`,
		`{"ids":["1"],"assign_to":{"id":"011"},"related_modules":[{"api_name":"Tasks","id":"0"}]}`,
	} {
		f.Add([]byte(seed), true, true)
		f.Add([]byte(seed), true, false)
	}
	f.Add([]byte(`{"ids":["1"],"apply_assignment_threshold":false}`), false, true)
	f.Fuzz(func(t *testing.T, body []byte, v8, owner bool) {
		d := reqFuzzDecoder(v8, owner)
		req, err := d.JSON(body)
		reqFuzzCheck(t, req, err, d)
	})
}

func FuzzDecodeForm(f *testing.F) {
	for _, seed := range []string{
		"ids=3652397000009835021",
		"ids=1,+2&id=3&Deals.Deal_Name=D&Deals.Stage=S&Deals.Closing_Date=2026-03-31&Deals.Amount=10&assign_to=11&portal_user_type=12" +
			"&related_modules=Tasks:21,Calls:23&carry_over_tags=Contacts:31&move_attachments_to=Deals:32&apply_assignment_threshold=true",
		"ids=1&ids=1&Deals.=x&Deals.Stage=&x=y&assign_to=a&assign_to=b",
		"ids=1&related_modules=Tasks,:1,Tasks:&move_attachments_to=Deals:1,Deals:2&apply_assignment_threshold=yes",
		"ids=%zz", "ids=1;2", "ids=%ff", "&&=&", "ids=1%2C2%2C%202",
		"ids=1&Deals.Deal_Name=%3Cb%3E%00&Deals.Stage=S&Deals.Closing_Date=2026-03-31",
		"ids=123,0123&id=0000000000000000123", "id=0", "ids=1&assign_to=011&carry_over_tags=Deals:0",
	} {
		f.Add([]byte(seed), true, true)
		f.Add([]byte(seed), true, false)
	}
	f.Fuzz(func(t *testing.T, body []byte, v8, owner bool) {
		d := reqFuzzDecoder(v8, owner)
		req, err := d.Form(body)
		reqFuzzCheck(t, req, err, d)
	})
}

// reqFuzzDecoder is a Decoder for the API version, with or without a
// default owner.
func reqFuzzDecoder(v8, owner bool) *Decoder {
	d := &Decoder{APIVersion: "v7"}
	if v8 {
		d.APIVersion = "v8"
	}
	if owner {
		d.DefaultOwner = reqTestOwner
	}
	return d
}

// reqFuzzCheck holds what every body decoded by d must satisfy.
func reqFuzzCheck(t *testing.T, req *zoho.ConvertRequest, err error, d *Decoder) {
	version := d.APIVersion
	if err != nil {
		if req != nil {
			t.Fatal("a request and an error")
		}
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
		}
		if len(ve.Errors) == 0 || len(ve.Errors) > reqMaxErrors {
			t.Fatalf("%d field errors", len(ve.Errors))
		}
		for _, fe := range ve.Errors {
			if !strings.HasPrefix(fe.JSONPath, "$") || fe.Code == "" || fe.Message == "" {
				t.Fatalf("bad field error %+v", fe)
			}
			// Fixed text plus at most one 40-character fragment of input.
			if len(fe.JSONPath) > 220 || len(fe.Message) > 400 {
				t.Fatalf("field error too long: %+v", fe)
			}
		}
		if !json.Valid(ve.Body()) {
			t.Fatalf("body is not JSON: %s", ve.Body())
		}
		return
	}
	if err := validateRequest(req, version); err != nil {
		t.Fatalf("decoded request does not validate: %v", err)
	}
	if req.AssignTo == nil {
		t.Fatal("no owner: Zoho's Mass Convert requires assign_to")
	}
	if len(req.IDs) == 0 || len(req.IDs) > MaxIDs {
		t.Fatalf("%d ids", len(req.IDs))
	}
	// Each lead once: no two ids may name the same number, however written
	// ("0123" is "123"), and none may be 0.
	seen := map[uint64]bool{}
	for _, id := range req.IDs {
		n, err := strconv.ParseUint(id, 10, 64)
		if !reqIsID(id) || err != nil || n == 0 || seen[n] || strconv.FormatUint(n, 10) != id {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[n] = true
	}
	for _, id := range reqFuzzOtherIDs(req) {
		if id == "" || id[0] == '0' {
			t.Fatalf("bad id %q", id)
		}
	}
	// What the service sends to Zoho is itself a valid request with the same
	// options.
	out, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > MaxBodyBytes {
		return // escaping can grow a body past the cap
	}
	again, err := DecodeJSON(out, version) // without a default: the owner travels in the body
	if err != nil {
		t.Fatalf("re-encoded request refused: %v\n%s", err, out)
	}
	if Fingerprint(again) != Fingerprint(req) {
		t.Fatalf("fingerprint changed on re-encoding:\n%s\n%s", Options(req), Options(again))
	}
}

// reqFuzzOtherIDs lists the ids of req other than its lead ids.
func reqFuzzOtherIDs(req *zoho.ConvertRequest) []string {
	var ids []string
	for _, r := range []*zoho.Ref{req.AssignTo, req.PortalUserType} {
		if r != nil {
			ids = append(ids, r.ID)
		}
	}
	for _, m := range slices.Concat(req.RelatedModules, req.CarryOverTags) {
		ids = append(ids, m.ID)
	}
	if m := req.MoveAttachmentsTo; m != nil {
		ids = append(ids, m.ID)
	}
	return ids
}

// FuzzIsDate: isDate accepts exactly what time.Parse(time.DateOnly) does.
func FuzzIsDate(f *testing.F) {
	for _, s := range []string{"2026-03-31", "2026-02-29", "2024-02-29", "2026-02-30", "0000-01-01", "2026-13-01",
		"2026-00-10", "2026-1-01", "2026-01-1x", "+026-01-01", "2026/01/01", "9999-12-31", "2026-04-31", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := time.Parse(time.DateOnly, s)
		if got := isDate([]byte(s)); got != (err == nil) {
			t.Fatalf("isDate(%q) = %v; time.Parse: %v", s, got, err)
		}
	})
}
