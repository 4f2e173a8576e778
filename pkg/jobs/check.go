package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrConflict is returned by SaveCheck when the job is no longer at the
// version the caller read: another run has checked it meanwhile.
var ErrConflict = errors.New("jobs: the job changed since it was read")

// CheckStore is what the status function needs: the due jobs, oldest
// recorded first, and conditional updates of the jobs it checks.
type CheckStore interface {
	// DueJobs returns up to limit ids of open jobs whose next check is at
	// or before now, the oldest recorded first, and a cursor for the next
	// page ("" when there is none; a page may be empty). A check does not
	// move a job in that order, so a run's cursor never skips one.
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
	// ReleaseJobClaims drops the claims of leadIDs (leads of job) that still
	// point at job, so that those leads can be submitted again, and returns
	// how many it dropped.
	ReleaseJobClaims(ctx context.Context, job Job, leadIDs []string) (int, error)
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

// dueKey orders the open index as DynamoDB does: by created_at, then (as
// DynamoDB orders equal index keys) by the item's key, here the id.
type dueKey struct {
	created int64 // unix nanoseconds
	id      string
}

func (k dueKey) String() string { return strconv.FormatInt(k.created, 10) + "/" + k.id }

func (m *MemoryStore) due(now time.Time, cursor string) ([]dueKey, error) {
	var after *dueKey
	if cursor != "" {
		at, id, ok := strings.Cut(cursor, "/")
		v, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("jobs: malformed cursor")
		}
		after = &dueKey{v, id}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []dueKey
	for id, j := range m.jobs {
		k := dueKey{j.CreatedAt.UnixNano(), id}
		if j.State.Open() && j.NextCheckAt.Unix() <= now.Unix() && (after == nil || cmpDue(k, *after) > 0) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, cmpDue)
	return keys, nil
}

func cmpDue(a, b dueKey) int {
	return cmp.Or(cmp.Compare(a.created, b.created), cmp.Compare(a.id, b.id))
}

func (m *MemoryStore) DueJobs(_ context.Context, now time.Time, limit int, cursor string) ([]string, string, error) {
	keys, err := m.due(now, cursor)
	if err != nil {
		return nil, "", err
	}
	limit = max(limit, 1)
	next := ""
	if len(keys) > limit {
		keys, next = keys[:limit], keys[limit-1].String()
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	return ids, next, nil
}

func (m *MemoryStore) CountDue(_ context.Context, now time.Time, cursor string) (int, error) {
	keys, err := m.due(now, cursor)
	return len(keys), err
}

func (m *MemoryStore) Jobs(_ context.Context, ids []string) ([]Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Job
	for _, id := range Uniq(ids) {
		if j, ok := m.jobs[id]; ok {
			j.LeadIDs, j.Sources, j.Options = slices.Clone(j.LeadIDs), slices.Clone(j.Sources), ""
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

func (m *MemoryStore) ReleaseJobClaims(_ context.Context, job Job, leadIDs []string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	released := 0
	for _, id := range Uniq(leadIDs) {
		if c, ok := m.claims[id]; ok && c.State == ClaimScheduled && c.JobID == job.ID {
			delete(m.claims, id)
			released++
		}
	}
	return released, nil
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
