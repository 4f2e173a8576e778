package zohosim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// What a producer written without the bridge uses (zoho-crm-api.md
// sections 4, 6 and 8): Search Records to select leads and the single-lead
// Convert Lead API to convert them, one call each.
//
// Search Records: GET /crm/v{7,8}/Leads/search?criteria=(Field:op:value),
// criteria joined by and/or with parentheses. Its quirks as documented:
// equals matches like "contains" ("Qualified" also matches
// "Pre-Qualified"), 200 records a page, and 2,000 records in all: a page
// past them answers LIMIT_REACHED. Nothing matching is 204. Converted
// leads: the document does not say; the simulator hides them unless
// converted=true or both asks, as Get Records does (section 6), the
// reading under which a producer that converts what it found and searches
// again eventually sees every lead.

// The limits of Search Records.
const (
	searchMaxPerPage = 200
	searchMaxRecords = 2000
	searchMaxTerms   = 10
)

// A searchTerm is one (Field:op:value) of a criteria string, or an and/or
// of terms.
type searchTerm struct {
	join     string // "and", "or", or "" for a leaf
	children []*searchTerm
	field    string
	op       string // equals, starts_with
	value    string // lower case: Search ignores case
}

func invalidCriteria(message string) *apiError {
	return &apiError{http.StatusBadRequest, "INVALID_QUERY", message, obj{"param_name": "criteria"}}
}

// parseCriteria reads a criteria string: a term is (Field:op:value), and
// terms are joined by and/or within parentheses, e.g.
// ((Lead_Status:equals:Qualified)and(Lead_Source:equals:Web)).
func parseCriteria(src string) (*searchTerm, *apiError) {
	p := criteriaParser{src: strings.TrimSpace(src)}
	t, err := p.group()
	if err != nil {
		return nil, err
	}
	if p.rest() != "" {
		return nil, invalidCriteria("invalid criteria: unexpected " + p.rest())
	}
	if t.count() > searchMaxTerms {
		return nil, invalidCriteria("more than 10 criteria")
	}
	return t, nil
}

type criteriaParser struct {
	src string
	pos int
}

func (p *criteriaParser) rest() string { return strings.TrimSpace(p.src[p.pos:]) }

func (p *criteriaParser) skipSpace() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
}

// group reads "(" then either a leaf "Field:op:value)" or terms joined by
// and/or and ")".
func (p *criteriaParser) group() (*searchTerm, *apiError) {
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != '(' {
		return nil, invalidCriteria("invalid criteria: expected (")
	}
	p.pos++
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] != '(' {
		end := strings.IndexByte(p.src[p.pos:], ')')
		if end < 0 {
			return nil, invalidCriteria("invalid criteria: missing )")
		}
		parts := strings.SplitN(p.src[p.pos:p.pos+end], ":", 3)
		p.pos += end + 1
		if len(parts) != 3 || strings.TrimSpace(parts[0]) == "" {
			return nil, invalidCriteria("invalid criteria: a criterion is (Field:operator:value)")
		}
		op := strings.TrimSpace(parts[1])
		if op != "equals" && op != "starts_with" {
			return nil, invalidCriteria("invalid criteria: operator " + op + " is not supported here")
		}
		return &searchTerm{field: strings.TrimSpace(parts[0]), op: op, value: strings.ToLower(strings.TrimSpace(parts[2]))}, nil
	}
	t := &searchTerm{}
	for {
		child, err := p.group()
		if err != nil {
			return nil, err
		}
		t.children = append(t.children, child)
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ')' {
			p.pos++
			break
		}
		var join string
		for _, w := range []string{"and", "or"} {
			if strings.HasPrefix(strings.ToLower(p.src[p.pos:]), w) {
				join = w
			}
		}
		if join == "" || t.join != "" && t.join != join {
			return nil, invalidCriteria("invalid criteria: join terms with and or or, one kind within a group")
		}
		t.join = join
		p.pos += len(join)
	}
	if len(t.children) == 1 {
		return t.children[0], nil
	}
	return t, nil
}

func (t *searchTerm) count() int {
	if t.join == "" {
		return 1
	}
	n := 0
	for _, c := range t.children {
		n += c.count()
	}
	return n
}

// match applies the term as Zoho does: equals matches like contains, and
// case does not matter.
func (t *searchTerm) match(rec obj) bool {
	switch t.join {
	case "and":
		for _, c := range t.children {
			if !c.match(rec) {
				return false
			}
		}
		return true
	case "or":
		for _, c := range t.children {
			if c.match(rec) {
				return true
			}
		}
		return false
	}
	v, ok := rec[t.field].(string)
	if !ok {
		return false
	}
	v = strings.ToLower(v)
	if t.op == "starts_with" {
		return strings.HasPrefix(v, t.value)
	}
	return strings.Contains(v, t.value)
}

func (t *searchTerm) unknownField(known func(string) bool) (string, bool) {
	if t.join == "" {
		return t.field, !known(t.field)
	}
	for _, c := range t.children {
		if f, ok := c.unknownField(known); ok {
			return f, true
		}
	}
	return "", false
}

