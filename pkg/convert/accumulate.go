package convert

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// Fleet-wide batching. Leads that do not fill a call in their own batch
// are parked in their option set's accumulator in the table, where the
// leads of every invocation and instance meet. Whoever parks the 50th lead
// takes the accumulator and sends it. The invocation that parks the first
// lead of a generation sets a Timer; when it fires (at most MaxWait after
// that lead arrived), Wake sends whatever the generation holds. A taken
// generation whose sender vanished is sent by the next Wake for it, once
// the sender's lease lapses. docs/architecture.md has the whole picture.

// Timer wakes a batch after a delay: a message on the conversion queue with
// DelaySeconds, which the convert function reads back (ParseWake).
type Timer interface {
	Wake(ctx context.Context, w Wakeup, after time.Duration) error
}

// Wakeup names the batch a wake-up sends, and how many wake-ups before it
// found it could not (Zoho throttling or down): the next waits longer.
type Wakeup struct {
	Key jobs.BatchKey
	Try int
}

// wakeMessage is the body of a wake-up message.
type wakeMessage struct {
	Wake struct {
		Fingerprint string `json:"fingerprint"`
		Gen         int64  `json:"gen"`
		Try         int    `json:"try,omitempty"`
	} `json:"wake"`
}

// WakeBody is the message of w.
func WakeBody(w Wakeup) string {
	var m wakeMessage
	m.Wake.Fingerprint, m.Wake.Gen, m.Wake.Try = w.Key.Fingerprint, w.Key.Gen, w.Try
	b, _ := json.Marshal(m) // strings and numbers always marshal
	return string(b)
}

// ParseWake reads a wake-up message; ok is false for anything else (a
// conversion request never has a "wake" key).
func ParseWake(body string) (w Wakeup, ok bool) {
	if !strings.HasPrefix(strings.TrimSpace(body), `{"wake"`) {
		return Wakeup{}, false
	}
	var m wakeMessage
	if json.Unmarshal([]byte(body), &m) != nil || m.Wake.Fingerprint == "" || m.Wake.Gen < 0 || m.Wake.Try < 0 {
		return Wakeup{}, false
	}
	return Wakeup{Key: jobs.BatchKey{Fingerprint: m.Wake.Fingerprint, Gen: m.Wake.Gen}, Try: m.Wake.Try}, true
}

// retryWakeups bounds the wake-ups a batch gets with a growing delay (30 s,
// 1, 2, 4, 8 minutes, then 15: about 2 hours in all); after that the
// wake-up is handed back to SQS, whose redrive takes it to the dead-letter
// queue, where the DLQ alarm reports it for an operator to redrive.
const retryWakeups = 12

// backoff is how long the try-th wake-up of a batch waits.
func backoff(try int) time.Duration { return min(30*time.Second<<min(try, 5), 15*time.Minute) }

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
	groups := r.group(subs)
	var wg sync.WaitGroup
	defer wg.Wait() // on a panic too: no send outlives the invocation's answer
	for _, g := range groups {
		r.park(ctx, &wg, g, r.feed(ctx, &wg, g))
	}
	wg.Wait()
	return r.results(subs)
}

// parkAttempts bounds the re-reads when other invocations keep changing an
// accumulator; the leads left over are handed back for a retry.
const parkAttempts = 20

