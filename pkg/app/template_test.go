package app_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	awstable "github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"gopkg.in/yaml.v3"
)

// localOnly are variables the code reads that a deployment leaves unset:
// endpoint overrides for the simulator and tests.
var localOnly = []string{"ZOHO_ACCOUNTS_URL", "ZOHO_API_URL"}

// variablesRead records every variable a configuration loader reads.
func variablesRead(load func(getenv func(string) string)) []string {
	seen := map[string]bool{}
	load(func(k string) string { seen[k] = true; return "" })
	var out []string
	for k := range seen {
		if !slices.Contains(localOnly, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// template is the part of template.yaml these checks read.
type template struct {
	Globals struct {
		Function struct {
			Environment struct {
				Variables map[string]yaml.Node `yaml:"Variables"`
			} `yaml:"Environment"`
			Handler string `yaml:"Handler"`
			Runtime string `yaml:"Runtime"`
		} `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]struct {
		Type     string `yaml:"Type"`
		Metadata struct {
			BuildMethod string `yaml:"BuildMethod"`
		} `yaml:"Metadata"`
		Properties yaml.Node `yaml:"Properties"`
	} `yaml:"Resources"`
}

type functionProps struct {
	CodeUri     string `yaml:"CodeUri"`
	Environment struct {
		Variables map[string]yaml.Node `yaml:"Variables"`
	} `yaml:"Environment"`
}

type tableProps struct {
	KeySchema []struct {
		AttributeName string `yaml:"AttributeName"`
	} `yaml:"KeySchema"`
	GlobalSecondaryIndexes []struct {
		IndexName string `yaml:"IndexName"`
		KeySchema []struct {
			AttributeName string `yaml:"AttributeName"`
		} `yaml:"KeySchema"`
		Projection struct {
			ProjectionType   string   `yaml:"ProjectionType"`
			NonKeyAttributes []string `yaml:"NonKeyAttributes"`
		} `yaml:"Projection"`
	} `yaml:"GlobalSecondaryIndexes"`
	TimeToLiveSpecification struct {
		AttributeName string `yaml:"AttributeName"`
	} `yaml:"TimeToLiveSpecification"`
}

func loadTemplate(t *testing.T) template {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl template
	if err := yaml.Unmarshal(b, &tmpl); err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// TestTemplateMatchesCode: every variable a function reads is set by the
// template, every function is built from a main package by a make target,
// and the table has the keys and index the stores use.
func TestTemplateMatchesCode(t *testing.T) {
	tmpl := loadTemplate(t)
	if tmpl.Globals.Function.Handler != "bootstrap" || tmpl.Globals.Function.Runtime != "provided.al2023" {
		t.Errorf("globals: handler %q runtime %q", tmpl.Globals.Function.Handler, tmpl.Globals.Function.Runtime)
	}
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	functions := map[string]struct {
		dir  string
		vars []string
	}{
		"ConvertFunction": {"convert", variablesRead(func(g func(string) string) { _, _ = config.LoadConvert(g) })},
		"StatusFunction":  {"status", variablesRead(func(g func(string) string) { _, _ = config.LoadStatus(g) })},
	}
	for id, fn := range functions {
		res, ok := tmpl.Resources[id]
		if !ok || res.Type != "AWS::Serverless::Function" {
			t.Errorf("%s: not a function of the template", id)
			continue
		}
		var props functionProps
		if err := res.Properties.Decode(&props); err != nil {
			t.Fatal(err)
		}
		for _, v := range fn.vars {
			_, inGlobals := tmpl.Globals.Function.Environment.Variables[v]
			_, inFunction := props.Environment.Variables[v]
			if !inGlobals && !inFunction {
				t.Errorf("%s reads %s, which the template does not set", id, v)
			}
		}
		for v := range props.Environment.Variables {
			if !slices.Contains(fn.vars, v) {
				t.Errorf("%s: the template sets %s, which the code never reads", id, v)
			}
		}
		if res.Metadata.BuildMethod != "makefile" || props.CodeUri != "." {
			t.Errorf("%s: want BuildMethod makefile from CodeUri '.'", id)
		}
		if !strings.Contains(string(makefile), "\nbuild-"+id+":") {
			t.Errorf("Makefile has no build-%s target for sam build", id)
		}
		if !strings.Contains(string(makefile), "./functions/"+fn.dir) {
			t.Errorf("Makefile does not build ./functions/%s", fn.dir)
		}
		if _, err := os.Stat(filepath.Join("..", "..", "functions", fn.dir, "main.go")); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	for v := range tmpl.Globals.Function.Environment.Variables {
		if !slices.Contains(functions["ConvertFunction"].vars, v) && !slices.Contains(functions["StatusFunction"].vars, v) {
			t.Errorf("Globals set %s, which no function reads", v)
		}
	}

	var table tableProps
	tableRes := tmpl.Resources["JobsTable"]
	if err := tableRes.Properties.Decode(&table); err != nil {
		t.Fatal(err)
	}
	if len(table.KeySchema) != 1 || table.KeySchema[0].AttributeName != "pk" {
		t.Errorf("table key schema %+v; the stores key items by pk alone", table.KeySchema)
	}
	// The index the status function queries, then the previous version's,
	// which stays until the next release (one index per table update).
	indexes := table.GlobalSecondaryIndexes
	if len(indexes) != 2 || indexes[0].IndexName != awstable.OpenIndex || len(indexes[0].KeySchema) != 1 ||
		indexes[0].KeySchema[0].AttributeName != "open_shard" ||
		indexes[0].Projection.ProjectionType != "INCLUDE" || !slices.Equal(indexes[0].Projection.NonKeyAttributes, []string{"due_at", "next_check_at"}) {
		t.Errorf("table index %+v; the status function queries %s by open_shard alone, filtered on due_at and next_check_at", indexes, awstable.OpenIndex)
	}
	if len(indexes) == 2 && (indexes[1].IndexName != awstable.LegacyOpenIndex || len(indexes[1].KeySchema) != 2 ||
		indexes[1].KeySchema[1].AttributeName != "next_check_at") {
		t.Errorf("table index %+v; the previous version's %s stays for one release", indexes[1], awstable.LegacyOpenIndex)
	}
	if table.TimeToLiveSpecification.AttributeName != "expires_at" {
		t.Errorf("TTL attribute %q, the stores write expires_at", table.TimeToLiveSpecification.AttributeName)
	}
}

// TestTemplateSecurity: no IAM statement grants an action on every resource,
// and the queues and the table are encrypted at rest (a Secrets Manager
// secret always is).
func TestTemplateSecurity(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(n *yaml.Node, key string)
	statements := 0
	walk = func(n *yaml.Node, key string) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i].Value, n.Content[i+1]
				if k == "Resource" {
					statements++
					for _, r := range append([]*yaml.Node{v}, v.Content...) {
						if r.Kind == yaml.ScalarNode && strings.TrimSpace(r.Value) == "*" {
							t.Errorf("an IAM statement at line %d grants Resource \"*\"", r.Line)
						}
					}
				}
				walk(v, k)
			}
			return
		}
		for _, c := range n.Content {
			walk(c, key)
		}
	}
	walk(&doc, "")
	if statements < 6 {
		t.Fatalf("found %d IAM statements; the walk is broken", statements)
	}
	tmpl := loadTemplate(t)
	for id, res := range tmpl.Resources {
		var props map[string]any
		p := res.Properties
		if err := p.Decode(&props); err != nil {
			t.Fatal(err)
		}
		switch res.Type {
		case "AWS::SQS::Queue":
			if props["SqsManagedSseEnabled"] != true && props["KmsMasterKeyId"] == nil {
				t.Errorf("queue %s is not encrypted", id)
			}
		case "AWS::DynamoDB::Table":
			if sse, _ := props["SSESpecification"].(map[string]any); sse["SSEEnabled"] != true {
				t.Errorf("table %s: SSESpecification.SSEEnabled is not true", id)
			}
		case "AWS::SNS::Topic":
			if props["KmsMasterKeyId"] == nil {
				t.Errorf("topic %s is not encrypted", id)
			}
		}
	}
}

// TestWakeupsDueOnTime: the convert function's BATCHING_WINDOW_SECONDS is
// its Queue event's window, and the wake-up queue's event has none, so a
// wake-up is handled when it is due.
func TestWakeupsDueOnTime(t *testing.T) {
	tmpl := loadTemplate(t)
	var props struct {
		Environment struct {
			Variables map[string]yaml.Node `yaml:"Variables"`
		} `yaml:"Environment"`
		Events map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				MaximumBatchingWindowInSeconds *int `yaml:"MaximumBatchingWindowInSeconds"`
			} `yaml:"Properties"`
		} `yaml:"Events"`
	}
	fn := tmpl.Resources["ConvertFunction"]
	if err := fn.Properties.Decode(&props); err != nil {
		t.Fatal(err)
	}
	window, wake := props.Events["Queue"].Properties.MaximumBatchingWindowInSeconds, props.Events["Wakeups"].Properties.MaximumBatchingWindowInSeconds
	if window == nil || wake == nil {
		t.Fatal("the Queue and Wakeups events must both set MaximumBatchingWindowInSeconds")
	}
	if got := props.Environment.Variables["BATCHING_WINDOW_SECONDS"].Value; got != strconv.Itoa(*window) {
		t.Errorf("BATCHING_WINDOW_SECONDS is %q, the Queue event's window %d", got, *window)
	}
	if *wake != 0 {
		t.Errorf("the wake-up queue's event waits %d s to gather; wake-ups would be late", *wake)
	}
}
