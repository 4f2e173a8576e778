// Package outcome tells what became of a lead, of the leads of a request
// and of the leads of a job, from what the store keeps: each lead's claim
// and the job (or call in doubt) it points at. The HTTP API and the
// operator's command both show these views, so they always agree.
package outcome

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// Lead states, from the lead's claim and the job it points at. The status
// function reads the leads of an ended job back and stores the results
// with the job; it sends those Zoho did not convert again (their claims
// become RETRY) or rejects them.
const (
	Queued       = "QUEUED"        // waiting to fill a call, or not yet seen
	Scheduled    = "SCHEDULED"     // in a job Zoho has not finished
	InDoubt      = "IN_DOUBT"      // its call's answer was lost, or Zoho refused it while holding it: to be read back
	Converted    = "CONVERTED"     // Zoho converted it (read back), or had converted it already
	NotConverted = "NOT_CONVERTED" // its job ended without converting it
	Retrying     = "RETRYING"      // not converted in its job, sent again
	Stale        = "STALE"         // its job was given up on; an operator should look
	Rejected     = "REJECTED"      // Zoho refused it, or did not convert it in its last attempt (reason)
	DeadLettered = "DEAD_LETTERED" // its request could not be converted (reason)
)

// legacyLettered prefixes the reason of a rejected claim that the previous
// version wrote for a lead whose accumulated call's options Zoho refused;
// this version letters the claim (jobs.Lettered) instead. Such claims
// expire within a day of an upgrade.
const legacyLettered = "dead-lettered: "

// Reader is what the views read (jobs.Store has it).
type Reader interface {
	Job(ctx context.Context, id string) (jobs.Job, error)
	Claims(ctx context.Context, leadIDs []string) ([]jobs.Claim, error)
	Request(ctx context.Context, id string) (jobs.Request, error)
}

// Lead is one lead as shown.
type Lead struct {
	ID     string `json:"id"`
	State  string `json:"state"` // one of the lead states above
	JobID  string `json:"job_id,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Attempts counts the calls that carried the lead so far.
	Attempts int `json:"attempts,omitempty"`
	// The records Zoho made, when it said (read back after the job).
	ContactID string `json:"contact_id,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	DealID    string `json:"deal_id,omitempty"`
}

