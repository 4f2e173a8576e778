package httpapi

import (
	"errors"
	"net/http"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/outcome"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// The lead states and how they are derived live in package outcome, which
// the operator's command shares, so both show the same.

func (a *api) getLead(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("lead_id")
	if !zoho.IsRecordID(id) {
		writeError(w, http.StatusBadRequest, "INVALID_DATA", "lead_id must be Zoho's numeric record id", map[string]any{"param_name": "lead_id"})
		return
	}
	ans, err := outcome.OfLead(r.Context(), a.cfg.Jobs, id)
	switch {
	case errors.Is(err, outcome.ErrNoRecord):
		writeError(w, http.StatusNotFound, "INVALID_DATA",
			"no record of this lead: never sent, free to be sent again (its job did not convert it), or older than the retention",
			map[string]any{"param_name": "lead_id"})
	case err != nil:
		a.unavailable(w, r, "reading a lead failed", err)
	default:
		writeJSON(w, http.StatusOK, ans)
	}
}

func (a *api) getRequest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("request_id")
	if !jobs.IsRequestID(id) {
		writeError(w, http.StatusBadRequest, "INVALID_DATA", "request_id is the request_id of a POST /conversions answer", map[string]any{"param_name": "request_id"})
		return
	}
	ans, err := outcome.OfRequest(r.Context(), a.cfg.Jobs, id)
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		writeError(w, http.StatusNotFound, "INVALID_DATA", "no such request (or it is older than the retention)", map[string]any{"param_name": "request_id"})
	case err != nil:
		a.unavailable(w, r, "reading a request failed", err)
	default:
		writeJSON(w, http.StatusOK, ans)
	}
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("job_id")
	if !jobs.IsJobID(id) {
		writeError(w, http.StatusBadRequest, "INVALID_DATA", "job_id must be Zoho's numeric job id, or doubt-... for a call in doubt", map[string]any{"param_name": "job_id"})
		return
	}
	v, err := outcome.OfJob(r.Context(), a.cfg.Jobs, id)
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		writeError(w, http.StatusNotFound, "INVALID_DATA", "no such job", map[string]any{"param_name": "job_id"})
	case err != nil:
		a.log().ErrorContext(r.Context(), "reading a job failed", "job_id", id, "error", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "INTERNAL_ERROR", "the job store is unavailable; try again", nil)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}
