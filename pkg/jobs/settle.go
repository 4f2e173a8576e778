package jobs

import (
	"fmt"
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
	// Rejected, when set, hears of every claim the store rejects (c as it
	// was, r its lead's read-back), once the write went through: for the
	// caller's metrics.
	Rejected func(c Claim, r LeadResult)
}

// AttemptsOf is how many of its attempts a lead has used: the calls that
// carried it, and one for every DoubtsPerAttempt calls in doubt.
func AttemptsOf(c Claim) int { return c.Attempts + c.Doubts/DoubtsPerAttempt }

// SettleOp is what settling does with claim c of an ended job whose lead
// was read back as r: keep it (converted), send it again while it has
// attempts left, or reject it (Zoho no longer has it, or no attempt left).
func SettleOp(c Claim, r LeadResult, p SettlePolicy) LeadOp {
	switch {
	case r.Conversion == Converted:
		return OpSettleDone
	case r.Conversion == NotConverted && AttemptsOf(c) < p.MaxAttempts:
		return OpSettleRetry
	}
	return OpSettleReject
}

// Settle decides what becomes of claim c once job ended and its lead was
// read back as r, by the lead protocol: only a claim still in job moves (a
// lead sent again since belongs to its new job). write is false when c
// stays as it is.
func Settle(c Claim, job Job, r LeadResult, p SettlePolicy) (next Claim, write bool) {
	st := Step(Classify(c, true, Actor{Job: job.ID}, time.Time{}), SettleOp(c, r, p))
	if st.To == st.From {
		return c, false
	}
	switch st.To {
	case LeadRetry:
		return Claim{LeadID: c.LeadID, State: Retry, JobID: job.ID, Attempts: c.Attempts, Doubts: c.Doubts, ExpiresAt: p.RetryUntil}, true
	case LeadRejected:
		return Claim{LeadID: c.LeadID, State: Rejected, Reason: RejectReason(job, r, c), ExpiresAt: p.RejectUntil}, true
	}
	return c, false
}

// RejectReason says why a lead of job ended rejected, with its claim's
// counts.
func RejectReason(job Job, r LeadResult, c Claim) string {
	in := "in job " + job.ID
	if IsDoubt(job.ID) {
		in = "after a call in doubt (" + job.ID + ")"
	}
	if r.Conversion == NotFound {
		return "not found in Zoho (deleted, or not a lead) " + in
	}
	why := fmt.Sprintf("not converted by Zoho %s, after %d attempts", in, c.Attempts)
	if c.Doubts > 0 {
		why += fmt.Sprintf(" and %d calls whose answers were lost or refused for other leads (%d count as one attempt)", c.Doubts, DoubtsPerAttempt)
	}
	return why
}
