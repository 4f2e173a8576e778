package convert

import (
	"context"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// The steps on batches that accumulating and waking share: setting a
// batch's timer, sending its leads, lettering it when Zoho refuses its
// options, dropping it once none of its leads is left.

// wake sets the timer of a generation opened at openedAt (or now): it fires
// MaxWait after, less WakeEarly for the time the wake-up message spends in
// the event source's gatherer.
func (r *run) wake(ctx context.Context, key jobs.BatchKey, openedAt, now time.Time) error {
	if openedAt.IsZero() {
		openedAt = now
	}
	after := max(openedAt.Add(r.s.cfg.MaxWait-r.s.cfg.WakeEarly).Sub(now), 0)
	if err := r.s.cfg.Timer.Wake(ctx, Wakeup{Key: key}, after); err != nil {
		r.s.cfg.Logger.ErrorContext(ctx, "setting an accumulator's timer failed", "batch", key.String(), "error", err)
		r.metrics.Count("TimerErrors", 1)
		return err
	}
	return nil
}

// batchGroup is a group whose leads come from batch b.
func (r *run) batchGroup(g *group, b jobs.Batch) *group {
	bg := &group{options: g.options, fp: b.Fingerprint, optJSON: b.Options, batch: b.Key(),
		batchSources: make(map[string]string, len(b.LeadIDs))}
	for i, id := range b.LeadIDs {
		if i < len(b.Sources) {
			bg.batchSources[id] = b.Sources[i]
		}
	}
	return bg
}

// sendLimited sends with at most MaxConcurrency calls in flight per run.
// It runs on one of the run's goroutines, where a panic would end the
// process and fail every message of the invocation: a panic fails these
// leads only.
func (r *run) sendLimited(ctx context.Context, g *group, ids []string) {
	defer r.survive(ctx, func() {
		r.answerRest(ids, leadOutcome{verdict: TryLater, code: "INTERNAL", reason: "internal error"})
	})
	r.sem <- struct{}{}
	defer func() { <-r.sem }()
	r.send(ctx, g, ids)
}

// answerParked answers for leads already parked: done, they are on
// their way. Their generation is woken again, in case the run that opened
// it died before setting its timer (wake-ups are idempotent).
func (r *run) answerParked(ctx context.Context, parked []jobs.Claim) {
	for _, c := range parked {
		key, _ := c.Owner.Batch()
		out := leadOutcome{verdict: Done, parked: true}
		if r.s.cfg.Timer != nil && !r.woken[key] {
			r.woken[key] = true
			if err := r.wake(ctx, key, time.Time{}, r.s.cfg.Now()); err != nil {
				out = leadOutcome{verdict: TryLater, code: "TIMER_UNAVAILABLE", reason: "could not set the accumulator's timer"}
			}
		}
		r.answer([]string{c.LeadID}, out)
		r.metrics.Count("DuplicatesPrevented", 1)
	}
}

// letterBatch settles the leads of a batch whose options Zoho refused
// (send then ends the batch, once every lead of it is settled): each lead
// is lettered, free for the letter's redrive and showing why, and then the
// request is dead-lettered whole, with every submission that asked; the
// letter is the only copy of its options. In that order, so that a redrive
// of the letter, however soon, finds its leads free to claim, and a crash
// between the two leaves the leads lettered in a batch that still exists:
// the wake-up that takes it over sends their letter (sendLetter). It
// returns the leads that are not settled yet (their letter write, or the
// letter, failed): the batch must outlive this call for them.
func (r *run) letterBatch(ctx context.Context, g *group, ids []string, out leadOutcome) (unsettled []string) {
	expires := r.s.cfg.Now().Add(r.s.cfg.RejectionMemory)
	var lettered []string
	for _, id := range ids {
		if err := r.s.cfg.Store.Letter(ctx, g.batch.Owner(), id, out.code+": "+out.reason, expires); err != nil {
			r.s.cfg.Logger.WarnContext(ctx, "recording a refused lead failed; it stays in its batch", "lead_id", id, "error", err)
			unsettled = append(unsettled, id)
			continue
		}
		lettered = append(lettered, id)
	}
	if len(lettered) > 0 && !r.sendLetter(ctx, g, lettered, out.code, out.reason) {
		unsettled = append(unsettled, lettered...)
	}
	r.metrics.Count("BatchesRefused", 1)
	return unsettled
}

// sendLetter dead-letters the request for ids with g's options; false if
// the letter could not be sent.
func (r *run) sendLetter(ctx context.Context, g *group, ids []string, code, reason string) bool {
	if r.s.cfg.Refused == nil {
		return true
	}
	req := *g.options
	req.IDs = ids
	if err := r.s.cfg.Refused(ctx, &req, r.sources(g, ids), code, reason); err != nil {
		r.s.cfg.Logger.ErrorContext(ctx, "dead-lettering a refused batch failed; the batch is kept for its next wake-up",
			"batch", g.batch.String(), "leads", len(ids), "error", err)
		return false
	}
	return true
}

// dropBatch ends g's batch, none of whose leads is left to send. If that
// fails, a wake-up that takes it over finds no lead parked in it and drops
// it then.
func (r *run) dropBatch(ctx context.Context, g *group) {
	if g.batch == (jobs.BatchKey{}) {
		return
	}
	if err := r.s.cfg.Store.DropBatch(ctx, g.batch); err != nil {
		r.s.cfg.Logger.WarnContext(ctx, "dropping a batch failed", "batch", g.batch.String(), "error", err)
	}
}
