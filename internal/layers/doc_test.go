package layers

import (
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// row is one line of docs/architecture.md's table of folders.
type row struct {
	folders []string // the packages the row describes
	mayAll  bool     // "everything"
	mayCore bool     // "core packages only": pkg/ but pkg/aws/...
	mayAWS  bool     // "pkg/aws/...": any adapter
	named   []string // the project packages the row names
}

var backticked = regexp.MustCompile("`([^`]+)`")

// docRows reads the folder table of docs/architecture.md, naming packages
// by their path: a name in the "may import" column is the last element of
// an importable package (pkg/ and internal/ hold them; pkg/ wins a tie,
// as `convert` is pkg/convert and functions/convert is a main).
func docRows(t *testing.T, pkgs []string) []row {
	t.Helper()
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, p := range slices.Backward(slices.Sorted(slices.Values(pkgs))) { // pkg/ after internal/: pkg/ wins
		if strings.HasPrefix(p, "pkg/") || strings.HasPrefix(p, "internal/") {
			byName[path.Base(p)] = p
		}
	}
	var rows []row
	in := false
	for line := range strings.Lines(string(doc)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "| folder | holds | may import |") {
			in = true
			continue
		}
		if !in || strings.HasPrefix(line, "|---") {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("docs/architecture.md: a table row with %d cells: %s", len(cells), line)
		}
		var r row
		for _, m := range backticked.FindAllStringSubmatch(cells[0], -1) {
			r.folders = append(r.folders, m[1])
		}
		may := cells[2]
		r.mayAll = strings.Contains(may, "everything")
		r.mayCore = strings.Contains(may, "core packages only")
		for _, m := range backticked.FindAllStringSubmatch(may, -1) {
			switch name := m[1]; {
			case name == "pkg/aws/...":
				r.mayAWS = true
			case slices.Contains(pkgs, name):
				r.named = append(r.named, name)
			case byName[name] != "":
				r.named = append(r.named, byName[name])
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatal("docs/architecture.md: no table headed | folder | holds | may import |")
	}
	return rows
}

func (r row) allows(p string) bool {
	switch {
	case r.mayAll, slices.Contains(r.named, p):
		return true
	case strings.HasPrefix(p, "pkg/aws/"):
		return r.mayAWS
	default:
		return r.mayCore && strings.HasPrefix(p, "pkg/")
	}
}

// TestDocSaysWhatImportsWhat: docs/architecture.md's table of folders has
// a row for every package, its "may import" column allows every package
// of the project that the row's code imports (tests aside), and every
// package it names is imported by that row's code, so the table cannot
// drift from the code in either direction.
func TestDocSaysWhatImportsWhat(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	var pkgs []string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		p := strings.TrimPrefix(f[0], module)
		pkgs = append(pkgs, p)
		for _, d := range f[1:] {
			if d, ok := strings.CutPrefix(d, module); ok {
				imports[p] = append(imports[p], d)
			}
		}
	}
	rows := docRows(t, pkgs)
	for _, p := range pkgs {
		var found []row
		for _, r := range rows {
			if slices.Contains(r.folders, p) {
				found = append(found, r)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s: in %d rows of docs/architecture.md's table of folders, want 1", p, len(found))
			continue
		}
		for _, d := range imports[p] {
			if !found[0].allows(d) {
				t.Errorf("%s imports %s; its row's \"may import\" column does not allow it", p, d)
			}
		}
	}
	for _, r := range rows {
		for _, n := range r.named {
			used := false
			for _, f := range r.folders {
				used = used || slices.Contains(imports[f], n)
			}
			if !used && !slices.Contains(r.folders, n) {
				t.Errorf("the row of %v allows %s, which none of them imports", r.folders, n)
			}
		}
	}
}
