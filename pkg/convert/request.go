package convert

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// MaxIDs caps the ids of one request; the service cuts them into calls of
// zoho.MaxIDsPerCall.
const MaxIDs = 1000

// MaxBodyBytes caps a request body: 1000 quoted 19-digit ids take 22 KiB,
// which leaves ample room for Deals fields. Callers should stop reading a
// body there; DecodeJSON and DecodeForm refuse anything longer.
const MaxBodyBytes = 256 << 10

// Local refusals speak Zoho's vocabulary, so a caller handles one set of codes.
const (
	reqMandatory    = "MANDATORY_NOT_FOUND"
	reqInvalid      = "INVALID_DATA"
	reqLimit        = "LIMIT_EXCEEDED"
	reqExpected     = "EXPECTED_FIELD_MISSING"
	reqDuplicate    = "DUPLICATE_DATA"
	reqBadRequest   = "INVALID_REQUEST"
	reqNotSupported = "NOT_SUPPORTED"
)

const (
	reqMaxErrors  = 20
	reqMaxModules = 3 // Zoho v8's cap on related_modules and carry_over_tags
	reqFragMax    = 40

	reqActivityModules = "Tasks, Events, Calls"
	reqRecordModules   = "Contacts, Deals, Accounts"

	reqIDRule    = "expected a Zoho record id: a string of 1 to 19 digits with no leading zero"
	reqOwnerRule = "assign_to is required: Zoho's Mass Convert needs the owner of the converted records; send {\"id\": \"<Zoho user id>\"} " +
		"(a form: assign_to=<Zoho user id>), or give the deployment a default owner (DEFAULT_OWNER_ID)"
	reqNumber = "ids must be JSON strings: a 19-digit Zoho id does not survive a float64, so quote it, as in \"3652397000009835021\""
)

// FieldError is one problem of a request, in Zoho's terms.
type FieldError struct {
	// Code is Zoho's word for the problem: MANDATORY_NOT_FOUND, INVALID_DATA,
	// LIMIT_EXCEEDED, EXPECTED_FIELD_MISSING, DUPLICATE_DATA, NOT_SUPPORTED,
	// or INVALID_REQUEST for a body that is not a request at all.
	Code string `json:"code"`
	// JSONPath names the value, as Zoho does: "$.ids[3]",
	// "$.Deals.Closing_Date", "$" for the whole body.
	JSONPath string `json:"json_path"`
	// Message says what is wrong and what is expected. It quotes at most 40
	// printable characters of input, since it ends up in logs and answers.
	Message string `json:"message"`
}

// ValidationError lists the problems of a refused request, in the order
// found, at most 20 of them.
type ValidationError struct{ Errors []FieldError }

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid conversion request")
	for i, fe := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(fe.JSONPath + ": " + fe.Message)
	}
	return b.String()
}

// Body returns the 400 answer for e: Zoho's flat error shape for the first
// problem, so that clients written against Zoho understand it, plus all of
// them under "errors".
func (e *ValidationError) Body() []byte {
	errs := e.Errors
	if len(errs) == 0 {
		errs = []FieldError{{Code: reqBadRequest, JSONPath: "$", Message: "invalid conversion request"}}
	}
	type details struct {
		JSONPath string `json:"json_path"`
	}
	body, _ := json.Marshal(struct { // strings and structs always marshal
		Code    string       `json:"code"`
		Details details      `json:"details"`
		Message string       `json:"message"`
		Status  string       `json:"status"`
		Errors  []FieldError `json:"errors"`
	}{errs[0].Code, details{errs[0].JSONPath}, errs[0].Message, "error", errs})
	return body
}

// DecodeJSON decodes and validates a request in Zoho's mass_convert shape,
// with up to MaxIDs ids. apiVersion is the Zoho API version the service
// calls, "v7" or "v8". assign_to is required, as Zoho's Mass Convert
// requires it; a Decoder with a DefaultOwner supplies it instead. Every
// error is a *ValidationError.
func DecodeJSON(body []byte, apiVersion string) (*zoho.ConvertRequest, error) {
	return (&Decoder{APIVersion: apiVersion}).JSON(body)
}

