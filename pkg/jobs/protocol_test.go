package jobs

import (
	"testing"
	"time"
)

// TestClassify: the states held for the actor come before expiry (its own
// claim stays its own past the claim's expiry: only the holder may release
// or give it a verdict, and the stores' conditions never look at expiry for
// that), and a claim held for nobody expires whatever its state.
func TestClassify(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	batch := BatchKey{Fingerprint: "fp", Gen: 3}
	me := Actor{Owner: "run-a", Batch: batch, Job: "1001"}
	tests := []struct {
		name  string
		c     Claim
		actor Actor
		want  LeadState
	}{
		{"own pending claim", Claim{State: Pending, Owner: "run-a", Until: future, ExpiresAt: future}, me, LeadPendingMine},
		{"own pending claim past its expiry", Claim{State: Pending, Owner: "run-a", Until: past, ExpiresAt: past}, me, LeadPendingMine},
		{"own pending claim at its expiry", Claim{State: Pending, Owner: "run-a", Until: past, ExpiresAt: now}, me, LeadPendingMine},
		{"parked in the actor's batch past its expiry", Claim{State: Parked, Owner: batch.Owner(), ExpiresAt: past}, me, LeadParkedHere},
		{"in the actor's job past its expiry", Claim{State: ClaimScheduled, JobID: "1001", ExpiresAt: past}, me, LeadScheduled},
		{"in the actor's call in doubt past its expiry", Claim{State: ClaimInDoubt, JobID: "1001", ExpiresAt: past}, me, LeadInDoubt},
		{"another's pending claim, live", Claim{State: Pending, Owner: "run-b", Until: future, ExpiresAt: future}, me, LeadPendingOther},
		{"another's pending claim, lapsed at now", Claim{State: Pending, Owner: "run-b", Until: now, ExpiresAt: future}, me, LeadLapsed},
		{"another's pending claim, expired", Claim{State: Pending, Owner: "run-b", Until: past, ExpiresAt: now}, me, LeadExpired},
		{"parked in another batch, expired", Claim{State: Parked, Owner: BatchKey{Fingerprint: "fp", Gen: 4}.Owner(), ExpiresAt: now}, me, LeadExpired},
		{"in another job, expired", Claim{State: ClaimScheduled, JobID: "1002", ExpiresAt: now}, me, LeadExpired},
		{"rejected, expired at now", Claim{State: Rejected, ExpiresAt: now}, me, LeadExpired},
		{"rejected, a second before its expiry", Claim{State: Rejected, ExpiresAt: now.Add(time.Second)}, me, LeadRejected},
		{"a state of a newer version", Claim{State: "NEWER", ExpiresAt: future}, me, LeadPendingOther},
		{"a state of a newer version, expired", Claim{State: "NEWER", ExpiresAt: now}, me, LeadExpired},
		{"another run's claim, to a settling job", Claim{State: Pending, Owner: "run-a", Until: future, ExpiresAt: future}, Actor{Job: "1001"}, LeadPendingOther},
	}
	for _, tt := range tests {
		if got := Classify(tt.c, true, tt.actor, now); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
