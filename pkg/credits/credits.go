// Package credits keeps the bridge above a floor of the org's Zoho API
// credits. Zoho bills every call against credits the org's integrations
// share over a rolling 24 hours, and says how many remain
// (X-API-CREDITS-REMAINING) once half are spent (zoho-crm-api.md section
// 4). Below MinZohoCreditsLeft the bridge starts no optional work (sweeps,
// resends of leads Zoho did not convert, doctor's probes) and keeps doing
// what it must: converting what callers asked for, and following and
// recording what is already at Zoho. The figure each instance sees is
// shared through a small store, so every instance stops and resumes
// together; a figure older than Fresh is no figure, so work resumes by
// itself once the calls that must go on (or the next optional one) bring
// news.
package credits

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Unknown is Seen.Left when Zoho's answer carried no figure: it sends one
// only once half the daily credits are spent, so more than half remain.
const Unknown = -1

// Seen is the org's credits as a Zoho answer gave them.
type Seen struct {
	Left int // Unknown: the answer had no figure
	At   time.Time
}

// Store shares the last figure seen between instances.
type Store interface {
	// LoadCredits returns the last figure saved; zero when none.
	LoadCredits(ctx context.Context) (Seen, error)
	// SaveCredits keeps s unless a newer figure is saved already.
	SaveCredits(ctx context.Context, s Seen) error
}

// Timing of the shared figure.
const (
	// Fresh is how long a figure holds: the credits are a rolling window,
	// and a floor kept on a figure nobody refreshed would never lift.
	Fresh = time.Hour
	// readEvery bounds the store's reads per instance: half a read unit.
	readEvery = 30 * time.Second
	// saveEvery bounds the writes per instance while the figure changes;
	// crossing the floor is saved at once.
	saveEvery = time.Minute
)

// Floor tells whether the org is below the deployment's floor. The zero
// floor (Min 0) is off: it never reads, writes or says below. It is safe
// for concurrent use.
type Floor struct {
	min   int
	store Store
	now   func() time.Time
	log   *slog.Logger

	mu       sync.Mutex
	local    Seen // this instance's last figure
	shared   Seen // the store's, as last read
	readAt   time.Time
	saved    Seen // what this instance saved last
	reported bool // the crossing was logged
}

// New returns the floor of min credits over store; nil store keeps the
// figure in this instance only.
func New(minLeft int, store Store, now func() time.Time, log *slog.Logger) *Floor {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Floor{min: max(minLeft, 0), store: store, now: now, log: log}
}

// Min is the floor; 0 when off.
func (f *Floor) Min() int {
	if f == nil {
		return 0
	}
	return f.min
}

// Observe takes the figure of one Zoho answer (Unknown when it had none)
// and shares it when it crossed the floor or every saveEvery.
func (f *Floor) Observe(ctx context.Context, left int) {
	if f.Min() == 0 {
		return
	}
	now := f.now()
	s := Seen{Left: max(left, Unknown), At: now}
	f.mu.Lock()
	f.local = s
	save := f.store != nil && (f.saved.At.IsZero() || f.below(s) != f.below(f.saved) || now.Sub(f.saved.At) >= saveEvery)
	if save {
		f.saved = s
	}
	f.mu.Unlock()
	if !save {
		return
	}
	// The answer is in; sharing it must not hold the call up for long.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := f.store.SaveCredits(wctx, s); err != nil {
		f.log.WarnContext(ctx, "credits: sharing the org's credits left", "error", err)
	}
}

func (f *Floor) below(s Seen) bool { return s.Left != Unknown && s.Left < f.min }

// Below reports whether the org was below the floor at the newest figure
// any instance saw within Fresh, and that figure.
func (f *Floor) Below(ctx context.Context) (bool, Seen) {
	if f.Min() == 0 {
		return false, Seen{}
	}
	now := f.now()
	f.mu.Lock()
	read := f.store != nil && now.Sub(f.readAt) >= readEvery
	if read {
		f.readAt = now
	}
	f.mu.Unlock()
	if read {
		s, err := f.store.LoadCredits(ctx)
		if err != nil {
			f.log.WarnContext(ctx, "credits: reading the org's credits left", "error", err)
		}
		f.mu.Lock()
		if err == nil {
			f.shared = s
		}
		f.mu.Unlock()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.local
	if f.shared.At.After(s.At) {
		s = f.shared
	}
	if s.At.IsZero() || now.Sub(s.At) > Fresh {
		return false, s
	}
	b := f.below(s)
	if b != f.reported {
		f.reported = b
		if b {
			f.log.WarnContext(ctx, "credits: the org is below the credit floor; optional work (sweeps, resends) waits",
				"credits_left", s.Left, "floor", f.min, "seen_at", s.At)
		} else {
			f.log.InfoContext(ctx, "credits: the org is above the credit floor again; optional work resumes", "credits_left", s.Left)
		}
	}
	return b, s
}
