package awstest

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
)

// MaxNameLen bounds UniqueName's result: within DynamoDB table (255), SQS queue (80, leaving
// room for a ".fifo" suffix), Secrets Manager (512) and EventBridge (64) name limits.
const MaxNameLen = 64

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// sanitizeName keeps letters, digits and '_', turning every other run of characters into one '-'.
func sanitizeName(s string) string {
	return strings.Trim(nameUnsafe.ReplaceAllString(s, "-"), "-")
}

// UniqueName returns a resource name unique to this call: prefix, the test's name and a random
// suffix, joined by '-', made of [A-Za-z0-9_-] only and at most MaxNameLen long (the test name
// is shortened first, then the prefix).
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("awstest: random name suffix: %v", err)
	}
	suffix := hex.EncodeToString(b[:]) // 10 characters

	p, n := sanitizeName(prefix), sanitizeName(t.Name())
	room := MaxNameLen - len(suffix) - 1 // for p + "-" + n
	if len(p) > room {
		p = strings.TrimRight(p[:room], "-")
	}
	parts := []string{}
	if p != "" {
		parts = append(parts, p)
		room -= len(p) + 1
	}
	if room > 0 && n != "" {
		if len(n) > room {
			n = strings.TrimRight(n[:room], "-")
		}
		parts = append(parts, n)
	}
	return strings.Join(append(parts, suffix), "-")
}
