package convert

import (
	"reflect"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// reqTestFull sets every option of a request, each to something other than
// its zero value.
const reqTestFull = `{"ids":["1","2"],"Deals":{"Stage":"S","Deal_Name":"D  <b>\u2028","Closing_Date":"2026-03-31",` +
	`"Amount":12345678901234567890,"Lookup":{"name":"N","id":"5"}},"assign_to":{"id":"11","name":"Ann"},` +
	`"portal_user_type":{"id":"12"},"related_modules":[{"api_name":"Tasks","id":"21"},{"api_name":"Calls","id":"23"}],` +
	`"carry_over_tags":[{"api_name":"Deals","id":"32"},{"api_name":"Contacts","id":"31"}],` +
	`"move_attachments_to":{"api_name":"Deals","id":"32"},"apply_assignment_threshold":false}`

// TestEveryFieldIsDeclared: each JSON key of zoho.ConvertRequest has its
// entry in fields, and fields declares no key the request lacks, so an
// option added to the request cannot be left out of decoding and
// validation.
func TestEveryFieldIsDeclared(t *testing.T) {
	typ := reflect.TypeFor[zoho.ConvertRequest]()
	var keys []string
	for sf := range typ.Fields() {
		keys = append(keys, strings.Split(sf.Tag.Get("json"), ",")[0])
	}
	var declared []string
	for _, f := range fields {
		declared = append(declared, f.key)
		if f.json == nil || f.form == nil || f.check == nil {
			t.Errorf("field %s: json, form and check must all be set", f.key)
		}
	}
	if !reflect.DeepEqual(keys, declared) {
		t.Errorf("zoho.ConvertRequest's keys %v, fields declares %v (same keys, same order)", keys, declared)
	}
}

// TestOptionsNeverMerge: two requests that differ in any one option never
// share a fingerprint, so never share a call; the ids alone never matter.
func TestOptionsNeverMerge(t *testing.T) {
	full, err := DecodeJSON([]byte(reqTestFull), "v8")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{Fingerprint(full): "the full request"}
	v := reflect.ValueOf(full).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		variant := *full
		reflect.ValueOf(&variant).Elem().Field(i).SetZero()
		fp := Fingerprint(&variant)
		if name == "IDs" {
			if fp != Fingerprint(full) {
				t.Errorf("requests differing only in their ids have different fingerprints")
			}
			continue
		}
		if other, ok := seen[fp]; ok {
			t.Errorf("without %s, the request shares a fingerprint with %s", name, other)
		}
		seen[fp] = "the request without " + name
		var fps fingerprints
		if got, _ := fps.of(&variant); got != fp {
			t.Errorf("without %s: a batch's fingerprint %s, Fingerprint %s", name, got, fp)
		}
	}
}

// TestOptionsBytes holds the canonical options of requests as the bridge
// stored them before: a fingerprint that changed across an upgrade would
// keep new requests out of the calls their old twins wait in.
func TestOptionsBytes(t *testing.T) {
	for _, tc := range []struct{ body, form, want string }{
		{body: `{"ids":["1"],"assign_to":{"id":"11"}}`, want: `{"assign_to":{"id":"11"}}`},
		{body: `{"ids":["1"],"assign_to":{"id":"11","name":"Ann <&>"}}`, want: `{"assign_to":{"id":"11","name":"Ann <&>"}}`},
		{body: reqTestFull, want: `{"Deals":{"Amount":12345678901234567890,"Closing_Date":"2026-03-31","Deal_Name":"D  <b>\u2028",` +
			`"Lookup":{"id":"5","name":"N"},"Stage":"S"},"assign_to":{"id":"11","name":"Ann"},"portal_user_type":{"id":"12"},` +
			`"related_modules":[{"api_name":"Calls","id":"23"},{"api_name":"Tasks","id":"21"}],` +
			`"carry_over_tags":[{"api_name":"Contacts","id":"31"},{"api_name":"Deals","id":"32"}],` +
			`"move_attachments_to":{"api_name":"Deals","id":"32"},"apply_assignment_threshold":false}`},
		{body: `{"ids":["1"],"Deals":{"Deal_Name":"D","Stage":"S","Closing_Date":"2026-03-31","Amount":null},"assign_to":{"id":"11"}}`,
			want: `{"Deals":{"Amount":null,"Closing_Date":"2026-03-31","Deal_Name":"D","Stage":"S"},"assign_to":{"id":"11"}}`},
		{body: `{"ids":["1"],"Deals":{"Deal_Name":"D","Stage":"S","Closing_Date":"2026-03-31","Amount": 1.50e3 , "X":[1, {"b":2,"a":1}]},` +
			`"assign_to":{"id":"11"},"apply_assignment_threshold":true}`,
			want: `{"Deals":{"Amount":1.50e3,"Closing_Date":"2026-03-31","Deal_Name":"D","Stage":"S","X":[1,{"a":1,"b":2}]},` +
				`"assign_to":{"id":"11"},"apply_assignment_threshold":true}`},
		{body: `{"ids":["1"],"assign_to":{"id":"11"},"related_modules":[]}`, want: `{"assign_to":{"id":"11"}}`},
		{form: "ids=1&assign_to=11&Deals.Deal_Name=x&Deals.Stage=S&Deals.Closing_Date=2026-01-02&Deals.Amount=" +
			"&related_modules=Tasks:1,Calls:2&move_attachments_to=Deals:3",
			want: `{"Deals":{"Closing_Date":"2026-01-02","Deal_Name":"x","Stage":"S"},"assign_to":{"id":"11"},` +
				`"related_modules":[{"api_name":"Calls","id":"2"},{"api_name":"Tasks","id":"1"}],"move_attachments_to":{"api_name":"Deals","id":"3"}}`},
	} {
		var req *zoho.ConvertRequest
		var err error
		if tc.form != "" {
			req, err = DecodeForm([]byte(tc.form), "v8")
		} else {
			req, err = DecodeJSON([]byte(tc.body), "v8")
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := string(Options(req)); got != tc.want {
			t.Errorf("%s%s:\n got %s\nwant %s", tc.body, tc.form, got, tc.want)
		}
	}
}
