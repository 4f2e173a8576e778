package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/credits"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// dueKey orders the due jobs as the DynamoDB store does: by the next check
// in unix seconds, then by id.
type dueKey struct {
	at int64
	id string
}

// due is the due jobs from cursor on. As the DynamoDB store, it reads them
// for the first page and the cursor holds the ids of the pages to come.
func (m *Store) due(now time.Time, cursor string) ([]string, error) {
	if cursor != "" {
		rest, ok := strings.CutPrefix(cursor, "due:")
		ids := strings.Split(rest, ",")
		for _, id := range ids {
			if !ok || !jobs.IsJobID(id) {
				return nil, fmt.Errorf("jobs: malformed cursor")
			}
		}
		return ids, nil
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

func (m *Store) DueJobs(_ context.Context, now time.Time, limit int, cursor string) ([]string, string, error) {
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

func (m *Store) CountDue(_ context.Context, now time.Time, cursor string) (int, error) {
	ids, err := m.due(now, cursor)
	return len(ids), err
}

func (m *Store) Jobs(_ context.Context, ids []string) ([]jobs.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []jobs.Job
	for _, id := range jobs.Uniq(ids) {
		if j, ok := m.jobs[id]; ok {
			j.LeadIDs, j.Sources, j.Options, j.Results = slices.Clone(j.LeadIDs), slices.Clone(j.Sources), "", nil
			out = append(out, j)
		}
	}
	return out, nil
}

func (m *Store) SaveCheck(_ context.Context, job jobs.Job, prevVersion int64) error {
	if err := jobs.CheckSaveable(job); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[job.ID]
	switch {
	case !ok:
		return jobs.ErrNotFound
	case j.Version != prevVersion:
		return jobs.ErrConflict
	}
	j.State, j.ZohoStatus, j.Reason = job.State, job.ZohoStatus, job.Reason
	j.Total, j.Converted, j.FailedCount = job.Total, job.Converted, job.FailedCount
	// Only the figure of the job's kind is kept, as the DynamoDB store keeps it.
	j.SetNotConvertedFigure(job.NotConvertedFigure())
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
	delete(m.leases, job.ID) // the save ends the check lease
	return nil
}

// checkLease is a job's check lease (jobs.CheckLeaser).
type checkLease struct {
	owner string
	until time.Time
}

// LeaseCheck takes the check lease of job id, as the table store does.
func (m *Store) LeaseCheck(_ context.Context, id string, version int64, owner string, now, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	switch {
	case !ok:
		return jobs.ErrNotFound
	case j.Version != version:
		return jobs.ErrConflict
	}
	if l, held := m.leases[id]; held && l.owner != owner && !jobs.Lapsed(l.until, now) {
		return jobs.ErrConflict
	}
	if m.leases == nil {
		m.leases = map[string]checkLease{}
	}
	m.leases[id] = checkLease{owner, until.Truncate(time.Millisecond)}
	return nil
}

// Completions returns a copy of the completion times.
func (m *Store) Completions(context.Context) (jobs.Completions, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(jobs.Completions, len(m.completions))
	for b, secs := range m.completions {
		out[b] = slices.Clone(secs)
	}
	return out, nil
}

// AddCompletions adds completion times, keeping jobs.CompletionWindow a bucket.
func (m *Store) AddCompletions(_ context.Context, add jobs.Completions) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.completions == nil {
		m.completions = jobs.Completions{}
	}
	for b, secs := range add {
		m.completions.Add(b, secs...)
	}
	return nil
}

func (m *Store) SettleLeads(_ context.Context, job jobs.Job, results []jobs.LeadResult, p jobs.SettlePolicy) ([]string, error) {
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
		next, write := jobs.Settle(c, job, r, p)
		if write {
			next.ExpiresAt = seconds(next.ExpiresAt)
			m.claims[r.LeadID] = next
			if next.State == jobs.Rejected && p.Rejected != nil {
				p.Rejected(c, r)
			}
		}
		if next.State == jobs.Retry && next.JobID == job.ID {
			retry = append(retry, r.LeadID)
		}
	}
	return retry, nil
}

// LoadCredits returns the last figure saved (credits.Store).
func (m *Store) LoadCredits(context.Context) (credits.Seen, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.credits, nil
}

// SaveCredits keeps s unless a newer figure is saved.
func (m *Store) SaveCredits(_ context.Context, s credits.Seen) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.At.After(m.credits.At) {
		m.credits = s
	}
	return nil
}
