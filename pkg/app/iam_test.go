package app_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/budget"
	"github.com/zoho-bridge/leadconvert/pkg/credits"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
	"gopkg.in/yaml.v3"
)

// tableCalls reads pkg/aws/table's source and returns, for every method
// ("JobStore.Claim"), the DynamoDB operations it makes, directly or through
// the package's helpers: the client's calls, and a transaction's items by
// kind (IAM authorises TransactWriteItems item by item: Put is PutItem,
// ConditionCheck is ConditionCheckItem, ...).
func tableCalls(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	dir := filepath.Join("..", "aws", "table")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	direct := map[string]map[string]bool{} // function -> operations
	calls := map[string][]string{}         // function -> functions of the package it calls
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			name, recvType, recvName := fd.Name.Name, "", ""
			if fd.Recv != nil {
				field := fd.Recv.List[0]
				if star, ok := field.Type.(*ast.StarExpr); ok {
					recvType = star.X.(*ast.Ident).Name
				} else {
					recvType = field.Type.(*ast.Ident).Name
				}
				if len(field.Names) > 0 {
					recvName = field.Names[0].Name
				}
				name = recvType + "." + name
			}
			ops := map[string]bool{}
			direct[name] = ops
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					switch fun := n.Fun.(type) {
					case *ast.Ident: // a function of the package
						calls[name] = append(calls[name], fun.Name)
					case *ast.SelectorExpr:
						if inner, ok := fun.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "api" {
							if fun.Sel.Name != "TransactWriteItems" { // counted by its items
								ops[fun.Sel.Name] = true
							}
						} else if id, ok := fun.X.(*ast.Ident); ok && recvName != "" && id.Name == recvName {
							calls[name] = append(calls[name], recvType+"."+fun.Sel.Name)
						}
					}
				case *ast.CompositeLit:
					if isTransactItem(n.Type) {
						transactItem(n, ops)
					}
					// []types.TransactWriteItem{{Put: ...}}: the items' type is elided.
					if arr, ok := n.Type.(*ast.ArrayType); ok && isTransactItem(arr.Elt) {
						for _, el := range n.Elts {
							if lit, ok := el.(*ast.CompositeLit); ok {
								transactItem(lit, ops)
							}
						}
					}
				}
				return true
			})
		}
	}
	out := map[string][]string{}
	for fn := range direct {
		out[fn] = []string{}
		seen, all := map[string]bool{}, map[string]bool{}
		var visit func(string)
		visit = func(f string) {
			if seen[f] {
				return
			}
			seen[f] = true
			for op := range direct[f] {
				all[op] = true
			}
			for _, g := range calls[f] {
				visit(g)
			}
		}
		visit(fn)
		for op := range all {
			out[fn] = append(out[fn], op)
		}
	}
	return out
}

func isTransactItem(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "TransactWriteItem"
}

// transactItem adds the operation of one transaction item, by its field.
func transactItem(lit *ast.CompositeLit, ops map[string]bool) {
	for _, el := range lit.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			ops[kv.Key.(*ast.Ident).Name+"Item"] = true
		}
	}
}

// methods lists the method names of the interface type iface points to.
func methods(iface any) []string {
	typ := reflect.TypeOf(iface).Elem()
	var out []string
	for i := range typ.NumMethod() {
		out = append(out, typ.Method(i).Name)
	}
	return out
}

// grants returns the actions a function's policies grant, by resource
// (the resource's YAML, e.g. `!GetAtt JobsTable.Arn`).
func grants(t *testing.T, tmpl template, fn string) map[string][]string {
	t.Helper()
	var props struct {
		Policies []struct {
			Statement []yaml.Node `yaml:"Statement"`
		} `yaml:"Policies"`
	}
	res := tmpl.Resources[fn]
	if err := res.Properties.Decode(&props); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	var add func(n *yaml.Node)
	add = func(n *yaml.Node) {
		if n.Tag == "!If" { // [condition, then, else]
			add(n.Content[1])
			add(n.Content[2])
			return
		}
		var st struct {
			Action   yaml.Node `yaml:"Action"`
			Resource yaml.Node `yaml:"Resource"`
		}
		if n.Kind != yaml.MappingNode || n.Decode(&st) != nil {
			return
		}
		actions := []string{st.Action.Value}
		if st.Action.Kind == yaml.SequenceNode {
			actions = nil
			for _, a := range st.Action.Content {
				actions = append(actions, a.Value)
			}
		}
		resources := []*yaml.Node{&st.Resource}
		if st.Resource.Kind == yaml.SequenceNode {
			resources = st.Resource.Content
		}
		for _, r := range resources {
			key := strings.TrimSpace(r.Tag + " " + r.Value)
			out[key] = append(out[key], actions...)
		}
	}
	for _, p := range props.Policies {
		for i := range p.Statement {
			add(&p.Statement[i])
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

// TestTemplateGrantsWhatTheCodeCalls: each function's role grants exactly
// the DynamoDB actions its stores make, read from pkg/aws/table's source
// through the interfaces the function is given (app.ConvertDeps,
// app.StatusDeps, sweeps included): nothing the code never calls, and nothing it calls left
// out. Query is granted on the open-checks index only.
func TestTemplateGrantsWhatTheCodeCalls(t *testing.T) {
	calls := tableCalls(t)
	uses := func(store string, iface any) []string {
		var out []string
		for _, m := range methods(iface) {
			ops, ok := calls[store+"."+m]
			if !ok {
				t.Fatalf("%s has no method %s: the source reader is out of date", store, m)
			}
			out = append(out, ops...)
		}
		return out
	}
	shared := slices.Concat(uses("TokenStore", (*oauth.Store)(nil)), uses("Slots", (*budget.Slots)(nil)),
		uses("JobStore", (*credits.Store)(nil)))
	tests := []struct {
		fn  string
		ops []string
	}{
		{"ConvertFunction", append(uses("JobStore", (*jobs.Store)(nil)), shared...)},
		{"StatusFunction", slices.Concat(uses("JobStore", (*jobs.CheckStore)(nil)), uses("JobStore", (*app.SweepStore)(nil)),
			uses("JobStore", (*jobs.CheckLeaser)(nil)), uses("JobStore", (*jobs.CompletionStats)(nil)), shared)},
	}
	tmpl := loadTemplate(t)
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			var onTable, onIndex []string
			for _, op := range tt.ops {
				if op == "Query" {
					onIndex = append(onIndex, "dynamodb:Query")
				} else {
					onTable = append(onTable, "dynamodb:"+op)
				}
			}
			sort.Strings(onTable)
			onTable, onIndex = slices.Compact(onTable), slices.Compact(onIndex)
			g := grants(t, tmpl, tt.fn)
			if got := g["!GetAtt JobsTable.Arn"]; !slices.Equal(got, onTable) {
				t.Errorf("granted on the table: %v; the code calls %v", got, onTable)
			}
			if got := g[`!Sub ${JobsTable.Arn}/index/open-checks`]; !slices.Equal(got, onIndex) {
				t.Errorf("granted on the open-checks index: %v; the code calls %v", got, onIndex)
			}
		})
	}
}

