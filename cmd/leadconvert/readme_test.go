package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeMakeTargetsExist: every `make X` the README tells a reader to
// run is a target of the Makefile.
func TestReadmeMakeTargetsExist(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, m := range regexp.MustCompile(`\bmake ([a-z][a-z0-9-]*)`).FindAllStringSubmatch(readme(t), -1) {
		seen++
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `:`).Match(mk) {
			t.Errorf("README says `make %s`, which the Makefile does not have", m[1])
		}
	}
	if seen < 5 {
		t.Fatalf("found %d make commands; the README changed shape", seen)
	}
}

// TestReadmeExamplesAreAccepted: the secret, the curl body, the SQS message
// and the webhook form keys of the README are accepted by the code.
func TestReadmeExamplesAreAccepted(t *testing.T) {
	doc := readme(t)
	secret := regexp.MustCompile("(?s)```json\\s*\n\\s*(\\{\"client_id\".*?)```").FindStringSubmatch(doc)
	if secret == nil {
		t.Fatal("no secret example found")
	}
	if _, err := oauth.ParseSecret(secret[1]); err != nil {
		t.Errorf("the README's secret example: %v", err)
	}
	bodies := regexp.MustCompile(`(?s)(?:-d|--message-body) '(\{.*?\})'`).FindAllStringSubmatch(doc, -1)
	if len(bodies) < 2 {
		t.Fatalf("found %d request examples, want the curl and the SQS one", len(bodies))
	}
	for _, b := range bodies {
		if _, err := convert.DecodeJSON([]byte(b[1]), "v7"); err != nil {
			t.Errorf("README example %s: %v", b[1], err)
		}
	}
	// The webhook form table: every key it documents, filled in as a Zoho
	// workflow would, decodes.
	form := url.Values{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.A-Z<> ]+)` \\|").FindAllStringSubmatch(doc, -1) {
		key := m[1]
		switch {
		case key == "ids":
			form.Set("ids", "3652397000001000001, 3652397000001000002")
		case strings.HasPrefix(key, "Deals."):
			form.Set("Deals.Deal_Name", "Webinar signup")
			form.Set("Deals.Stage", "Qualification")
			form.Set("Deals.Closing_Date", "2026-12-31")
		case key == "assign_to" || key == "portal_user_type":
			form.Set(key, "3652397000000186017")
		case key == "related_modules":
			form.Set(key, "Tasks:3652397000000002011")
		case key == "carry_over_tags":
			form.Set(key, "Contacts:3652397000000002003")
		case key == "move_attachments_to":
			form.Set(key, "Deals:3652397000000002005")
		case key == "apply_assignment_threshold":
			form.Set(key, "false")
		}
	}
	if len(form) < 8 {
		t.Fatalf("found %d form keys in the README table", len(form))
	}
	if _, err := convert.DecodeForm([]byte(form.Encode()), "v8"); err != nil {
		t.Errorf("the README's webhook form: %v", err)
	}
	// The webhook recipe's body, as Zoho posts it: a deal with its owner.
	posted := regexp.MustCompile("(?m)^(ids=[^`\\s]+)$").FindStringSubmatch(doc)
	if posted == nil {
		t.Fatal("no webhook form body found")
	}
	req, err := convert.DecodeForm([]byte(posted[1]), "v7")
	if err != nil {
		t.Fatalf("the README's webhook body %s: %v", posted[1], err)
	}
	if req.AssignTo == nil || req.Deals == nil {
		t.Errorf("the README's webhook body %s shows no deal with an owner", posted[1])
	}
	// Zoho's API spec caps a raw webhook body at 500 characters: the recipe
	// must say so, and use form data.
	if !strings.Contains(doc, "500 characters") || !strings.Contains(doc, "**Form data**") {
		t.Error("the README's webhook recipe does not say to use form data, and why")
	}
}

// TestReadmeCommandsExist: every `leadconvert X` the README tells a user to
// type is a command.
func TestReadmeCommandsExist(t *testing.T) {
	have := map[string]bool{}
	for _, c := range newRoot().Commands() {
		have[c.Name()] = true
	}
	n := 0
	for _, m := range regexp.MustCompile(`\bleadconvert ([a-z][a-z-]*)`).FindAllStringSubmatch(readme(t), -1) {
		if m[1] == "command" {
			continue // "the leadconvert command"
		}
		n++
		if !have[m[1]] {
			t.Errorf("the README uses `leadconvert %s`, which is not a command", m[1])
		}
	}
	if n < 7 {
		t.Fatalf("found %d leadconvert commands in the README", n)
	}
}

// TestReadmeSweepRecipe: the README's sweep recipe is a sweep create would
// store: its schedule, time zone, condition and options pass sweep.Check
// with no default owner (the recipe names the owner).
func TestReadmeSweepRecipe(t *testing.T) {
	doc := readme(t)
	m := regexp.MustCompile(`(?s)leadconvert sweep create --stack \S+ --name (\S+) \\\s+--schedule '([^']+)' --time-zone (\S+) \\\s+--condition "([^"]+)" \\\s+--options '(\{.*?\})'`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("no sweep create recipe found")
	}
	s := sweep.Sweep{Name: m[1], Schedule: m[2], TimeZone: m[3], Condition: m[4], Options: json.RawMessage(m[5])}
	if err := s.Check(&convert.Decoder{APIVersion: "v7"}); err != nil {
		t.Errorf("the README's sweep: %v", err)
	}
	if s.TimeZone != "Europe/Berlin" || s.Schedule != "cron(0 2 * * ? *)" {
		t.Errorf("the recipe runs at %s %s, not 02:00 Europe/Berlin", s.Schedule, s.TimeZone)
	}
}
