package zohosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// getLeads reads leads by id the way Get Records does.
func (e *env) getLeads(query url.Values) answer {
	e.t.Helper()
	return e.do("GET", "/crm/v7/Leads?"+query.Encode(), e.auth(), "")
}

// converted maps each returned id to its $converted, failing on any other shape.
func (a answer) converted(t *testing.T) map[string]bool {
	t.Helper()
	if a.status == http.StatusNoContent {
		if len(a.raw) != 0 {
			t.Fatalf("204 with a body: %q", a.raw)
		}
		return map[string]bool{}
	}
	var v struct {
		Data []struct {
			ID        string `json:"id"`
			Converted *bool  `json:"$converted"`
		}
		Info struct{ Count int }
	}
	if a.status != http.StatusOK || json.Unmarshal(a.raw, &v) != nil || v.Info.Count != len(v.Data) {
		t.Fatalf("get leads: %d %s", a.status, a.raw)
	}
	out := map[string]bool{}
	for _, r := range v.Data {
		if r.Converted == nil {
			t.Fatalf("record without $converted: %s", a.raw)
		}
		out[r.ID] = *r.Converted
	}
	return out
}

func TestGetLeadsValidation(t *testing.T) {
	many := make([]string, maxGetIDs+1)
	for i := range many {
		many[i] = fmt.Sprint(3652397000001000000 + i)
	}
	tests := []struct {
		name    string
		query   url.Values
		code    string
		details string
	}{
		{"fields missing", url.Values{"ids": {"1"}}, "REQUIRED_PARAM_MISSING", `{"param":"fields"}`},
		{"fields empty", url.Values{"ids": {"1"}, "fields": {" "}}, "REQUIRED_PARAM_MISSING", `{"param":"fields"}`},
		{"51 fields", url.Values{"ids": {"1"}, "fields": {strings.Repeat("F,", 50) + "F"}}, "LIMIT_EXCEEDED", ""},
		{"id not digits", url.Values{"ids": {"1,x"}, "fields": {"id"}}, "INVALID_DATA", `{"param":"ids"}`},
		{"too many ids", url.Values{"ids": {strings.Join(many, ",")}, "fields": {"id"}}, "LIMIT_EXCEEDED", ""},
		{"converted unknown", url.Values{"ids": {"1"}, "fields": {"id"}, "converted": {"yes"}}, "INVALID_DATA", `{"param":"converted"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.getLeads(tt.query).wantError(t, http.StatusBadRequest, tt.code, tt.details)
		})
	}
}

// A lead reads as converted only once the job that took it has ended
// without failing it; converted leads are hidden unless asked for.
func TestGetLeadsFollowsConversion(t *testing.T) {
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(3)
	e.s.FailLeads(ids[2])
	const unknown = "3652397999999999999"
	read := func(converted string) map[string]bool {
		t.Helper()
		q := url.Values{"ids": {strings.Join(append(ids[:3:3], unknown), ",")}, "fields": {"Converted_Contact,Lead_Conversion_Time"}}
		if converted != "" {
			q.Set("converted", converted)
		}
		return e.getLeads(q).converted(t)
	}
	want := func(step string, got map[string]bool, converted ...bool) {
		t.Helper()
		w := map[string]bool{}
		for i, c := range converted {
			w[ids[i]] = c
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: got %v, want %v", step, got, w)
		}
	}

	want("before, default", read(""), false, false, false)
	if got := read("true"); len(got) != 0 {
		t.Errorf("before, converted=true: %v, want 204", got)
	}
	e.schedule(ids...)
	want("pending, both", read("both"), false, false, false)

	e.clock.Advance(time.Hour)
	e.tok = e.s.IssueToken()
	want("done, both", read("both"), true, true, false)
	want("done, true", read("true"), true, true)
	if got := read(""); len(got) != 1 || got[ids[2]] {
		t.Errorf("done, default: %v, want only the failed lead, unconverted", got)
	}

	// The lookups are filled for converted leads only, and only when asked.
	a := e.getLeads(url.Values{"ids": {ids[0] + "," + ids[2]}, "fields": {"Converted_Contact"}, "converted": {"both"}})
	var v struct{ Data []map[string]any }
	if err := json.Unmarshal(a.raw, &v); err != nil || len(v.Data) != 2 {
		t.Fatalf("lookups: %d %s", a.status, a.raw)
	}
	for _, rec := range v.Data {
		contact, conv := rec["Converted_Contact"], rec["$converted"] == true
		if _, asked := rec["Converted_Deal"]; asked {
			t.Errorf("unasked field returned: %v", rec)
		}
		if conv != (contact != nil) {
			t.Errorf("record %v: Converted_Contact %v", rec["id"], contact)
		}
	}
}

func TestGetLeadsRoute(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.s.SeedLeadRange(1)[0]
	q := "?ids=" + id + "&fields=id"
	if a := e.do("GET", "/crm/v8/Leads"+q, e.auth(), ""); a.converted(t)[id] {
		t.Errorf("v8 read: %s", a.raw)
	}
	if a := e.do("POST", "/crm/v7/Leads"+q, e.auth(), ""); a.status < 400 {
		t.Errorf("POST to Get Records answered %d", a.status)
	}
	if a := e.do("GET", "/crm/v7/Leads"+q, "", ""); a.status != http.StatusUnauthorized {
		t.Errorf("read without a token answered %d", a.status)
	}
	if got := e.s.Stats().Calls[EndpointGetLeads]; got != 2 {
		t.Errorf("Calls[get_leads] = %d, want 2", got)
	}
}
