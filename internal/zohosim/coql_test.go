package zohosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// coqlPage is a COQL answer read in full.
type coqlPage struct {
	status int
	ids    []string
	rows   []map[string]any
	more   bool
	code   string
	detail map[string]any
}

func (e *env) coql(query string) coqlPage {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"select_query": query})
	a := e.do("POST", "/crm/v7/coql", e.auth(), string(body))
	p := coqlPage{status: a.status}
	if a.status == http.StatusNoContent {
		if len(a.raw) != 0 {
			e.t.Fatalf("204 with a body: %q", a.raw)
		}
		return p
	}
	var v struct {
		Data []map[string]any
		Info struct {
			Count int  `json:"count"`
			More  bool `json:"more_records"`
		}
		Code    string
		Details map[string]any
	}
	if err := json.Unmarshal(a.raw, &v); err != nil {
		e.t.Fatalf("coql answer: %v: %s", err, a.raw)
	}
	p.code, p.detail, p.rows, p.more = v.Code, v.Details, v.Data, v.Info.More
	if a.status == http.StatusOK && v.Info.Count != len(v.Data) {
		e.t.Fatalf("info.count %d for %d rows", v.Info.Count, len(v.Data))
	}
	for _, r := range v.Data {
		id, ok := r["id"].(string)
		if !ok {
			e.t.Fatalf("row without a string id: %s", a.raw)
		}
		p.ids = append(p.ids, id)
	}
	return p
}

func TestCOQLSelects(t *testing.T) {
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(6)
	status := []string{"Qualified", "Qualified", "Pre-Qualified", "Contacted", "Qualified", ""}
	source := []string{"Web", "Fair", "Web", "Web", "Web", "Web"}
	for i, id := range ids {
		f := map[string]any{"Lead_Source": source[i], "Lead_Status": status[i]}
		if status[i] == "" {
			f["Lead_Status"] = nil
		}
		e.s.SetLeadFields(id, f)
	}
	pick := func(k ...int) []string {
		var out []string
		for _, i := range k {
			out = append(out, ids[i])
		}
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"select id from Leads where Lead_Status = 'Qualified' order by id asc", pick(0, 1, 4)},
		{"SELECT id, Last_Name FROM Leads WHERE Lead_Status = 'Qualified' AND Lead_Source = 'Web'", pick(0, 4)},
		{"select id from Leads where Lead_Status like '%Qualified'", pick(0, 1, 2, 4)},
		{"select id from Leads where Lead_Status not like '%Qual%'", pick(3)},
		{"select id from Leads where Lead_Status in ('Contacted', 'Pre-Qualified')", pick(2, 3)},
		{"select id from Leads where Lead_Status not in ('Qualified')", pick(2, 3)},
		{"select id from Leads where Lead_Status is null", pick(5)},
		{"select id from Leads where Lead_Status is not null and Lead_Source != 'Web'", pick(1)},
		{"select id from Leads where (Lead_Status = 'Contacted' or Lead_Source = 'Fair') and id > 0", pick(1, 3)},
		{fmt.Sprintf("select id from Leads where Lead_Status = 'Qualified' and id > %s order by id asc", ids[0]), pick(1, 4)},
		{"select id from Leads order by id desc limit 2", pick(5, 4)},
		{"select id from Leads limit 1, 2", pick(1, 2)},
		{"select id from Leads where Lead_Status = 'Lost'", nil},
	}
	for _, tt := range tests {
		p := e.coql(tt.query)
		if tt.want == nil {
			if p.status != http.StatusNoContent {
				t.Errorf("%s: %d %v, want 204", tt.query, p.status, p.ids)
			}
			continue
		}
		if p.status != http.StatusOK || !slices.Equal(p.ids, tt.want) {
			t.Errorf("%s: %d %v (%s), want %v", tt.query, p.status, p.ids, p.code, tt.want)
		}
	}
	p := e.coql("select Last_Name, Lead_Status from Leads where id = " + ids[3])
	if len(p.rows) != 1 || p.rows[0]["Last_Name"] != "Lead "+ids[3] || p.rows[0]["Lead_Status"] != "Contacted" {
		t.Errorf("fields of a row: %v", p.rows)
	}
	if st := e.s.Stats(); st.Calls[EndpointCOQL] != len(tests)+1 {
		t.Errorf("COQL calls counted %d, want %d", st.Calls[EndpointCOQL], len(tests)+1)
	}
}

func TestCOQLPagesAndLimits(t *testing.T) {
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(2500)
	p := e.coql("select id from Leads order by id asc limit 2000")
	if len(p.ids) != 2000 || !p.more || p.ids[1999] != ids[1999] {
		t.Fatalf("first page: %d rows, more %v", len(p.ids), p.more)
	}
	p = e.coql("select id from Leads where id > " + p.ids[1999] + " order by id asc limit 2000")
	if len(p.ids) != 500 || p.more || p.ids[0] != ids[2000] {
		t.Fatalf("second page: %d rows, more %v", len(p.ids), p.more)
	}
	if p := e.coql("select id from Leads"); len(p.ids) != coqlDefaultRows || !p.more {
		t.Errorf("no limit: %d rows, want the default %d", len(p.ids), coqlDefaultRows)
	}
	for _, q := range []string{"select id from Leads limit 2001", "select id from Leads limit 99000, 2000"} {
		if p := e.coql(q); p.status != http.StatusBadRequest || p.code != "LIMIT_EXCEEDED" {
			t.Errorf("%s: %d %s, want 400 LIMIT_EXCEEDED", q, p.status, p.code)
		}
	}
	many := "select id from Leads where id > 0"
	for range coqlMaxCriteria {
		many += " and Lead_Status != 'x'"
	}
	if p := e.coql(many); p.code != "LIMIT_EXCEEDED" || p.detail["clause"] != "where" {
		t.Errorf("26 criteria: %s %v, want LIMIT_EXCEEDED in where", p.code, p.detail)
	}
}

