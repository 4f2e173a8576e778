package zoho

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// MaxIDsPerCall is Zoho's cap on the ids of one mass_convert call.
const MaxIDsPerCall = 50

// ConvertRequest is the body of a mass_convert call, key for key as Zoho
// documents it. Ids are strings end to end: Zoho types them as long and
// 19-digit values do not survive a float64.
type ConvertRequest struct {
	// IDs are left out of the JSON when empty, so that the request
	// without them is its options (convert.Options).
	IDs               []string    `json:"ids,omitempty"`
	Deals             *Deal       `json:"Deals,omitempty"`
	AssignTo          *Ref        `json:"assign_to,omitempty"`
	PortalUserType    *Ref        `json:"portal_user_type,omitempty"`
	RelatedModules    []ModuleRef `json:"related_modules,omitempty"`
	CarryOverTags     []ModuleRef `json:"carry_over_tags,omitempty"`
	MoveAttachmentsTo *ModuleRef  `json:"move_attachments_to,omitempty"`
	// ApplyAssignmentThreshold exists in v8 only; nil leaves Zoho's default (true).
	ApplyAssignmentThreshold *bool `json:"apply_assignment_threshold,omitempty"`
}

// IsRecordID reports whether s is a record id as Zoho writes one: 1 to 19
// ASCII digits that fit Zoho's long, with no leading zero. Zoho never
// writes one with a leading zero, and 0 names no record; refusing both
// gives every record exactly one spelling, so ids compare as strings.
func IsRecordID(s string) bool {
	if len(s) == 0 || len(s) > 19 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// Ref points at a record by id; Zoho's examples sometimes add a name.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// ModuleRef names a module by API name and module id (from the Modules API),
// not a record id.
type ModuleRef struct {
	APIName string `json:"api_name"`
	ID      string `json:"id"`
}

// Deal is the Deals object of a conversion. It is a map of raw JSON values so
// that custom fields pass through by API name with their types intact (a
// number stays a number with every digit, a lookup stays an object).
type Deal map[string]json.RawMessage

// Keys of Deal that Zoho requires whenever a deal is created (and Pipeline
// too, when the org uses pipelines: that is the org's setting, left to Zoho).
const (
	DealName        = "Deal_Name"
	DealStage       = "Stage"
	DealClosingDate = "Closing_Date"
)

// String returns the value of key when it is a JSON string.
func (d Deal) String(key string) (string, bool) {
	raw, ok := d[key]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// SetString sets key to a JSON string.
func (d Deal) SetString(key, value string) {
	raw, _ := json.Marshal(value) // a string always marshals
	d[key] = raw
}

// State is the normalised status of a mass-convert job.
type State int

// The states of a job. StateUnrecognised is any status Zoho may invent later: it
// is kept raw by the caller and treated as still open.
const (
	StateUnrecognised State = iota
	StateScheduled
	StateInProgress
	StateCompleted
	StateFailed
)

// stateNames spell the states as Zoho does, lower-cased; the first is no
// status of Zoho's, and says "unrecognised" rather than "unknown", which
// names a job Zoho does not know (jobs.UnknownToZoho).
var stateNames = [...]string{"unrecognised", "scheduled", "in progress", "completed", "failed"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return stateNames[StateUnrecognised]
	}
	return stateNames[s]
}

// Terminal reports whether Zoho will not change the job any more.
func (s State) Terminal() bool { return s == StateCompleted || s == StateFailed }

// ParseState normalises Zoho's status strings, whose casing differs between
// API versions and examples (COMPLETED, Completed, in progress, in_progress).
func ParseState(raw string) State {
	norm := strings.Join(strings.Fields(strings.ReplaceAll(strings.ToLower(raw), "_", " ")), " ")
	for i, name := range stateNames {
		if i > 0 && norm == name {
			return State(i)
		}
	}
	return StateUnrecognised
}

// JobStatus is one answer of the mass-convert status API. Zoho gives counts,
// never per-lead results, and the counts need not add up to the total.
type JobStatus struct {
	RawStatus string
	State     State
	Total     int
	Converted int
	// Waiting is Zoho's Not_Converted_Count: leads the job has not come
	// to yet, not leads it failed to convert (those are Failed, and a
	// read-back's NOT_CONVERTED).
	Waiting int
	Failed  int
}

type statusEnvelope struct {
	Data []struct {
		Status       *string `json:"Status"`
		Total        flexInt `json:"Total_Count"`
		Converted    flexInt `json:"Converted_Count"`
		NotConverted flexInt `json:"Not_Converted_Count"`
		Failed       flexInt `json:"Failed_Count"`
	} `json:"data"`
}

// flexInt accepts a count as a JSON number or a numeric string, since Zoho
// types the same value differently across APIs (see LIMIT_EXCEEDED's limit).
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*n = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	v, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("count %s is not an integer", b)
	}
	*n = flexInt(v)
	return nil
}