// withOwner gives a request that names no owner the default one (owner may
// be empty: none). It runs before validation and before any fingerprint,
// so a request that relies on the default and one that names the same
// owner have the same options and share calls.
func withOwner(req *zoho.ConvertRequest, owner string) {
	if req.AssignTo == nil && owner != "" {
		req.AssignTo = &zoho.Ref{ID: owner}
	}
}

// Decoder decodes and validates requests with a deployment's settings.
type Decoder struct {
	APIVersion string // "v7" or "v8": the Zoho API version requests are validated for
	// DefaultOwner is the Zoho user id given as assign_to to a request
	// that names no owner (the deployment's DEFAULT_OWNER_ID). Empty: such
	// a request is refused (MANDATORY_NOT_FOUND at $.assign_to).
	DefaultOwner string
}

// JSON is DecodeJSON with the Decoder's APIVersion and DefaultOwner. It
// decodes key by key and value by value, so that every problem gets its
// own path and message instead of encoding/json's.
func (d *Decoder) JSON(body []byte) (*zoho.ConvertRequest, error) {
	return decodeJSON(body, d.APIVersion, d.DefaultOwner)
}

func decodeJSON(body []byte, apiVersion, owner string) (*zoho.ConvertRequest, error) {
	var c reqChecker
	if !c.body(body) {
		return nil, c.err()
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		c.add(reqBadRequest, "$", "%s", reqShape(body, err))
		return nil, c.err()
	}
	req := new(zoho.ConvertRequest)
	for _, f := range fields {
		f.json(&c, top[f.key], req)
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if _, ok := jsonField(k); !ok {
			c.add(reqInvalid, "$."+reqFragment(k), "unknown key; allowed: %s", jsonKeys)
		}
	}
	withOwner(req, owner)
	c.validate(req, apiVersion)
	if err := c.err(); err != nil {
		return nil, err
	}
	return req, nil
}

// validateRequest checks a decoded request: what DecodeJSON and DecodeForm accept,
// validateRequest accepts. It returns nil or a *ValidationError.
func validateRequest(req *zoho.ConvertRequest, apiVersion string) error {
	var c reqChecker
	c.validate(req, apiVersion)
	return c.err()
}

// Fingerprint returns a hex SHA-256 digest of Options(req): requests with the
// same fingerprint can share one mass_convert call.
func Fingerprint(req *zoho.ConvertRequest) string { return digest(Options(req)) }

func digest(opts []byte) string {
	sum := sha256.Sum256(opts)
	return hex.EncodeToString(sum[:])
}

// fingerprints computes the fingerprints of one batch. A batch repeats the
// same options spelled the same way, so it canonicalises each distinct
// spelling once: it looks the options up as sent, marshalled without their
// ids, which is cheap beside canonicalising each Deals value.
type fingerprints struct {
	memo map[string][2]string // options as sent -> fingerprint, Options JSON
}

// of returns the fingerprint of req and its options as canonical JSON.
func (f *fingerprints) of(req *zoho.ConvertRequest) (fp, opts string) {
	sent := *req
	sent.IDs = nil
	key, err := zoho.MarshalNoEscape(&sent)
	if v, ok := f.memo[string(key)]; ok && err == nil {
		return v[0], v[1]
	}
	canon := Options(req)
	v := [2]string{digest(canon), string(canon)}
	if err == nil {
		if f.memo == nil {
			f.memo = map[string][2]string{}
		}
		f.memo[string(key)] = v
	}
	return v[0], v[1]
}

// Options returns everything of req except its ids as canonical JSON: the
// keys in zoho.ConvertRequest's order, the keys of Deals values sorted at
// every depth, no insignificant whitespace, the module lists sorted (they
// are sets). Equal options give equal bytes however the client spelled
// them. req is expected to be valid; a Deals value that is not JSON is kept
// as a JSON string so that Options never fails.
func Options(req *zoho.ConvertRequest) []byte {
	var opts zoho.ConvertRequest
	if req != nil {
		opts = *req
	}
	opts.IDs = nil
	opts.RelatedModules = reqSortModules(opts.RelatedModules)
	opts.CarryOverTags = reqSortModules(opts.CarryOverTags)
	if d := opts.Deals; d != nil {
		opts.Deals = nil
		if len(*d) > 0 {
			canon := make(zoho.Deal, len(*d))
			for k, v := range *d {
				canon[k] = reqCanonical(v)
			}
			opts.Deals = &canon
		}
	}
	out, err := zoho.MarshalNoEscape(&opts)
	if err != nil {
		panic("convert: canonical options do not marshal: " + err.Error()) // every value is canonical JSON by now
	}
	return out
}

