package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `# a comment
== a-one
file: x.go
test: ./x/ ./y/
run: TestX
desc: the first
--- original
	if a < b {
		return
+++ replacement
	if a <= b {
		return

# between two mutants: a comment, as everywhere
== b-two
file: y.go
test: ./y/
desc: deletes a line
--- original
	check()
+++ replacement
`

func TestParse(t *testing.T) {
	ms, err := Parse(sample)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("%d mutants, want 2", len(ms))
	}
	a, b := ms[0], ms[1]
	if a.ID != "a-one" || a.File != "x.go" || strings.Join(a.Packages, ",") != "./x/,./y/" || a.Run != "TestX" ||
		a.Description != "the first" || a.Original != "\tif a < b {\n\t\treturn" {
		t.Errorf("first: %+v", a)
	}
	// The comment and blank lines between two mutants are not text.
	if a.Replacement != "\tif a <= b {\n\t\treturn" {
		t.Errorf("first replacement %q", a.Replacement)
	}
	if b.Original != "\tcheck()" || b.Replacement != "" {
		t.Errorf("second: %+v", b)
	}
}

func TestParseRefuses(t *testing.T) {
	head := "== m\nfile: f.go\ntest: ./f/\ndesc: d\n"
	tests := map[string]string{
		"no replacement":  head + "--- original\nx\n",
		"no original":     head,
		"no file":         "== m\ntest: ./f/\ndesc: d\n--- original\nx\n+++ replacement\ny\n",
		"same text":       head + "--- original\nx\n+++ replacement\nx\n",
		"empty original":  head + "--- original\n+++ replacement\ny\n",
		"an id twice":     head + "--- original\nx\n+++ replacement\ny\n" + head + "--- original\nx\n+++ replacement\ny\n",
		"unknown key":     "== m\nfiles: f.go\n",
		"text before ==":  "file: f.go\n",
		"an id of spaces": "== a b\n",
	}
	for name, text := range tests {
		if _, err := Parse(text); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestApply(t *testing.T) {
	m := Mutant{File: "f.go", Original: "a < b", Replacement: "a <= b"}
	if got, err := Apply("if a < b {}", m); err != nil || got != "if a <= b {}" {
		t.Errorf("Apply = %q, %v", got, err)
	}
	for _, src := range []string{"if a > b {}", "a < b; a < b"} {
		if _, err := Apply(src, m); err == nil {
			t.Errorf("Apply(%q): want the mutant stale", src)
		}
	}
}

func TestClassify(t *testing.T) {
	failed := errors.New("exit status 1")
	tests := []struct {
		name, output string
		err          error
		status, test string
	}{
		{"pass", "ok  \tx\t0.1s\n", nil, "SURVIVED", ""},
		{"a test fails", "--- FAIL: TestA (0.00s)\n    --- FAIL: TestA/sub (0.00s)\nFAIL\n", failed, "KILLED", "TestA"},
		{"does not build", "# x\nx.go:1: undefined: y\nFAIL\tx [build failed]\n", failed, "BROKEN", "does not build"},
		{"a panic", "panic: boom\nFAIL\tx\t0.1s\n", failed, "KILLED", "(a panic)"},
	}
	for _, tt := range tests {
		if status, test := Classify(tt.output, tt.err); status != tt.status || test != tt.test {
			t.Errorf("%s: %s %q, want %s %q", tt.name, status, test, tt.status, tt.test)
		}
	}
}

// TestMutantsList: the maintained list parses, and every mutant's original
// text is still in its file exactly once, so that a change to a guard
// updates its mutants in the same commit instead of leaving them stale.
func TestMutantsList(t *testing.T) {
	root := filepath.Join("..", "..")
	raw, err := os.ReadFile(filepath.Join(root, ".ci", "mutants.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		src, err := os.ReadFile(filepath.Join(root, m.File))
		if err != nil {
			t.Errorf("mutant %s: %v", m.ID, err)
			continue
		}
		if _, err := Apply(string(src), m); err != nil {
			t.Errorf("mutant %s (line %d) is stale: %v", m.ID, m.Line, err)
		}
		for _, p := range m.Packages {
			if fi, err := os.Stat(filepath.Join(root, p)); err != nil || !fi.IsDir() {
				t.Errorf("mutant %s: test: %s is not a package directory", m.ID, p)
			}
		}
	}
}
