package zohosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

// searchPage is a Search Records answer read in full.
type searchPage struct {
	status int
	ids    []string
	more   bool
	code   string
}

func (e *env) search(criteria string, page int, extra ...string) searchPage {
	e.t.Helper()
	q := url.Values{"criteria": {criteria}, "page": {fmt.Sprint(page)}, "per_page": {"200"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	a := e.do("GET", "/crm/v7/Leads/search?"+q.Encode(), e.auth(), "")
	p := searchPage{status: a.status}
	if a.status == http.StatusNoContent {
		return p
	}
	var v struct {
		Data []struct {
			ID string `json:"id"`
		}
		Info struct {
			More bool `json:"more_records"`
		}
		Code string
	}
	if err := json.Unmarshal(a.raw, &v); err != nil {
		e.t.Fatalf("search answer: %v: %s", err, a.raw)
	}
	p.code, p.more = v.Code, v.Info.More
	for _, r := range v.Data {
		p.ids = append(p.ids, r.ID)
	}
	return p
}

// equals matches like contains, and case does not matter: "Qualified"
// finds "Pre-Qualified" too (zoho-crm-api.md section 8).
func TestSearchEqualsMatchesLikeContains(t *testing.T) {
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(5)
	status := []string{"Qualified", "Pre-Qualified", "Contacted", "qualified", "Qualified"}
	source := []string{"Web", "Web", "Web", "Web", "Fair"}
	for i, id := range ids {
		e.s.SetLeadFields(id, map[string]any{"Lead_Status": status[i], "Lead_Source": source[i]})
	}
	tests := []struct {
		criteria string
		want     []string
	}{
		{"(Lead_Status:equals:Qualified)", []string{ids[0], ids[1], ids[3], ids[4]}},
		{"((Lead_Status:equals:Qualified)and(Lead_Source:equals:Web))", []string{ids[0], ids[1], ids[3]}},
		{"((Lead_Status:equals:Contacted)or(Lead_Source:equals:Fair))", []string{ids[2], ids[4]}},
		{"(Lead_Status:starts_with:Pre)", []string{ids[1]}},
	}
	for _, tt := range tests {
		if p := e.search(tt.criteria, 1); p.status != http.StatusOK || !slices.Equal(p.ids, tt.want) || p.more {
			t.Errorf("%s: %d %v more %v, want %v", tt.criteria, p.status, p.ids, p.more, tt.want)
		}
	}
	if p := e.search("(Lead_Status:equals:Lost)", 1); p.status != http.StatusNoContent {
		t.Errorf("no match: %d, want 204", p.status)
	}
	for _, bad := range []string{"Lead_Status:equals:Qualified", "(Nope:equals:x)", "(Lead_Status:between:a)", "((Lead_Status:equals:a)xor(Lead_Source:equals:b))"} {
		if p := e.search(bad, 1); p.status != http.StatusBadRequest || p.code != "INVALID_QUERY" {
			t.Errorf("%s: %d %s, want 400 INVALID_QUERY", bad, p.status, p.code)
		}
	}
	if st := e.s.Stats(); st.Calls[EndpointSearch] != len(tests)+5 {
		t.Errorf("Search calls counted %d, want %d", st.Calls[EndpointSearch], len(tests)+5)
	}
}

// 200 a page and 2,000 in all: the page after them is LIMIT_REACHED,
// whatever more_records said.
func TestSearchStopsAt2000(t *testing.T) {
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(2300)
	for _, id := range ids {
		e.s.SetLeadFields(id, map[string]any{"Lead_Status": "Qualified"})
	}
	var got []string
	for page := 1; page <= 10; page++ {
		p := e.search("(Lead_Status:equals:Qualified)", page)
		if p.status != http.StatusOK || len(p.ids) != 200 || !p.more {
			t.Fatalf("page %d: %d, %d rows, more %v", page, p.status, len(p.ids), p.more)
		}
		got = append(got, p.ids...)
	}
	if !slices.Equal(got, ids[:2000]) {
		t.Errorf("the 2,000 found are not the first 2,000 leads in order")
	}
	if p := e.search("(Lead_Status:equals:Qualified)", 11); p.status != http.StatusBadRequest || p.code != "LIMIT_REACHED" {
		t.Errorf("page 11: %d %s, want 400 LIMIT_REACHED", p.status, p.code)
	}
}

// Converted leads are hidden unless converted asks for them, as Get
// Records hides them; leads in a running job are still leads.
func TestSearchConvertedLeads(t *testing.T) {
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(4)
	for _, id := range ids {
		e.s.SetLeadFields(id, map[string]any{"Lead_Status": "Qualified"})
	}
	e.s.SeedConvertedLeads(ids[0])
	e.schedule(ids[1])
	const crit = "(Lead_Status:equals:Qualified)"
	if p := e.search(crit, 1); !slices.Equal(p.ids, ids[1:]) {
		t.Errorf("default: %v, want %v", p.ids, ids[1:])
	}
	e.clock.Advance(10 * time.Minute) // the job ends
	if p := e.search(crit, 1); !slices.Equal(p.ids, ids[2:]) {
		t.Errorf("job ended: %v, want %v", p.ids, ids[2:])
	}
	if p := e.search(crit, 1, "converted", "true"); !slices.Equal(p.ids, ids[:2]) {
		t.Errorf("converted=true: %v, want %v", p.ids, ids[:2])
	}
	if p := e.search(crit, 1, "converted", "both"); !slices.Equal(p.ids, ids) {
		t.Errorf("converted=both: %v, want %v", p.ids, ids)
	}
}

// Convert Lead converts one lead at once; a converted lead is refused
// with ID_ALREADY_CONVERTED, and Get Records, COQL and mass_convert see
// the conversion.
func TestConvertLead(t *testing.T) {
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(3)
	e.s.SeedConvertedLeads(ids[2])
	path := func(id string) string { return "/crm/v7/Leads/" + id + "/actions/convert" }
	body := fmt.Sprintf(`{"data":[{"assign_to":{"id":"%s"},"Deals":{"Deal_Name":"d","Stage":"Qualification","Closing_Date":"2026-12-31"}}]}`, DefaultUserID)
	a := e.do("POST", path(ids[0]), e.auth(), body)
	var ok struct {
		Data []struct {
			Code    string
			Details map[string]string
		}
	}
	if err := json.Unmarshal(a.raw, &ok); a.status != http.StatusOK || err != nil || len(ok.Data) != 1 || ok.Data[0].Code != "SUCCESS" ||
		ok.Data[0].Details["Contacts"] == "" || ok.Data[0].Details["Deals"] == "" {
		t.Fatalf("convert: %d %s", a.status, a.raw)
	}
	for _, id := range []string{ids[0], ids[2]} {
		e.do("POST", path(id), e.auth(), `{"data":[{}]}`).wantError(t, http.StatusBadRequest, "ID_ALREADY_CONVERTED", `{"id":"`+id+`"}`)
	}
	e.do("POST", path("3652397000099999999"), e.auth(), `{"data":[{}]}`).wantError(t, http.StatusBadRequest, "INVALID_DATA", `{"api_name":"id","param_name":"id"}`)
	if a := e.do("POST", path(ids[1]), e.auth(), `{}`); a.status != http.StatusBadRequest || a.body["code"] != "MANDATORY_NOT_FOUND" {
		t.Errorf("no data: %d %s", a.status, a.raw)
	}
	if a := e.do("GET", path(ids[1]), e.auth(), ""); a.status != http.StatusBadRequest || a.body["code"] != "INVALID_REQUEST_METHOD" {
		t.Errorf("GET: %d %s", a.status, a.raw)
	}
	a = e.do("GET", "/crm/v7/Leads?fields=Converted_Deal&converted=both&ids="+ids[0]+","+ids[1], e.auth(), "")
	var got struct {
		Data []map[string]any
	}
	if err := json.Unmarshal(a.raw, &got); err != nil || len(got.Data) != 2 || got.Data[0]["$converted"] != true || got.Data[0]["Converted_Deal"] == nil ||
		got.Data[1]["$converted"] != false {
		t.Errorf("read back: %d %s", a.status, a.raw)
	}
	if p := e.coql("select id from Leads order by id asc"); !slices.Equal(p.ids, ids) {
		t.Errorf("COQL: %v, want every lead %v", p.ids, ids)
	}
	e.convert("v7", owned(idsBody(ids[1], ids[2]))).wantError(t, http.StatusBadRequest, "INVALID_DATA", `{"api_name":"ids","json_path":"$.ids[1]"}`)
	if st := e.s.Stats(); st.LeadsConverted != 1 || st.ConvertedSubmissions != 3 || st.DuplicateSubmissions != 0 {
		t.Errorf("stats: converted %d, converted submissions %d, duplicates %d; want 1, 3, 0", st.LeadsConverted, st.ConvertedSubmissions, st.DuplicateSubmissions)
	}
}
