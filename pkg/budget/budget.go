// Package budget keeps every Zoho CRM call of a deployment within one
// concurrency budget: Zoho allows an org 10 complex calls in flight, shared
// by every instance of both functions and by the org's other integrations.
// The budget is a fixed set of slots in the table; a call holds one for its
// duration, under a lease, so a crashed holder frees its slot in time.
package budget

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Slots is where the slots live (the table, or memory). TryTake and Free
// are single conditional writes, Vacant a single read.
type Slots interface {
	// TryTake gives slot to holder until until, provided it is free at now
	// (never taken, released, or its lease lapsed) or holder's already: a
	// take whose answer was lost is tried again by the same holder (each
	// acquire is a holder of its own), which must not find its own slot
	// busy.
	TryTake(ctx context.Context, slot int, holder string, now, until time.Time) (bool, error)
	// Free releases slot, provided holder still holds it.
	Free(ctx context.Context, slot int, holder string) error
	// Vacant returns which of slots 0 to n-1 are free at now. It may be a
	// moment stale (an eventually consistent read): a waiter reads it only
	// to write where a slot looks free, and TryTake's condition decides.
	Vacant(ctx context.Context, n int, now time.Time) ([]int, error)
}

// Config configures a Limiter. Slots and Size are required.
type Config struct {
	Slots Slots
	Size  int // the budget: calls in flight across the deployment
	// Lease bounds how long a holder keeps a slot it never frees; longer
	// than any call (the Zoho client gives up after 30 s).
	Lease time.Duration // default 1m
	// A waiter tries, then waits a random time between half and all of a
	// delay that starts at FirstDelay and doubles up to Poll, then reads
	// the slots and writes only to one that looks free: at most one write
	// a step, since a failed conditional write is billed as a write. A slot
	// that frees is taken within Poll (by this waiter, or by another).
	FirstDelay time.Duration    // default 50ms
	Poll       time.Duration    // the longest delay; default 1s (250ms with Sweep)
	Now        func() time.Time // default time.Now
	// Sleep waits d, or until ctx ends; default a timer. Tests pass one
	// that moves a manual clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Sweep is the policy before issue 18, kept as the benchmark's
	// baseline: every step tries every slot without reading first, 10ms
	// doubling to Poll (up to one write per slot a step, about 29 a second
	// per waiter with 8 slots).
	Sweep bool
}

// Limiter hands out the budget's slots. It is safe for concurrent use.
type Limiter struct {
	cfg    Config
	prefix string // this instance; each acquisition adds a number
	seq    atomic.Uint64
}

// New returns a Limiter for cfg.
func New(cfg Config) (*Limiter, error) {
	if cfg.Slots == nil || cfg.Size < 1 {
		return nil, errors.New("budget: Config.Slots and a Size of at least 1 are required")
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.FirstDelay <= 0 {
		cfg.FirstDelay = 50 * time.Millisecond
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
		if cfg.Sweep {
			cfg.Poll = 250 * time.Millisecond
		}
	}
	cfg.FirstDelay = min(cfg.FirstDelay, cfg.Poll)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	var b [6]byte
	_, _ = crand.Read(b[:])
	return &Limiter{cfg: cfg, prefix: hex.EncodeToString(b[:])}, nil
}

// ErrExhausted is returned when no slot came free before the context ended.
var ErrExhausted = errors.New("budget: every slot of the Zoho concurrency budget stayed taken")

// Acquire waits for a free slot and returns the function that frees it.
// Its first try writes to a random slot, unread: while the budget is not
// full, as it mostly is not, that one write is all a call costs. After a
// miss it backs off, and each step reads the slots and writes at most once,
// to a random one that looks free, so instances do not queue on slot 0 and
// a waiter costs a read a step instead of a write per slot.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	holder := l.prefix + "-" + strconv.FormatUint(l.seq.Add(1), 10)
	if l.cfg.Sweep {
		return l.sweep(ctx, holder)
	}
	slot, delay := rand.N(l.cfg.Size), l.cfg.FirstDelay
	for {
		if slot >= 0 {
			now := l.cfg.Now()
			ok, err := l.cfg.Slots.TryTake(ctx, slot, holder, now, now.Add(l.cfg.Lease))
			if err != nil {
				return nil, fmt.Errorf("budget: taking a slot: %w", err)
			}
			if ok {
				return l.releaser(ctx, slot, holder), nil
			}
		}
		// Jitter spreads the waiters of a burst, who would otherwise read
		// and write in step and collide on the same freed slot.
		if err := l.cfg.Sleep(ctx, delay/2+rand.N(delay/2+1)); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrExhausted, err)
		}
		delay = min(delay*2, l.cfg.Poll)
		vacant, err := l.cfg.Slots.Vacant(ctx, l.cfg.Size, l.cfg.Now())
		if err != nil {
			return nil, fmt.Errorf("budget: reading the slots: %w", err)
		}
		slot = -1
		if len(vacant) > 0 {
			slot = vacant[rand.N(len(vacant))]
		}
	}
}

// sweep is Acquire before issue 18 (Config.Sweep).
func (l *Limiter) sweep(ctx context.Context, holder string) (release func(), err error) {
	wait := 10 * time.Millisecond
	for {
		for _, slot := range rand.Perm(l.cfg.Size) {
			now := l.cfg.Now()
			ok, err := l.cfg.Slots.TryTake(ctx, slot, holder, now, now.Add(l.cfg.Lease))
			if err != nil {
				return nil, fmt.Errorf("budget: taking a slot: %w", err)
			}
			if ok {
				return l.releaser(ctx, slot, holder), nil
			}
		}
		if err := l.cfg.Sleep(ctx, wait+rand.N(wait)); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrExhausted, err)
		}
		wait = min(wait*2, l.cfg.Poll)
	}
}

func (l *Limiter) releaser(ctx context.Context, slot int, holder string) func() {
	return func() {
		// Free even if the call's context is gone: a held slot would idle
		// until its lease lapses.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = l.cfg.Slots.Free(fctx, slot, holder)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// MemorySlots are Slots in process memory: the local run and unit tests.
type MemorySlots struct {
	mu    sync.Mutex
	slots map[int]memorySlot
}

type memorySlot struct {
	holder string
	until  time.Time
}

// heldAt reports whether the slot is held at now: a lease held until U is
// live at t iff t < U, the rule of every lease and claim.
func (s memorySlot) heldAt(now time.Time) bool {
	return s.holder != "" && now.Before(s.until)
}

var _ Slots = (*MemorySlots)(nil)

// NewMemorySlots returns free slots.
func NewMemorySlots() *MemorySlots { return &MemorySlots{slots: map[int]memorySlot{}} }

func (m *MemorySlots) TryTake(_ context.Context, slot int, holder string, now, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.slots[slot]; s.heldAt(now) && s.holder != holder {
		return false, nil
	}
	m.slots[slot] = memorySlot{holder: holder, until: until}
	return true, nil
}

func (m *MemorySlots) Free(_ context.Context, slot int, holder string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.slots[slot].holder == holder {
		delete(m.slots, slot)
	}
	return nil
}

func (m *MemorySlots) Vacant(_ context.Context, n int, now time.Time) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var free []int
	for slot := range n {
		if !m.slots[slot].heldAt(now) {
			free = append(free, slot)
		}
	}
	return free, nil
}