// park parks ids (claimed by this run) in g's accumulator, taking it and
// sending it on the side (wg) whenever it fills.
func (r *run) park(ctx context.Context, wg *sync.WaitGroup, g *group, ids []string) {
	store, now := r.s.cfg.Store, r.s.cfg.Now()
	expires := now.Add(r.s.cfg.MaxWait + r.s.cfg.ParkedFor)
	for attempt := 0; len(ids) > 0; attempt++ {
		if r.stopping(ctx) {
			r.answer(ids, leadOutcome{verdict: TryLater, code: "DEADLINE", reason: "not enough time left in this invocation"})
			return
		}
		if attempt == parkAttempts {
			r.release(ctx, g, ids, leadOutcome{verdict: TryLater, code: "BUSY", reason: "the accumulator kept changing"})
			return
		}
		acc, err := store.Acc(ctx, g.fp)
		if err != nil {
			r.storeFailed(ctx, g, ids, "read the accumulator", err)
			return
		}
		acc.Options, acc.APIVersion = g.optJSON, r.s.cfg.APIVersion
		if len(acc.LeadIDs) >= jobs.MaxLeadsPerBatch || r.overdue(acc, now) {
			// Full, but its filler did not take it; or its wait ran out and
			// its timer is late or lost: either way, this run sends it.
			r.takeAndSend(ctx, wg, g, acc)
			continue
		}
		n := min(jobs.MaxLeadsPerBatch-len(acc.LeadIDs), len(ids))
		accepted := r.acceptedOf(ids[:n], now)
		if len(acc.LeadIDs) == 0 {
			// A generation's clock starts when its first lead was accepted,
			// not when it was parked: the lead's own time in the event
			// source's gatherer counts against its wait.
			acc.OpenedAt = accepted
		}
		parked, held, err := store.Park(ctx, r.owner, acc, ids[:n], r.sourcesOf(ids[:n]), now, expires)
		switch {
		case errors.Is(err, jobs.ErrChanged):
			continue
		case err != nil:
			r.storeFailed(ctx, g, ids, "park the leads", err)
			return
		}
		r.answerClaimed(ctx, held)
		r.metrics.Count("LeadsParked", len(parked))
		out := leadOutcome{verdict: Done, parked: true}
		opened := len(acc.LeadIDs) == 0 && len(parked) > 0
		if opened || len(parked) > 0 && accepted.Before(acc.OpenedAt.Add(-earlierLead)) {
			// This run opened the generation, or parked a lead accepted well
			// before the one that did (another gatherer held it longer): the
			// timer is ours to set, for the earliest lead.
			r.woken[acc.Key()] = true
			first := acc.OpenedAt
			if opened || accepted.Before(first) {
				first = accepted
			}
			if err := r.wake(ctx, acc.Key(), first, now); err != nil {
				// Parked without a timer: hand the messages back, so their
				// redelivery finds the leads parked and sets it again.
				out = leadOutcome{verdict: TryLater, code: "TIMER_UNAVAILABLE", reason: "could not set the accumulator's timer"}
			}
		}
		r.answer(parked, out)
		if len(acc.LeadIDs)+len(parked) >= jobs.MaxLeadsPerBatch {
			acc.LeadIDs = append(acc.LeadIDs, parked...)
			acc.Sources = append(acc.Sources, r.sourcesOf(parked)...)
			r.takeAndSend(ctx, wg, g, acc)
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
func (r *run) overdue(acc jobs.Acc, now time.Time) bool {
	return len(acc.LeadIDs) > 0 && !acc.OpenedAt.IsZero() && now.Sub(acc.OpenedAt) >= r.s.cfg.MaxWait+overdueGrace
}

// acceptedOf is when the earliest of ids was accepted (now if none says).
func (r *run) acceptedOf(ids []string, now time.Time) time.Time {
	earliest := now
	for _, id := range ids {
		if f, ok := r.first[id]; ok {
			if a := r.subs[f.sub].Accepted; !a.IsZero() && a.Before(earliest) {
				earliest = a
			}
		}
	}
	return earliest
}

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

// takeAndSend takes a full accumulator and sends it on the side. Losing
// the race to another taker is fine: that one sends it.
func (r *run) takeAndSend(ctx context.Context, wg *sync.WaitGroup, g *group, acc jobs.Acc) {
	b, err := r.s.cfg.Store.Take(ctx, acc, r.owner, r.until)
	switch {
	case errors.Is(err, jobs.ErrChanged):
		return
	case err != nil:
		// The generation's timer takes it later.
		r.s.cfg.Logger.WarnContext(ctx, "taking a full accumulator failed", "batch", acc.Key().String(), "error", err)
		r.metrics.CountBy("StoreErrors", "Operation", "take", 1)
		return
	}
	bg := r.batchGroup(g, b)
	r.spawn(wg, func() { r.sendLimited(ctx, bg, b.LeadIDs) })
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

func (r *run) sourcesOf(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if f, ok := r.first[id]; ok {
			out[i] = r.subs[f.sub].Source
		}
	}
	return out
}

// answerParked answers for leads already parked: done, they are on
// their way. Their generation is woken again, in case the run that opened
// it died before setting its timer (wake-ups are idempotent).
func (r *run) answerParked(ctx context.Context, parked []jobs.Claim) {
	for _, c := range parked {
		key, _ := jobs.BatchOfOwner(c.Owner)
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

func (r *run) storeFailed(ctx context.Context, g *group, ids []string, what string, err error) {
	r.s.cfg.Logger.ErrorContext(ctx, "could not "+what, "leads", len(ids), "error", err)
	r.metrics.CountBy("StoreErrors", "Operation", "park", 1)
	r.release(ctx, g, ids, leadOutcome{verdict: TryLater, code: "STORE_UNAVAILABLE", reason: "could not " + what})
}

// Wake sends the batches the wake-ups name: the accumulator's generation if
// it is still open, or the batch a vanished sender left, once its lease
// lapsed. Done means there is nothing left to send, or a later wake-up will
// try again (sent with a growing delay); TryLater, that this wake-up should
// come again.
func (s *Service) Wake(ctx context.Context, wakeups []Wakeup) []Verdict {
	r, ctx, cancel := s.newRun(ctx, nil)
	defer cancel()
	out := make([]Verdict, len(wakeups))
	// A wake-up delivered twice may come twice in one batch: the run holds a
	// batch's lease under its own name, so a second, concurrent wakeOne
	// would take the lease over from the first and send the batch again.
	first := map[jobs.BatchKey]int{}
	var wg sync.WaitGroup
	for i, w := range wakeups {
		if _, dup := first[w.Key]; dup {
			continue
		}
		first[w.Key] = i
		r.spawn(&wg, func() {
			defer r.survive(ctx, func() { out[i] = TryLater })
			out[i] = r.wakeOne(ctx, w.Key)
			if out[i] == TryLater && w.Try < retryWakeups {
				// Try again later, each time later, instead of after SQS's
				// fixed visibility timeout.
				next := Wakeup{Key: w.Key, Try: w.Try + 1}
				if err := s.cfg.Timer.Wake(ctx, next, backoff(w.Try)); err == nil {
					out[i] = Done
					r.metrics.Count("WakeupsDeferred", 1)
				}
			}
		})
	}
	wg.Wait()
	for i, w := range wakeups {
		out[i] = out[first[w.Key]]
	}
	return out
}

// wakeAttempts bounds the re-reads of a wake-up whose take keeps losing to
// invocations parking more leads; then it comes again later.
const wakeAttempts = 10

// wakeOne sends generation key: from the accumulator while the generation
// is open there (a take that lost to a lead parked meanwhile reads again),
// or, once it was taken, the batch its sender left, when the lease lapsed.
func (r *run) wakeOne(ctx context.Context, key jobs.BatchKey) Verdict {
	store := r.s.cfg.Store
	for range wakeAttempts {
		acc, err := store.Acc(ctx, key.Fingerprint)
		if err != nil {
			r.s.cfg.Logger.ErrorContext(ctx, "wake: reading the accumulator failed", "batch", key.String(), "error", err)
			return TryLater
		}
		switch {
		case acc.Gen < key.Gen:
			// No generation of this option set got that far: a wake-up
			// that names a batch nobody opened.
			r.s.cfg.Logger.WarnContext(ctx, "wake: no such batch", "batch", key.String(), "gen", acc.Gen)
			return Done
		case acc.Gen == key.Gen && len(acc.LeadIDs) == 0:
			return Done // nothing was ever parked in it
		case acc.Gen == key.Gen:
			b, err := store.Take(ctx, acc, r.owner, r.until)
			switch {
			case err == nil:
				r.metrics.Count("BatchesWoken", 1)
				return r.sendBatch(ctx, b, false)
			case errors.Is(err, jobs.ErrChanged):
				continue // a lead more was parked, or another took it: read again
			}
			r.s.cfg.Logger.WarnContext(ctx, "wake: taking the accumulator failed", "batch", key.String(), "error", err)
			return TryLater
		}
		return r.takeOver(ctx, key)
	}
	return TryLater
}

// takeOver sends a taken batch whose sender's lease lapsed.
func (r *run) takeOver(ctx context.Context, key jobs.BatchKey) Verdict {
	store, now := r.s.cfg.Store, r.s.cfg.Now()
	switch err := store.Lease(ctx, key, r.owner, now, r.until); {
	case errors.Is(err, jobs.ErrNotFound):
		return Done // sent and recorded, or dropped
	case errors.Is(err, jobs.ErrChanged):
		return TryLater // its sender is still at it
	case err != nil:
		return TryLater
	}
	b, err := store.Batch(ctx, key)
	if err != nil {
		return TryLater
	}
	r.metrics.Count("BatchesTakenOver", 1)
	return r.sendBatch(ctx, b, true)
}

// sendBatch sends a batch this run holds. A taken-over batch may hold leads
// its last sender already settled: only those still parked in it go.
func (r *run) sendBatch(ctx context.Context, b jobs.Batch, takenOver bool) Verdict {
	ids := b.LeadIDs
	if takenOver {
		claims, err := r.s.cfg.Store.Claims(ctx, b.LeadIDs)
		if err != nil {
			return TryLater
		}
		ids = nil
		var lettered []jobs.Claim
		for _, c := range claims {
			switch {
			case c.Owner != b.Key().Owner():
			case c.State == jobs.Parked:
				ids = append(ids, c.LeadID)
			case c.State == jobs.Lettered:
				lettered = append(lettered, c)
			}
		}
		if len(lettered) > 0 && !r.letterAgain(ctx, b, lettered) {
			return TryLater
		}
		if len(ids) == 0 {
			if err := r.s.cfg.Store.DropBatch(ctx, b.Key()); err != nil {
				return TryLater
			}
			return Done
		}
	}
	var opts zoho.ConvertRequest
	if err := json.Unmarshal([]byte(b.Options), &opts); err != nil {
		r.s.cfg.Logger.ErrorContext(ctx, "a batch's options do not decode", "batch", b.Key().String(), "error", err)
		return TryLater
	}
	g := r.batchGroup(&group{options: &opts}, b)
	r.sendLimited(ctx, g, ids)
	if !b.OpenedAt.IsZero() {
		// What batching added to the wait of the batch's first lead, from
		// its acceptance (MAX_WAIT_SECONDS bounds it where a timer sends).
		r.metrics.Longest("AddedWait", r.s.cfg.Now().Sub(b.OpenedAt))
	}
	verdict := Done
	r.mu.Lock()
	for _, id := range ids {
		if o := r.outcomes[id]; o.verdict == TryLater {
			verdict = TryLater
		}
	}
	r.mu.Unlock()
	return verdict
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

// letterAgain sends the letter of a batch's lettered leads, which the
// sender that lettered them may have died before sending: a letter sent
// twice is redriven harmlessly (the second finds its leads claimed), a
// letter never sent would lose them. It reports whether it was sent.
func (r *run) letterAgain(ctx context.Context, b jobs.Batch, lettered []jobs.Claim) bool {
	var opts zoho.ConvertRequest
	if err := json.Unmarshal([]byte(b.Options), &opts); err != nil {
		r.s.cfg.Logger.ErrorContext(ctx, "a batch's options do not decode", "batch", b.Key().String(), "error", err)
		return false
	}
	ids := make([]string, len(lettered))
	for i, c := range lettered {
		ids[i] = c.LeadID
	}
	code, reason, ok := strings.Cut(lettered[0].Reason, ": ")
	if !ok {
		code, reason = "REFUSED", lettered[0].Reason
	}
	return r.sendLetter(ctx, r.batchGroup(&group{options: &opts}, b), ids, code, reason)
}
