// Package jobs holds what the bridge remembers: one record per Zoho
// mass-convert job and one claim per lead, so that no lead is sent to Zoho
// twice and every job is followed to its end. Store has a DynamoDB
// implementation for Lambda and an in-memory one for local runs.
package jobs

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// State is a job's state in our own vocabulary. Zoho's raw status string is
// kept beside it, since Zoho's casing varies.
type State string

// Job states. Scheduled and InProgress are open: the status function checks
// them. The rest are terminal.
const (
	Scheduled     State = "SCHEDULED"
	InProgress    State = "IN_PROGRESS"
	Completed     State = "COMPLETED"
	Failed        State = "FAILED"
	UnknownToZoho State = "UNKNOWN" // Zoho does not know the job id
	Stale         State = "STALE"   // still open long after it should have ended

	// InDoubt is a call whose outcome we do not know (Zoho's answer was
	// lost, or Zoho refused leads that it has and did not convert, as it
	// does while another job holds them). It has no Zoho job id: the
	// status function reads its leads back once they had time to settle.
	InDoubt State = "IN_DOUBT"
	// Settled is a call in doubt whose leads were read back.
	Settled State = "SETTLED"
)

// Open reports whether the status function still follows the job.
func (s State) Open() bool { return s == Scheduled || s == InProgress || s == InDoubt }

// DoubtPrefix starts the id of a call in doubt; Zoho's job ids are digits.
const DoubtPrefix = "doubt-"

// IsDoubt reports whether the job id names a call in doubt rather than a
// job of Zoho's.
func IsDoubt(id string) bool { return strings.HasPrefix(id, DoubtPrefix) }

