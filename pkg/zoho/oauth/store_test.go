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

// TestTryLeaseRefusedAtAStaleVersion: an instance that read the record
// before another refreshed (and saved a new token, a new version) gets no
// lease with what it read: it would refresh again a token just made.
func TestTryLeaseRefusedAtAStaleVersion(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			runLeaseSteps(t, s, "k", 0, time.Minute, []leaseStep{{"a takes the first lease", "a", t0, true}})
			read, err := s.Load(ctx, "k") // what b read, before a saved
			if err != nil {
				t.Fatal(err)
			}
			saved, err := s.Save(ctx, "k", "a", oauth.Record{AccessToken: "1000.fresh", APIDomain: "https://www.zohoapis.eu", ExpiresAt: t0.Add(time.Hour)})
			if err != nil || !saved {
				t.Fatalf("a's save: %v, %v", saved, err)
			}
			now, err := s.Load(ctx, "k")
			if err != nil || now.Version == read.Version {
				t.Fatalf("the save left the version at %d (%v)", now.Version, err)
			}
			runLeaseSteps(t, s, "k", read.Version, time.Minute, []leaseStep{{"b, at the version it read", "b", t0.Add(time.Second), false}})
			runLeaseSteps(t, s, "k", 0, time.Minute, []leaseStep{{"b, as if there were no record", "b", t0.Add(time.Second), false}})
			runLeaseSteps(t, s, "k", now.Version, time.Minute, []leaseStep{{"b, at the current version", "b", t0.Add(time.Second), true}})
		})
	}
}

// TestSaveOnlyByTheLeaseHolder: only the instance that holds the lease
// stores a token; a save by another instance, or by the holder after its
// lease went to another, changes nothing, so a slow refresher cannot
// overwrite the token a newer one made.
func TestSaveOnlyByTheLeaseHolder(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	rec := func(tok string) oauth.Record {
		return oauth.Record{AccessToken: tok, APIDomain: "https://www.zohoapis.eu", ExpiresAt: t0.Add(time.Hour)}
	}
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			runLeaseSteps(t, s, "k", 0, time.Minute, []leaseStep{{"a takes the lease", "a", t0, true}})
			if saved, err := s.Save(ctx, "k", "b", rec("1000.from-b")); err != nil || saved {
				t.Fatalf("b saved without the lease: %v, %v", saved, err)
			}
			if saved, err := s.Save(ctx, "k", "a", rec("1000.from-a")); err != nil || !saved {
				t.Fatalf("a's save: %v, %v", saved, err)
			}
			if saved, err := s.Save(ctx, "k", "a", rec("1000.again")); err != nil || saved {
				t.Fatalf("a saved again once its save released the lease: %v, %v", saved, err)
			}
			if got, err := s.Load(ctx, "k"); err != nil || got.AccessToken != "1000.from-a" {
				t.Fatalf("the stored token is %q (%v), want a's", got.AccessToken, err)
			}
		})
	}
}