func TestCOQLCustomView(t *testing.T) {
	const cvid = "3652397000000087501"
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(4)
	status := []string{"Qualified", "Contacted", "Qualified", "Qualified"}
	source := []string{"Web", "Web", "Fair", "Web"}
	for i, id := range ids {
		e.s.SetLeadFields(id, map[string]any{"Lead_Status": status[i], "Lead_Source": source[i]})
	}
	e.s.DefineView(cvid, "Lead_Status = 'Qualified'")
	tests := []struct {
		query string
		want  []string
	}{
		{"select id from Leads#" + cvid, []string{ids[0], ids[2], ids[3]}},
		{"select id from Leads#" + cvid + " where Lead_Source = 'Web' order by id asc", []string{ids[0], ids[3]}},
		{"select id from Leads#" + cvid + " where id > " + ids[0] + " order by id asc limit 1", []string{ids[2]}},
		{"select id from Leads#" + cvid + " where Lead_Status = 'Contacted'", nil},
	}
	for _, tt := range tests {
		p := e.coql(tt.query)
		if tt.want == nil {
			if p.status != http.StatusNoContent {
				t.Errorf("%s: %d %v, want 204", tt.query, p.status, p.ids)
			}
			continue
		}
		if p.status != http.StatusOK || !slices.Equal(p.ids, tt.want) {
			t.Errorf("%s: %d %v (%s), want %v", tt.query, p.status, p.ids, p.code, tt.want)
		}
	}
	for _, q := range []string{"select id from Leads#3652397000000087999", "select id from Leads#abc", "select id from Leads#"} {
		if p := e.coql(q); p.status != http.StatusBadRequest || p.code != "INVALID_QUERY" || p.detail["clause"] != "from" {
			t.Errorf("%s: %d %s %v, want 400 INVALID_QUERY in from", q, p.status, p.code, p.detail)
		}
	}
}

func TestCOQLRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.SeedLeadRange(1)
	tests := []struct {
		query, code, clause string
	}{
		{"select id from Contacts", "INVALID_QUERY", "from"},
		{"select id from Leads#3652397000000087501", "INVALID_QUERY", "from"},
		{"select Nope from Leads", "INVALID_QUERY", "select"},
		{"select id from Leads where Nope = 'x'", "INVALID_QUERY", "where"},
		{"select id from Leads order by Last_Name", "INVALID_QUERY", "order by"},
		{"select id Leads", "SYNTAX_ERROR", "from"},
		{"select id from Leads where Lead_Status = ", "SYNTAX_ERROR", "where"},
		{"select id from Leads where Lead_Status = 'x", "SYNTAX_ERROR", "where"},
		{"select id from Leads where (Lead_Status = 'x'", "SYNTAX_ERROR", "where"},
		{"select id from Leads where Lead_Status = 'x'; select id from Leads", "SYNTAX_ERROR", "where"},
		{"select id from Leads limit x", "SYNTAX_ERROR", "limit"},
	}
	for _, tt := range tests {
		p := e.coql(tt.query)
		if p.status != http.StatusBadRequest || p.code != tt.code || p.detail["clause"] != tt.clause {
			t.Errorf("%s: %d %s %v, want 400 %s in %s", tt.query, p.status, p.code, p.detail, tt.code, tt.clause)
		}
	}
	a := e.do("POST", "/crm/v7/coql", e.auth(), `{}`)
	if a.status != http.StatusBadRequest || a.body["code"] != "MANDATORY_NOT_FOUND" {
		t.Errorf("no select_query: %d %s", a.status, a.raw)
	}
	if a := e.do("GET", "/crm/v8/coql", e.auth(), ""); a.status != http.StatusBadRequest {
		t.Errorf("GET coql: %d %s", a.status, a.raw)
	}
}

func TestCOQLNeedsItsScope(t *testing.T) {
	e := newEnv(t, Options{Scopes: []string{"ZohoCRM.modules.leads.READ"}})
	e.s.SeedLeadRange(1)
	if p := e.coql("select id from Leads"); p.status != http.StatusUnauthorized || p.code != "OAUTH_SCOPE_MISMATCH" {
		t.Errorf("without ZohoCRM.coql.READ: %d %s", p.status, p.code)
	}
}

func TestCOQLFaults(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.SeedLeadRange(1)
	e.s.Script(EndpointCOQL, Fault{Kind: InternalError})
	if p := e.coql("select id from Leads"); p.status != http.StatusInternalServerError || p.code != "INTERNAL_ERROR" {
		t.Errorf("scripted fault: %d %s", p.status, p.code)
	}
	if p := e.coql("select id from Leads"); p.status != http.StatusOK {
		t.Errorf("after the fault: %d %s", p.status, p.code)
	}
}

// Converted leads: returned by default, left out with COQLHidesConverted,
// and leads in a job that has not ended are returned either way.
func TestCOQLConvertedLeads(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprint("hide=", hide), func(t *testing.T) {
			e := newEnv(t, Options{COQLHidesConverted: hide})
			ids := e.s.SeedLeadRange(3)
			e.schedule(ids[0])
			if p := e.coql("select id from Leads order by id asc"); !slices.Equal(p.ids, ids) {
				t.Errorf("job running: %v, want all %v", p.ids, ids)
			}
			e.clock.Advance(10 * time.Minute) // the job ends; the token lives on
			want := ids
			if hide {
				want = ids[1:]
			}
			if p := e.coql("select id from Leads order by id asc"); !slices.Equal(p.ids, want) {
				t.Errorf("job ended: %v, want %v", p.ids, want)
			}
		})
	}
}
