package dynamoattr

import (
	"slices"
	"testing"
)

func TestRoundTripAndLenientReads(t *testing.T) {
	if got := String(S("3652397000009835020")); got != "3652397000009835020" {
		t.Errorf("String(S) = %q", got)
	}
	if got := Int(N(1795857247123)); got != 1795857247123 {
		t.Errorf("Int(N) = %d", got)
	}
	if got := Strings(L([]string{"a", "b"})); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Strings(L) = %v", got)
	}
	// Missing or mistyped attributes read as zero values.
	if String(nil) != "" || Int(S("x")) != 0 || Strings(N(1)) != nil || String(N(1)) != "" {
		t.Error("lenient reads are not zero")
	}
}
