package table_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/budget"
)

// slotStores makes the budget's slots of each implementation: in memory,
// and on a table made from template.yaml on moto.
func slotStores() map[string]func(t *testing.T) budget.Slots {
	return map[string]func(t *testing.T) budget.Slots{
		"memory": func(*testing.T) budget.Slots { return budget.NewMemorySlots() },
		"dynamodb": func(t *testing.T) budget.Slots {
			cfg := awstest.Require(t)
			return table.NewSlots(awstest.CheckExpressions(t, table.NewClient(cfg)), awstest.CreateTableFromTemplate(t, cfg, "JobsTable"))
		},
	}
}

// TestSlots: a slot is taken once until freed by its holder or its lease
// lapses, on both implementations.
func TestSlots(t *testing.T) {
	for name, newSlots := range slotStores() {
		t.Run(name, func(t *testing.T) {
			s, ctx := newSlots(t), context.Background()
			take := func(holder string, at time.Time) bool {
				t.Helper()
				ok, err := s.TryTake(ctx, 3, holder, at, at.Add(time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			if !take("a", t0) || take("b", t0.Add(time.Second)) {
				t.Fatal("a slot taken twice")
			}
			if err := s.Free(ctx, 3, "b"); err != nil || take("b", t0.Add(2*time.Second)) {
				t.Fatalf("freed by a non-holder: %v", err)
			}
			if err := s.Free(ctx, 3, "a"); err != nil || !take("b", t0.Add(3*time.Second)) {
				t.Fatalf("not free after its holder freed it: %v", err)
			}
			if !take("c", t0.Add(2*time.Minute)) {
				t.Fatal("not free after the lease lapsed")
			}
		})
	}
}

// TestSlotLapsesAtItsEnd: a slot held until U is taken at every instant
// before U and free from U on, the same on both implementations (the rule
// of every lease and claim: live at t iff t < U).
func TestSlotLapsesAtItsEnd(t *testing.T) {
	until := t0.Add(time.Minute)
	for name, newSlots := range slotStores() {
		t.Run(name, func(t *testing.T) {
			s, ctx := newSlots(t), context.Background()
			steps := []struct {
				name, holder string
				at           time.Time
				want         bool
			}{
				{"a takes it until U", "a", t0, true},
				// The SDK retries a take whose answer was lost: the holder
				// finds the slot its own, not busy.
				{"a again, its answer lost", "a", t0, true},
				{"b, 1ms before U", "b", until.Add(-time.Millisecond), false},
				{"b, at U", "b", until, true},
			}
			for _, st := range steps {
				got, err := s.TryTake(ctx, 3, st.holder, st.at, st.at.Add(time.Minute))
				if err != nil || got != st.want {
					t.Fatalf("%s: TryTake = %v, %v; want %v", st.name, got, err, st.want)
				}
			}
		})
	}
}

// TestSlotsVacant: the read a waiter makes before it writes names the
// slots never taken, freed, or lapsed (at their end exactly), the same on
// both implementations.
func TestSlotsVacant(t *testing.T) {
	for name, newSlots := range slotStores() {
		t.Run(name, func(t *testing.T) {
			s, ctx := newSlots(t), context.Background()
			leases := []time.Duration{time.Minute, time.Minute, 2 * time.Minute} // slots 0 to 2; 3 and 4 never taken
			for slot, lease := range leases {
				if ok, err := s.TryTake(ctx, slot, string(rune('a'+slot)), t0, t0.Add(lease)); !ok || err != nil {
					t.Fatalf("slot %d: %v, %v", slot, ok, err)
				}
			}
			if err := s.Free(ctx, 1, "b"); err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				name string
				at   time.Time
				want []int
			}{
				{"while held", t0.Add(time.Second), []int{1, 3, 4}},
				{"1ms before slot 0 lapses", t0.Add(time.Minute - time.Millisecond), []int{1, 3, 4}},
				{"the instant it lapses", t0.Add(time.Minute), []int{0, 1, 3, 4}},
				{"once every lease lapsed", t0.Add(2 * time.Minute), []int{0, 1, 2, 3, 4}},
			}
			for _, st := range steps {
				got, err := s.Vacant(ctx, 5, st.at)
				if err != nil || !slices.Equal(got, st.want) {
					t.Fatalf("%s: Vacant = %v, %v; want %v", st.name, got, err, st.want)
				}
			}
		})
	}
}
