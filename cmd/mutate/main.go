// Command mutate runs the maintained list of mutants of the guards
// (.ci/mutants.txt): for each, it builds the listed packages' tests with
// that one change and reports whether a test failed (KILLED), none did
// (SURVIVED), or the original text is no longer in the file exactly once
// (STALE). `make mutate` runs it under one shared moto server.
//
// A mutant is applied through `go test -overlay`, never to the tree: the
// tree is never changed, so an interrupted run (Ctrl-C) leaves nothing to
// restore, and another engineer's edits are never at risk.
//
// Usage:
//
//	go run ./cmd/mutate [-list .ci/mutants.txt] [-run REGEXP] [-v] [-no-baseline]
//
// It exits 1 if any mutant survives, is stale, or does not build.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	list := flag.String("list", ".ci/mutants.txt", "the list of mutants")
	run := flag.String("run", "", "only the mutants whose id matches this regular expression")
	verbose := flag.Bool("v", false, "print the test output of each mutant that survives or does not build")
	noBaseline := flag.Bool("no-baseline", false, "skip the run of the unchanged packages first")
	timeout := flag.Duration("timeout", 10*time.Minute, "go test -timeout for each run")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := mutate(ctx, options{list: *list, run: *run, verbose: *verbose, baseline: !*noBaseline, timeout: *timeout}, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
	}
	os.Exit(code)
}

type options struct {
	list, run string
	verbose   bool
	baseline  bool
	timeout   time.Duration
}

// Mutant is one change of a guard, as a real bug would look.
type Mutant struct {
	ID          string
	File        string   // from the repository root
	Packages    []string // go test arguments: the packages whose tests must kill it
	Run         string   // optional go test -run pattern
	Description string
	Original    string // must occur exactly once in File
	Replacement string
	Line        int // of its "==" line in the list, for messages
}

// Result of one mutant.
type Result struct {
	Mutant  Mutant
	Status  string // KILLED, SURVIVED, STALE, BROKEN (does not build)
	Failing string // the first failing test, or why stale or broken
	Took    time.Duration
	Output  string
}

func mutate(ctx context.Context, o options, out io.Writer) (int, error) {
	raw, err := os.ReadFile(o.list)
	if err != nil {
		return 2, err
	}
	mutants, err := Parse(string(raw))
	if err != nil {
		return 2, fmt.Errorf("%s: %w", o.list, err)
	}
	if o.run != "" {
		re, err := regexp.Compile(o.run)
		if err != nil {
			return 2, fmt.Errorf("-run: %w", err)
		}
		mutants = slices.DeleteFunc(mutants, func(m Mutant) bool { return !re.MatchString(m.ID) })
	}
	if len(mutants) == 0 {
		return 2, errors.New("no mutant to run")
	}
	tmp, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return 2, err
	}
	defer os.RemoveAll(tmp)

	if o.baseline {
		var pkgs []string
		for _, m := range mutants {
			for _, p := range m.Packages {
				if !slices.Contains(pkgs, p) {
					pkgs = append(pkgs, p)
				}
			}
		}
		fmt.Fprintf(out, "baseline: go test %s\n", strings.Join(pkgs, " "))
		output, err := goTest(ctx, "", pkgs, "", o.timeout)
		if err != nil {
			fmt.Fprint(out, output)
			return 1, fmt.Errorf("the unchanged packages fail their tests (%v): every mutant would look killed", err)
		}
	}

	var results []Result
	for i, m := range mutants {
		if ctx.Err() != nil {
			return 130, ctx.Err()
		}
		fmt.Fprintf(out, "[%d/%d] %s ... ", i+1, len(mutants), m.ID)
		r := runMutant(ctx, m, tmp, o.timeout)
		fmt.Fprintf(out, "%s (%s)\n", r.Status, r.Took.Round(time.Second))
		if o.verbose && (r.Status == "SURVIVED" || r.Status == "BROKEN") {
			fmt.Fprint(out, r.Output)
		}
		results = append(results, r)
	}
	if ctx.Err() != nil {
		return 130, ctx.Err()
	}
	return report(out, results), nil
}

// report prints the table and returns the exit code.
func report(out io.Writer, results []Result) int {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRESULT\tFIRST FAILING TEST\tDESCRIPTION")
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Status]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Mutant.ID, r.Status, r.Failing, r.Mutant.Description)
	}
	tw.Flush()
	fmt.Fprintf(out, "\n%d mutants: %d killed, %d survived, %d stale, %d broken\n",
		len(results), counts["KILLED"], counts["SURVIVED"], counts["STALE"], counts["BROKEN"])
	if counts["KILLED"] != len(results) {
		return 1
	}
	return 0
}

