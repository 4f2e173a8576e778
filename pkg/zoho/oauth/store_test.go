package oauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// leaseStep is one TryLease in a sequence, and whether it must win.
type leaseStep struct {
	name  string
	owner string
	at    time.Time
	want  bool
}

// runLeaseSteps takes the refresh lease as each step says, in order, on a
// store whose record of key is at version, each lease lasting lease.
func runLeaseSteps(t *testing.T, s oauth.Store, key string, version int64, lease time.Duration, steps []leaseStep) {
	t.Helper()
	ctx := context.Background()
	for _, st := range steps {
		got, err := s.TryLease(ctx, key, st.owner, version, st.at, st.at.Add(lease))
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			rec, _ := s.Load(ctx, key)
			t.Fatalf("%s: TryLease = %v, want %v (the record holds %q until %s)",
				st.name, got, st.want, rec.LeaseOwner, rec.LeaseUntil.UTC().Format(time.RFC3339Nano))
		}
	}
}

// TestTryLeaseRefusedWhileAnotherHoldsIt: a second instance, whose clock
// is later than the holder's (as it always is in production), gets no
// lease while the holder's is live, and gets it once it lapsed. Checking
// the holder's lease against the new lease's end instead of now would let
// both refresh and burn Zoho's 10 refreshes per 10 minutes; the race test
// on a frozen clock cannot see that, every instance having one now.
func TestTryLeaseRefusedWhileAnotherHoldsIt(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	const lease = 30 * time.Second
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			runLeaseSteps(t, s, "k", 0, lease, []leaseStep{{"a takes the first lease", "a", t0, true}})
			rec, err := s.Load(context.Background(), "k")
			if err != nil || rec.Version == 0 || rec.LeaseOwner != "a" {
				t.Fatalf("after the first lease: %+v, %v", rec, err)
			}
			runLeaseSteps(t, s, "k", rec.Version, lease, []leaseStep{
				{"b, 10s into a's lease", "b", t0.Add(10 * time.Second), false},
				{"c, 29s into a's lease", "c", t0.Add(29 * time.Second), false},
				{"a renews its own live lease", "a", t0.Add(20 * time.Second), true},
				{"b, after a's first lease but within the renewed one", "b", t0.Add(40 * time.Second), false},
				{"b, once a's renewed lease lapsed", "b", t0.Add(20*time.Second + lease + time.Second), true},
				{"a, within b's lease", "a", t0.Add(20*time.Second + lease + 2*time.Second), false},
			})
		})
	}
}

// TestTokenLeaseLapsesAtItsEnd: a lease held until U is live at every
// instant before U and lapsed from U on, the same on both stores (the rule
// of every lease and claim: live at t iff t < U).
func TestTokenLeaseLapsesAtItsEnd(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	const lease = time.Minute
	until := t0.Add(lease)
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			runLeaseSteps(t, s, "k", 0, lease, []leaseStep{{"a takes the lease", "a", t0, true}})
			rec, err := s.Load(context.Background(), "k")
			if err != nil || !rec.LeaseUntil.Equal(until) {
				t.Fatalf("the lease is held until %s (%v), want %s", rec.LeaseUntil, err, until)
			}
			runLeaseSteps(t, s, "k", rec.Version, lease, []leaseStep{
				{"b, 1ms before it lapses", "b", until.Add(-time.Millisecond), false},
				{"b, the instant it lapses", "b", until, true},
			})
		})
	}
}
