package jobcheck

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/credits"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// Fewer Zoho calls per job (issue 19). A job of 50 leads that Zoho
// finishes before its first check used to cost a status call and then a
// read-back; the read-back alone tells all when every lead reads
// converted. So, once the completion times say that jobs of its size have
// usually finished by then, a job's first check reads its leads back first
// and ends the job there when all are converted. Anything else (a lead not
// converted, not found, unread) may be a job Zoho is still running: the
// check then asks Zoho's status as before, and only Zoho's end settles the
// leads. The first check itself is put off until recent jobs of the size
// have usually finished, within FirstCheckMin and FirstCheckMax.

// Defaults of the first check's bounds and of the check lease.
const (
	DefaultFirstCheckMin = 30 * time.Second
	DefaultFirstCheckMax = 15 * time.Minute
	DefaultLeaseFor      = 2 * time.Minute
)

// MinCompletionSamples is how many completion times a size bucket needs
// before they move a first check: fewer say too little.
const MinCompletionSamples = 3

// completionQuantile is the share of recent jobs that must have finished
// by the first check for it to read back first: reading first pays when
// more than half would have ended, and three in four leaves room for drift.
const completionQuantile = 0.75

// SizeBucket names the bucket of a job of n leads in the completion
// statistic: Zoho's time grows with the leads of a job.
func SizeBucket(n int) string {
	switch {
	case n <= 10:
		return "s10"
	case n <= 25:
		return "s25"
	}
	return "s50"
}

// firstCheck is what the statistic says of a job's first check.
type firstCheck struct {
	wait        time.Duration // from the record, within the bounds
	usuallyDone bool          // jobs of the size have usually finished by wait
}

// learned reads the statistic (once a run) and says when to look first at
// a job of n leads; false without enough samples: today's schedule holds.
func (r *run) learned(ctx context.Context, n int) (firstCheck, bool) {
	cfg := r.c.cfg
	if cfg.Completions == nil {
		return firstCheck{}, false
	}
	r.statsOnce.Do(func() {
		c, err := cfg.Completions.Completions(ctx)
		if err != nil {
			cfg.Logger.WarnContext(ctx, "jobcheck: reading the completion times; today's schedule holds this run", "error", err)
		}
		r.stats = c
	})
	secs := slices.Clone(r.stats[SizeBucket(n)])
	if len(secs) < MinCompletionSamples {
		return firstCheck{}, false
	}
	slices.Sort(secs)
	k := int(math.Ceil(float64(len(secs))*completionQuantile)) - 1 // the quantile's sample
	d := time.Duration(secs[max(k, 0)]) * time.Second
	return firstCheck{wait: min(max(d, cfg.FirstCheckMin), cfg.FirstCheckMax), usuallyDone: d <= cfg.FirstCheckMax}, true
}

// first runs a job's first check where the statistic changes it, and
// reports whether it dealt with the job; false: ask Zoho's status.
func (r *run) first(ctx context.Context, log *slog.Logger, j jobs.Job) bool {
	fc, ok := r.learned(ctx, len(jobs.Uniq(j.LeadIDs)))
	if !ok || j.CreatedAt.IsZero() {
		return false
	}
	now := r.c.cfg.Now()
	if at := j.CreatedAt.Add(fc.wait); now.Before(at) && len(r.req.JobIDs) == 0 {
		r.defer1(ctx, log, j, at, now)
		return true
	}
	if !fc.usuallyDone {
		return false
	}
	return r.readFirst(ctx, log, j)
}

// defer1 puts a job's first check off to at, without asking Zoho: one
// small write where a status call would most likely find it running.
func (r *run) defer1(ctx context.Context, log *slog.Logger, j jobs.Job, at, now time.Time) {
	version := j.Version
	j.NextCheckAt, j.UpdatedAt = at, now
	r.saveAside(ctx, log, j, version, "putting off a first check", "FirstChecksDeferred", func(rep *Report) { rep.Deferred++ })
}

// saveAside writes a check that asked Zoho nothing, and counts it under
// metric and in the report (count) once written.
func (r *run) saveAside(ctx context.Context, log *slog.Logger, j jobs.Job, version int64, what, metric string, count func(*Report)) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch err := r.c.cfg.Store.SaveCheck(wctx, j, version); {
	case errors.Is(err, jobs.ErrConflict):
		r.count(func(rep *Report) { rep.Conflicts++ })
		r.m.Count("Conflicts", 1)
	case err != nil:
		r.count(func(rep *Report) { rep.Errors++ })
		log.ErrorContext(ctx, "jobcheck: "+what, "error", err)
	default:
		r.count(count)
		r.m.Count(metric, 1)
	}
}

