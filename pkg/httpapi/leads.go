package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// Lead states as the API shows them, from the lead's claim and the job (or
// call in doubt) it points at. The status function reads the leads of an
// ended job back and stores the results with the job; it sends those Zoho
// did not convert again (their claims become RETRY) or rejects them.
const (
	stateQueued       = "QUEUED"        // waiting to fill a call, or not yet seen
	stateScheduled    = "SCHEDULED"     // in a job Zoho has not finished
	stateInDoubt      = "IN_DOUBT"      // its call's answer was lost, or Zoho refused it while holding it: to be read back
	stateConverted    = "CONVERTED"     // Zoho converted it (read back), or had converted it already
	stateNotConverted = "NOT_CONVERTED" // its job ended without converting it
	stateRetrying     = "RETRYING"      // not converted in its job, sent again
	stateStale        = "STALE"         // its job was given up on; an operator should look
	stateRejected     = "REJECTED"      // Zoho refused it, or did not convert it in its last attempt (reason)
	stateDeadLettered = "DEAD_LETTERED" // its request could not be converted (reason)
)

// leadState tells where a lead stands from its claim and the claim's job.
func leadState(lead string, c jobs.Claim, claimed bool, byJob map[string]jobs.Job) leadView {
	v := leadView{ID: lead, State: stateQueued}
	if !claimed {
		return v
	}
	v.Attempts = c.Attempts
	switch {
	case c.State == jobs.ClaimScheduled || c.State == jobs.ClaimInDoubt:
		v.JobID, v.State = c.JobID, stateScheduled
		if c.State == jobs.ClaimInDoubt {
			v.State = stateInDoubt
		}
		if j, ok := byJob[c.JobID]; ok {
			v = withResult(v, j)
		}
	case c.State == jobs.Retry:
		v.JobID, v.State, v.Reason = c.JobID, stateRetrying, "not converted by Zoho in "+c.JobID+"; sent again"
	case c.State == jobs.Rejected && strings.HasPrefix(c.Reason, convert.ConvertedElsewhere):
		v.State, v.Reason = stateConverted, strings.TrimPrefix(c.Reason, convert.ConvertedElsewhere)
	case c.State == jobs.Rejected && strings.HasPrefix(c.Reason, deadLettered):
		v.State, v.Reason = stateDeadLettered, strings.TrimPrefix(c.Reason, deadLettered)
	case c.State == jobs.Rejected:
		v.State, v.Reason = stateRejected, c.Reason
	}
	return v
}

// withResult fills in what j says of lead v, whose claim points at j.
func withResult(v leadView, j jobs.Job) leadView {
	switch {
	case j.State.Open():
		return v
	case j.State == jobs.Stale:
		v.State, v.Reason = stateStale, j.Reason
		return v
	}
	r, ok := j.Result(v.ID)
	switch {
	case ok && r.Outcome == jobs.Converted:
		v.State, v.ContactID, v.AccountID, v.DealID = stateConverted, r.ContactID, r.AccountID, r.DealID
	case ok:
		v.State = stateNotConverted
	case j.State == jobs.Completed && j.FailedCount == 0:
		// Ended cleanly, not (yet) read back: Zoho's counts say converted.
		v.State = stateConverted
	default:
		v.State = stateNotConverted
	}
	return v
}

// jobsOf reads the jobs the claims point at, once each.
func (a *api) jobsOf(ctx context.Context, claims []jobs.Claim) (map[string]jobs.Job, error) {
	byJob := map[string]jobs.Job{}
	for _, c := range claims {
		if c.State != jobs.ClaimScheduled && c.State != jobs.ClaimInDoubt || c.JobID == "" {
			continue
		}
		if _, done := byJob[c.JobID]; done {
			continue
		}
		j, err := a.cfg.Jobs.Job(ctx, c.JobID)
		switch {
		case errors.Is(err, jobs.ErrNotFound):
			// Expired before its claims: the lead shows as scheduled.
		case err != nil:
			return nil, err
		default:
			byJob[c.JobID] = j
		}
	}
	return byJob, nil
}

// jobLeads shows each lead of job with its result, and where it went since
// when its claim no longer points here (sent again, rejected, or taken by a
// newer job).
func jobLeads(j jobs.Job, claims []jobs.Claim) []leadView {
	byLead := map[string]jobs.Claim{}
	for _, c := range claims {
		byLead[c.LeadID] = c
	}
	out := make([]leadView, 0, len(j.LeadIDs))
	for _, lead := range jobs.Uniq(j.LeadIDs) {
		v := withResult(leadView{ID: lead, JobID: j.ID, State: stateScheduled}, j)
		if j.State == jobs.InDoubt {
			v.State = stateInDoubt
		}
		c, ok := byLead[lead]
		v.Attempts = c.Attempts
		switch {
		case !ok || c.JobID == j.ID && (c.State == jobs.ClaimScheduled || c.State == jobs.ClaimInDoubt):
		case c.State == jobs.Retry && c.JobID == j.ID:
			v.State, v.Reason = stateRetrying, "sent again"
		case c.State == jobs.Rejected && v.State != stateConverted:
			v.State, v.Reason = stateRejected, c.Reason
		}
		out = append(out, v)
	}
	return out
}

// leadAnswer is GET /leads/{lead_id}.
type leadAnswer struct {
	leadView
	Job *jobView `json:"job,omitempty"`
	// Sources are the requests (API request ids, SQS message ids) that
	// asked for the leads of its job.
	Sources []string `json:"sources,omitempty"`
}

func (a *api) getLead(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("lead_id")
	if !isDigits(id) {
		writeError(w, http.StatusBadRequest, "INVALID_DATA", "lead_id must be Zoho's numeric record id", map[string]any{"param_name": "lead_id"})
		return
	}
	claims, err := a.cfg.Jobs.Claims(ctx, []string{id})
	if err != nil {
		a.unavailable(w, r, "reading a lead's claim failed", err)
		return
	}
	if len(claims) == 0 {
		writeError(w, http.StatusNotFound, "INVALID_DATA",
			"no record of this lead: never sent, free to be sent again (its job did not convert it), or older than the retention",
			map[string]any{"param_name": "lead_id"})
		return
	}
	byJob, err := a.jobsOf(ctx, claims)
	if err != nil {
		a.unavailable(w, r, "reading a lead's job failed", err)
		return
	}
	ans := leadAnswer{leadView: leadState(id, claims[0], true, byJob)}
	if j, ok := byJob[ans.JobID]; ok {
		v := newJobView(j)
		ans.Job, ans.Sources = &v, j.Sources
	}
	writeJSON(w, http.StatusOK, ans)
}
