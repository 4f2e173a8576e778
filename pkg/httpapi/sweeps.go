package httpapi

import (
	"errors"
	"net/http"

	"github.com/zoho-bridge/leadconvert/pkg/outcome"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// getSweep shows a sweep's definition and its last runs with their leads'
// outcomes (outcome.OfSweep: runs by the ids the sweep keeps, outcomes
// within a bounded number of reads, said partial past it).
func (a *api) getSweep(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !sweep.ValidName(name) {
		writeError(w, http.StatusBadRequest, "INVALID_DATA", "name is a sweep's name: 1 to 64 letters, digits, - and _", map[string]any{"param_name": "name"})
		return
	}
	if a.cfg.Sweeps == nil {
		writeError(w, http.StatusNotFound, "INVALID_DATA", "no such sweep", map[string]any{"param_name": "name"})
		return
	}
	ans, err := outcome.OfSweep(r.Context(), a.cfg.Sweeps, a.cfg.Jobs, name)
	switch {
	case errors.Is(err, sweep.ErrNotFound):
		writeError(w, http.StatusNotFound, "INVALID_DATA", "no such sweep", map[string]any{"param_name": "name"})
	case err != nil:
		a.unavailable(w, r, "reading a sweep failed", err)
	default:
		writeJSON(w, http.StatusOK, ans)
	}
}
