// Package deploytest deploys the SAM template as a user deploys it, but on
// moto: the template built by `sam build` is translated offline by the SAM
// translator the pinned SAM CLI ships (translate.py), the bootstraps are
// zipped and uploaded to moto's S3, and the stack is created on moto's
// CloudFormation.
//
// moto's CloudFormation lacks a few resource types the template uses. They
// are stood in for explicitly (StandIns, listed in docs/architecture.md),
// never dropped: Deploy fails when a resource of the translated template is
// neither created by moto nor stood in for.
//
// Only tests use it (make deploy-emulated); it reaches nothing but moto on
// 127.0.0.1.
package deploytest

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
)

// Account is the account moto answers as.
const Account = "123456789012"

// Options say what to deploy where.
type Options struct {
	Config   aws.Config // reaches moto
	Endpoint string     // moto's base URL, for the S3 upload
	Stack    string     // the stack's name
	// Template is the SAM template `sam build` wrote (.aws-sam/build/
	// template.yaml); BuildDir holds each function's artifacts in a
	// directory named after it (.aws-sam/build).
	Template, BuildDir string
	Python             string            // the python of .venv, which has samtranslator
	Parameters         map[string]string // the stack's parameters; the others keep their defaults
	// Previous is the stack as a previous Deploy left it: Deploy then
	// updates it (UpdateStack) and keeps its stand-ins (the secret).
	Previous *Stack
}

// Stack is a created (or updated) stack.
type Stack struct {
	Name    string
	Outputs map[string]string
	// Created are the resources moto created, by logical id; StoodIn the
	// resources stood in for, by logical id, with the value a Ref to them
	// gives the rest of the template.
	Created map[string]Resource
	StoodIn map[string]string
	// Translated is the plain CloudFormation template, before the stand-ins
	// were taken out of it.
	Translated map[string]any
	// Conditions are the template's conditions as the stack's parameters
	// decide them.
	Conditions map[string]bool
	Parameters map[string]string
}

// Resource is one created resource.
type Resource struct {
	Type, Physical string
}

// StandIn says why a resource type moto's CloudFormation cannot create is
// stood in for, and how.
type StandIn struct {
	Why, How string
}

// StandIns are the resource types moto's CloudFormation (moto 5.2.5) does
// not create, and what stands in for them. Any other type it lacks fails
// Deploy.
var StandIns = map[string]StandIn{
	"AWS::SecretsManager::Secret": {
		Why: "moto's CloudFormation has no Secrets Manager resource",
		How: "created before the stack with the Secrets Manager API, from the resource's GenerateSecretString; Ref gives its ARN",
	},
	"AWS::ApiGatewayV2::Api": {
		Why: "moto's CloudFormation has no API Gateway v2 resources, and moto would not run the routes' Lambda integrations without Docker",
		How: "the test serves the API on 127.0.0.1: 401 without the key, the authorizer under the RIE decides, then the convert function gets HTTP API (2.0) events; Ref gives a made-up API id",
	},
	"AWS::ApiGatewayV2::Stage": {
		Why: "as the API",
		How: "the $default stage is the only one the events name",
	},
	"AWS::Scheduler::Schedule": {
		Why: "moto's CloudFormation has no EventBridge Scheduler resource",
		How: "created after the stack with moto's Scheduler API, from the resource's properties; the test fires its target with its input",
	},
	"AWS::Scheduler::ScheduleGroup": {
		Why: "moto's CloudFormation has no EventBridge Scheduler resource",
		How: "created before the stack with moto's Scheduler API, under the name its properties give; Ref gives that name, where leadconvert sweep create puts the sweeps' schedules",
	},
	"AWS::CloudWatch::Alarm": {
		Why: "moto's CloudFormation has no CloudWatch alarm resource",
		How: "each alarm's properties are resolved against the created stack: every reference must name a created or stood-in resource, every dimension have a value; the template tests check the rest; Ref and Arn give the ARN it would have",
	},
}

