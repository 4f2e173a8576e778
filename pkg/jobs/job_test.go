package jobs

import (
	"strings"
	"testing"
)

func TestIsJobID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"3652397000009835001", true},
		{"1", true},
		{"doubt-0123456789abcdef", true},
		{"", false},
		{"0123", false},
		{"36523970000098350011", false}, // 20 digits
		{"doubt-", false},
		{"doubt-0123456789abcdeg", false},
		{"doubt-0123456789abcdef0", false},
		{"DOUBT-0123456789abcdef", false},
		{"../3652397000009835001", false},
	} {
		if got := IsJobID(tc.id); got != tc.ok {
			t.Errorf("IsJobID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

func TestIsRequestID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"Xk3vQjRAIAMEbWQ=", true},
		{"c6af9ac6-7b61-11e6-9a41-93e8deadbeef", true},
		{"", false},
		{"a/b", false},
		{"req id", false},
		{"sweep:qualified-web:2026-11-28T02:00:00Z:3", true},
		{"sweep:" + strings.Repeat("n", 64) + ":" + strings.Repeat("r", 64) + ":100", true},
		{strings.Repeat("x", 161), false},
	} {
		if got := IsRequestID(tc.id); got != tc.ok {
			t.Errorf("IsRequestID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

// TestNotConvertedFigure: the one figure stored and shown is the field of
// the job's kind, and reading it back fills that field only.
func TestNotConvertedFigure(t *testing.T) {
	zoho, doubt := "3652397000009835001", "doubt-0123456789abcdef"
	for _, tc := range []struct {
		j             Job // with the other kind's field set too
		wait, notConv int // as stored and read back
	}{
		{Job{ID: zoho, Waiting: 3, NotConverted: 5}, 3, 0},
		{Job{ID: doubt, Waiting: 5, NotConverted: 2}, 0, 2},
	} {
		got := Job{ID: tc.j.ID}
		got.SetNotConvertedFigure(tc.j.NotConvertedFigure())
		if got.Waiting != tc.wait || got.NotConverted != tc.notConv {
			t.Errorf("%s reads back as Waiting %d, NotConverted %d; want %d, %d", tc.j.ID, got.Waiting, got.NotConverted, tc.wait, tc.notConv)
		}
	}
}