// readFirst reads a job's leads back before asking its status. All
// converted: the job is done, with its outcomes, without a status call.
// Otherwise it reports false and the status call decides, as before: a
// job still running may show some leads converted and not others.
func (r *run) readFirst(ctx context.Context, log *slog.Logger, j jobs.Job) bool {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if !r.lease(ctx, wctx, log, j) {
		return true
	}
	out, err := r.readBack(wctx, log, j)
	if err != nil {
		r.count(func(rep *Report) { rep.Errors++ })
		log.WarnContext(ctx, "jobcheck: reading the leads of a job back before its status; it stays due", "error", err)
		return true
	}
	n := len(jobs.Uniq(j.LeadIDs))
	if out.unread || len(out.results) != n || len(out.notConverted()) > 0 {
		return false
	}
	before := j
	now := r.c.cfg.Now()
	j.State, j.Checks, j.CheckedAt, j.UpdatedAt = jobs.Completed, j.Checks+1, now, now
	j.Total, j.Converted, j.Waiting, j.FailedCount = n, n, 0, 0
	j.NextCheckAt, j.ExpiresAt = time.Time{}, now.Add(r.c.cfg.Retention)
	resent, err := r.settle(wctx, j, out)
	if err != nil {
		r.count(func(rep *Report) { rep.Errors++ })
		log.ErrorContext(ctx, "jobcheck: settling the leads of a job read back; it stays due", "error", err)
		return true
	}
	if r.store(ctx, wctx, log, before, j, out, resent) {
		r.count(func(rep *Report) { rep.DoneByReadBack++ })
		r.m.Count("JobsDoneByReadBack", 1)
	}
	return true
}

// lease takes the job's check lease before its leads are read back or sent
// again, so that an overlapping run does not pay Zoho for them too. False:
// another run has the job (counted as a conflict) or the lease could not
// be written (an error); either way the job is left as it is.
func (r *run) lease(ctx, wctx context.Context, log *slog.Logger, j jobs.Job) bool {
	l := r.c.cfg.Leases
	if l == nil {
		return true
	}
	now := r.c.cfg.Now()
	switch err := l.LeaseCheck(wctx, j.ID, j.Version, r.owner, now, now.Add(r.c.cfg.LeaseFor)); {
	case err == nil, errors.Is(err, jobs.ErrNotFound):
		// Not found: the save will say so; nothing to guard.
		return true
	case errors.Is(err, jobs.ErrConflict):
		r.count(func(rep *Report) { rep.Conflicts++ })
		r.m.Count("Conflicts", 1)
		log.InfoContext(ctx, "jobcheck: another run holds this job")
		return false
	default:
		r.count(func(rep *Report) { rep.Errors++ })
		log.WarnContext(ctx, "jobcheck: taking the check lease of a job; it stays due", "error", err)
		return false
	}
}

// completed notes how long Zoho took over a job that ended: from the
// record to the latest conversion time Zoho gave, else to the middle of
// the span between the last look that found it open and this one.
func (r *run) completed(before, j jobs.Job, out readout) {
	if r.c.cfg.Completions == nil || j.CreatedAt.IsZero() || (j.State != jobs.Completed && j.State != jobs.Failed) {
		return
	}
	var d time.Duration
	if t := out.lastConverted; !t.IsZero() && t.After(j.CreatedAt) && !t.After(j.CheckedAt) {
		d = t.Sub(j.CreatedAt)
	} else {
		last := before.CheckedAt
		if last.IsZero() || last.Before(j.CreatedAt) {
			last = j.CreatedAt
		}
		d = last.Sub(j.CreatedAt) + j.CheckedAt.Sub(last)/2
	}
	r.doneMu.Lock()
	defer r.doneMu.Unlock()
	if r.done == nil {
		r.done = jobs.Completions{}
	}
	r.done.Add(SizeBucket(len(jobs.Uniq(j.LeadIDs))), int64(max(d, 0)/time.Second))
}

// flushCompletions stores the completion times the run saw: one write a
// run, whatever number of jobs ended.
func (r *run) flushCompletions(ctx context.Context) {
	if len(r.done) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.c.cfg.Completions.AddCompletions(wctx, r.done); err != nil {
		r.c.cfg.Logger.WarnContext(ctx, "jobcheck: storing the completion times", "error", err)
	}
}

// runOwner names a run for the check leases it takes.
func runOwner() string { return "status:" + rand.Text() }

// CreditFloor says whether the org is below the deployment's credit floor
// (credits.Floor).
type CreditFloor interface {
	Below(ctx context.Context) (bool, credits.Seen)
}

// HeldReason marks an open job whose leads wait to be sent again until
// the org is above the credit floor.
const HeldReason = "held: the org is below the credit floor (MinZohoCreditsLeft); its leads are sent again once it is above"

// holdFor is how long a held job waits before it is looked at again; its
// looks cost a small write and no Zoho call while the floor holds.
const holdFor = 15 * time.Minute

// hold keeps a job open with what j says of it (Zoho's counts, the
// checks), its state as before, so that nothing is sent again and its
// leads are settled once the org is above the credit floor.
func (r *run) hold(ctx context.Context, log *slog.Logger, before, j jobs.Job) {
	now := r.c.cfg.Now()
	j.State, j.Reason = before.State, HeldReason
	j.NextCheckAt, j.ExpiresAt, j.UpdatedAt = now.Add(holdFor), time.Time{}, now
	r.saveAside(ctx, log, j, before.Version, "holding a job below the credit floor", "JobsHeldForCredits", func(rep *Report) { rep.Held++ })
}