// Deploy uploads the code, translates the template, stands in for what moto
// lacks and creates the stack (or updates opts.Previous), then checks that
// every resource is created or stood in for.
func Deploy(ctx context.Context, opts Options) (*Stack, error) {
	code, err := upload(ctx, opts)
	if err != nil {
		return nil, err
	}
	tmpl, err := translate(ctx, opts, code)
	if err != nil {
		return nil, err
	}
	s := &Stack{Name: opts.Stack, Translated: tmpl, StoodIn: map[string]string{}, Parameters: opts.Parameters}
	if s.Conditions, err = conditions(tmpl, opts.Parameters); err != nil {
		return nil, err
	}
	if opts.Previous != nil {
		// What stood in before stays: the secret keeps its ARN and value,
		// as CloudFormation keeps a resource it only updates.
		for id, v := range opts.Previous.StoodIn {
			if _, ok := s.wanted()[id]; ok {
				s.StoodIn[id] = v
			}
		}
	}
	if err := s.standInBefore(ctx, opts); err != nil {
		return nil, err
	}
	body, err := json.Marshal(s.withoutStandIns())
	if err != nil {
		return nil, err
	}
	if err := createOrUpdate(ctx, opts, string(body)); err != nil {
		return nil, err
	}
	if err := s.read(ctx, opts.Config); err != nil {
		return nil, err
	}
	if err := s.checkCoverage(); err != nil {
		return nil, err
	}
	if err := s.standInAfter(ctx, opts); err != nil {
		return nil, err
	}
	// moto would deliver the queues' messages to a function it runs in
	// Docker, which is not here: it would fail, and count receives towards
	// the dead-letter queue. The mappings stay created (their settings are
	// checked); the test delivers in their place.
	if err := disableMappings(ctx, opts.Config, s); err != nil {
		return nil, err
	}
	return s, nil
}

// resources are the translated template's resources.
func (s *Stack) resources() map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.Translated["Resources"].(map[string]any) {
		out[id] = r.(map[string]any)
	}
	return out
}

// wanted are the resources the stack's conditions keep, by logical id, with
// their types.
func (s *Stack) wanted() map[string]string {
	out := map[string]string{}
	for id, r := range s.resources() {
		if c, ok := r["Condition"].(string); ok && !s.Conditions[c] {
			continue
		}
		out[id] = r["Type"].(string)
	}
	return out
}

// Physical returns the physical id of the created resource id.
func (s *Stack) Physical(id string) string { return s.Created[id].Physical }

// checkCoverage fails unless every wanted resource is created or stood in
// for, and nothing stood in for was created as well.
func (s *Stack) checkCoverage() error {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(s.wanted())) {
		typ := s.wanted()[id]
		_, created := s.Created[id]
		_, stood := s.StoodIn[id]
		switch {
		case created && stood:
			errs = append(errs, fmt.Errorf("%s (%s) was created and stood in for: drop %s from deploytest.StandIns", id, typ, typ))
		case !created && !stood:
			errs = append(errs, fmt.Errorf("%s (%s) was neither created nor stood in for: moto dropped it", id, typ))
		}
	}
	for id := range s.Created {
		if _, ok := s.wanted()[id]; !ok {
			errs = append(errs, fmt.Errorf("%s was created but is not in the translated template", id))
		}
	}
	return errors.Join(errs...)
}

// upload zips each function's build directory, as sam package does, into
// moto's S3, and returns the s3:// location of each by logical id.
func upload(ctx context.Context, opts Options) (map[string]string, error) {
	entries, err := os.ReadDir(opts.BuildDir)
	if err != nil {
		return nil, fmt.Errorf("deploytest: the build (run sam build first): %w", err)
	}
	const bucket = "leadconvert-artifacts"
	// moto's S3 checks no signatures: plain requests do, and spare the
	// module a second S3 client. A bucket made before answers 409.
	if err := put(ctx, opts.Endpoint+"/"+bucket, nil, http.StatusConflict); err != nil {
		return nil, err
	}
	code := map[string]string{}
	for _, e := range entries {
		boot := filepath.Join(opts.BuildDir, e.Name(), "bootstrap")
		if _, err := os.Stat(boot); err != nil {
			continue
		}
		zipped, err := zipFile(boot)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(zipped)
		key := opts.Stack + "/" + e.Name() + "-" + hex.EncodeToString(sum[:8]) + ".zip"
		if err := put(ctx, opts.Endpoint+"/"+bucket+"/"+key, zipped); err != nil {
			return nil, err
		}
		code[e.Name()] = "s3://" + bucket + "/" + key
	}
	if len(code) == 0 {
		return nil, fmt.Errorf("deploytest: no */bootstrap under %s: run sam build first", opts.BuildDir)
	}
	return code, nil
}

func put(ctx context.Context, url string, body []byte, alsoOK ...int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("deploytest: S3 PUT %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK && !slices.Contains(alsoOK, resp.StatusCode) {
		return fmt.Errorf("deploytest: S3 PUT %s: HTTP %d: %s", url, resp.StatusCode, b)
	}
	return nil
}

