package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrConflict is returned by SaveCheck when the job is no longer at the
// version the caller read: another run has checked it meanwhile.
var ErrConflict = errors.New("jobs: the job changed since it was read")

// CheckStore is what the status function needs: the due jobs, oldest
// first, and conditional updates of the jobs it checks.
type CheckStore interface {
	// DueJobs returns up to limit ids of open jobs whose next check is at
	// or before now, the oldest due first, and a cursor for the next page
	// ("" when there is none; a page may be empty). A job checked after the
	// first page neither comes back on a later one nor makes one skip a job.
	DueJobs(ctx context.Context, now time.Time, limit int, cursor string) (ids []string, next string, err error)
	// CountDue counts the open jobs due at now after cursor ("" from the
	// start), for reporting what a run left for the next one.
	CountDue(ctx context.Context, now time.Time, cursor string) (int, error)
	// Jobs reads jobs by id, in the order given, without unknown ids and
	// duplicates. The options of the request are left out.
	Jobs(ctx context.Context, ids []string) ([]Job, error)
	// SaveCheck stores the outcome of a status check: State, ZohoStatus, the
	// four counts, CheckedAt, UpdatedAt, Checks, Reason, and NextCheckAt
	// while the job is open (it stays in the open index) or ExpiresAt once
	// it is terminal (it leaves the index). The version becomes
	// prevVersion+1; ErrConflict when it was no longer prevVersion.
	SaveCheck(ctx context.Context, job Job, prevVersion int64) error
	// SettleLeads stores what Zoho made of the leads of an ended job (its
	// results) and moves the claims that still point at job as Settle
	// decides. It returns the leads to send again, including those a
	// previous, interrupted try left to retry, so that it can be repeated.
	SettleLeads(ctx context.Context, job Job, results []LeadResult, p SettlePolicy) (retry []string, err error)
	// Job returns a stored job, with its options, or ErrNotFound.
	Job(ctx context.Context, id string) (Job, error)
}

// CheckSaveable refuses a check that would leave an open job without a next
// check: it would stay open and never be looked at again.
func CheckSaveable(job Job) error {
	if job.State.Open() && job.NextCheckAt.IsZero() {
		return fmt.Errorf("jobs: job %s is open without a next check", job.ID)
	}
	return nil
}

// Uniq returns ids without repeats, in first-seen order.
func Uniq(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// CheckLeaser is the per-job lease of the status function: a run takes it
// before it reads a job's leads back or sends them again, so that two
// overlapping runs never both pay Zoho for the same job. It is optional:
// a store without it leaves overlapping runs to the version check of
// SaveCheck alone, which keeps them correct but not frugal.
type CheckLeaser interface {
	// LeaseCheck takes the check lease of job id for owner until until, on
	// the condition that the job is still at version and that no other
	// owner's lease is live at now (jobs.Lapsed). It answers ErrConflict
	// otherwise, ErrNotFound for a job it does not have. SaveCheck ends the
	// lease.
	LeaseCheck(ctx context.Context, id string, version int64, owner string, now, until time.Time) error
}

// CompletionWindow is how many completion times CompletionStats keeps per
// size bucket: the recent jobs, enough for a quantile, in one small item.
const CompletionWindow = 20

// Completions are the completion times (whole seconds from the record to
// the end Zoho reported) of the recent jobs, by size bucket, newest last,
// at most CompletionWindow each.
type Completions map[string][]int64

// Add appends secs to bucket b, keeping the newest CompletionWindow.
func (c Completions) Add(b string, secs ...int64) {
	all := append(c[b], secs...)
	c[b] = all[max(len(all)-CompletionWindow, 0):]
}

// CompletionStats keeps the completion times the status function has seen,
// from which it learns when to look at a job first.
type CompletionStats interface {
	// Completions reads the statistic; empty when nothing was recorded.
	Completions(ctx context.Context) (Completions, error)
	// AddCompletions adds times by bucket, keeping CompletionWindow each;
	// concurrent adds are all kept.
	AddCompletions(ctx context.Context, add Completions) error
}
