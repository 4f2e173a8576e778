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

// A message on the convert function's queues says it is a wake-up with a
// message attribute of its own, KindAttribute = KindWake; a request
// carries none. (A wake-up sent before wake-ups carried it is told by its
// body, ParseWake, until those have drained.)
const (
	KindAttribute = "kind"
	KindWake      = "wake"
)

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

// Wake sends the batches the wake-ups name: the accumulator's generation if
// it is still open, or the batch a vanished sender left, once its lease
// lapsed. Done means there is nothing left to send, or a later wake-up will
// try again (sent with a growing delay); TryLater, that this wake-up should
// come again.
func (s *Service) Wake(ctx context.Context, wakeups []Wakeup) []Verdict {
	r, ctx, cancel := s.newRun(ctx, nil)
	defer cancel()
	wk := &waker{r}
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
			out[i] = wk.wakeOne(ctx, w.Key)
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

// waker is a run of Wake: the steps that send a batch when its time is
// up, over the run's shared steps.
type waker struct{ *run }

// wakeAttempts bounds the re-reads of a wake-up whose take keeps losing to
// invocations parking more leads; then it comes again later.
const wakeAttempts = 10

// wakeOne sends generation key: from the accumulator while the generation
// is open there (a take that lost to a lead parked meanwhile reads again),
// or, once it was taken, the batch its sender left, when the lease lapsed.
func (w *waker) wakeOne(ctx context.Context, key jobs.BatchKey) Verdict {
	store := w.s.cfg.Store
	for range wakeAttempts {
		acc, err := store.Acc(ctx, key.Fingerprint)
		if err != nil {
			w.s.cfg.Logger.ErrorContext(ctx, "wake: reading the accumulator failed", "batch", key.String(), "error", err)
			return TryLater
		}
		switch {
		case acc.Gen < key.Gen:
			// No generation of this option set got that far: a wake-up
			// that names a batch nobody opened.
			w.s.cfg.Logger.WarnContext(ctx, "wake: no such batch", "batch", key.String(), "gen", acc.Gen)
			return Done
		case acc.Gen == key.Gen && len(acc.LeadIDs) == 0:
			return Done // nothing was ever parked in it
		case acc.Gen == key.Gen:
			b, err := store.Take(ctx, acc, w.runID, w.until)
			switch {
			case err == nil:
				w.metrics.Count("BatchesWoken", 1)
				return w.sendBatch(ctx, b, false)
			case errors.Is(err, jobs.ErrChanged):
				continue // a lead more was parked, or another took it: read again
			}
			w.s.cfg.Logger.WarnContext(ctx, "wake: taking the accumulator failed", "batch", key.String(), "error", err)
			return TryLater
		}
		return w.takeOver(ctx, key)
	}
	return TryLater
}

// takeOver sends a taken batch whose sender's lease lapsed.
func (w *waker) takeOver(ctx context.Context, key jobs.BatchKey) Verdict {
	store, now := w.s.cfg.Store, w.s.cfg.Now()
	switch err := store.Lease(ctx, key, w.runID, now, w.until); {
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
	w.metrics.Count("BatchesTakenOver", 1)
	return w.sendBatch(ctx, b, true)
}

// sendBatch sends a batch this run holds. A taken-over batch may hold leads
// its last sender already settled: only those still parked in it go.
func (w *waker) sendBatch(ctx context.Context, b jobs.Batch, takenOver bool) Verdict {
	ids := b.LeadIDs
	if takenOver {
		claims, err := w.s.cfg.Store.Claims(ctx, b.LeadIDs)
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
		if len(lettered) > 0 && !w.letterAgain(ctx, b, lettered) {
			return TryLater
		}
		if len(ids) == 0 {
			if err := w.s.cfg.Store.DropBatch(ctx, b.Key()); err != nil {
				return TryLater
			}
			return Done
		}
	}
	var opts zoho.ConvertRequest
	if err := json.Unmarshal([]byte(b.Options), &opts); err != nil {
		w.s.cfg.Logger.ErrorContext(ctx, "a batch's options do not decode", "batch", b.Key().String(), "error", err)
		return TryLater
	}
	g := w.batchGroup(&group{options: &opts}, b)
	w.sendLimited(ctx, g, ids)
	if !b.OpenedAt.IsZero() {
		// What batching added to the wait of the batch's first lead, from
		// its acceptance (MAX_WAIT_SECONDS bounds it where a timer sends).
		w.metrics.Longest("AddedWait", w.s.cfg.Now().Sub(b.OpenedAt))
	}
	verdict := Done
	w.mu.Lock()
	for _, id := range ids {
		if o := w.outcomes[id]; o.verdict == TryLater {
			verdict = TryLater
		}
	}
	w.mu.Unlock()
	return verdict
}

// letterAgain sends the letter of a batch's lettered leads, which the
// sender that lettered them may have died before sending: a letter sent
// twice is redriven harmlessly (the second finds its leads claimed), a
// letter never sent would lose them. It reports whether it was sent.
func (w *waker) letterAgain(ctx context.Context, b jobs.Batch, lettered []jobs.Claim) bool {
	var opts zoho.ConvertRequest
	if err := json.Unmarshal([]byte(b.Options), &opts); err != nil {
		w.s.cfg.Logger.ErrorContext(ctx, "a batch's options do not decode", "batch", b.Key().String(), "error", err)
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
	return w.sendLetter(ctx, w.batchGroup(&group{options: &opts}, b), ids, code, reason)
}