// zipFile zips the bootstrap as Lambda wants it: executable, at the root.
func zipFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// translate runs translate.py on the built template with the uploaded code.
func translate(ctx context.Context, opts Options, code map[string]string) (map[string]any, error) {
	root, err := awstest.RepoRoot()
	if err != nil {
		return nil, fmt.Errorf("deploytest: %w", err)
	}
	script := filepath.Join(root, "internal", "deploytest", "translate.py")
	args := []string{script, opts.Template, opts.Config.Region, Account}
	for _, id := range slices.Sorted(maps.Keys(code)) {
		args = append(args, id+"="+code[id])
	}
	cmd := exec.CommandContext(ctx, opts.Python, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("deploytest: translating %s: %w\n%s", opts.Template, err, stderr.Bytes())
	}
	var tmpl map[string]any
	if err := json.Unmarshal(out, &tmpl); err != nil {
		return nil, fmt.Errorf("deploytest: the translated template: %w", err)
	}
	return tmpl, nil
}

// standInBefore makes the stand-ins the stack's resources refer to: the
// secret, and the values of the API, its stage and the alarms.
func (s *Stack) standInBefore(ctx context.Context, opts Options) error {
	region := opts.Config.Region
	for _, id := range slices.Sorted(maps.Keys(s.wanted())) {
		typ := s.wanted()[id]
		if _, ok := StandIns[typ]; !ok {
			continue
		}
		if _, done := s.StoodIn[id]; done {
			continue // kept from the previous deployment
		}
		switch typ {
		case "AWS::SecretsManager::Secret":
			arn, err := createSecret(ctx, opts, id, s.resources()[id])
			if err != nil {
				return err
			}
			s.StoodIn[id] = arn
		case "AWS::ApiGatewayV2::Api":
			sum := sha256.Sum256([]byte(opts.Stack + "/" + id))
			s.StoodIn[id] = hex.EncodeToString(sum[:5])
		case "AWS::ApiGatewayV2::Stage":
			s.StoodIn[id] = "$default"
		case "AWS::Scheduler::Schedule":
			s.StoodIn[id] = "" // named after the stack is created
		case "AWS::Scheduler::ScheduleGroup":
			name, err := createScheduleGroup(ctx, opts, s, id)
			if err != nil {
				return err
			}
			s.StoodIn[id] = name
		case "AWS::CloudWatch::Alarm":
			s.StoodIn[id] = fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s-%s", region, Account, opts.Stack, id)
		default:
			return fmt.Errorf("deploytest: %s (%s): a stand-in without a maker", id, typ)
		}
	}
	return nil
}

// createScheduleGroup stands in for an AWS::Scheduler::ScheduleGroup: the
// group its properties name (only the stack's parameters and pseudo
// parameters can name it before the stack exists).
func createScheduleGroup(ctx context.Context, opts Options, s *Stack, id string) (string, error) {
	r := &resolver{s: s, region: opts.Config.Region}
	props, err := r.resolve(s.resources()[id]["Properties"])
	if err != nil {
		return "", fmt.Errorf("deploytest: %s: %w", id, err)
	}
	p, _ := props.(map[string]any)
	name, _ := p["Name"].(string)
	if name == "" {
		name = opts.Stack + "-" + id
	}
	if _, err := scheduler.NewFromConfig(opts.Config).CreateScheduleGroup(ctx,
		&scheduler.CreateScheduleGroupInput{Name: aws.String(name)}); err != nil {
		return "", fmt.Errorf("deploytest: standing in for %s (schedule group %s): %w", id, name, err)
	}
	return name, nil
}

// createSecret stands in for an AWS::SecretsManager::Secret: its
// GenerateSecretString's template with the generated key added.
func createSecret(ctx context.Context, opts Options, id string, r map[string]any) (string, error) {
	props, _ := r["Properties"].(map[string]any)
	gen, _ := props["GenerateSecretString"].(map[string]any)
	value := map[string]any{}
	if tmpl, ok := gen["SecretStringTemplate"].(string); ok {
		if err := json.Unmarshal([]byte(tmpl), &value); err != nil {
			return "", fmt.Errorf("deploytest: %s's SecretStringTemplate: %w", id, err)
		}
	}
	if key, ok := gen["GenerateStringKey"].(string); ok {
		n := 32
		if l, ok := gen["PasswordLength"].(float64); ok {
			n = int(l)
		}
		var pw string
		for len(pw) < n {
			pw += rand.Text() // letters and digits: ExcludePunctuation
		}
		value[key] = pw[:n]
	}
	b, _ := json.Marshal(value)
	out, err := secretsmanager.NewFromConfig(opts.Config).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(opts.Stack + "-" + id), SecretString: aws.String(string(b))})
	if err != nil {
		return "", fmt.Errorf("deploytest: standing in for %s: %w", id, err)
	}
	return aws.ToString(out.ARN), nil
}

