package jobcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// readout is what reading a job's leads back from Zoho found.
type readout struct {
	results []jobs.LeadResult
	// unread says the leads could not be read (the grant lacks
	// ZohoCRM.modules.leads.READ, or Zoho refused for good): Zoho's counts
	// are all there is, as before outcomes were read back.
	unread bool
	// lastConverted is the latest conversion time Zoho gave
	// (Lead_Conversion_Time), zero when it gave none.
	lastConverted time.Time
}

func (o readout) ids(want func(jobs.Conversion) bool) []string {
	var ids []string
	for _, r := range o.results {
		if want(r.Conversion) {
			ids = append(ids, r.LeadID)
		}
	}
	return ids
}

func (o readout) converted() []string {
	return o.ids(func(x jobs.Conversion) bool { return x == jobs.Converted })
}

func (o readout) notConverted() []string {
	return o.ids(func(x jobs.Conversion) bool { return x != jobs.Converted })
}

// readBack asks Zoho what became of the leads of an ended job (or a call
// in doubt), at most zoho.MaxIDsPerRead a call. Only $converted decides
// (zoho-crm-api.md section 6); a lead Zoho has but does not say about is
// taken as not converted. A retryable error is returned: the job stays due
// and is read again.
func (r *run) readBack(ctx context.Context, log *slog.Logger, j jobs.Job) (readout, error) {
	var out readout
	ids := jobs.Uniq(j.LeadIDs)
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), zoho.MaxIDsPerRead)]
		ids = ids[len(chunk):]
		leads, err := r.c.cfg.Zoho.GetLeads(ctx, chunk)
		r.count(func(rep *Report) { rep.ReadBackCalls++ })
		if err != nil {
			// Only a refusal for good (a grant without the scope) leaves
			// the leads unread: a refused token is mended by a refresh
			// or an operator, and settling a call in doubt unread would
			// release its leads without sending them again.
			if r.zohoError(err); !zoho.RefusedForGood(err) {
				return readout{}, err
			}
			r.readBackRefused(ctx, log, err)
			return readout{unread: true}, nil
		}
		r.zohoAnswered()
		for _, l := range leads {
			res := jobs.LeadResult{LeadID: l.ID, Conversion: jobs.NotConverted}
			switch {
			case !l.Found:
				res.Conversion = jobs.NotFound
			case l.Known && l.Converted:
				res = jobs.LeadResult{LeadID: l.ID, Conversion: jobs.Converted, ContactID: l.ContactID, AccountID: l.AccountID, DealID: l.DealID}
				if l.ConvertedAt.After(out.lastConverted) {
					out.lastConverted = l.ConvertedAt
				}
			}
			out.results = append(out.results, res)
		}
	}
	r.m.Count("LeadsReadBack", len(out.results))
	return out, nil
}

// readBackRefused reports a read Zoho refused for good: once per run, since
// a missing scope refuses every read alike.
func (r *run) readBackRefused(ctx context.Context, log *slog.Logger, err error) {
	r.m.Count("ReadBackSkipped", 1)
	r.warnOnce.Do(func() {
		msg := "jobcheck: Zoho refused to read leads back; the leads of a failed job are released, not sent again"
		var apiErr *zoho.APIError
		if errors.As(err, &apiErr) && apiErr.Code == "OAUTH_SCOPE_MISMATCH" {
			msg = "jobcheck: the Zoho grant lacks ZohoCRM.modules.leads.READ; leads are not read back, " +
				"and the leads of a failed job are released, not sent again"
		}
		log.WarnContext(ctx, msg, "error", err)
	})
}

// settle stores what became of the leads of an ended job and sends again
// those Zoho did not convert that have attempts left. Every step repeats
// harmlessly: on an error the job stays due and the next run does it all
// again.
func (r *run) settle(ctx context.Context, j jobs.Job, out readout) (resent int, err error) {
	p := jobs.SettlePolicy{MaxAttempts: r.c.cfg.MaxLeadAttempts, RetryUntil: r.now.Add(retryClaimFor),
		RejectUntil: r.now.Add(r.c.cfg.RejectionMemory), Rejected: r.outOfAttempts}
	results := out.results
	if out.unread {
		if !failedLeads(j) {
			return 0, nil
		}
		// Zoho's counts say some leads failed, not which: release them all
		// for a request sent again by hand, as nothing can tell which to send.
		p.MaxAttempts = math.MaxInt
		for _, id := range jobs.Uniq(j.LeadIDs) {
			results = append(results, jobs.LeadResult{LeadID: id, Conversion: jobs.NotConverted})
		}
	}
	retry, err := r.c.cfg.Store.SettleLeads(ctx, j, results, p)
	if err != nil || len(retry) == 0 || out.unread {
		return 0, err
	}
	if r.c.cfg.Resend == nil {
		r.c.cfg.Logger.WarnContext(ctx, "jobcheck: leads Zoho did not convert are released but not sent again: no conversion queue",
			"job_id", j.ID, "leads", len(retry))
		return 0, nil
	}
	full, err := r.c.cfg.Store.Job(ctx, j.ID)
	if err != nil {
		return 0, fmt.Errorf("reading the options of job %s: %w", j.ID, err)
	}
	body, err := RetryBody(full.Options, retry)
	if err != nil {
		return 0, fmt.Errorf("job %s: %w", j.ID, err)
	}
	if err := r.c.cfg.Resend.Enqueue(ctx, body, ""); err != nil {
		return 0, fmt.Errorf("sending %d leads of job %s again: %w", len(retry), j.ID, err)
	}
	return len(retry), nil
}

// failedLeads reports whether Zoho's counts, or the job's end, say that
// some of its leads may not be converted.
func failedLeads(j jobs.Job) bool {
	return j.State != jobs.Completed || j.FailedCount > 0
}

// RetryBody is the conversion request that sends ids again with the
// options of their job (the request without its ids, as stored).
func RetryBody(options string, ids []string) (string, error) {
	req := map[string]json.RawMessage{}
	if options != "" {
		if err := json.Unmarshal([]byte(options), &req); err != nil {
			return "", fmt.Errorf("the stored options are not a JSON object: %w", err)
		}
	}
	raw, err := json.Marshal(ids)
	if err != nil {
		return "", err
	}
	req["ids"] = raw
	// Without HTML escaping, as the convert function queues requests: the
	// options fit a message as they were validated.
	body, err := zoho.MarshalNoEscape(req)
	return string(body), err
}

// outOfAttempts counts a lead Zoho has and did not convert that settling
// rejected, its attempts used up; InDoubt, those whose calls in doubt
// counted among them (answers lost, or refused for other leads).
func (r *run) outOfAttempts(c jobs.Claim, res jobs.LeadResult) {
	if res.Conversion != jobs.NotConverted {
		return
	}
	r.m.Count("LeadsOutOfAttempts", 1)
	if c.Doubts >= jobs.DoubtsPerAttempt {
		r.m.CountBy("LeadsOutOfAttempts", "Cause", "IN_DOUBT", 1)
	}
}
