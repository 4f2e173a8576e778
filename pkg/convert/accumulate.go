package convert

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// Fleet-wide batching. Leads that do not fill a call in their own batch
// are parked in their option set's accumulator in the table, where the
// leads of every invocation and instance meet. Whoever parks the 50th lead
// takes the accumulator and sends it. The invocation that parks the first
// lead of a generation sets a Timer; when it fires (at most MaxWait after
// that lead arrived), Wake sends whatever the generation holds. A taken
// generation whose sender vanished is sent by the next Wake for it, once
// the sender's lease lapses. docs/architecture.md has the whole picture.

// Accumulate handles a batch of submissions as Convert does, except that
// what does not fill a call is parked to meet the leads of other
// invocations: full calls go out now, the rest within MaxWait. A parked
// lead counts as done for its submission: it is durably on its way.
func (s *Service) Accumulate(ctx context.Context, subs []Submission) []Result {
	if s.cfg.Timer == nil {
		return s.Convert(ctx, subs)
	}
	r, ctx, cancel := s.newRun(ctx, subs)
	defer cancel()
	a := &accumulator{r}
	groups := r.group(subs)
	var wg sync.WaitGroup
	defer wg.Wait() // on a panic too: no send outlives the invocation's answer
	for _, g := range groups {
		a.park(ctx, &wg, g, r.feed(ctx, &wg, g))
	}
	wg.Wait()
	return r.results(subs)
}

// accumulator is a run of Accumulate: the steps that park leads to meet
// other invocations' leads, over the run's shared steps.
type accumulator struct{ *run }

// parkAttempts bounds the re-reads when other invocations keep changing an
// accumulator; the leads left over are handed back for a retry.
const parkAttempts = 20

// park parks ids (claimed by this run) in g's accumulator, taking it and
// sending it on the side (wg) whenever it fills.
func (a *accumulator) park(ctx context.Context, wg *sync.WaitGroup, g *group, ids []string) {
	store, now := a.s.cfg.Store, a.s.cfg.Now()
	expires := now.Add(a.s.cfg.MaxWait + a.s.cfg.ParkedFor)
	for attempt := 0; len(ids) > 0; attempt++ {
		if a.stopping(ctx) {
			a.answer(ids, leadOutcome{verdict: TryLater, code: "DEADLINE", reason: "not enough time left in this invocation"})
			return
		}
		if attempt == parkAttempts {
			a.release(ctx, g, ids, leadOutcome{verdict: TryLater, code: "BUSY", reason: "the accumulator kept changing"})
			return
		}
		acc, err := store.Acc(ctx, g.fp)
		if err != nil {
			a.storeFailed(ctx, g, ids, "read the accumulator", err)
			return
		}
		acc.Options, acc.APIVersion = g.optJSON, a.s.cfg.APIVersion
		if len(acc.LeadIDs) >= jobs.MaxLeadsPerBatch || a.overdue(acc, now) {
			// Full, but its filler did not take it; or its wait ran out and
			// its timer is late or lost: either way, this run sends it.
			a.takeAndSend(ctx, wg, g, acc)
			continue
		}
		n := min(jobs.MaxLeadsPerBatch-len(acc.LeadIDs), len(ids))
		accepted := a.acceptedOf(ids[:n], now)
		if len(acc.LeadIDs) == 0 {
			// A generation's clock starts when its first lead was accepted,
			// not when it was parked: the lead's own time in the event
			// source's gatherer counts against its wait.
			acc.OpenedAt = accepted
		}
		parked, held, err := store.Park(ctx, a.owner, acc, ids[:n], a.sourcesOf(ids[:n]), now, expires)
		switch {
		case errors.Is(err, jobs.ErrChanged):
			continue
		case err != nil:
			a.storeFailed(ctx, g, ids, "park the leads", err)
			return
		}
		a.answerClaimed(ctx, held)
		a.metrics.Count("LeadsParked", len(parked))
		out := leadOutcome{verdict: Done, parked: true}
		opened := len(acc.LeadIDs) == 0 && len(parked) > 0
		if opened || len(parked) > 0 && accepted.Before(acc.OpenedAt.Add(-earlierLead)) {
			// This run opened the generation, or parked a lead accepted well
			// before the one that did (another gatherer held it longer): the
			// timer is ours to set, for the earliest lead.
			a.woken[acc.Key()] = true
			first := acc.OpenedAt
			if opened || accepted.Before(first) {
				first = accepted
			}
			if err := a.wake(ctx, acc.Key(), first, now); err != nil {
				// Parked without a timer: hand the messages back, so their
				// redelivery finds the leads parked and sets it again.
				out = leadOutcome{verdict: TryLater, code: "TIMER_UNAVAILABLE", reason: "could not set the accumulator's timer"}
			}
		}
		a.answer(parked, out)
		if len(acc.LeadIDs)+len(parked) >= jobs.MaxLeadsPerBatch {
			acc.LeadIDs = append(acc.LeadIDs, parked...)
			acc.Sources = append(acc.Sources, a.sourcesOf(parked)...)
			a.takeAndSend(ctx, wg, g, acc)
		}
		ids = ids[n:]
	}
}