// Job is a stored job as shown.
type Job struct {
	JobID        string     `json:"job_id"`
	Status       string     `json:"status"`
	ZohoStatus   string     `json:"zoho_status,omitempty"`
	IDs          []string   `json:"ids"`
	Total        int        `json:"total"`
	Converted    int        `json:"converted"`
	NotConverted int        `json:"not_converted"`
	Failed       int        `json:"failed"`
	Checks       int        `json:"checks"`
	Reason       string     `json:"reason,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	CheckedAt    *time.Time `json:"checked_at,omitempty"`
	NextCheckAt  *time.Time `json:"next_check_at,omitempty"`
	Leads        []Lead     `json:"leads,omitempty"` // each lead's outcome
}

// NewJob shows j without its leads.
func NewJob(j jobs.Job) Job {
	v := Job{JobID: j.ID, Status: string(j.State), ZohoStatus: j.ZohoStatus, IDs: j.LeadIDs, Total: j.Total,
		Converted: j.Converted, NotConverted: j.NotConvertedFigure(), Failed: j.FailedCount, Checks: j.Checks,
		Reason: j.Reason, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt}
	if !j.CheckedAt.IsZero() {
		v.CheckedAt = &j.CheckedAt
	}
	if !j.NextCheckAt.IsZero() {
		v.NextCheckAt = &j.NextCheckAt
	}
	return v
}

// LeadReport is one lead with the job its claim points at.
type LeadReport struct {
	Lead
	Job *Job `json:"job,omitempty"`
	// Sources are the requests (API request ids, SQS message ids) that
	// asked for the leads of its job.
	Sources []string `json:"sources,omitempty"`
}

// RequestReport is every lead of a request. The fields are in the order
// of their names, as the API's answer always had them.
type RequestReport struct {
	Counts    map[string]int `json:"counts"` // leads by state
	CreatedAt time.Time      `json:"created_at"`
	Leads     []Lead         `json:"leads"` // in the request's order
	RequestID string         `json:"request_id"`
}

// ErrNoRecord is OfLead's answer for a lead without a claim: never sent,
// free to be sent again (its job did not convert it), or older than the
// retention.
var ErrNoRecord = errors.New("no record of this lead")

// OfLead shows lead id, its job and the requests behind that job;
// ErrNoRecord when the store has no claim of it.
func OfLead(ctx context.Context, r Reader, id string) (LeadReport, error) {
	claims, err := r.Claims(ctx, []string{id})
	if err != nil {
		return LeadReport{}, fmt.Errorf("reading the claim of lead %s: %w", id, err)
	}
	if len(claims) == 0 {
		return LeadReport{}, ErrNoRecord
	}
	byJob, err := jobsOf(ctx, r, claims)
	if err != nil {
		return LeadReport{}, err
	}
	ans := LeadReport{Lead: leadState(id, claims[0], true, byJob)}
	if j, ok := byJob[ans.JobID]; ok {
		v := NewJob(j)
		ans.Job, ans.Sources = &v, j.Sources
	}
	return ans, nil
}

// OfRequest shows every lead of request id; jobs.ErrNotFound when the
// store does not have the request. A lead without a claim of a request
// that was dead-lettered shows as such.
func OfRequest(ctx context.Context, r Reader, id string) (RequestReport, error) {
	req, err := r.Request(ctx, id)
	if err != nil {
		return RequestReport{}, fmt.Errorf("reading request %s: %w", id, err)
	}
	claims, err := r.Claims(ctx, req.LeadIDs)
	if err != nil {
		return RequestReport{}, fmt.Errorf("reading the claims of request %s: %w", id, err)
	}
	byLead := make(map[string]jobs.Claim, len(claims))
	for _, c := range claims {
		byLead[c.LeadID] = c
	}
	byJob, err := jobsOf(ctx, r, claims)
	if err != nil {
		return RequestReport{}, err
	}
	rep := RequestReport{RequestID: req.ID, CreatedAt: req.CreatedAt, Leads: make([]Lead, len(req.LeadIDs)), Counts: map[string]int{}}
	for i, lead := range req.LeadIDs {
		c, claimed := byLead[lead]
		v := leadState(lead, c, claimed, byJob)
		if !claimed && req.FailCode != "" {
			v.State, v.Reason = DeadLettered, req.FailCode+": "+req.FailReason
		}
		rep.Leads[i] = v
		rep.Counts[v.State]++
	}
	return rep, nil
}

// OfJob shows job id with each of its leads; jobs.ErrNotFound when the
// store does not have it.
func OfJob(ctx context.Context, r Reader, id string) (Job, error) {
	j, err := r.Job(ctx, id)
	if err != nil {
		return Job{}, fmt.Errorf("reading job %s: %w", id, err)
	}
	claims, err := r.Claims(ctx, j.LeadIDs)
	if err != nil {
		return Job{}, fmt.Errorf("reading the claims of job %s: %w", id, err)
	}
	v := NewJob(j)
	v.Leads = jobLeads(j, claims)
	return v, nil
}

// leadState tells where a lead stands from its claim and the claim's job.
func leadState(lead string, c jobs.Claim, claimed bool, byJob map[string]jobs.Job) Lead {
	v := Lead{ID: lead, State: Queued}
	if !claimed {
		return v
	}
	v.Attempts = c.Attempts
	switch {
	case c.State == jobs.ClaimScheduled || c.State == jobs.ClaimInDoubt:
		v.JobID, v.State = c.JobID, Scheduled
		if c.State == jobs.ClaimInDoubt {
			v.State = InDoubt
		}
		if j, ok := byJob[c.JobID]; ok {
			v = withResult(v, j)
		}
	case c.State == jobs.Retry:
		v.JobID, v.State, v.Reason = c.JobID, Retrying, "not converted by Zoho in "+c.JobID+"; sent again"
	case c.State == jobs.Rejected && strings.HasPrefix(c.Reason, convert.ConvertedElsewhere):
		v.State, v.Reason = Converted, strings.TrimPrefix(c.Reason, convert.ConvertedElsewhere)
	case c.State == jobs.Lettered:
		v.State, v.Reason = DeadLettered, c.Reason
	case c.State == jobs.Rejected && strings.HasPrefix(c.Reason, legacyLettered):
		v.State, v.Reason = DeadLettered, strings.TrimPrefix(c.Reason, legacyLettered)
	case c.State == jobs.Rejected:
		v.State, v.Reason = Rejected, c.Reason
	}
	return v
}

// withResult fills in what j says of lead v, whose claim points at j.
func withResult(v Lead, j jobs.Job) Lead {
	switch {
	case j.State.Open():
		return v
	case j.State == jobs.Stale:
		v.State, v.Reason = Stale, j.Reason
		return v
	}
	r, ok := j.Result(v.ID)
	switch {
	case ok && r.Conversion == jobs.Converted:
		v.State, v.ContactID, v.AccountID, v.DealID = Converted, r.ContactID, r.AccountID, r.DealID
	case ok:
		v.State = NotConverted
	case j.State == jobs.Completed && j.FailedCount == 0:
		// Ended cleanly, not (yet) read back: Zoho's counts say converted.
		v.State = Converted
	default:
		v.State = NotConverted
	}
	return v
}

// jobsOf reads the jobs the claims point at, once each.
func jobsOf(ctx context.Context, r Reader, claims []jobs.Claim) (map[string]jobs.Job, error) {
	byJob := map[string]jobs.Job{}
	for _, c := range claims {
		if c.State != jobs.ClaimScheduled && c.State != jobs.ClaimInDoubt || c.JobID == "" {
			continue
		}
		if _, done := byJob[c.JobID]; done {
			continue
		}
		j, err := r.Job(ctx, c.JobID)
		switch {
		case errors.Is(err, jobs.ErrNotFound):
			// Expired before its claims: the lead shows as scheduled.
		case err != nil:
			return nil, fmt.Errorf("reading job %s: %w", c.JobID, err)
		default:
			byJob[c.JobID] = j
		}
	}
	return byJob, nil
}

// jobLeads shows each lead of job with its result, and where it went since
// when its claim no longer points here (sent again, rejected, or taken by a
// newer job).
func jobLeads(j jobs.Job, claims []jobs.Claim) []Lead {
	byLead := map[string]jobs.Claim{}
	for _, c := range claims {
		byLead[c.LeadID] = c
	}
	out := make([]Lead, 0, len(j.LeadIDs))
	for _, lead := range jobs.Uniq(j.LeadIDs) {
		v := withResult(Lead{ID: lead, JobID: j.ID, State: Scheduled}, j)
		if j.State == jobs.InDoubt {
			v.State = InDoubt
		}
		c, ok := byLead[lead]
		v.Attempts = c.Attempts
		switch {
		case !ok || c.JobID == j.ID && (c.State == jobs.ClaimScheduled || c.State == jobs.ClaimInDoubt):
		case c.State == jobs.Retry && c.JobID == j.ID:
			v.State, v.Reason = Retrying, "sent again"
		case c.State == jobs.Rejected && v.State != Converted:
			v.State, v.Reason = Rejected, c.Reason
		}
		out = append(out, v)
	}
	return out
}
