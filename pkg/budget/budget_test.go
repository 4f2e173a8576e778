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
