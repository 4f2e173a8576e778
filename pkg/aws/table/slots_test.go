package table_test

import (
	"context"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/budget"
)

// TestSlots: a slot is taken once until freed by its holder or its lease
// lapses, on both implementations.
func TestSlots(t *testing.T) {
	impls := map[string]func(t *testing.T) budget.Slots{
		"memory": func(*testing.T) budget.Slots { return budget.NewMemorySlots() },
		"dynamodb": func(t *testing.T) budget.Slots {
			cfg := awstest.Require(t)
			return table.NewSlots(awstest.CheckExpressions(t, table.NewClient(cfg)), awstest.CreateTableFromTemplate(t, cfg, "JobsTable"))
		},
	}
	for name, newSlots := range impls {
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
