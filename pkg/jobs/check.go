package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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

var _ CheckStore = (*MemoryStore)(nil)

// CheckSaveable refuses a check that would leave an open job without a next
// check: it would stay open and never be looked at again.
func CheckSaveable(job Job) error {
	if job.State.Open() && job.NextCheckAt.IsZero() {
		return fmt.Errorf("jobs: job %s is open without a next check", job.ID)
	}
	return nil
}

// dueKey orders the due jobs as the DynamoDB store does: by the next check
// in unix seconds, then by id.
type dueKey struct {
	at int64
	id string
}

// due is the due jobs from cursor on. As the DynamoDB store, it reads them
// for the first page and the cursor holds the ids of the pages to come.
func (m *MemoryStore) due(now time.Time, cursor string) ([]string, error) {
	if cursor != "" {
		rest, ok := strings.CutPrefix(cursor, "due:")
		if !ok || rest == "" {
			return nil, fmt.Errorf("jobs: malformed cursor")
		}
		return strings.Split(rest, ","), nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []dueKey
	for id, j := range m.jobs {
		if k := (dueKey{j.NextCheckAt.Unix(), id}); j.State.Open() && k.at <= now.Unix() {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b dueKey) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id)) })
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	return ids, nil
}

func (m *MemoryStore) DueJobs(_ context.Context, now time.Time, limit int, cursor string) ([]string, string, error) {
	ids, err := m.due(now, cursor)
	if err != nil {
		return nil, "", err
	}
	limit = max(limit, 1)
	if len(ids) <= limit {
		return ids, "", nil
	}
	return ids[:limit], "due:" + strings.Join(ids[limit:], ","), nil
}

func (m *MemoryStore) CountDue(_ context.Context, now time.Time, cursor string) (int, error) {
	ids, err := m.due(now, cursor)
	return len(ids), err
}

func (m *MemoryStore) Jobs(_ context.Context, ids []string) ([]Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Job
	for _, id := range Uniq(ids) {
		if j, ok := m.jobs[id]; ok {
			j.LeadIDs, j.Sources, j.Options, j.Results = slices.Clone(j.LeadIDs), slices.Clone(j.Sources), "", nil
			out = append(out, j)
		}
	}
	return out, nil
}

func (m *MemoryStore) SaveCheck(_ context.Context, job Job, prevVersion int64) error {
	if err := CheckSaveable(job); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[job.ID]
	switch {
	case !ok:
		return ErrNotFound
	case j.Version != prevVersion:
		return ErrConflict
	}
	j.State, j.ZohoStatus, j.Reason = job.State, job.ZohoStatus, job.Reason
	j.Total, j.Converted, j.NotConverted, j.FailedCount = job.Total, job.Converted, job.NotConverted, job.FailedCount
	j.CheckedAt, j.UpdatedAt, j.Checks = job.CheckedAt, job.UpdatedAt, job.Checks
	// Times are kept to the second, as DynamoDB keeps them.
	if job.State.Open() {
		j.NextCheckAt, j.ExpiresAt = time.Unix(job.NextCheckAt.Unix(), 0), time.Time{}
	} else {
		j.NextCheckAt, j.ExpiresAt = time.Time{}, time.Time{}
		if !job.ExpiresAt.IsZero() {
			j.ExpiresAt = time.Unix(job.ExpiresAt.Unix(), 0)
		}
	}
	j.Version = prevVersion + 1
	m.jobs[job.ID] = j
	return nil
}

func (m *MemoryStore) SettleLeads(_ context.Context, job Job, results []LeadResult, p SettlePolicy) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if j, ok := m.jobs[job.ID]; ok {
		j.Results = slices.Clone(results)
		m.jobs[job.ID] = j
	}
	var retry []string
	for _, r := range results {
		c, ok := m.claims[r.LeadID]
		if !ok {
			continue
		}
		next, write := Settle(c, job, r, p)
		if write {
			m.claims[r.LeadID] = next
		}
		if next.State == Retry && next.JobID == job.ID {
			retry = append(retry, r.LeadID)
		}
	}
	return retry, nil
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