// Marshal is req as JSON for a queue or a dead letter: as json.Marshal
// writes it, but without escaping <, > and & (six bytes each), which would
// let a valid request outgrow the message that must carry it.
func Marshal(req *zoho.ConvertRequest) ([]byte, error) { return zoho.MarshalNoEscape(req) }

func reqSortModules(refs []zoho.ModuleRef) []zoho.ModuleRef {
	return slices.SortedFunc(slices.Values(refs), func(a, b zoho.ModuleRef) int {
		return cmp.Or(strings.Compare(a.APIName, b.APIName), strings.Compare(a.ID, b.ID))
	})
}

// reqCanonical rewrites a JSON value with sorted keys and no whitespace.
// Numbers are kept as written (json.Number), never through a float64.
// encoding/json bounds the nesting depth, so this cannot exhaust the stack.
func reqCanonical(raw json.RawMessage) json.RawMessage {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if json.Valid(raw) && dec.Decode(&v) == nil {
		if out, err := zoho.MarshalNoEscape(v); err == nil {
			return out
		}
	}
	out, _ := json.Marshal("invalid JSON: " + string(raw))
	return out
}

// reqChecker collects the problems of one request. A problem at a path
// hides later ones at the same path or below it, so a value refused while
// decoding is not refused again, less precisely, by validation.
type reqChecker struct{ errs []FieldError }

func (c *reqChecker) add(code, path, format string, args ...any) {
	if c.full() || c.covered(path) {
		return
	}
	c.errs = append(c.errs, FieldError{Code: code, JSONPath: path, Message: fmt.Sprintf(format, args...)})
}

func (c *reqChecker) covered(path string) bool {
	for _, e := range c.errs {
		if rest, ok := strings.CutPrefix(path, e.JSONPath); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			return true
		}
	}
	return false
}

func (c *reqChecker) full() bool { return len(c.errs) >= reqMaxErrors }

// err returns the problems in the order a reader meets them in the request
// (by top-level key, then by index), whichever check found them.
func (c *reqChecker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(c.errs, func(a, b FieldError) int {
		ka, ia := reqPlace(a.JSONPath)
		kb, ib := reqPlace(b.JSONPath)
		return cmp.Or(cmp.Compare(ka, kb), cmp.Compare(ia, ib))
	})
	return &ValidationError{Errors: c.errs}
}

// reqPlace ranks a path by its top-level key (unknown keys last) and its
// first index.
func reqPlace(path string) (key, index int) {
	rest, ok := strings.CutPrefix(path, "$.")
	if !ok {
		return -1, -1
	}
	name, tail := rest, ""
	if i := strings.IndexAny(rest, ".["); i >= 0 {
		name, tail = rest[:i], rest[i:]
	}
	index = -1
	if digits, ok := strings.CutPrefix(tail, "["); ok {
		if n, err := strconv.Atoi(digits[:max(strings.IndexByte(digits, ']'), 0)]); err == nil {
			index = n
		}
	}
	return fieldRank(name), index
}

// body checks what every encoding needs: a bounded size and UTF-8.
func (c *reqChecker) body(body []byte) bool {
	switch {
	case len(body) > MaxBodyBytes:
		c.add(reqLimit, "$", "the body has %d bytes; at most %d are accepted", len(body), MaxBodyBytes)
	case !utf8.Valid(body):
		c.add(reqBadRequest, "$", "the body is not valid UTF-8")
	default:
		return true
	}
	return false
}

// reqShape explains why a body is not a JSON object, without quoting it.
func reqShape(body []byte, err error) string {
	var syn *json.SyntaxError
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return "the body is empty; expected a JSON object"
	case errors.As(err, &syn):
		// encoding/json's syntax messages quote at most one character.
		return fmt.Sprintf("the body is not valid JSON (%s at byte %d); expected one JSON object", syn, syn.Offset)
	default:
		return "expected a JSON object, got " + reqKind(body)
	}
}

