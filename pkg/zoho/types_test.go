package zoho_test

import (
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

func TestIsRecordID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"1", true},
		{"3652397000009835021", true},
		{"9223372036854775807", true},
		{"", false},
		{"0", false},
		{"00", false},
		{"0123", false},
		{"0000000000000000123", false},
		{"9223372036854775808", false},
		{"12345678901234567890", false},
		{" 1", false},
		{"1a", false},
		{"+1", false},
		{"١", false},
	} {
		if got := zoho.IsRecordID(tc.id); got != tc.want {
			t.Errorf("IsRecordID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
