package zohosim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

type obj = map[string]any

// An apiError is a CRM error answer: flat, with details whose shape
// depends on the code.
type apiError struct {
	status  int
	code    string
	message string
	details obj
}

func (e *apiError) body() obj {
	d := e.details
	if d == nil {
		d = obj{}
	}
	return obj{"code": e.code, "details": d, "message": e.message, "status": "error"}
}

func (e *apiError) reply() (int, any) { return e.status, e.body() }

var (
	errURLPattern      = &apiError{http.StatusNotFound, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", nil}
	errMethod          = &apiError{http.StatusBadRequest, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one", nil}
	errBodyTooLarge    = &apiError{http.StatusBadRequest, "INVALID_DATA", "the request body is too large", nil}
	errNotJSON         = &apiError{http.StatusBadRequest, "INVALID_DATA", "the request body is not a valid JSON object", nil}
	errAuthFailure     = &apiError{http.StatusUnauthorized, "AUTHENTICATION_FAILURE", "Authentication failed", nil}
	errInvalidToken    = &apiError{http.StatusUnauthorized, "INVALID_TOKEN", "invalid oauth token", nil}
	errScopeMismatch   = &apiError{http.StatusUnauthorized, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL", nil}
	errNoPermission    = &apiError{http.StatusForbidden, "NO_PERMISSION", "permission denied", obj{"permissions": []string{"Crm_Implied_Mass_Convert_Leads"}}}
	errInternal        = &apiError{http.StatusInternalServerError, "INTERNAL_ERROR", "Internal Server Error", nil}
	errTooManyRequests = &apiError{http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "You have made too many requests. Please try again after some time.", nil}
)

func field(apiName, path string) obj { return obj{"api_name": apiName, "json_path": path} }

func invalid(details obj) *apiError {
	return &apiError{http.StatusBadRequest, "INVALID_DATA", "invalid data", details}
}

func wrongType(dataType, apiName, path string) *apiError {
	return invalid(obj{"expected_data_type": dataType, "api_name": apiName, "json_path": path})
}

func mandatory(apiName, path string) *apiError {
	return &apiError{http.StatusBadRequest, "MANDATORY_NOT_FOUND", "required field not found", field(apiName, path)}
}

func limitExceeded(limit int, apiName, path string) *apiError {
	return &apiError{http.StatusBadRequest, "LIMIT_EXCEEDED", "the given limit exceeded",
		obj{"limit": limit, "limit_due_to": []obj{field(apiName, path)}}}
}

// Module ids as the Modules API of the simulated org reports them.
var moduleIDs = map[string]string{
	"Leads":    "3652397000000002009",
	"Accounts": "3652397000000002001",
	"Contacts": "3652397000000002003",
	"Deals":    "3652397000000002005",
	"Tasks":    "3652397000000002011",
	"Events":   "3652397000000002013",
	"Calls":    "3652397000000002015",
}

var moduleByID = func() map[string]string {
	m := make(map[string]string, len(moduleIDs))
	for name, id := range moduleIDs {
		m[id] = name
	}
	return m
}()

var (
	activityModules = []string{"Tasks", "Events", "Calls"}
	recordModules   = []string{"Contacts", "Deals", "Accounts"}
)

// ModuleID returns the simulated org's id for a module's API name, or ""
// for a module it does not know.
func (s *Server) ModuleID(apiName string) string { return moduleIDs[apiName] }

// Maximum counts from the doc.
const (
	maxIDs  = 50
	maxRefs = 3 // related_modules and carry_over_tags, v8 only
)

// massConvert validates a request in the order Zoho's documentation lists
// its errors, reports only the first problem, and schedules all the ids or
// none of them.
func (s *Server) massConvert(body []byte, v8 bool) (int, any) {
	var req map[string]json.RawMessage
	if !isObject(body) || json.Unmarshal(body, &req) != nil {
		return errNotJSON.reply()
	}
	ids, err := parseIDs(req["ids"])
	if err != nil {
		return err.reply()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	for _, id := range ids {
		if _, ok := s.taken[id]; ok {
			s.stats.DuplicateSubmissions++
		}
		if s.convertedLocked(id) {
			s.stats.ConvertedSubmissions++
		}
	}
	if err := s.validateLocked(req, v8); err != nil {
		return err.reply()
	}
	j, err := s.scheduleLocked(ids, body, req["Deals"], v8)
	if err != nil {
		return err.reply()
	}
	return s.opts.SuccessStatus, obj{
		"code":    "SCHEDULED",
		"details": obj{"job_id": j.id},
		"message": "Mass Convert scheduled successfully",
		"status":  "success",
	}
}

func parseIDs(raw json.RawMessage) ([]string, *apiError) {
	if absent(raw) {
		return nil, mandatory("ids", "$.ids")
	}
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		return nil, wrongType("jsonarray", "ids", "$.ids")
	}
	switch {
	case len(elems) == 0:
		return nil, mandatory("ids", "$.ids")
	case len(elems) > maxIDs:
		return nil, limitExceeded(maxIDs, "ids", "$.ids")
	}
	ids := make([]string, len(elems))
	for k, e := range elems {
		id, ok := longID(e)
		if !ok {
			return nil, wrongType("long", "ids", fmt.Sprintf("$.ids[%d]", k))
		}
		ids[k] = id
	}
	return ids, nil
}

// longID reads a record id sent as a JSON string or as a JSON integer:
// Zoho types ids as long, and its own SDK sends them as numbers. The
// literal's digits are kept as written, so no id loses precision.
func longID(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw) // a number literal, or something isLong refuses
	}
	return s, isLong(s)
}

// isLong reports whether s is a record id: the decimal form of a
// non-negative int64.
func isLong(s string) bool {
	if len(s) == 0 || len(s) > 19 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

func (s *Server) validateLocked(req map[string]json.RawMessage, v8 bool) *apiError {
	if err := s.checkDeals(req["Deals"]); err != nil {
		return err
	}
	// Zoho's Mass Convert page marks assign_to mandatory. What the API
	// answers without it is not documented (docs/zoho-crm-api.md calls it
	// unconfirmed), so the simulator answers as Zoho does for its other
	// missing mandatory fields: MANDATORY_NOT_FOUND naming $.assign_to.
	switch raw := req["assign_to"]; {
	case absent(raw):
		return mandatory("assign_to", "$.assign_to")
	case !s.users[idOf(raw)]:
		return invalid(field("assign_to", "$.assign_to.id"))
	}
	if raw := req["portal_user_type"]; !absent(raw) && !s.portalTypes[idOf(raw)] {
		return invalid(field("id", "$.portal_user_type.id"))
	}
	if err := checkRefList(req, "related_modules", activityModules, v8); err != nil {
		return err
	}
	if err := checkRefList(req, "carry_over_tags", recordModules, v8); err != nil {
		return err
	}
	if raw := req["move_attachments_to"]; !absent(raw) {
		if err := checkRef(raw, "move_attachments_to", "$.move_attachments_to", recordModules); err != nil {
			return err
		}
	}
	if raw := req["apply_assignment_threshold"]; v8 && !absent(raw) {
		if !bytes.Equal(raw, []byte("true")) && !bytes.Equal(raw, []byte("false")) {
			return wrongType("boolean", "apply_assignment_threshold", "$.apply_assignment_threshold")
		}
	}
	return nil
}

func (s *Server) checkDeals(raw json.RawMessage) *apiError {
	if absent(raw) {
		return nil
	}
	var deals map[string]json.RawMessage
	if !isObject(raw) || json.Unmarshal(raw, &deals) != nil {
		return wrongType("jsonobject", "Deals", "$.Deals")
	}
	required := []string{"Deal_Name", "Stage", "Closing_Date"}
	if s.opts.PipelinesEnabled {
		required = append(required, "Pipeline")
	}
	for _, name := range required {
		if v := deals[name]; absent(v) || string(v) == `""` {
			return mandatory(name, "$.Deals."+name)
		}
	}
	var date string
	if json.Unmarshal(deals["Closing_Date"], &date) != nil || !isDate(date) {
		return wrongType("date", "Closing_Date", "$.Deals.Closing_Date")
	}
	return nil
}

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return len(s) == len(time.DateOnly) && err == nil
}

// checkRefList checks an array of {"api_name","id"} module references.
func checkRefList(req map[string]json.RawMessage, key string, allowed []string, v8 bool) *apiError {
	raw := req[key]
	if absent(raw) {
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return wrongType("jsonarray", key, "$."+key)
	}
	if v8 && len(list) > maxRefs {
		return limitExceeded(maxRefs, key, "$."+key)
	}
	for i, e := range list {
		if err := checkRef(e, key, fmt.Sprintf("$.%s[%d]", key, i), allowed); err != nil {
			return err
		}
	}
	return nil
}

// checkRef checks one module reference at path. The id is a module id, so
// an id naming a module other than api_name is ambiguous rather than unknown.
func checkRef(raw json.RawMessage, key, path string, allowed []string) *apiError {
	var ref map[string]json.RawMessage
	if !isObject(raw) || json.Unmarshal(raw, &ref) != nil {
		return wrongType("jsonobject", key, path)
	}
	var missing []obj
	for _, name := range []string{"api_name", "id"} {
		if v := ref[name]; absent(v) || string(v) == `""` {
			missing = append(missing, field(name, path+"."+name))
		}
	}
	if missing != nil {
		return &apiError{http.StatusBadRequest, "EXPECTED_FIELD_MISSING", "expected field missing", obj{"expected_fields": missing}}
	}
	var apiName string
	if json.Unmarshal(ref["api_name"], &apiName) != nil || !slices.Contains(allowed, apiName) {
		return invalid(field("api_name", path+".api_name"))
	}
	id, _ := longID(ref["id"]) // an id of the wrong type is as unknown as a wrong one
	module, ok := moduleByID[id]
	if !ok {
		return invalid(field("id", path+".id"))
	}
	if module != apiName {
		return &apiError{http.StatusBadRequest, "AMBIGUITY_DURING_PROCESSING", "ambiguity while processing the request",
			obj{"ambiguity_due_to": []obj{field("id", path+".id"), field("api_name", path+".api_name")}}}
	}
	return nil
}

// idOf returns the "id" string of an object like {"id":"..."}, or "".
func idOf(raw json.RawMessage) string {
	var o map[string]json.RawMessage
	if json.Unmarshal(raw, &o) != nil {
		return ""
	}
	id, _ := longID(o["id"])
	return id
}

func absent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// isObject reports whether b starts like a JSON object; json.Unmarshal
// would happily decode null into a map.
func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// jobStatus answers Mass Convert Status, wrapped in data unlike mass_convert.
func (s *Server) jobStatus(jobID string) (int, any) {
	if jobID == "" {
		return (&apiError{http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", obj{"param_name": "job_id"}}).reply()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	j, ok := s.jobs[jobID]
	if !ok {
		return (&apiError{http.StatusBadRequest, "INVALID_DATA", "The jobid given seems to be invalid", obj{"param_name": "job_id"}}).reply()
	}
	info := s.infoLocked(j)
	return http.StatusOK, obj{"data": []obj{{
		"Status":              info.Status,
		"Total_Count":         info.Total,
		"Converted_Count":     info.Converted,
		"Not_Converted_Count": info.NotConverted,
		"Failed_Count":        info.Failed,
	}}}
}
