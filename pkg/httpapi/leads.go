package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// Lead states as the API shows them. A lead keeps its claim on the job
// that converted it: the status function releases the claims of the leads
// Zoho did not convert, after reading them back. So a claim on a job that
// has ended means converted, and no claim means free to be sent (again).
const (
	stateQueued       = "QUEUED"        // waiting to fill a call, or not yet seen
	stateScheduled    = "SCHEDULED"     // in a job Zoho has not finished
	stateConverted    = "CONVERTED"     // its job ended and Zoho converted it, or Zoho had converted it already
	stateNotConverted = "NOT_CONVERTED" // its job ended without converting it; it may be sent again
	stateStale        = "STALE"         // its job was given up on; an operator should look
	stateRejected     = "REJECTED"      // Zoho refused it (reason)
	stateDeadLettered = "DEAD_LETTERED" // its request could not be converted (reason)
)

// leadState tells where a lead stands from its claim and the claim's job.
func leadState(lead string, c jobs.Claim, claimed bool, byJob map[string]jobs.Job) leadView {
	v := leadView{ID: lead, State: stateQueued}
	switch {
	case !claimed:
	case c.State == jobs.ClaimScheduled:
		v.JobID, v.State = c.JobID, stateScheduled
		if j, ok := byJob[c.JobID]; ok {
			v.State, v.Reason = heldBy(j)
		}
	case c.State == jobs.Rejected && strings.HasPrefix(c.Reason, convert.ConvertedElsewhere):
		v.State, v.Reason = stateConverted, strings.TrimPrefix(c.Reason, convert.ConvertedElsewhere)
	case c.State == jobs.Rejected && strings.HasPrefix(c.Reason, deadLettered):
		v.State, v.Reason = stateDeadLettered, strings.TrimPrefix(c.Reason, deadLettered)
	case c.State == jobs.Rejected:
		v.State, v.Reason = stateRejected, c.Reason
	}
	return v
}

// heldBy is the state of a lead whose claim points at j.
func heldBy(j jobs.Job) (state, reason string) {
	switch {
	case j.State.Open():
		return stateScheduled, ""
	case j.State == jobs.Stale:
		return stateStale, j.Reason
	}
	return stateConverted, ""
}

// jobsOf reads the jobs the scheduled claims point at, once each.
func (a *api) jobsOf(ctx context.Context, claims []jobs.Claim) (map[string]jobs.Job, error) {
	byJob := map[string]jobs.Job{}
	for _, c := range claims {
		if c.State != jobs.ClaimScheduled || c.JobID == "" {
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

// jobLeads shows each lead of job: converted while its claim still points
// at the ended job, not converted once the claim was released (or taken by
// a newer job).
func jobLeads(j jobs.Job, claims []jobs.Claim) []leadView {
	pointsHere := map[string]bool{}
	for _, c := range claims {
		if c.State == jobs.ClaimScheduled && c.JobID == j.ID {
			pointsHere[c.LeadID] = true
		}
	}
	out := make([]leadView, 0, len(j.LeadIDs))
	for _, lead := range jobs.Uniq(j.LeadIDs) {
		v := leadView{ID: lead, JobID: j.ID, State: stateNotConverted}
		if pointsHere[lead] || j.State.Open() || j.State == jobs.Stale {
			v.State, v.Reason = heldBy(j)
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
