package jobcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Request says what a run checks: every due job, or the jobs it names.
type Request struct {
	// JobIDs are checked now, due or not (operators, tests); empty: every
	// due job.
	JobIDs []string `json:"job_ids,omitempty"`
}

// MaxJobIDs bounds the jobs one request may name.
const MaxJobIDs = 1000

// ParseRequest reads an invocation event. A schedule's event, {}, null or
// any other JSON without "job_ids" asks for a scheduled run: the shape of a
// schedule's input is the template's business, not ours. "job_ids" must be
// a non-empty array of Zoho job ids.
func ParseRequest(raw []byte) (Request, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Request{}, nil
	}
	if !json.Valid(raw) {
		return Request{}, errors.New("jobcheck: the event is not JSON")
	}
	var probe struct {
		JobIDs json.RawMessage `json:"job_ids"`
	}
	if raw[0] != '{' || json.Unmarshal(raw, &probe) != nil || probe.JobIDs == nil || string(probe.JobIDs) == "null" {
		return Request{}, nil
	}
	var ids []string
	if err := json.Unmarshal(probe.JobIDs, &ids); err != nil {
		return Request{}, errors.New("jobcheck: job_ids must be an array of strings")
	}
	if len(ids) == 0 || len(ids) > MaxJobIDs {
		return Request{}, fmt.Errorf("jobcheck: job_ids must name 1 to %d jobs, not %d", MaxJobIDs, len(ids))
	}
	seen := make(map[string]bool, len(ids))
	req := Request{JobIDs: make([]string, 0, len(ids))}
	for i, id := range ids {
		if !validJobID(id) {
			return Request{}, fmt.Errorf("jobcheck: job_ids[%d] is not a Zoho job id (digits only)", i)
		}
		if !seen[id] {
			seen[id] = true
			req.JobIDs = append(req.JobIDs, id)
		}
	}
	return req, nil
}

// validJobID accepts Zoho's ids: up to 20 digits (they are 19 today).
func validJobID(id string) bool {
	if len(id) == 0 || len(id) > 20 {
		return false
	}
	for _, c := range []byte(id) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