// runMutant applies m through an overlay of its file and runs its tests.
func runMutant(ctx context.Context, m Mutant, tmp string, timeout time.Duration) Result {
	start := time.Now()
	r := Result{Mutant: m}
	src, err := os.ReadFile(m.File)
	if err != nil {
		r.Status, r.Failing = "STALE", err.Error()
		return r
	}
	mutated, err := Apply(string(src), m)
	if err != nil {
		r.Status, r.Failing = "STALE", err.Error()
		return r
	}
	abs, err := filepath.Abs(m.File)
	if err != nil {
		r.Status, r.Failing = "BROKEN", err.Error()
		return r
	}
	dir := filepath.Join(tmp, m.ID)
	overlay := filepath.Join(dir, "overlay.json")
	replaced := filepath.Join(dir, filepath.Base(m.File))
	spec, _ := json.Marshal(map[string]map[string]string{"Replace": {abs: replaced}})
	if err := errors.Join(os.MkdirAll(dir, 0o755), os.WriteFile(replaced, []byte(mutated), 0o644),
		os.WriteFile(overlay, spec, 0o644)); err != nil {
		r.Status, r.Failing = "BROKEN", err.Error()
		return r
	}
	r.Output, err = goTest(ctx, overlay, m.Packages, m.Run, timeout)
	r.Took = time.Since(start)
	r.Status, r.Failing = Classify(r.Output, err)
	return r
}

// goTest runs go test -count=1 on pkgs, with overlay when not empty.
func goTest(ctx context.Context, overlay string, pkgs []string, run string, timeout time.Duration) (string, error) {
	args := []string{"test", "-count=1", "-timeout", timeout.String()}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	if run != "" {
		args = append(args, "-run", run)
	}
	args = append(args, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// Classify reads go test's output and error: a build failure is BROKEN
// (the mutant is not a program), a failing test KILLED, a pass SURVIVED.
func Classify(output string, err error) (status, failing string) {
	switch {
	case err == nil:
		return "SURVIVED", ""
	case strings.Contains(output, "[build failed]") || strings.Contains(output, "[setup failed]"):
		return "BROKEN", "does not build"
	}
	if m := failLine.FindStringSubmatch(output); m != nil {
		return "KILLED", m[1]
	}
	if strings.Contains(output, "panic:") {
		return "KILLED", "(a panic)"
	}
	if strings.Contains(output, "test timed out") {
		return "KILLED", "(a timeout)"
	}
	return "KILLED", "(go test failed: " + err.Error() + ")"
}

// Apply replaces m's original text in src; the original must occur
// exactly once, or the mutant is stale (the code moved on: update it).
func Apply(src string, m Mutant) (string, error) {
	switch n := strings.Count(src, m.Original); n {
	case 1:
		return strings.Replace(src, m.Original, m.Replacement, 1), nil
	case 0:
		return "", fmt.Errorf("original text not found in %s", m.File)
	default:
		return "", fmt.Errorf("original text found %d times in %s: make it longer", n, m.File)
	}
}

// Parse reads the list (see .ci/mutants.txt for its format).
func Parse(text string) ([]Mutant, error) {
	var out []Mutant
	var cur *Mutant
	section := "" // "", "original" or "replacement"
	var body []string
	flush := func() error {
		if cur == nil {
			return nil
		}
		switch section {
		case "original":
			return fmt.Errorf("line %d: mutant %s has no +++ replacement", cur.Line, cur.ID)
		case "replacement":
			cur.Replacement = trimBody(body)
		default:
			return fmt.Errorf("line %d: mutant %s has no --- original", cur.Line, cur.ID)
		}
		switch {
		case cur.File == "" || len(cur.Packages) == 0 || cur.Description == "":
			return fmt.Errorf("line %d: mutant %s needs a file, a test and a desc line", cur.Line, cur.ID)
		case cur.Original == "":
			return fmt.Errorf("line %d: mutant %s has an empty original", cur.Line, cur.ID)
		case cur.Original == cur.Replacement:
			return fmt.Errorf("line %d: mutant %s changes nothing", cur.Line, cur.ID)
		}
		for _, m := range out {
			if m.ID == cur.ID {
				return fmt.Errorf("line %d: mutant %s listed twice", cur.Line, cur.ID)
			}
		}
		out = append(out, *cur)
		return nil
	}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		if id, ok := strings.CutPrefix(line, "== "); ok {
			if err := flush(); err != nil {
				return nil, err
			}
			cur, section, body = &Mutant{ID: strings.TrimSpace(id), Line: n}, "", nil
			if cur.ID == "" || strings.ContainsAny(cur.ID, " \t/") {
				return nil, fmt.Errorf("line %d: a mutant id is one word", n)
			}
			continue
		}
		switch {
		case strings.HasPrefix(line, "#"):
			// A comment, even inside a section: Go code never starts a line with #.
		case section == "original" && line == "+++ replacement":
			cur.Original, section, body = trimBody(body), "replacement", nil
		case section != "":
			body = append(body, line)
		case strings.TrimSpace(line) == "":
		case cur == nil:
			return nil, fmt.Errorf("line %d: %q before the first == line", n, line)
		case line == "--- original":
			section = "original"
		default:
			key, value, ok := strings.Cut(line, ":")
			value = strings.TrimSpace(value)
			switch {
			case !ok:
				return nil, fmt.Errorf("line %d: want key: value, --- original or +++ replacement", n)
			case key == "file":
				cur.File = value
			case key == "test":
				cur.Packages = strings.Fields(value)
			case key == "run":
				cur.Run = value
			case key == "desc":
				cur.Description = value
			default:
				return nil, fmt.Errorf("line %d: unknown key %q", n, key)
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// trimBody joins a section's lines, without the blank lines that separate
// one mutant from the next.
func trimBody(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}