// reqKind names the JSON type of a valid JSON value.
func reqKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// reqNull reports an absent value: a missing key or an explicit null.
func reqNull(raw json.RawMessage) bool {
	return raw == nil || string(bytes.TrimSpace(raw)) == "null"
}

func (c *reqChecker) jsonIDs(raw json.RawMessage) []string {
	if reqNull(raw) {
		return nil // validate reports it missing
	}
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		c.add(reqInvalid, "$.ids", "expected an array of lead id strings, got %s", reqKind(raw))
		return nil
	}
	ids := make([]string, len(elems))
	if len(elems) > MaxIDs {
		return ids // validate reports the limit; checking each id would only add noise
	}
	for k, e := range elems {
		if reqNull(e) {
			c.add(reqInvalid, reqIndex("$.ids", k), "got null; %s", reqIDRule)
		} else {
			ids[k] = c.jsonID(reqIndex("$.ids", k), e)
		}
	}
	return ids
}

// jsonID decodes an id, which must be a string; null is a missing id.
func (c *reqChecker) jsonID(path string, raw json.RawMessage) string {
	var s string
	switch kind := reqKind(raw); {
	case reqNull(raw):
	case kind == "a number":
		c.add(reqInvalid, path, "%s", reqNumber)
	case json.Unmarshal(raw, &s) != nil:
		c.add(reqInvalid, path, "got %s; %s", kind, reqIDRule)
	}
	return s
}

func (c *reqChecker) jsonString(path string, raw json.RawMessage) string {
	var s string
	if !reqNull(raw) && json.Unmarshal(raw, &s) != nil {
		c.add(reqInvalid, path, "expected a string, got %s", reqKind(raw))
	}
	return s
}

func (c *reqChecker) jsonObject(path string, raw json.RawMessage, allowed string) map[string]json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		c.add(reqInvalid, path, "expected an object with %s, got %s", allowed, reqKind(raw))
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !reqInList(allowed, k) {
			c.add(reqInvalid, path+"."+reqFragment(k), "unknown key; allowed: %s", allowed)
		}
	}
	return obj
}

func (c *reqChecker) jsonDeal(raw json.RawMessage) *zoho.Deal {
	if reqNull(raw) {
		return nil
	}
	var d zoho.Deal
	if json.Unmarshal(raw, &d) != nil || d == nil {
		c.add(reqInvalid, "$.Deals", "expected an object of Deals fields by API name, got %s", reqKind(raw))
		return nil
	}
	return &d
}

func (c *reqChecker) jsonRef(path string, raw json.RawMessage) *zoho.Ref {
	if reqNull(raw) {
		return nil
	}
	obj := c.jsonObject(path, raw, "id, name")
	if obj == nil {
		return nil
	}
	return &zoho.Ref{
		ID:   c.jsonID(path+".id", obj["id"]),
		Name: c.jsonString(path+".name", obj["name"]),
	}
}

func (c *reqChecker) jsonModules(path string, raw json.RawMessage) []zoho.ModuleRef {
	if reqNull(raw) {
		return nil
	}
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		c.add(reqInvalid, path, "expected an array of {api_name, id} objects, got %s", reqKind(raw))
		return nil
	}
	refs := make([]zoho.ModuleRef, len(elems))
	if len(elems) > reqMaxModules {
		return refs // validate reports the limit
	}
	for k, e := range elems {
		p := reqIndex(path, k)
		if reqNull(e) {
			c.add(reqInvalid, p, "expected an object with api_name, id, got null")
		} else if m := c.jsonModule(p, e); m != nil {
			refs[k] = *m
		}
	}
	return refs
}

func (c *reqChecker) jsonModule(path string, raw json.RawMessage) *zoho.ModuleRef {
	if reqNull(raw) {
		return nil
	}
	obj := c.jsonObject(path, raw, "api_name, id")
	if obj == nil {
		return nil
	}
	return &zoho.ModuleRef{
		APIName: c.jsonString(path+".api_name", obj["api_name"]),
		ID:      c.jsonID(path+".id", obj["id"]),
	}
}

func (c *reqChecker) jsonBool(path string, raw json.RawMessage) *bool {
	if reqNull(raw) {
		return nil
	}
	var b bool
	if json.Unmarshal(raw, &b) != nil {
		c.add(reqInvalid, path, "expected true or false, got %s", reqKind(raw))
		return nil
	}
	return &b
}