func (s *Server) search(q url.Values) (int, any) {
	if strings.TrimSpace(q.Get("criteria")) == "" {
		return (&apiError{http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
			obj{"param_name": "criteria"}}).reply()
	}
	crit, aerr := parseCriteria(q.Get("criteria"))
	if aerr != nil {
		return aerr.reply()
	}
	page, perPage := 1, searchMaxPerPage
	for _, p := range []struct {
		name string
		v    *int
		max  int
	}{{"page", &page, 0}, {"per_page", &perPage, searchMaxPerPage}} {
		raw := q.Get(p.name)
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || p.max > 0 && n > p.max {
			return (&apiError{http.StatusBadRequest, "INVALID_DATA", "invalid data", obj{"param_name": p.name}}).reply()
		}
		*p.v = n
	}
	converted := q.Get("converted")
	switch converted {
	case "":
		converted = "false"
	case "true", "false", "both":
	default:
		return (&apiError{http.StatusBadRequest, "INVALID_DATA", "invalid data", obj{"param_name": "converted"}}).reply()
	}
	start := (page - 1) * perPage
	if start >= searchMaxRecords {
		return (&apiError{http.StatusBadRequest, "LIMIT_REACHED", "maximum number of records that can be fetched with the search API is 2000",
			obj{"limit": searchMaxRecords}}).reply()
	}
	end := min(start+perPage, searchMaxRecords)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	if name, ok := crit.unknownField(s.knownLeadFieldLocked); ok {
		return invalidCriteria("invalid criteria: no field " + name).reply()
	}
	var data []obj
	more := false
	found := 0
	for _, n := range s.sortedIDsLocked() {
		id := strconv.FormatInt(n, 10)
		isConverted := s.convertedLocked(id)
		if converted == "true" && !isConverted || converted == "false" && isConverted {
			continue
		}
		rec := s.leadRecordLocked(id)
		if !crit.match(rec) {
			continue
		}
		if found >= end {
			more = true // even past 2,000: the next page then answers LIMIT_REACHED
			break
		}
		if found >= start {
			rec["$converted"] = isConverted
			data = append(data, rec)
		}
		found++
	}
	if len(data) == 0 {
		return http.StatusNoContent, noContent{}
	}
	return http.StatusOK, obj{"data": data, "info": obj{"per_page": perPage, "count": len(data), "page": page, "more_records": more}}
}

// convertLeadID reads the lead id of a Convert Lead path,
// /crm/v{7,8}/Leads/{id}/actions/convert.
func convertLeadID(path string) (string, bool) {
	for _, v := range []string{"/crm/v7/Leads/", "/crm/v8/Leads/"} {
		if rest, ok := strings.CutPrefix(path, v); ok {
			if id, ok := strings.CutSuffix(rest, "/actions/convert"); ok && id != "" && !strings.Contains(id, "/") {
				return id, true
			}
		}
	}
	return "", false
}

// convertLead is the single-lead Convert Lead API: body {"data": [{...}]}
// with the conversion's options (assign_to, Deals, ...), converted at once.
// A converted lead answers ID_ALREADY_CONVERTED; a lead a mass_convert job
// holds but has not converted yet is converted here, and counted as a
// duplicate submission (the job would convert it again).
func (s *Server) convertLead(id string, body []byte) (int, any) {
	if !isLong(id) {
		return invalid(obj{"api_name": "id", "param_name": "id"}).reply()
	}
	var req struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	if !isObject(body) || json.Unmarshal(body, &req) != nil {
		return errNotJSON.reply()
	}
	if len(req.Data) != 1 {
		return mandatory("data", "$.data").reply()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	if s.convertedLocked(id) {
		s.stats.ConvertedSubmissions++
		return (&apiError{http.StatusBadRequest, "ID_ALREADY_CONVERTED", "the lead has already been converted", obj{"id": id}}).reply()
	}
	if _, taken := s.taken[id]; taken {
		s.stats.DuplicateSubmissions++
	} else if !s.leads[id] {
		return invalid(obj{"api_name": "id", "param_name": "id"}).reply()
	}
	if raw := req.Data[0]["assign_to"]; !absent(raw) && !s.users[idOf(raw)] {
		return invalid(field("assign_to", "$.data[0].assign_to.id")).reply()
	}
	deal := !absent(req.Data[0]["Deals"])
	if deal {
		if err := s.checkDeals(req.Data[0]["Deals"]); err != nil {
			return err.reply()
		}
	}
	delete(s.leads, id)
	delete(s.taken, id)
	s.converted[id] = deal
	s.stats.LeadsConverted++
	n, _ := strconv.ParseInt(id, 10, 64)
	details := obj{"Contacts": strconv.FormatInt(n+1_000_000_000, 10), "Accounts": strconv.FormatInt(n+2_000_000_000, 10)}
	if deal {
		details["Deals"] = strconv.FormatInt(n+3_000_000_000, 10)
	}
	return http.StatusOK, obj{"data": []obj{{"code": "SUCCESS", "details": details, "message": "Lead converted successfully", "status": "success"}}}
}