// withoutStandIns is the translated template without the stood-in
// resources, every reference to them replaced by its stand-in's value.
func (s *Stack) withoutStandIns() map[string]any {
	out := substitute(s.Translated, s.StoodIn).(map[string]any)
	res := out["Resources"].(map[string]any)
	for id := range s.StoodIn {
		delete(res, id)
	}
	return out
}

// substitute replaces Ref, GetAtt and ${...} in Sub to the resources of
// values by the values.
func substitute(v any, values map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			if ref, ok := v["Ref"].(string); ok {
				if val, ok := values[ref]; ok {
					return val
				}
			}
			if att, ok := v["Fn::GetAtt"].([]any); ok && len(att) == 2 {
				if val, ok := values[att[0].(string)]; ok {
					return val
				}
			}
			if sub, ok := v["Fn::Sub"].(string); ok {
				return map[string]any{"Fn::Sub": substituteSub(sub, values)}
			}
			if sub, ok := v["Fn::Sub"].([]any); ok && len(sub) == 2 {
				if str, ok := sub[0].(string); ok {
					return map[string]any{"Fn::Sub": []any{substituteSub(str, values), substitute(sub[1], values)}}
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = substitute(e, values)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = substitute(e, values)
		}
		return out
	}
	return v
}

func substituteSub(s string, values map[string]string) string {
	for id, val := range values {
		s = strings.ReplaceAll(s, "${"+id+"}", val)
		s = strings.ReplaceAll(s, "${"+id+".Arn}", val)
	}
	return s
}

// createOrUpdate creates the stack, or updates it, and waits for the end.
func createOrUpdate(ctx context.Context, opts Options, body string) error {
	cfn := cloudformation.NewFromConfig(opts.Config)
	var params []cfntypes.Parameter
	for _, k := range slices.Sorted(maps.Keys(opts.Parameters)) {
		params = append(params, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(opts.Parameters[k])})
	}
	caps := []cfntypes.Capability{cfntypes.CapabilityCapabilityIam}
	want := cfntypes.StackStatusCreateComplete
	var err error
	if opts.Previous == nil {
		_, err = cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(opts.Stack),
			TemplateBody: aws.String(body), Parameters: params, Capabilities: caps})
	} else {
		want = cfntypes.StackStatusUpdateComplete
		_, err = cfn.UpdateStack(ctx, &cloudformation.UpdateStackInput{StackName: aws.String(opts.Stack),
			TemplateBody: aws.String(body), Parameters: params, Capabilities: caps})
	}
	if err != nil {
		return fmt.Errorf("deploytest: stack %s: %w", opts.Stack, err)
	}
	// moto creates and updates a stack within the call; the status says
	// whether it worked.
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(opts.Stack)})
	if err != nil {
		return fmt.Errorf("deploytest: stack %s: %w", opts.Stack, err)
	}
	if st := out.Stacks[0].StackStatus; st != want {
		return fmt.Errorf("deploytest: stack %s is %s (%s), want %s", opts.Stack, st, aws.ToString(out.Stacks[0].StackStatusReason), want)
	}
	return nil
}

// read fills the stack's outputs and created resources.
func (s *Stack) read(ctx context.Context, cfg aws.Config) error {
	cfn := cloudformation.NewFromConfig(cfg)
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(s.Name)})
	if err != nil {
		return fmt.Errorf("deploytest: stack %s: %w", s.Name, err)
	}
	s.Outputs = map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		s.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	s.Created = map[string]Resource{}
	p := cloudformation.NewListStackResourcesPaginator(cfn, &cloudformation.ListStackResourcesInput{StackName: aws.String(s.Name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("deploytest: resources of %s: %w", s.Name, err)
		}
		for _, r := range page.StackResourceSummaries {
			id := aws.ToString(r.LogicalResourceId)
			if id == "" {
				continue // moto lists the stack itself without a logical id
			}
			s.Created[id] = Resource{Type: aws.ToString(r.ResourceType), Physical: aws.ToString(r.PhysicalResourceId)}
		}
	}
	return nil
}