func (c *reqChecker) validate(req *zoho.ConvertRequest, apiVersion string) {
	if req == nil {
		c.add(reqBadRequest, "$", "no request")
		return
	}
	for _, f := range fields {
		f.check(c, req, apiVersion)
	}
	c.stored(req)
}

// The stored forms of a request must fit where they go: its options in the
// accumulator, batch and job items (DynamoDB's 400 KB an item, beside 50
// ids and who asked for them), and the request in every message that
// carries it (SQS's 256 KiB, beside its attributes).
const (
	MaxOptionsBytes = 200 << 10
	MaxMessageBytes = 250 << 10
)

// stored refuses a request whose stored forms would not fit, naming the
// largest Deals field when the options are too big. Canonical JSON can be
// longer than the body (U+2028 is written as six bytes), so it is measured,
// unless the options are too small for that to matter.
func (c *reqChecker) stored(req *zoho.ConvertRequest) {
	bound := 2 << 10
	biggest, biggestLen := "", 0
	if req.Deals != nil {
		for k, v := range *req.Deals {
			bound += 2 * (len(k) + len(v) + 6)
			if len(v) > biggestLen {
				biggest, biggestLen = k, len(v)
			}
		}
	}
	if bound+22*len(req.IDs) <= MaxOptionsBytes {
		return
	}
	if n := len(Options(req)); n > MaxOptionsBytes {
		path := "$.Deals"
		if biggest != "" {
			path += "." + reqFragment(biggest)
		}
		c.add(reqLimit, path, "the request's options take %d bytes as stored; at most %d fit beside its leads (this field is the largest)",
			n, MaxOptionsBytes)
		return
	}
	if b, err := Marshal(req); err == nil && len(b) > MaxMessageBytes {
		c.add(reqLimit, "$", "the request takes %d bytes as queued; at most %d fit in a message", len(b), MaxMessageBytes)
	}
}

func (c *reqChecker) ids(ids []string) {
	switch {
	case len(ids) == 0:
		c.add(reqMandatory, "$.ids", "at least one lead id is required")
		return
	case len(ids) > MaxIDs:
		c.add(reqLimit, "$.ids", "got %d lead ids; the maximum is %d per request", len(ids), MaxIDs)
		return
	}
	seen := make(map[string]int, len(ids))
	for k, id := range ids {
		if c.full() {
			return
		}
		if !reqIsID(id) {
			c.add(reqInvalid, reqIndex("$.ids", k), "%s is not a lead id; %s%s", reqQuote(id), reqIDRule, reqZeroHint(id))
		} else if j, dup := seen[id]; dup {
			c.add(reqDuplicate, reqIndex("$.ids", k), "%s is a duplicate of $.ids[%d]", reqQuote(id), j)
		} else {
			seen[id] = k
		}
	}
}

func (c *reqChecker) deal(d zoho.Deal) {
	for _, raw := range d {
		if !json.Valid(raw) { // only a Deal built in Go can hold this; name them in order
			for _, k := range slices.Sorted(maps.Keys(d)) {
				if !json.Valid(d[k]) {
					c.add(reqInvalid, "$.Deals."+reqFragment(k), "the value is not valid JSON")
				}
			}
			break
		}
	}
	for _, k := range []string{zoho.DealName, zoho.DealStage, zoho.DealClosingDate} {
		raw := d[k]
		s, isString := dealString(raw)
		switch {
		case reqNull(raw):
			c.add(reqMandatory, "$.Deals."+k, "%s is required when a deal is created", k)
		case !isString:
			c.add(reqInvalid, "$.Deals."+k, "expected a string, got %s", reqKind(raw))
		case len(bytes.TrimSpace(s)) == 0:
			c.add(reqMandatory, "$.Deals."+k, "%s is required when a deal is created and must not be blank", k)
		case k == zoho.DealClosingDate && !isDate(s):
			c.add(reqInvalid, "$.Deals."+k, "%s is not a date; expected YYYY-MM-DD, as in 2026-03-31", reqQuote(string(s)))
		}
	}
}

