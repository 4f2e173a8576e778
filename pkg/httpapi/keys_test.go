package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/httpapi"
)

// rotatingSecret is a secret whose keys an operator rotates; it counts the
// reads that bypassed the cache.
type rotatingSecret struct {
	cached, stored httpapi.Keys
	freshReads     int
}

func (s *rotatingSecret) keys(_ context.Context, fresh bool) (httpapi.Keys, error) {
	if fresh {
		s.freshReads++
		s.cached = s.stored
	}
	return s.cached, nil
}

// TestKeyRotation: during a rotation both keys are admitted; a key the
// cached secret does not know yet is admitted after one fresh read; wrong
// keys cause at most one fresh read a minute.
func TestKeyRotation(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	old := httpapi.Keys{Current: "old-key"}
	s := &rotatingSecret{cached: old, stored: old}
	check := &httpapi.KeyCheck{Keys: s.keys, Now: func() time.Time { return now }}
	admit := func(got string) bool {
		t.Helper()
		ok, err := check.Admit(context.Background(), got)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i := range 5 {
		if admit("wrong") {
			t.Fatal("a wrong key was admitted")
		}
		now = now.Add(time.Second * time.Duration(i))
	}
	if s.freshReads != 1 {
		t.Fatalf("%d fresh reads for wrong keys within a minute; want 1", s.freshReads)
	}

	// rotate-key: the new key current, the old one previous. The instance
	// still holds the old secret in its cache.
	s.stored = httpapi.Keys{Current: "new-key", Previous: "old-key"}
	now = now.Add(httpapi.KeyRereadEvery)
	if !admit("new-key") || s.freshReads != 2 {
		t.Fatalf("the new key after a rotation: refused, or %d fresh reads; want admitted after one more", s.freshReads)
	}
	if !admit("old-key") {
		t.Fatal("the previous key was refused while the rotation is under way")
	}
	// rotate-key --finish drops the previous key; it is refused once the
	// instance's cached secret expires (secret.Cache's TTL).
	s.stored = httpapi.Keys{Current: "new-key"}
	s.cached = s.stored
	if admit("old-key") {
		t.Fatal("the previous key was admitted after the rotation finished")
	}
	if !admit("new-key") {
		t.Fatal("the current key was refused")
	}
}

func TestKeysAdmit(t *testing.T) {
	for _, tc := range []struct {
		keys httpapi.Keys
		got  string
		want bool
	}{
		{httpapi.Keys{Current: "a"}, "a", true},
		{httpapi.Keys{Current: "a", Previous: "b"}, "b", true},
		{httpapi.Keys{Current: "a", Previous: "b"}, "c", false},
		{httpapi.Keys{}, "", false},
		{httpapi.Keys{Current: "a"}, "", false},
	} {
		if got := tc.keys.Admit(tc.got); got != tc.want {
			t.Errorf("%+v admits %q: %v, want %v", tc.keys, tc.got, got, tc.want)
		}
	}
}