// TestSweepSchedulerRole: the role the sweeps' schedules run as is
// assumable by Scheduler for this account only, and may invoke the status
// function and nothing else; the group carries the stack's name, and the
// outputs name what `leadconvert sweep` needs.
func TestSweepSchedulerRole(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Type       string    `yaml:"Type"`
			Properties yaml.Node `yaml:"Properties"`
		} `yaml:"Resources"`
		Outputs map[string]struct {
			Value yaml.Node `yaml:"Value"`
		} `yaml:"Outputs"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	group := doc.Resources["SweepScheduleGroup"]
	var gp struct {
		Name yaml.Node `yaml:"Name"`
	}
	if err := group.Properties.Decode(&gp); err != nil || group.Type != "AWS::Scheduler::ScheduleGroup" || !strings.Contains(gp.Name.Value, "${AWS::StackName}") {
		t.Errorf("SweepScheduleGroup: %s named %q (%v)", group.Type, gp.Name.Value, err)
	}

	role := doc.Resources["SweepSchedulerRole"]
	var rp struct {
		AssumeRolePolicyDocument struct {
			Statement []struct {
				Effect    string               `yaml:"Effect"`
				Principal map[string]string    `yaml:"Principal"`
				Action    string               `yaml:"Action"`
				Condition map[string]yaml.Node `yaml:"Condition"`
			} `yaml:"Statement"`
		} `yaml:"AssumeRolePolicyDocument"`
		Policies []struct {
			PolicyDocument struct {
				Statement []struct {
					Effect   string    `yaml:"Effect"`
					Action   yaml.Node `yaml:"Action"`
					Resource yaml.Node `yaml:"Resource"`
				} `yaml:"Statement"`
			} `yaml:"PolicyDocument"`
		} `yaml:"Policies"`
		ManagedPolicyArns []string `yaml:"ManagedPolicyArns"`
	}
	if err := role.Properties.Decode(&rp); err != nil || role.Type != "AWS::IAM::Role" {
		t.Fatalf("SweepSchedulerRole: %s %v", role.Type, err)
	}
	trust := rp.AssumeRolePolicyDocument.Statement
	if len(trust) != 1 || trust[0].Effect != "Allow" || trust[0].Principal["Service"] != "scheduler.amazonaws.com" || trust[0].Action != "sts:AssumeRole" {
		t.Fatalf("trust: %+v", trust)
	}
	var cond map[string]yaml.Node
	if eq, ok := trust[0].Condition["StringEquals"]; !ok || eq.Decode(&cond) != nil || cond["aws:SourceAccount"].Value != "AWS::AccountId" {
		t.Errorf("trust condition: want StringEquals aws:SourceAccount = !Ref AWS::AccountId, got %+v", trust[0].Condition)
	}
	var grants []string
	for _, p := range rp.Policies {
		for _, st := range p.PolicyDocument.Statement {
			grants = append(grants, st.Effect+" "+st.Action.Value+" on "+st.Resource.Tag+" "+st.Resource.Value)
		}
	}
	if want := []string{"Allow lambda:InvokeFunction on !GetAtt StatusFunction.Arn"}; !slices.Equal(grants, want) || len(rp.ManagedPolicyArns) != 0 {
		t.Errorf("grants %q (managed %v), want exactly %q", grants, rp.ManagedPolicyArns, want)
	}

	for out, want := range map[string]string{"StatusFunctionArn": "StatusFunction.Arn", "SweepScheduleGroupName": "SweepScheduleGroup",
		"SweepSchedulerRoleArn": "SweepSchedulerRole.Arn"} {
		if got := doc.Outputs[out].Value.Value; got != want {
			t.Errorf("output %s = %q, want %q", out, got, want)
		}
	}
}