// dealString returns the text of a JSON string value. A plain string (the
// usual case) is read in place, without decoding it into a new string.
func dealString(raw json.RawMessage) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false
	}
	if inner := raw[1 : len(raw)-1]; raw[len(raw)-1] == '"' && bytes.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// isDate reports whether s is a calendar date as YYYY-MM-DD, exactly as
// time.Parse(time.DateOnly, s) accepts it, without converting s.
func isDate(s []byte) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(s[:4]), num(s[5:7]), num(s[8:])
	if year < 0 || month < 1 || month > 12 || day < 1 {
		return false
	}
	return day <= time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func (c *reqChecker) ref(path string, r *zoho.Ref) {
	switch {
	case r == nil:
	case r.ID == "":
		c.add(reqMandatory, path+".id", "an id is required")
	case !reqIsID(r.ID):
		c.add(reqInvalid, path+".id", "%s is not an id; %s%s", reqQuote(r.ID), reqIDRule, reqZeroHint(r.ID))
	}
}

func (c *reqChecker) modules(path string, refs []zoho.ModuleRef, allowed string) {
	if len(refs) > reqMaxModules {
		c.add(reqLimit, path, "got %d entries; the maximum is %d, one per module", len(refs), reqMaxModules)
		return
	}
	seen := map[string]int{}
	for k, m := range refs {
		p := reqIndex(path, k)
		if !c.module(p, m, allowed) {
			continue
		}
		if j, dup := seen[m.APIName]; dup {
			c.add(reqDuplicate, p+".api_name", "%s is already listed at %s", m.APIName, reqIndex(path, j))
		} else {
			seen[m.APIName] = k
		}
	}
}

// module checks one {api_name, id} entry and reports whether its api_name is
// usable for the duplicate check.
func (c *reqChecker) module(path string, m zoho.ModuleRef, allowed string) bool {
	nameOK := false
	switch {
	case m.APIName == "":
		c.add(reqExpected, path+".api_name", "api_name is required: one of %s", allowed)
	case !reqInList(allowed, m.APIName):
		hint := ""
		if m.APIName == "Meetings" && allowed == reqActivityModules {
			hint = " (the API name of Meetings is Events)"
		}
		c.add(reqInvalid, path+".api_name", "%s is not allowed here; expected one of %s%s", reqQuote(m.APIName), allowed, hint)
	default:
		nameOK = true
	}
	switch {
	case m.ID == "":
		c.add(reqExpected, path+".id", "id is required: the module's id from Zoho's Modules API, not a record id")
	case !reqIsID(m.ID):
		c.add(reqInvalid, path+".id", "%s is not a module id; %s%s", reqQuote(m.ID), reqIDRule, reqZeroHint(m.ID))
	}
	return nameOK
}

// reqIsID reports whether s is a Zoho record id. A lead id with a leading
// zero would otherwise slip past the de-duplication, which compares
// strings: "0123" is a second copy of "123", claimed and sent twice.
func reqIsID(s string) bool { return zoho.IsRecordID(s) }

// reqZeroHint explains a refused id that is digits with a leading zero,
// naming the id it was probably meant to be.
func reqZeroHint(s string) string {
	if len(s) == 0 || s[0] != '0' || strings.TrimLeft(s, "0123456789") != "" {
		return ""
	}
	if t := strings.TrimLeft(s, "0"); t != "" {
		return fmt.Sprintf(" (Zoho writes no leading zeros: %s?)", reqQuote(t))
	}
	return " (0 names no record)"
}

// reqInList reports whether name is in a ", "-separated list.
func reqInList(list, name string) bool {
	for m := range strings.SplitSeq(list, ", ") {
		if m == name {
			return true
		}
	}
	return false
}

func reqIndex(path string, k int) string { return path + "[" + strconv.Itoa(k) + "]" }

// reqFragment makes input safe to echo in a message or path: at most 40
// printable characters, so neither a log line nor an answer can carry much
// of what a client sent.
func reqFragment(s string) string {
	out := make([]rune, 0, reqFragMax)
	for _, r := range s {
		if len(out) == reqFragMax {
			return string(out[:reqFragMax-3]) + "..."
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		out = append(out, r)
	}
	return string(out)
}

func reqQuote(s string) string { return `"` + reqFragment(s) + `"` }
