package app_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	awstable "github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/httpapi"
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
		"AuthorizerFunction": {"authorizer", variablesRead(func(g func(string) string) {
			_, _ = config.LoadAuthorizer(g)
		})},
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

// TestTemplateSecurity: no IAM statement grants an action on every resource
// (in a key policy "*" is the key itself), and the queues and the table are
// encrypted at rest (a Secrets Manager secret always is).
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
				if k == "KeyPolicy" {
					continue // TestTokenKeyPolicy
				}
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
			// CloudWatch alarms cannot publish to a topic under the
			// AWS-managed key: its policy cannot grant cloudwatch.amazonaws.com.
			if k, _ := props["KmsMasterKeyId"].(string); strings.HasPrefix(k, "alias/aws/") {
				t.Errorf("topic %s is encrypted with %s: no alarm would reach it", id, k)
			}
		}
	}
}

// TestTokenKeyPolicy: the key that seals the shared token rotates, and
// every statement of its policy that lets a principal encrypt, decrypt or
// grant those (kms:*, kms:Create* included) names the functions' roles and
// the table's token items in its conditions.
func TestTokenKeyPolicy(t *testing.T) {
	var key struct {
		EnableKeyRotation bool `yaml:"EnableKeyRotation"`
		KeyPolicy         struct {
			Statement []struct {
				Action    []string                        `yaml:"Action"`
				Condition map[string]map[string]yaml.Node `yaml:"Condition"`
			} `yaml:"Statement"`
		} `yaml:"KeyPolicy"`
	}
	res := loadTemplate(t).Resources["TokenKey"]
	if res.Type != "AWS::KMS::Key" {
		t.Fatalf("TokenKey is %q, want AWS::KMS::Key", res.Type)
	}
	if err := res.Properties.Decode(&key); err != nil {
		t.Fatal(err)
	}
	if !key.EnableKeyRotation {
		t.Error("TokenKey does not rotate")
	}
	uses := []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:CreateGrant", "kms:GenerateDataKey"}
	granting := 0
	for i, st := range key.KeyPolicy.Statement {
		lets := false
		for _, a := range st.Action {
			for _, u := range uses {
				if ok, _ := path.Match(a, u); ok {
					lets = true
				}
			}
		}
		if !lets {
			continue
		}
		granting++
		_, roles := st.Condition["ArnEquals"]["aws:PrincipalArn"]
		_, table := st.Condition["StringEquals"]["kms:EncryptionContext:table"]
		item := st.Condition["StringLike"]["kms:EncryptionContext:item"]
		if !roles || !table || item.Value != "TOKEN#*" {
			t.Errorf("statement %d lets %v without naming the roles, the table and TOKEN#* items", i, st.Action)
		}
	}
	if granting == 0 {
		t.Error("no statement lets the functions use the key")
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

// TestTemplateLogsAndRedrive: every function and the HTTP API log to a
// group of the template whose retention is the LogRetentionDays parameter
// (default 30 days); the access log format is JSON and carries no header,
// query string or body; and the dead-letter queue lets exactly the queues
// that redrive into it do so.
func TestTemplateLogsAndRedrive(t *testing.T) {
	tmpl := loadTemplate(t)
	var doc struct {
		Parameters map[string]struct {
			Default any `yaml:"Default"`
		} `yaml:"Parameters"`
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Parameters["LogRetentionDays"].Default; got != 30 {
		t.Errorf("LogRetentionDays defaults to %v, want 30", got)
	}
	// retained checks that ref names a log group kept LogRetentionDays.
	retained := func(what string, ref yaml.Node) {
		t.Helper()
		name := strings.TrimSuffix(ref.Value, ".Arn")
		if ref.Tag != "!Ref" && ref.Tag != "!GetAtt" {
			t.Errorf("%s logs to %q, not a log group of the template", what, ref.Value)
			return
		}
		res, ok := tmpl.Resources[name]
		var props struct {
			RetentionInDays yaml.Node `yaml:"RetentionInDays"`
		}
		if !ok || res.Type != "AWS::Logs::LogGroup" || res.Properties.Decode(&props) != nil {
			t.Errorf("%s logs to %s, not a log group of the template", what, name)
			return
		}
		if props.RetentionInDays.Tag != "!Ref" || props.RetentionInDays.Value != "LogRetentionDays" {
			t.Errorf("log group %s: RetentionInDays is not !Ref LogRetentionDays", name)
		}
	}
	for id, res := range tmpl.Resources {
		if res.Type != "AWS::Serverless::Function" {
			continue
		}
		var props struct {
			LoggingConfig struct {
				LogGroup yaml.Node `yaml:"LogGroup"`
			} `yaml:"LoggingConfig"`
		}
		if err := res.Properties.Decode(&props); err != nil {
			t.Fatal(err)
		}
		retained(id, props.LoggingConfig.LogGroup)
	}
	var api struct {
		AccessLogSettings struct {
			DestinationArn yaml.Node `yaml:"DestinationArn"`
			Format         string    `yaml:"Format"`
		} `yaml:"AccessLogSettings"`
	}
	apiRes := tmpl.Resources["ConversionApi"]
	if err := apiRes.Properties.Decode(&api); err != nil {
		t.Fatal(err)
	}
	retained("ConversionApi's access log", api.AccessLogSettings.DestinationArn)
	format := api.AccessLogSettings.Format
	var fields map[string]string
	if err := json.Unmarshal([]byte(format), &fields); err != nil || len(fields) == 0 {
		t.Errorf("the access log format is not a JSON object: %v\n%s", err, format)
	}
	for _, leak := range []string{"$request.", "$input.", "header", "querystring", "body", "$context.path", "authorizer.webhook"} {
		if strings.Contains(strings.ToLower(format), strings.ToLower(leak)) {
			t.Errorf("the access log format has %q: it could log the key or a body", leak)
		}
	}

	// The queues whose RedrivePolicy targets the DLQ, by name.
	var sources []string
	var allowed struct {
		RedriveAllowPolicy struct {
			RedrivePermission string      `yaml:"redrivePermission"`
			SourceQueueArns   []yaml.Node `yaml:"sourceQueueArns"`
		} `yaml:"RedriveAllowPolicy"`
	}
	for id, res := range tmpl.Resources {
		if res.Type != "AWS::SQS::Queue" {
			continue
		}
		var q struct {
			QueueName     yaml.Node `yaml:"QueueName"`
			RedrivePolicy struct {
				DeadLetterTargetArn yaml.Node `yaml:"deadLetterTargetArn"`
			} `yaml:"RedrivePolicy"`
		}
		if err := res.Properties.Decode(&q); err != nil {
			t.Fatal(err)
		}
		if q.RedrivePolicy.DeadLetterTargetArn.Value == "ConversionDeadLetterQueue.Arn" {
			if q.QueueName.Tag != "!Sub" {
				t.Errorf("queue %s redrives into the DLQ but has no name its RedriveAllowPolicy can use", id)
			}
			sources = append(sources, q.QueueName.Value)
		}
		if id == "ConversionDeadLetterQueue" {
			if err := res.Properties.Decode(&allowed); err != nil {
				t.Fatal(err)
			}
		}
	}
	if allowed.RedriveAllowPolicy.RedrivePermission != "byQueue" {
		t.Errorf("the DLQ's redrivePermission is %q, want byQueue", allowed.RedriveAllowPolicy.RedrivePermission)
	}
	var arns []string
	for _, a := range allowed.RedriveAllowPolicy.SourceQueueArns {
		arns = append(arns, a.Value)
	}
	var want []string
	for _, name := range sources {
		want = append(want, "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:"+name)
	}
	sort.Strings(arns)
	sort.Strings(want)
	if len(want) < 2 || !slices.Equal(arns, want) {
		t.Errorf("the DLQ allows %v; the queues that redrive into it are %v", arns, want)
	}
}

// TestTemplateGate: every route of the HTTP API is behind the authorizer
// function, whose identity source (and cache key) is the header the code
// reads the key from; and the convert function's reserved concurrency
// leaves room for the API beside everything its queues may run at once.
func TestTemplateGate(t *testing.T) {
	tmpl := loadTemplate(t)
	var api struct {
		Auth struct {
			DefaultAuthorizer string `yaml:"DefaultAuthorizer"`
			Authorizers       map[string]struct {
				FunctionArn                    yaml.Node `yaml:"FunctionArn"`
				AuthorizerPayloadFormatVersion string    `yaml:"AuthorizerPayloadFormatVersion"`
				EnableSimpleResponses          bool      `yaml:"EnableSimpleResponses"`
				Identity                       struct {
					Headers          []string `yaml:"Headers"`
					QueryStrings     []string `yaml:"QueryStrings"`
					ReauthorizeEvery int      `yaml:"ReauthorizeEvery"`
				} `yaml:"Identity"`
			} `yaml:"Authorizers"`
		} `yaml:"Auth"`
	}
	apiRes := tmpl.Resources["ConversionApi"]
	if err := apiRes.Properties.Decode(&api); err != nil {
		t.Fatal(err)
	}
	auth, ok := api.Auth.Authorizers[api.Auth.DefaultAuthorizer]
	if !ok {
		t.Fatalf("ConversionApi has no default authorizer")
	}
	if auth.FunctionArn.Value != "AuthorizerFunction.Arn" || auth.AuthorizerPayloadFormatVersion != "2.0" || !auth.EnableSimpleResponses {
		t.Errorf("the authorizer is %+v; want AuthorizerFunction, payload 2.0, simple responses (what app.Authorizer speaks)", auth)
	}
	if !slices.Equal(auth.Identity.Headers, []string{httpapi.KeyHeader}) || len(auth.Identity.QueryStrings) > 0 {
		t.Errorf("identity source %v %v; the authorizer decides on %s alone, so it must be the cache key", auth.Identity.Headers, auth.Identity.QueryStrings, httpapi.KeyHeader)
	}
	if auth.Identity.ReauthorizeEvery <= 0 || auth.Identity.ReauthorizeEvery > 300 {
		t.Errorf("results cached %d s; want caching, and a changed key honoured within 5 minutes", auth.Identity.ReauthorizeEvery)
	}
	for id, res := range tmpl.Resources {
		var fn struct {
			Events map[string]struct {
				Type       string `yaml:"Type"`
				Properties struct {
					Auth struct {
						Authorizer string `yaml:"Authorizer"`
					} `yaml:"Auth"`
				} `yaml:"Properties"`
			} `yaml:"Events"`
		}
		if res.Type != "AWS::Serverless::Function" || res.Properties.Decode(&fn) != nil {
			continue
		}
		for name, ev := range fn.Events {
			if ev.Type == "HttpApi" && ev.Properties.Auth.Authorizer != "" && ev.Properties.Auth.Authorizer != api.Auth.DefaultAuthorizer {
				t.Errorf("%s.%s: route authorizer %q overrides the gate", id, name, ev.Properties.Auth.Authorizer)
			}
		}
	}

	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Parameters map[string]struct {
			Default any `yaml:"Default"`
		} `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	defaultOf := func(name string) int {
		n, ok := doc.Parameters[name].Default.(int)
		if !ok {
			t.Fatalf("parameter %s has no number default", name)
		}
		return n
	}
	var convert struct {
		ReservedConcurrentExecutions yaml.Node `yaml:"ReservedConcurrentExecutions"`
		Events                       map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				ScalingConfig struct {
					MaximumConcurrency yaml.Node `yaml:"MaximumConcurrency"`
				} `yaml:"ScalingConfig"`
			} `yaml:"Properties"`
		} `yaml:"Events"`
	}
	convertRes := tmpl.Resources["ConvertFunction"]
	if err := convertRes.Properties.Decode(&convert); err != nil {
		t.Fatal(err)
	}
	// !If [ReservesConcurrency, !Ref ConvertReservedConcurrency, !Ref AWS::NoValue]
	rc := convert.ReservedConcurrentExecutions
	if len(rc.Content) != 3 || rc.Content[1].Value != "ConvertReservedConcurrency" {
		t.Fatalf("the convert function does not reserve ConvertReservedConcurrency")
	}
	queues := 0 // the most instances the SQS event sources may run, by default
	for name, ev := range convert.Events {
		if ev.Type != "SQS" {
			continue
		}
		mc := ev.Properties.ScalingConfig.MaximumConcurrency
		n, err := strconv.Atoi(mc.Value)
		if mc.Tag == "!Ref" {
			n, err = defaultOf(mc.Value), nil
		}
		if err != nil || n < 2 {
			t.Fatalf("event %s: MaximumConcurrency %q", name, mc.Value)
		}
		queues += n
	}
	if reserved := defaultOf("ConvertReservedConcurrency"); reserved < queues+1 {
		t.Errorf("ConvertReservedConcurrency defaults to %d; the queues alone may run %d instances, and the API needs one", reserved, queues)
	}
}

// TestTemplateNamesCarryTheStack: two stacks of the template live in one
// account and region (samconfig.toml's default and sandbox), so every name
// a resource or an event's schedule is given carries the stack's name.
// Inline policy names are scoped to their role and exempt.
func TestTemplateNamesCarryTheStack(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]yaml.Node `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	checked := 0
	var walk func(path string, n *yaml.Node)
	walk = func(path string, n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			for i, c := range n.Content {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			if k == "Dimensions" || k == "Tags" {
				continue // a metric's dimensions and tags name no resource
			}
			if isNameKey(k) && v.Kind == yaml.ScalarNode {
				checked++
				if !strings.Contains(v.Value, "${AWS::StackName}") {
					t.Errorf("%s.%s = %s %q: a name without the stack's (use !Sub \"${AWS::StackName}-...\")", path, k, v.Tag, v.Value)
				}
			}
			walk(path+"."+k, v)
		}
	}
	for name, r := range doc.Resources {
		walk(name, &r)
		// SAM names a schedule event's schedule after its logical id when
		// the event names none: the same in every stack.
		var fn struct {
			Properties struct {
				Events map[string]struct {
					Type       string `yaml:"Type"`
					Properties struct {
						Name string `yaml:"Name"`
					} `yaml:"Properties"`
				} `yaml:"Events"`
			} `yaml:"Properties"`
		}
		if err := r.Decode(&fn); err != nil {
			continue
		}
		for ev, e := range fn.Properties.Events {
			if e.Type == "ScheduleV2" && e.Properties.Name == "" {
				t.Errorf("%s's event %s: a ScheduleV2 without Name gets the same name in every stack", name, ev)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d names checked: the walk does not reach the template's names", checked)
	}
}

// isNameKey reports whether a template key names a resource in the account
// (not a metric, index, attribute, output or inline policy).
func isNameKey(k string) bool {
	switch k {
	case "Name", "QueueName", "TableName", "TopicName", "AliasName", "DashboardName", "FunctionName",
		"RoleName", "AlarmName", "LogGroupName", "ScheduleName", "SecretName", "ApiName", "StateMachineName":
		return true
	}
	return false
}

// TestTemplateLogLevelKeepsMetrics: Lambda files a JSON line without a
// "level" as INFO, and EMF lines have none; its application log filter
// must let every level through so that no LOG_LEVEL drops the metrics.
func TestTemplateLogLevelKeepsMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Globals struct {
			Function struct {
				LoggingConfig struct {
					LogFormat           string `yaml:"LogFormat"`
					ApplicationLogLevel string `yaml:"ApplicationLogLevel"`
				} `yaml:"LoggingConfig"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if lc := doc.Globals.Function.LoggingConfig; lc.LogFormat == "JSON" && lc.ApplicationLogLevel != "TRACE" {
		t.Fatalf("ApplicationLogLevel %q: Lambda would drop the EMF metric lines below it", lc.ApplicationLogLevel)
	}
}
