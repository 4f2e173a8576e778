package jobs

import (
	"fmt"
	"strings"
	"time"
)

// SettlePolicy is how the leads of an ended job are settled.
type SettlePolicy struct {
	// MaxAttempts is how many calls may carry a lead before a lead Zoho did
	// not convert is rejected instead of sent again.
	MaxAttempts int
	// RetryUntil bounds a retry claim: if the lead is not claimed again by
	// then, its claim lapses like any other.
	RetryUntil time.Time
	// RejectUntil is how long a rejection is remembered.
	RejectUntil time.Time
}

// Settle decides what becomes of claim c once job ended and its lead was
// read back as r. It changes only a claim that still points at job and
// still holds the lead (scheduled or in doubt): a lead sent again since
// belongs to its new job. write is false when c stays as it is.
//
// A converted lead keeps its claim: it is never sent again. A lead Zoho
// no longer has is rejected. A lead Zoho has and did not convert is sent
// again while it has had fewer than MaxAttempts calls, then rejected with
// the job that last failed it named.
func Settle(c Claim, job Job, r LeadResult, p SettlePolicy) (next Claim, write bool) {
	if c.JobID != job.ID || c.State != ClaimScheduled && c.State != ClaimInDoubt || r.Outcome == Converted {
		return c, false
	}
	if r.Outcome == NotConverted && c.Attempts < p.MaxAttempts {
		return Claim{LeadID: c.LeadID, State: Retry, JobID: job.ID, Attempts: c.Attempts, ExpiresAt: p.RetryUntil}, true
	}
	return Claim{LeadID: c.LeadID, State: Rejected, Reason: RejectReason(job, r, c.Attempts), ExpiresAt: p.RejectUntil}, true
}

// RejectReason says why a lead of job ended rejected after attempts calls.
func RejectReason(job Job, r LeadResult, attempts int) string {
	in := "in job " + job.ID
	if strings.HasPrefix(job.ID, DoubtPrefix) {
		in = "after a call in doubt (" + job.ID + ")"
	}
	if r.Outcome == NotFound {
		return "not found in Zoho (deleted, or not a lead) " + in
	}
	return fmt.Sprintf("not converted by Zoho %s, after %d attempts", in, attempts)
}
