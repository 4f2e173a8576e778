package app_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"gopkg.in/yaml.v3"
)

// emitted is what the code counts: each metric name with the extra
// dimension it carries beside Function ("" for none), and the values of
// Function (obs.NewMetrics' argument).
type emitted struct {
	metrics   map[string][]string // name -> extra dimensions
	functions []string
}

// emittedMetrics reads the metrics the shipped code counts from its source:
// every call of obs.Metrics' Count, CountBy and Duration, and of
// obs.NewMetrics, whose name is a string literal. The source is read rather
// than a run's output because a run shows only the paths it took (a panic,
// a stale job) and the dashboard must show the others too.
func emittedMetrics(t *testing.T) emitted {
	t.Helper()
	out := emitted{metrics: map[string][]string{}}
	fset := token.NewFileSet()
	for _, root := range []string{"pkg", "functions"} {
		err := filepath.WalkDir(filepath.Join("..", "..", root), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				name, ok := stringLit(call.Args[0])
				if !ok {
					return true
				}
				switch sel.Sel.Name {
				case "NewMetrics":
					out.functions = append(out.functions, name)
				case "Count", "Duration", "Longest", "Lowest":
					if len(call.Args) == 2 {
						out.metrics[name] = appendNew(out.metrics[name], "")
					}
				case "CountBy":
					if dim, ok := stringLit(call.Args[1]); ok && len(call.Args) == 4 {
						out.metrics[name] = appendNew(out.metrics[name], dim)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The walk itself must work: these are counted in three packages.
	for _, name := range []string{"ZohoCalls", "JobsStale", "TokenRefreshes", "ZohoErrors"} {
		if _, ok := out.metrics[name]; !ok {
			t.Fatalf("the source walk did not find %s; it is broken", name)
		}
	}
	if !slices.Contains(out.functions, "convert") || !slices.Contains(out.functions, "status") {
		t.Fatalf("the source walk found functions %v; it is broken", out.functions)
	}
	return out
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

func appendNew(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// subRef is a ${...} of !Sub; ${!...} is a literal ${...}.
var subRef = regexp.MustCompile(`\$\{(!?)([A-Za-z0-9:.]+)\}`)

// resolveSub fills a !Sub string's references with stand-ins JSON can
// parse: "arn:<Resource>" for <Resource>.Arn, a number for a Number
// parameter, and the name otherwise.
func resolveSub(s string, numbers map[string]bool) string {
	return subRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := subRef.FindStringSubmatch(ref)
		switch {
		case m[1] == "!":
			return "${" + m[2] + "}"
		case strings.HasSuffix(m[2], ".Arn"):
			return "arn:" + strings.TrimSuffix(m[2], ".Arn")
		case numbers[m[2]]:
			return "1"
		}
		return m[2]
	})
}

// dashboard is the part of a dashboard body these checks read.
type dashboard struct {
	Widgets []struct {
		Type       string `json:"type"`
		Properties struct {
			Title   string              `json:"title"`
			Alarms  []string            `json:"alarms"`
			Metrics [][]json.RawMessage `json:"metrics"`
		} `json:"properties"`
	} `json:"widgets"`
}

// search is a SEARCH expression's schema and metric name.
var search = regexp.MustCompile(`SEARCH\('\{([^}]*)\}\s*MetricName="([^"]+)"`)

// TestDashboardMetricsAreEmitted: every metric of the ZohoLeadConvert
// namespace the dashboard graphs, one by one or through SEARCH, is one the
// code counts, with the dimensions pkg/obs writes for it (Function, and the
// CountBy dimension), for a function that exists; and the alarm widget
// lists exactly the template's alarms. A renamed metric or a new alarm
// fails here instead of leaving an empty graph.
func TestDashboardMetricsAreEmitted(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Parameters map[string]struct {
			Type string `yaml:"Type"`
		} `yaml:"Parameters"`
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				DashboardBody yaml.Node `yaml:"DashboardBody"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	numbers := map[string]bool{}
	for name, p := range doc.Parameters {
		numbers[name] = p.Type == "Number"
	}
	var bodies []yaml.Node
	var alarms []string
	for id, res := range doc.Resources {
		switch res.Type {
		case "AWS::CloudWatch::Dashboard":
			bodies = append(bodies, res.Properties.DashboardBody)
		case "AWS::CloudWatch::Alarm":
			alarms = append(alarms, "arn:"+id)
		}
	}
	if len(bodies) != 1 || bodies[0].Tag != "!Sub" {
		t.Fatalf("want one dashboard whose body is a !Sub string, found %d", len(bodies))
	}
	var dash dashboard
	if err := json.Unmarshal([]byte(resolveSub(bodies[0].Value, numbers)), &dash); err != nil {
		t.Fatalf("the dashboard body is not JSON once resolved: %v", err)
	}

	code := emittedMetrics(t)
	// check reports a metric of the namespace the code does not write with
	// exactly these dimensions.
	check := func(where, name string, dims []string) {
		t.Helper()
		extra, ok := code.metrics[name]
		if !ok {
			t.Errorf("%s: %s %s is not a metric the code counts", where, obs.Namespace, name)
			return
		}
		rest := slices.DeleteFunc(slices.Clone(dims), func(d string) bool { return d == "Function" })
		if len(rest) == len(dims) || len(rest) > 1 {
			t.Errorf("%s: %s with dimensions %v; the code writes Function and at most one more", where, name, dims)
			return
		}
		want := ""
		if len(rest) == 1 {
			want = rest[0]
		}
		if !slices.Contains(extra, want) {
			t.Errorf("%s: %s with dimensions %v; the code writes it with Function and %q", where, name, dims, extra)
		}
	}
	graphed := 0
	var listed []string
	for _, w := range dash.Widgets {
		listed = append(listed, w.Properties.Alarms...)
		var prev []string // "." repeats the previous row's field
		for _, row := range w.Properties.Metrics {
			var fields []string
			for i, raw := range row {
				var s string
				if json.Unmarshal(raw, &s) != nil {
					var opts struct {
						Expression string `json:"expression"`
					}
					if err := json.Unmarshal(raw, &opts); err != nil {
						t.Fatalf("%s: metric option %s: %v", w.Properties.Title, raw, err)
					}
					for _, m := range search.FindAllStringSubmatch(opts.Expression, -1) {
						schema := strings.Split(m[1], ",")
						if strings.TrimSpace(schema[0]) == obs.Namespace {
							check(w.Properties.Title, m[2], trimAll(schema[1:]))
							graphed++
						}
					}
					continue
				}
				if s == "." && i < len(prev) {
					s = prev[i]
				}
				fields = append(fields, s)
			}
			prev = fields
			if len(fields) < 2 || fields[0] != obs.Namespace {
				continue
			}
			graphed++
			var dims []string
			for i := 2; i+1 < len(fields); i += 2 {
				dims = append(dims, fields[i])
				if fields[i] == "Function" && !slices.Contains(code.functions, fields[i+1]) {
					t.Errorf("%s: %s for Function %q; the functions are %v", w.Properties.Title, fields[1], fields[i+1], code.functions)
				}
			}
			check(w.Properties.Title, fields[1], dims)
		}
	}
	if graphed < 10 {
		t.Errorf("found %d metrics of %s in the dashboard; the parse is broken", graphed, obs.Namespace)
	}
	sort.Strings(alarms)
	sort.Strings(listed)
	if len(alarms) == 0 || !slices.Equal(alarms, listed) {
		t.Errorf("the dashboard lists alarms %v; the template has %v", listed, alarms)
	}
}

func trimAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.TrimSpace(s)
	}
	return out
}
