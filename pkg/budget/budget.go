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

// Slots is where the slots live (the table, or memory). Both methods are
// single conditional writes.
type Slots interface {
	// TryTake gives slot to holder until until, provided it is free at now
	// (never taken, released, or its lease lapsed).
	TryTake(ctx context.Context, slot int, holder string, now, until time.Time) (bool, error)
	// Free releases slot, provided holder still holds it.
	Free(ctx context.Context, slot int, holder string) error
}

// Config configures a Limiter. Slots and Size are required.
type Config struct {
	Slots Slots
	Size  int // the budget: calls in flight across the deployment
	// Lease bounds how long a holder keeps a slot it never frees; longer
	// than any call (the Zoho client gives up after 30 s).
	Lease time.Duration // default 1m
	// Poll is the longest wait between tries while every slot is taken.
	Poll time.Duration    // default 250ms
	Now  func() time.Time // default time.Now
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
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var b [6]byte
	_, _ = crand.Read(b[:])
	return &Limiter{cfg: cfg, prefix: hex.EncodeToString(b[:])}, nil
}

// ErrExhausted is returned when no slot came free before the context ended.
var ErrExhausted = errors.New("budget: every slot of the Zoho concurrency budget stayed taken")

// Acquire waits for a free slot and returns the function that frees it.
// Slots are tried in a random order, so instances do not queue on slot 0.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	holder := l.prefix + "-" + strconv.FormatUint(l.seq.Add(1), 10)
	wait := 10 * time.Millisecond
	for {
		for _, slot := range rand.Perm(l.cfg.Size) {
			now := l.cfg.Now()
			ok, err := l.cfg.Slots.TryTake(ctx, slot, holder, now, now.Add(l.cfg.Lease))
			if err != nil {
				return nil, fmt.Errorf("budget: taking a slot: %w", err)
			}
			if ok {
				return func() {
					// Free even if the call's context is gone: a held slot
					// would idle until its lease lapses.
					fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
					defer cancel()
					_ = l.cfg.Slots.Free(fctx, slot, holder)
				}, nil
			}
		}
		t := time.NewTimer(wait + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %w", ErrExhausted, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, l.cfg.Poll)
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

var _ Slots = (*MemorySlots)(nil)

// NewMemorySlots returns free slots.
func NewMemorySlots() *MemorySlots { return &MemorySlots{slots: map[int]memorySlot{}} }

func (m *MemorySlots) TryTake(_ context.Context, slot int, holder string, now, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.slots[slot]; ok && s.holder != "" && now.Before(s.until) {
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
