package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestRunLocal is `make run`: the sample events and extra leads end in
// final jobs, nothing is dead-lettered and no lead goes to Zoho twice.
func TestRunLocal(t *testing.T) {
	var out bytes.Buffer
	if err := runLocal(&out, "../../events", 120, false); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"events/sqs-batch.json", "events/rest-post.json", "until every job was final",
		"0 dead-lettered", "0 ids sent twice", "1 token refresh", "120 leads in 3 mass_convert calls: 40.0 leads per call",
		`GET /requests/hook-0118: 200 {"counts":{"SCHEDULED":1}`} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if regexp.MustCompile(`\b(SCHEDULED|IN_PROGRESS)\b`).MatchString(text[strings.Index(text, "JOB ID"):]) {
		t.Errorf("a job is still open:\n%s", text)
	}
	if !regexp.MustCompile(`202 \{`).MatchString(text) || !regexp.MustCompile(`200 \{"job_id"`).MatchString(text) {
		t.Errorf("the API events were not accepted:\n%s", text)
	}
}
