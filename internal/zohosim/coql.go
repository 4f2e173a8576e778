package zohosim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// COQL (zoho-crm-api.md section 8): POST /crm/v{7,8}/coql with
// {"select_query": "..."}, for the subset of the grammar a sweep uses:
//
//	select <field>[, <field>...] from Leads[#<cvid>]
//	  [where <condition>]
//	  [order by id [asc|desc]]
//	  [limit [<offset>,] <count>]
//
// A condition is criteria joined by and/or, with parentheses; a criterion
// is <field> followed by = != > >= < <= like, not like, in (...),
// not in (...), is null or is not null, and a value: a string in single
// quotes, a number, or a list of them. Up to 2,000 rows a call (LIMIT
// defaults to 200), offsets up to 100,000, at most 25 criteria; nothing
// matching is 204.
//
// A custom view as the source (from Leads#<cvid>) selects the view's leads,
// narrowed by the where clause if there is one; the simulator knows the
// views DefineView defines, each a condition over the leads.
//
// Converted leads: whether Zoho's COQL returns them is unconfirmed. The
// simulator returns them by default, the case that costs a careless client
// a whole mass_convert call, and hides them with Options.COQLHidesConverted,
// so that a client can be tried against both readings.

// The limits of COQL.
const (
	coqlMaxRows     = 2000
	coqlDefaultRows = 200
	coqlMaxOffset   = 100000
	coqlMaxCriteria = 25
)

// leadFieldNames are the fields of Leads every lead has (null unless set);
// SetLeadFields adds more.
var leadFieldNames = []string{"id", "Last_Name", "First_Name", "Company", "Email", "Lead_Status", "Lead_Source"}

// SetLeadFields sets fields of a lead that COQL selects and filters on. A
// field not yet known to the module becomes one, as a custom field would.
// A nil value clears the field.
func (s *Server) SetLeadFields(id string, fields map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fields[id]
	if f == nil {
		f = map[string]any{}
		s.fields[id] = f
	}
	for k, v := range fields {
		if k == "id" {
			panic("zohosim: a lead's id is not a field to set")
		}
		s.customFields[k] = true
		if v == nil {
			delete(f, k)
		} else {
			f[k] = v
		}
	}
}