// earlierLead is how much earlier than a generation's first lead another
// lead must have been accepted for its parking to set the timer again, for
// its own wait: gatherers hold leads for different times, and a wake-up
// costs one SQS message.
const earlierLead = 5 * time.Second

// overdueGrace is how late a timer may be before the next run that parks
// into its generation sends it instead: SQS delivers delayed messages a
// little late at times, and a wake-up can be lost with a dead invocation.
const overdueGrace = 30 * time.Second

// overdue reports whether acc's first lead has waited past MaxWait and the
// grace: its wake-up should have sent it by now.
func (a *accumulator) overdue(acc jobs.Acc, now time.Time) bool {
	return len(acc.LeadIDs) > 0 && !acc.OpenedAt.IsZero() && now.Sub(acc.OpenedAt) >= a.s.cfg.MaxWait+overdueGrace
}

// acceptedOf is when the earliest of ids was accepted (now if none says).
func (a *accumulator) acceptedOf(ids []string, now time.Time) time.Time {
	earliest := now
	for _, id := range ids {
		if f, ok := a.first[id]; ok {
			if a := a.subs[f.sub].Accepted; !a.IsZero() && a.Before(earliest) {
				earliest = a
			}
		}
	}
	return earliest
}

// takeAndSend takes a full accumulator and sends it on the side. Losing
// the race to another taker is fine: that one sends it.
func (a *accumulator) takeAndSend(ctx context.Context, wg *sync.WaitGroup, g *group, acc jobs.Acc) {
	b, err := a.s.cfg.Store.Take(ctx, acc, a.runID, a.until)
	switch {
	case errors.Is(err, jobs.ErrChanged):
		return
	case err != nil:
		// The generation's timer takes it later.
		a.s.cfg.Logger.WarnContext(ctx, "taking a full accumulator failed", "batch", acc.Key().String(), "error", err)
		a.metrics.CountBy("StoreErrors", "Operation", "take", 1)
		return
	}
	bg := a.batchGroup(g, b)
	a.spawn(wg, func() { a.sendLimited(ctx, bg, b.LeadIDs) })
}

func (a *accumulator) sourcesOf(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if f, ok := a.first[id]; ok {
			out[i] = a.subs[f.sub].Source
		}
	}
	return out
}

func (a *accumulator) storeFailed(ctx context.Context, g *group, ids []string, what string, err error) {
	a.s.cfg.Logger.ErrorContext(ctx, "could not "+what, "leads", len(ids), "error", err)
	a.metrics.CountBy("StoreErrors", "Operation", "park", 1)
	a.release(ctx, g, ids, leadOutcome{verdict: TryLater, code: "STORE_UNAVAILABLE", reason: "could not " + what})
}
