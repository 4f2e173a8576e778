package budget_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/budget"
)

func newLimiter(t *testing.T, slots budget.Slots, size int, now func() time.Time) *budget.Limiter {
	t.Helper()
	l, err := budget.New(budget.Config{Slots: slots, Size: size, Poll: time.Millisecond, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestNeverMoreThanTheBudget: 40 callers on four limiters (four
// instances) sharing three slots hold at most three at once, and all get
// their turn.
func TestNeverMoreThanTheBudget(t *testing.T) {
	slots := budget.NewMemorySlots()
	var inFlight, most, served atomic.Int32
	// The first holders keep their slots until the budget is full, so that
	// the callers overlap; full is closed the first time three are held.
	full := make(chan struct{})
	var fullOnce sync.Once
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 4 {
		l := newLimiter(t, slots, 3, nil)
		for range 10 {
			wg.Go(func() {
				release, err := l.Acquire(context.Background())
				if err != nil {
					t.Errorf("instance %d: %v", i, err)
					return
				}
				n := inFlight.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				served.Add(1)
				if n == 3 {
					fullOnce.Do(func() { close(full) })
				}
				select { // the call the slot is held for
				case <-full:
				case <-ctx.Done():
				}
				inFlight.Add(-1)
				release()
			})
		}
	}
	wg.Wait()
	if most.Load() > 3 || served.Load() != 40 {
		t.Fatalf("most in flight %d (budget 3), served %d of 40", most.Load(), served.Load())
	}
}

// TestCrashedHolderFreesItsSlotInTime: a slot never released comes free
// when its lease lapses; until then the budget is exhausted.
func TestCrashedHolderFreesItsSlotInTime(t *testing.T) {
	slots := budget.NewMemorySlots()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := newLimiter(t, slots, 1, clock)
	if _, err := l.Acquire(context.Background()); err != nil { // never released: its holder crashed
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, budget.ErrExhausted) {
		t.Fatalf("while the lease stands: %v, want ErrExhausted", err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	release, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatalf("after the lease lapsed: %v", err)
	}
	release()
}

func TestConfigIsChecked(t *testing.T) {
	if _, err := budget.New(budget.Config{Slots: budget.NewMemorySlots()}); err == nil {
		t.Fatal("a budget of 0 accepted")
	}
}

// TestMemorySlotLapsesAtItsEnd: a slot held until U is taken at every
// instant before U and free from U on (live at t iff t < U, the rule of
// every lease; pkg/aws/table tests the table's slots against it too).
func TestMemorySlotLapsesAtItsEnd(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	until := t0.Add(time.Minute)
	s, ctx := budget.NewMemorySlots(), context.Background()
	steps := []struct {
		name, holder string
		at           time.Time
		want         bool
	}{
		{"a takes it until U", "a", t0, true},
		{"b, while a holds it", "b", t0.Add(time.Second), false},
		{"b, 1ms before U", "b", until.Add(-time.Millisecond), false},
		{"b, at U", "b", until, true},
		{"a, while b holds it", "a", until.Add(time.Second), false},
	}
	for _, st := range steps {
		got, err := s.TryTake(ctx, 0, st.holder, st.at, st.at.Add(time.Minute))
		if err != nil || got != st.want {
			t.Fatalf("%s: TryTake = %v, %v; want %v", st.name, got, err, st.want)
		}
	}
}

// TestMemorySlotFreedOnlyByItsHolder: a caller that does not hold a slot
// cannot free it, or a late Free after a lapsed lease would free the slot
// of the next holder and let one call too many in.
func TestMemorySlotFreedOnlyByItsHolder(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s, ctx := budget.NewMemorySlots(), context.Background()
	if ok, err := s.TryTake(ctx, 0, "a", t0, t0.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("a: %v, %v", ok, err)
	}
	if err := s.Free(ctx, 0, "b"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.TryTake(ctx, 0, "c", t0.Add(time.Second), t0.Add(time.Minute)); ok {
		t.Fatal("a slot freed by a caller that did not hold it")
	}
	if err := s.Free(ctx, 0, "a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.TryTake(ctx, 0, "c", t0.Add(2*time.Second), t0.Add(time.Minute)); !ok {
		t.Fatal("not free once its holder freed it")
	}
}

// manualClock is a clock whose Sleep moves it at once, so a waiter's
// steps run without waiting; after, when set, runs after each move and may
// end the wait with an error.
type manualClock struct {
	mu    sync.Mutex
	now   time.Time
	steps int
	after func(now time.Time) error
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.steps++
	now, after := c.now, c.after
	c.mu.Unlock()
	if after != nil {
		return after(now)
	}
	return nil
}

// countingSlots counts the writes and reads that reach Slots; stale makes
// every read report every slot free, as a read a moment late might.
type countingSlots struct {
	budget.Slots
	stale         bool
	writes, reads atomic.Int32
}

func (c *countingSlots) TryTake(ctx context.Context, slot int, holder string, now, until time.Time) (bool, error) {
	c.writes.Add(1)
	return c.Slots.TryTake(ctx, slot, holder, now, until)
}

func (c *countingSlots) Vacant(ctx context.Context, n int, now time.Time) ([]int, error) {
	c.reads.Add(1)
	if c.stale {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return all, nil
	}
	return c.Slots.Vacant(ctx, n, now)
}

// holdAll has another instance take every slot for a day.
func holdAll(t *testing.T, slots budget.Slots, size int, now time.Time) {
	t.Helper()
	for slot := range size {
		if ok, err := slots.TryTake(context.Background(), slot, "other", now, now.Add(24*time.Hour)); !ok || err != nil {
			t.Fatalf("slot %d: %v, %v", slot, ok, err)
		}
	}
}

// TestWaiterWritesAtMostOncePerStep: a waiter for a full budget of 8 over
// 10 minutes (on a manual clock) makes at most one write a step, and at
// most 2 a second once its delay has grown (Poll 1s, jitter down to half);
// reading first, it writes only where a slot looks free. The sweep before
// issue 18, run the same way, wrote once per slot and step.
func TestWaiterWritesAtMostOncePerStep(t *testing.T) {
	const size, wait = 8, 10 * time.Minute
	tests := []struct {
		name         string
		sweep, stale bool
		perStep      int
		perSecond    float64 // after the delay has grown; 0: not checked
		most         int     // writes in all; 0: not checked
	}{
		{name: "reads first, every slot held", perStep: 1, perSecond: 2, most: 1},
		{name: "reads a moment stale: every slot looks free", stale: true, perStep: 1, perSecond: 2},
		{name: "sweep, the policy before", sweep: true, perStep: size},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newManualClock()
			start := clk.Now()
			slots := &countingSlots{Slots: budget.NewMemorySlots(), stale: tt.stale}
			holdAll(t, slots.Slots, size, start)
			clk.after = func(now time.Time) error {
				if now.Sub(start) >= wait {
					return context.DeadlineExceeded
				}
				return nil
			}
			l, err := budget.New(budget.Config{Slots: slots, Size: size, Now: clk.Now, Sleep: clk.Sleep, Sweep: tt.sweep})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Acquire(context.Background()); !errors.Is(err, budget.ErrExhausted) {
				t.Fatalf("Acquire = %v, want ErrExhausted", err)
			}
			writes, steps, secs := int(slots.writes.Load()), clk.steps, clk.Now().Sub(start).Seconds()
			t.Logf("%d writes, %d reads in %d steps over %.0f s: %.2f writes a second", writes, slots.reads.Load(), steps, secs, float64(writes)/secs)
			if writes > tt.perStep*steps {
				t.Errorf("%d writes in %d steps, want at most %d a step", writes, steps, tt.perStep)
			}
			// The first steps are short (50ms doubling): allow them 8 writes.
			if tt.perSecond > 0 && float64(writes) > 8+tt.perSecond*secs {
				t.Errorf("%d writes in %.0f s, want at most %.0f a second", writes, secs, tt.perSecond)
			}
			if tt.most > 0 && writes > tt.most {
				t.Errorf("%d writes while the reads showed every slot held, want at most %d", writes, tt.most)
			}
		})
	}
}

// TestFreedSlotTakenWithinPoll: a waiter takes a slot that frees, however
// long it has waited, within Poll (the default, 1s) of its freeing, on a
// manual clock.
func TestFreedSlotTakenWithinPoll(t *testing.T) {
	const poll = time.Second // Config.Poll's default
	for _, after := range []time.Duration{10 * time.Millisecond, 700 * time.Millisecond, 3 * time.Second, 10 * time.Minute} {
		t.Run(after.String(), func(t *testing.T) {
			clk := newManualClock()
			slots := budget.NewMemorySlots()
			holdAll(t, slots, 1, clk.Now())
			freeAt := clk.Now().Add(after)
			clk.after = func(now time.Time) error {
				if !now.Before(freeAt) {
					return slots.Free(context.Background(), 0, "other") // freed at freeAt, seen now
				}
				return nil
			}
			l, err := budget.New(budget.Config{Slots: slots, Size: 1, Now: clk.Now, Sleep: clk.Sleep})
			if err != nil {
				t.Fatal(err)
			}
			release, err := l.Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			if late := clk.Now().Sub(freeAt); late < 0 || late > poll {
				t.Fatalf("taken %s after it freed, want within %s", late, poll)
			}
		})
	}
}