// DefineView defines the custom view of Leads cvid (a record id) as the
// leads condition selects: a COQL where clause, as a view's criteria would
// be set in Zoho's UI. It panics on a condition the simulator cannot parse,
// as a test's setup would be wrong. Defining a view again replaces it.
func (s *Server) DefineView(cvid, condition string) {
	if !isRecordID(cvid) {
		panic("zohosim: a custom view's id is a record id, not " + strconv.Quote(cvid))
	}
	q, err := parseCOQL("select id from Leads where " + condition)
	if err != nil {
		panic(fmt.Sprintf("zohosim: view %s: condition %q: %v", cvid, condition, err.message))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.views == nil {
		s.views = map[string]*cond{}
	}
	s.views[cvid] = q.where
}

// isRecordID reports whether s looks like a Zoho record id: digits only.
func isRecordID(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (s *Server) knownLeadFieldLocked(name string) bool {
	return slices.Contains(leadFieldNames, name) || s.customFields[name]
}

func coqlError(code, message string, details obj) *apiError {
	return &apiError{http.StatusBadRequest, code, message, details}
}

func invalidQuery(clause, message string, extra obj) *apiError {
	d := obj{"clause": clause}
	maps.Copy(d, extra)
	return coqlError("INVALID_QUERY", message, d)
}

func syntaxError(clause, near string) *apiError {
	return coqlError("SYNTAX_ERROR", "error in the query", obj{"clause": clause, "near": near})
}

func (s *Server) coql(body []byte) (int, any) {
	var req map[string]json.RawMessage
	if !isObject(body) || json.Unmarshal(body, &req) != nil {
		return errNotJSON.reply()
	}
	var query string
	if raw := req["select_query"]; absent(raw) || json.Unmarshal(raw, &query) != nil || strings.TrimSpace(query) == "" {
		return mandatory("select_query", "$.select_query").reply()
	}
	q, err := parseCOQL(query)
	if err != nil {
		return err.reply()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	for _, f := range q.fields {
		if !s.knownLeadFieldLocked(f) {
			return invalidQuery("select", "invalid column given", obj{"column_name": f}).reply()
		}
	}
	if name, ok := q.where.unknownField(s.knownLeadFieldLocked); ok {
		return invalidQuery("where", "invalid column given", obj{"column_name": name}).reply()
	}
	var view *cond
	if q.view != "" {
		var known bool
		if view, known = s.views[q.view]; !known {
			// zoho-crm-api.md section 8 names INVALID_QUERY with
			// details.clause for a refused query but no code for an
			// unknown view: INVALID_QUERY in the from clause, with the
			// id given, is assumed.
			return invalidQuery("from", "invalid custom view id given", obj{"cvid": q.view}).reply()
		}
	}

	// Ids in order from the first that can match: keyset paging (an and
	// with id > N) skips what comes before at once, and the scan stops at
	// the first row past the page, which is all more_records needs. Both
	// only save time: the answer is the full scan's.
	ids := s.sortedIDsLocked()
	if after, ok := q.where.idAfter(); ok && !q.desc {
		ids = ids[sort.Search(len(ids), func(i int) bool { return ids[i] > after }):]
	}
	var matched []obj
	for k := range ids {
		if len(matched) > q.offset+q.limit {
			break
		}
		n := ids[k]
		if q.desc {
			n = ids[len(ids)-1-k]
		}
		id := strconv.FormatInt(n, 10)
		if s.opts.COQLHidesConverted && s.convertedLocked(id) {
			continue
		}
		rec := s.leadRecordLocked(id)
		if (view == nil || view.eval(rec)) && (q.where == nil || q.where.eval(rec)) {
			matched = append(matched, rec)
		}
	}
	start := min(q.offset, len(matched))
	end := min(start+q.limit, len(matched))
	page := matched[start:end]
	if len(page) == 0 {
		return http.StatusNoContent, noContent{}
	}
	data := make([]obj, len(page))
	for i, rec := range page {
		row := obj{"id": rec["id"]}
		for _, f := range q.fields {
			row[f] = rec[f]
		}
		data[i] = row
	}
	return http.StatusOK, obj{"data": data, "info": obj{"count": len(data), "more_records": end < len(matched)}}
}

// convertedLocked reports whether a lead is converted: by Convert Lead,
// seeded so, or by the job holding it.
func (s *Server) convertedLocked(id string) bool {
	if _, ok := s.converted[id]; ok {
		return true
	}
	jobID, taken := s.taken[id]
	if !taken {
		return false
	}
	j := s.jobs[jobID]
	return j != nil && j.done && !slices.Contains(j.failedIDs, id)
}

// sortedIDsLocked returns every lead id ever seeded, in numeric order (the
// caller must not change it): leads move between the lead store, jobs and
// the converted, but only seeding adds one.
func (s *Server) sortedIDsLocked() []int64 {
	if s.sorted == nil {
		ids := make([]int64, 0, len(s.leads)+len(s.taken)+len(s.converted))
		for _, m := range []map[string]bool{s.leads, s.converted} {
			for id := range m {
				n, _ := strconv.ParseInt(id, 10, 64)
				ids = append(ids, n)
			}
		}
		for id := range s.taken {
			n, _ := strconv.ParseInt(id, 10, 64)
			ids = append(ids, n)
		}
		slices.Sort(ids)
		s.sorted = slices.Compact(ids)
	}
	return s.sorted
}

// leadRecordLocked is a lead with every field known to the module.
func (s *Server) leadRecordLocked(id string) obj {
	// Every lead has a last name (Zoho requires one) and a status.
	rec := obj{"id": id, "Last_Name": "Lead " + id, "Lead_Status": "Not Contacted"}
	for _, f := range leadFieldNames[1:] {
		if _, set := rec[f]; !set {
			rec[f] = nil
		}
	}
	for f := range s.customFields {
		rec[f] = nil
	}
	maps.Copy(rec, s.fields[id])
	return rec
}

// A coqlQuery is a parsed select.
type coqlQuery struct {
	fields        []string
	view          string // the custom view's id (from Leads#<cvid>), or ""
	where         *cond
	desc          bool
	offset, limit int
}

// A cond is a tree of criteria: a leaf (field, op, values) or an and/or of
// its children.
type cond struct {
	join     string // "and", "or", or "" for a leaf
	children []*cond
	field    string
	op       string   // = != > >= < <= like "not like" in "not in" "is null" "is not null"
	values   []string // the literal values, quotes removed
}

func (c *cond) unknownField(known func(string) bool) (string, bool) {
	if c == nil {
		return "", false
	}
	if c.join == "" {
		return c.field, !known(c.field)
	}
	for _, ch := range c.children {
		if f, ok := ch.unknownField(known); ok {
			return f, true
		}
	}
	return "", false
}

// idAfter finds a criterion id > N that the whole condition requires (the
// condition itself, or a child of a top-level and), for keyset paging.
func (c *cond) idAfter() (int64, bool) {
	if c == nil {
		return 0, false
	}
	leaves := []*cond{c}
	if c.join == "and" {
		leaves = c.children
	}
	for _, l := range leaves {
		if l.join == "" && l.field == "id" && l.op == ">" && len(l.values) == 1 {
			if n, err := strconv.ParseInt(l.values[0], 10, 64); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

func (c *cond) criteria() int {
	if c.join == "" {
		return 1
	}
	n := 0
	for _, ch := range c.children {
		n += ch.criteria()
	}
	return n
}

func (c *cond) eval(rec obj) bool {
	switch c.join {
	case "and":
		for _, ch := range c.children {
			if !ch.eval(rec) {
				return false
			}
		}
		return true
	case "or":
		for _, ch := range c.children {
			if ch.eval(rec) {
				return true
			}
		}
		return false
	}
	v, present := rec[c.field]
	present = present && v != nil
	s := fmt.Sprint(v)
	switch c.op {
	case "is null":
		return !present
	case "is not null":
		return present
	}
	if !present {
		// SQL's reading: a comparison with null is never true.
		return false
	}
	switch c.op {
	case "=":
		return s == c.values[0]
	case "!=":
		return s != c.values[0]
	case "in":
		return slices.Contains(c.values, s)
	case "not in":
		return !slices.Contains(c.values, s)
	case "like":
		return likePattern(c.values[0]).MatchString(s)
	case "not like":
		return !likePattern(c.values[0]).MatchString(s)
	}
	// > >= < <=: numbers (ids) by value, anything else as text.
	a, errA := strconv.ParseInt(s, 10, 64)
	b, errB := strconv.ParseInt(c.values[0], 10, 64)
	cmp := strings.Compare(s, c.values[0])
	if errA == nil && errB == nil {
		cmp = 0
		if a < b {
			cmp = -1
		} else if a > b {
			cmp = 1
		}
	}
	switch c.op {
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	case "<":
		return cmp < 0
	}
	return cmp <= 0
}

// likePattern reads a like value: % is any run of characters.
func likePattern(p string) *regexp.Regexp {
	parts := strings.Split(p, "%")
	for i, part := range parts {
		parts[i] = regexp.QuoteMeta(part)
	}
	return regexp.MustCompile("^(?s)" + strings.Join(parts, ".*") + "$")
}

// A coqlToken is a word, a number, a quoted string or a symbol.
type coqlToken struct {
	text   string
	quoted bool
}

func lexCOQL(q string) ([]coqlToken, *apiError) {
	var toks []coqlToken
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(q) && q[j] != '\''; j++ {
				if q[j] == '\\' && j+1 < len(q) {
					j++
				}
				b.WriteByte(q[j])
			}
			if j >= len(q) {
				return nil, syntaxError("where", q[i:])
			}
			toks = append(toks, coqlToken{text: b.String(), quoted: true})
			i = j + 1
		case strings.IndexByte("(),;", c) >= 0:
			toks = append(toks, coqlToken{text: string(c)})
			i++
		case c == '=' || c == '!' || c == '<' || c == '>':
			j := i + 1
			if j < len(q) && q[j] == '=' {
				j++
			}
			op := q[i:j]
			if op == "!" {
				return nil, syntaxError("where", q[i:])
			}
			toks = append(toks, coqlToken{text: op})
			i = j
		case isWordByte(c):
			j := i
			for j < len(q) && isWordByte(q[j]) {
				j++
			}
			toks = append(toks, coqlToken{text: q[i:j]})
			i = j
		default:
			return nil, syntaxError("select", q[i:min(len(q), i+10)])
		}
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '$' || c == '.' || c == '#' || c == '-'
}

type coqlParser struct {
	toks   []coqlToken
	pos    int
	clause string
}

func (p *coqlParser) peek() (coqlToken, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return coqlToken{}, false
}

// keyword reports, and consumes, a keyword (case-insensitive).
func (p *coqlParser) keyword(words ...string) bool {
	for k, w := range words {
		if p.pos+k >= len(p.toks) || p.toks[p.pos+k].quoted || !strings.EqualFold(p.toks[p.pos+k].text, w) {
			return false
		}
	}
	p.pos += len(words)
	return true
}

func (p *coqlParser) fail() *apiError {
	near := "end of query"
	if t, ok := p.peek(); ok {
		near = t.text
	}
	return syntaxError(p.clause, near)
}

func (p *coqlParser) symbol(s string) bool {
	if t, ok := p.peek(); ok && !t.quoted && t.text == s {
		p.pos++
		return true
	}
	return false
}

func (p *coqlParser) ident() (string, bool) {
	t, ok := p.peek()
	if !ok || t.quoted || !isIdent(t.text) || isReserved(t.text) {
		return "", false
	}
	p.pos++
	return t.text, true
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '$') {
			return false
		}
	}
	return true
}

func isReserved(s string) bool {
	switch strings.ToLower(s) {
	case "select", "from", "where", "and", "or", "order", "by", "limit", "like", "in", "not", "is", "null", "asc", "desc":
		return true
	}
	return false
}

func parseCOQL(query string) (*coqlQuery, *apiError) {
	toks, err := lexCOQL(query)
	if err != nil {
		return nil, err
	}
	p := &coqlParser{toks: toks, clause: "select"}
	q := &coqlQuery{limit: coqlDefaultRows}
	if !p.keyword("select") {
		return nil, p.fail()
	}
	for {
		f, ok := p.ident()
		if !ok {
			return nil, p.fail()
		}
		q.fields = append(q.fields, f)
		if !p.symbol(",") {
			break
		}
	}
	p.clause = "from"
	if !p.keyword("from") {
		return nil, p.fail()
	}
	t, ok := p.peek()
	if !ok || t.quoted {
		return nil, p.fail()
	}
	p.pos++
	module, cvid, isView := strings.Cut(t.text, "#")
	if module != "Leads" {
		// Other modules are not simulated.
		return nil, invalidQuery("from", "invalid module given", obj{"module": module})
	}
	if isView {
		if !isRecordID(cvid) {
			return nil, invalidQuery("from", "invalid custom view id given", obj{"cvid": cvid})
		}
		q.view = cvid
	}
	if p.keyword("where") {
		p.clause = "where"
		c, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		if c.criteria() > coqlMaxCriteria {
			return nil, coqlError("LIMIT_EXCEEDED", "the given limit exceeded",
				obj{"clause": "where", "limit": coqlMaxCriteria})
		}
		q.where = c
	}
	if p.keyword("order", "by") {
		p.clause = "order by"
		f, ok := p.ident()
		if !ok {
			return nil, p.fail()
		}
		if f != "id" {
			return nil, invalidQuery("order by", "the simulator orders by id only", obj{"column_name": f})
		}
		if p.keyword("desc") {
			q.desc = true
		} else {
			p.keyword("asc")
		}
	}
	if p.keyword("limit") {
		p.clause = "limit"
		n, ok := p.number()
		if !ok {
			return nil, p.fail()
		}
		if p.symbol(",") {
			q.offset = n
			if n, ok = p.number(); !ok {
				return nil, p.fail()
			}
		}
		q.limit = n
		switch {
		case q.limit < 1:
			return nil, invalidQuery("limit", "limit must be at least 1", nil)
		case q.limit > coqlMaxRows:
			return nil, coqlError("LIMIT_EXCEEDED", "the given limit exceeded", obj{"clause": "limit", "limit": coqlMaxRows})
		case q.offset+q.limit > coqlMaxOffset:
			return nil, coqlError("LIMIT_EXCEEDED", "the given limit exceeded", obj{"clause": "limit", "offset": coqlMaxOffset})
		}
	}
	p.symbol(";") // Zoho takes one statement; a trailing semicolon is tolerated
	if p.pos != len(p.toks) {
		return nil, p.fail()
	}
	return q, nil
}

func (p *coqlParser) number() (int, bool) {
	t, ok := p.peek()
	if !ok || t.quoted {
		return 0, false
	}
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 0 {
		return 0, false
	}
	p.pos++
	return n, true
}

func (p *coqlParser) orExpr() (*cond, *apiError) {
	return p.joined("or", p.andExpr)
}

func (p *coqlParser) andExpr() (*cond, *apiError) {
	return p.joined("and", p.factor)
}

func (p *coqlParser) joined(word string, next func() (*cond, *apiError)) (*cond, *apiError) {
	first, err := next()
	if err != nil {
		return nil, err
	}
	c := &cond{join: word, children: []*cond{first}}
	for p.keyword(word) {
		ch, err := next()
		if err != nil {
			return nil, err
		}
		c.children = append(c.children, ch)
	}
	if len(c.children) == 1 {
		return first, nil
	}
	return c, nil
}

func (p *coqlParser) factor() (*cond, *apiError) {
	if p.symbol("(") {
		c, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		if !p.symbol(")") {
			return nil, p.fail()
		}
		return c, nil
	}
	f, ok := p.ident()
	if !ok {
		return nil, p.fail()
	}
	c := &cond{field: f}
	switch {
	case p.keyword("is", "not", "null"):
		c.op = "is not null"
		return c, nil
	case p.keyword("is", "null"):
		c.op = "is null"
		return c, nil
	case p.keyword("not", "in"):
		c.op = "not in"
	case p.keyword("in"):
		c.op = "in"
	case p.keyword("not", "like"):
		c.op = "not like"
	case p.keyword("like"):
		c.op = "like"
	default:
		t, ok := p.peek()
		if !ok || t.quoted || !slices.Contains([]string{"=", "!=", ">", ">=", "<", "<="}, t.text) {
			return nil, p.fail()
		}
		p.pos++
		c.op = t.text
	}
	if c.op == "in" || c.op == "not in" {
		if !p.symbol("(") {
			return nil, p.fail()
		}
		for {
			v, ok := p.value()
			if !ok {
				return nil, p.fail()
			}
			c.values = append(c.values, v)
			if !p.symbol(",") {
				break
			}
		}
		if !p.symbol(")") {
			return nil, p.fail()
		}
		return c, nil
	}
	v, ok := p.value()
	if !ok {
		return nil, p.fail()
	}
	c.values = []string{v}
	return c, nil
}

// value reads a quoted string or a number.
func (p *coqlParser) value() (string, bool) {
	t, ok := p.peek()
	if !ok {
		return "", false
	}
	if !t.quoted {
		if _, err := strconv.ParseFloat(t.text, 64); err != nil {
			return "", false
		}
	}
	p.pos++
	return t.text, true
}