// standInAfter makes the stand-ins that need the created stack: the
// schedules, and the alarms' check.
func (s *Stack) standInAfter(ctx context.Context, opts Options) error {
	r := &resolver{s: s, region: opts.Config.Region}
	for _, id := range slices.Sorted(maps.Keys(s.StoodIn)) {
		res, ok := s.resources()[id]
		if !ok {
			continue
		}
		props, err := r.resolve(res["Properties"])
		if err != nil {
			return fmt.Errorf("deploytest: %s: %w", id, err)
		}
		p, _ := props.(map[string]any)
		switch res["Type"] {
		case "AWS::Scheduler::Schedule":
			var prev string
			if opts.Previous != nil {
				prev = opts.Previous.StoodIn[id]
			}
			name, err := putSchedule(ctx, opts, id, p, prev)
			if err != nil {
				return err
			}
			s.StoodIn[id] = name
		case "AWS::CloudWatch::Alarm":
			if err := r.checkAlarm(p); err != nil {
				return fmt.Errorf("deploytest: alarm %s: %w", id, err)
			}
		}
	}
	return nil
}

// putSchedule creates the schedule a Scheduler resource describes, or
// updates prev, the schedule of the previous deployment. A new name
// replaces the schedule, as CloudFormation does: the new one is created,
// then prev deleted.
func putSchedule(ctx context.Context, opts Options, id string, p map[string]any, prev string) (string, error) {
	name, _ := p["Name"].(string)
	if name == "" {
		name = opts.Stack + "-" + id
	}
	target, _ := p["Target"].(map[string]any)
	in := &scheduler.CreateScheduleInput{
		Name:               aws.String(name),
		ScheduleExpression: aws.String(fmt.Sprint(p["ScheduleExpression"])),
		FlexibleTimeWindow: &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff},
		Target: &schedtypes.Target{
			Arn:     aws.String(fmt.Sprint(target["Arn"])),
			RoleArn: aws.String(fmt.Sprint(target["RoleArn"])),
		},
	}
	if d, ok := p["Description"].(string); ok {
		in.Description = aws.String(d)
	}
	if v, ok := target["Input"].(string); ok {
		in.Target.Input = aws.String(v)
	}
	if rp, ok := target["RetryPolicy"].(map[string]any); ok {
		if n, ok := rp["MaximumRetryAttempts"].(float64); ok {
			in.Target.RetryPolicy = &schedtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(int32(n))}
		}
	}
	c := scheduler.NewFromConfig(opts.Config)
	var err error
	if prev == name {
		u := scheduler.UpdateScheduleInput(*in)
		_, err = c.UpdateSchedule(ctx, &u)
	} else {
		_, err = c.CreateSchedule(ctx, in)
	}
	if err != nil {
		return "", fmt.Errorf("deploytest: standing in for %s (schedule %s): %w", id, name, err)
	}
	if prev != "" && prev != name {
		if _, err := c.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(prev)}); err != nil {
			return "", fmt.Errorf("deploytest: replacing %s: deleting schedule %s: %w", id, prev, err)
		}
	}
	return name, nil
}

// disableMappings turns off moto's delivery of the stack's queues.
func disableMappings(ctx context.Context, cfg aws.Config, s *Stack) error {
	c := lambda.NewFromConfig(cfg)
	for _, id := range slices.Sorted(maps.Keys(s.Created)) {
		if s.Created[id].Type != "AWS::Lambda::EventSourceMapping" {
			continue
		}
		if _, err := c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{
			UUID: aws.String(s.Created[id].Physical), Enabled: aws.Bool(false)}); err != nil {
			return fmt.Errorf("deploytest: disabling %s: %w", id, err)
		}
	}
	return nil
}

// Summary lists the stack's resources: created, stood in for, and left out
// by a condition, one line each, for the test's log and the docs.
func (s *Stack) Summary() string {
	var b strings.Builder
	ids := slices.Sorted(maps.Keys(s.resources()))
	sort.SliceStable(ids, func(i, j int) bool { return s.kind(ids[i]) < s.kind(ids[j]) })
	for _, id := range ids {
		fmt.Fprintf(&b, "%-12s %-45s %s\n", s.kind(id), id, s.resources()[id]["Type"])
	}
	return b.String()
}

func (s *Stack) kind(id string) string {
	if _, ok := s.Created[id]; ok {
		return "created"
	}
	if _, ok := s.StoodIn[id]; ok {
		return "stood-in"
	}
	return "condition"
}
