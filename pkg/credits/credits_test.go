package credits_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/credits"
)

// memStore is a credits.Store in memory that counts its calls.
type memStore struct {
	mu           sync.Mutex
	s            credits.Seen
	loads, saves int
}

func (m *memStore) LoadCredits(context.Context) (credits.Seen, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	return m.s, nil
}

func (m *memStore) SaveCredits(_ context.Context, s credits.Seen) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	if s.At.After(m.s.At) {
		m.s = s
	}
	return nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// TestFloorIsSharedAndLifts: a figure one instance sees below the floor
// stops the other instances too; a figure above lifts it, and so does a
// figure nobody refreshed for an hour; an answer without a figure is
// above (Zoho sends one only past half the daily credits).
func TestFloorIsSharedAndLifts(t *testing.T) {
	ctx := context.Background()
	c := &clock{t0}
	st := &memStore{}
	a, b := credits.New(1000, st, c.now, nil), credits.New(1000, st, c.now, nil)
	steps := []struct {
		name     string
		observe  *credits.Floor
		left     int
		advance  time.Duration
		a, bSees bool
	}{
		{"no figure yet", nil, 0, 0, false, false},
		{"unknown is above", a, credits.Unknown, 0, false, false},
		{"a sees 999", a, 999, time.Minute, true, true},
		{"b sees 1000", b, 1000, time.Minute, false, false},
		{"a sees 10", a, 10, time.Minute, true, true},
		{"an hour on, nobody refreshed", nil, 0, credits.Fresh + time.Minute, false, false},
	}
	for _, s := range steps {
		c.t = c.t.Add(s.advance)
		if s.observe != nil {
			s.observe.Observe(ctx, s.left)
		}
		if got, _ := a.Below(ctx); got != s.a {
			t.Errorf("%s: a says below %v", s.name, got)
		}
		if got, _ := b.Below(ctx); got != s.bSees {
			t.Errorf("%s: b says below %v", s.name, got)
		}
	}
}

// TestFloorOffCostsNothing: a floor of 0 never reads or writes the store.
func TestFloorOffCostsNothing(t *testing.T) {
	st := &memStore{}
	f := credits.New(0, st, nil, nil)
	f.Observe(context.Background(), 3)
	if below, _ := f.Below(context.Background()); below || st.loads+st.saves != 0 {
		t.Fatalf("below %v, %d loads, %d saves", below, st.loads, st.saves)
	}
}

// TestObserveSavesOnCrossingsAndAtMostAMinute: the figure changes on
// every answer, but an instance writes it once a minute, and at once when
// it crosses the floor.
func TestObserveSavesOnCrossingsAndAtMostAMinute(t *testing.T) {
	c := &clock{t0}
	st := &memStore{}
	f := credits.New(100, st, c.now, nil)
	for i := range 30 {
		c.t = c.t.Add(time.Second)
		f.Observe(context.Background(), 200-i)
	}
	if st.saves != 1 {
		t.Fatalf("%d saves in 30 s above the floor, want 1", st.saves)
	}
	c.t = c.t.Add(time.Second)
	f.Observe(context.Background(), 99)
	if st.saves != 2 || st.s.Left != 99 {
		t.Fatalf("crossing: %d saves, stored %+v", st.saves, st.s)
	}
}