// IsJobID reports whether s can name a job: one of Zoho's (a record id) or
// a call in doubt (DoubtPrefix and 16 hex digits).
func IsJobID(s string) bool {
	rest, doubt := strings.CutPrefix(s, DoubtPrefix)
	if !doubt {
		return zoho.IsRecordID(s)
	}
	if len(rest) != 16 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// Job is one mass-convert job Zoho scheduled.
type Job struct {
	ID          string
	State       State
	ZohoStatus  string   // Zoho's last status string, as sent
	LeadIDs     []string // the ids of the call, in order
	Fingerprint string   // digest of the options, see convert.Fingerprint
	Options     string   // the request without ids, as JSON
	Sources     []string // SQS message ids or API request ids that asked for these leads
	APIVersion  string
	// Batch is the accumulator generation the leads were sent from, if
	// any: recording the job ends that batch.
	Batch BatchKey

	CreatedAt   time.Time
	UpdatedAt   time.Time
	CheckedAt   time.Time // zero until the first status check
	NextCheckAt time.Time // zero once the job is terminal
	Checks      int

	// The counts: Zoho's for a job of Zoho's, the read-back's for a call
	// in doubt. Each of Waiting and NotConverted applies to one kind only;
	// NotConvertedFigure is the one of them that is stored and shown.
	Total, Converted, FailedCount int
	// Waiting, of a job of Zoho's, is its Not_Converted_Count: the leads Zoho has not come to yet.
	Waiting int
	// NotConverted, of a call in doubt, is the leads its read-back found not converted.
	NotConverted int

	Reason    string    // why a job ended UNKNOWN or STALE
	ExpiresAt time.Time // set when terminal; DynamoDB's TTL removes the item later
	Version   int64     // optimistic lock: every update is conditional on it

	// NoAttempt marks a call in doubt whose leads no call carried (Zoho
	// refused their chunk for other leads): recording it uses none of
	// their attempts. It is not stored.
	NoAttempt bool

	// Results are the leads as read back from Zoho once the job ended;
	// empty until then, and when the grant cannot read leads.
	Results []LeadResult
}

// NotConvertedFigure returns the figure stored and shown as
// not_converted: Waiting for a job of Zoho's, NotConverted for a call in
// doubt. Both kinds always shared that one figure, so stored jobs and
// answers keep it.
func (j Job) NotConvertedFigure() int {
	if IsDoubt(j.ID) {
		return j.NotConverted
	}
	return j.Waiting
}

// SetNotConvertedFigure reads n, stored as not_converted, into the field
// of j's kind, which j.ID decides.
func (j *Job) SetNotConvertedFigure(n int) {
	if IsDoubt(j.ID) {
		j.NotConverted = n
	} else {
		j.Waiting = n
	}
}

// Conversion is what a read-back found of one lead of an ended job: the
// word "outcome" belongs to the API's view of a lead (package outcome).
type Conversion string

// Conversions, decided from Get Records' $converted only (zoho-crm-api.md
// section 6).
const (
	Converted    Conversion = "CONVERTED"
	NotConverted Conversion = "NOT_CONVERTED"
	NotFound     Conversion = "NOT_FOUND" // deleted, or never a lead
)

// LeadResult is one lead read back from Zoho. The ids of the records the
// conversion made are kept when Zoho returned them; Zoho does not promise to.
type LeadResult struct {
	LeadID                       string
	Conversion                   Conversion
	ContactID, AccountID, DealID string
}

// Result returns the read-back result of lead id, if the job has one.
func (j Job) Result(id string) (LeadResult, bool) {
	for _, r := range j.Results {
		if r.LeadID == id {
			return r, true
		}
	}
	return LeadResult{}, false
}

// Owner is who holds a claim: the run that claimed the lead (RunOwner)
// while it is pending, the batch it waits in (BatchKey.Owner) while it is
// parked. Only those two build one (a store reads back what they built),
// so that the batch form is made and read (Owner.Batch) in one place and
// an owner is never mistaken for a lead id or a reason. The zero Owner is
// nobody.
type Owner string

// RunOwner is the owner of the claims run id holds. Run ids are never of
// the form BatchKey.Owner makes.
func RunOwner(id string) Owner { return Owner(id) }

// Claim is the record of one lead.
type Claim struct {
	LeadID    string
	State     ClaimState
	Owner     Owner     // who holds a pending or parked claim; a rejected or lettered one keeps it
	Until     time.Time // a pending claim lapses then
	JobID     string    // of a scheduled or in-doubt claim; of a retry claim, the job that did not convert it
	Reason    string    // of a rejected claim
	ExpiresAt time.Time
	// Attempts counts the calls that carried the lead since it was last
	// rejected; it survives claims, so automatic retries stop. Doubts
	// counts the calls in doubt that may not have carried it
	// (DoubtsPerAttempt of them count as one attempt).
	Attempts, Doubts int
}

// Live reports whether the claim holds the lead for someone at now.
func (c Claim) Live(now time.Time) bool {
	switch {
	case Lapsed(c.ExpiresAt, now):
		return false
	case c.State == Pending:
		return !Lapsed(c.Until, now)
	}
	return c.State != Retry && c.State != Lettered
}

// ErrNotFound is returned for a job that is not stored.
var ErrNotFound = errors.New("jobs: not found")

// Store is what the convert function needs to remember.
type Store interface {
	// Claim claims leadIDs for owner until until. Leads whose claims still
	// stand are not claimed; their claims are returned in held. A lead owner
	// already holds counts as claimed, so a retried call is harmless.
	Claim(ctx context.Context, owner Owner, leadIDs []string, now, until time.Time) (claimed []string, held []Claim, err error)
	// Release drops owner's pending or parked claims of leadIDs, so the
	// leads can be sent again at once.
	Release(ctx context.Context, owner Owner, leadIDs []string) error
	// Reject records that Zoho refused a lead owner holds, until expires.
	Reject(ctx context.Context, owner Owner, leadID, reason string, expires time.Time) error
	// Letter records that Zoho refused the options of the call that
	// carried a lead owner holds, whose request was dead-lettered: the lead
	// is free for the letter's redrive, and shows why until expires.
	Letter(ctx context.Context, owner Owner, leadID, reason string, expires time.Time) error
	// RecordJob stores a job Zoho scheduled and points its leads' claims at
	// it; a job sent from a batch ends the batch. Recording the same job
	// (same leads, same CreatedAt) again is harmless: a write whose answer
	// was lost is tried again. Another job under a stored id is ErrJobExists.
	RecordJob(ctx context.Context, job Job, claimsExpire time.Time) error
	// Job returns a stored job or ErrNotFound.
	Job(ctx context.Context, id string) (Job, error)
	// Claims returns the stored claims of leadIDs; leads without one are left out.
	Claims(ctx context.Context, leadIDs []string) ([]Claim, error)

	Parking
	Requests
}

// IsRequestID reports whether s can be the id of a request: API Gateway's
// (base64-ish, or a UUID), a local server's, or a sweep's message's
// (sweep:NAME:RUN:N, whose run id, a schedule's tick, holds : and +).
func IsRequestID(s string) bool {
	if s == "" || len(s) > 160 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_=.:+", c) >= 0) {
			return false
		}
	}
	return true
}

// Request is a conversion request the API accepted and queued, kept so
// that GET /requests/{id} can follow its leads.
type Request struct {
	ID        string // API Gateway's request id
	LeadIDs   []string
	CreatedAt time.Time
	// FailCode and FailReason are set when the request was dead-lettered.
	FailCode, FailReason string
	ExpiresAt            time.Time
}

// Requests keeps the requests the API queued.
type Requests interface {
	// RecordRequest stores a request; recording one twice is harmless.
	RecordRequest(ctx context.Context, r Request) error
	// Request returns a stored request or ErrNotFound.
	Request(ctx context.Context, id string) (Request, error)
	// FailRequest records why a request was dead-lettered.
	FailRequest(ctx context.Context, id, code, reason string) error
}
