package table

import (
	"slices"
	"testing"
)

func TestRoundTripAndLenientReads(t *testing.T) {
	if got := str(sAttr("3652397000009835020")); got != "3652397000009835020" {
		t.Errorf("str(S) = %q", got)
	}
	if got := num(nAttr(1795857247123)); got != 1795857247123 {
		t.Errorf("num(N) = %d", got)
	}
	if got := strs(lAttr([]string{"a", "b"})); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("strs(L) = %v", got)
	}
	// Missing or mistyped attributes read as zero values.
	if str(nil) != "" || num(sAttr("x")) != 0 || strs(nAttr(1)) != nil || str(nAttr(1)) != "" {
		t.Error("lenient reads are not zero")
	}
}
