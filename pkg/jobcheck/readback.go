package jobcheck

import (
	"context"
	"errors"
	"log/slog"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// outcome is what reading a job's leads back from Zoho found.
type outcome struct {
	converted, notConverted []string
	// skipped says the leads could not be read (the grant lacks
	// ZohoCRM.modules.leads.READ, or Zoho refused for good): every lead
	// counts as not converted, and Zoho's refusal of a converted lead on
	// resubmission keeps it from converting twice.
	skipped bool
}

// readBack asks Zoho which leads of an ended job it converted, at most
// zoho.MaxIDsPerRead a call. Only $converted decides (zoho-crm-api.md
// section 6); a lead Zoho does not find, or does not say, is not converted.
// A retryable error is returned: the job stays due and is read again.
func (r *run) readBack(ctx context.Context, log *slog.Logger, j jobs.Job) (outcome, error) {
	var out outcome
	ids := jobs.Uniq(j.LeadIDs)
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), zoho.MaxIDsPerRead)]
		ids = ids[len(chunk):]
		leads, err := r.c.cfg.Zoho.GetLeads(ctx, chunk)
		r.count(func(rep *Report) { rep.ReadBackCalls++ })
		if err != nil {
			if r.zohoError(err) {
				return outcome{}, err
			}
			r.readBackRefused(ctx, log, err)
			return outcome{notConverted: jobs.Uniq(j.LeadIDs), skipped: true}, nil
		}
		r.zohoAnswered()
		for _, l := range leads {
			if l.Found && l.Known && l.Converted {
				out.converted = append(out.converted, l.ID)
			} else {
				out.notConverted = append(out.notConverted, l.ID)
			}
		}
	}
	r.m.Count("LeadsReadBack", len(out.converted)+len(out.notConverted))
	return out, nil
}

// readBackRefused reports a read Zoho refused for good: once per run, since
// a missing scope refuses every read alike.
func (r *run) readBackRefused(ctx context.Context, log *slog.Logger, err error) {
	r.m.Count("ReadBackSkipped", 1)
	r.warnOnce.Do(func() {
		msg := "status: Zoho refused to read leads back; every lead of a failed job is released"
		var apiErr *zoho.APIError
		if errors.As(err, &apiErr) && apiErr.Code == "OAUTH_SCOPE_MISMATCH" {
			msg = "status: the Zoho grant lacks ZohoCRM.modules.leads.READ; leads are not read back, " +
				"and every lead of a failed job is released"
		}
		log.WarnContext(ctx, msg, "error", err)
	})
}
