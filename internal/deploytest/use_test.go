package deploytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/zoho-bridge/leadconvert/internal/rie"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
)

// functionPackages are the template's functions and their main packages.
var functionPackages = map[string]string{
	"ConvertFunction":    "./functions/convert",
	"StatusFunction":     "./functions/status",
	"AuthorizerFunction": "./functions/authorizer",
}

// lambdaRuntimeEnv are the variables Lambda itself gives every function,
// and testEnv those the test adds to reach moto and the simulator: none of
// them may come from the stack, whose variables are passed as they are.
var (
	lambdaRuntimeEnv = []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_TIMEOUT"}
	testEnv = []string{"AWS_ENDPOINT_URL", "ZOHO_ACCOUNTS_URL", "ZOHO_API_URL"}
)

// function is a created function running under the RIE.
type function struct {
	*rie.Function
	arn string
	env map[string]string // the stack's
}

// startFunction runs the created function id under the RIE with the
// environment the stack gave it (GetFunctionConfiguration), Lambda's own
// variables, and the endpoints of moto and the simulator.
func (d *deployment) startFunction(t *testing.T, s *Stack, id, zohoURL string) *function {
	t.Helper()
	return d.startBootstrap(t, s, id, zohoURL, d.bootstrap(t, id))
}

// startBootstrap is startFunction with the given bootstrap.
func (d *deployment) startBootstrap(t *testing.T, s *Stack, id, zohoURL, bootstrap string) *function {
	t.Helper()
	conf := d.functionConfiguration(t, s.Physical(id))
	var stackEnv map[string]string
	if conf.Environment != nil {
		stackEnv = conf.Environment.Variables
	}
	for _, k := range append(slices.Clone(lambdaRuntimeEnv), testEnv...) {
		if _, ok := stackEnv[k]; ok {
			t.Fatalf("%s: the stack sets %s, which Lambda or the test sets", id, k)
		}
	}
	env := []string{}
	for _, k := range slices.Sorted(maps.Keys(stackEnv)) {
		env = append(env, k+"="+stackEnv[k])
	}
	env = append(env, "AWS_REGION="+d.cfg.Region, "AWS_DEFAULT_REGION="+d.cfg.Region,
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_LAMBDA_FUNCTION_NAME="+aws.ToString(conf.FunctionName),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(int(aws.ToInt32(conf.MemorySize))),
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(aws.ToInt32(conf.Timeout))),
		"AWS_ENDPOINT_URL="+d.endpoint, "ZOHO_ACCOUNTS_URL="+zohoURL, "ZOHO_API_URL="+zohoURL)
	return &function{Function: rie.Start(t, bootstrap, env...), arn: aws.ToString(conf.FunctionArn), env: stackEnv}
}

// functionConfiguration is Lambda's GetFunctionConfiguration of the
// function name.
func (d *deployment) functionConfiguration(t *testing.T, name string) *lambda.GetFunctionConfigurationOutput {
	t.Helper()
	conf, err := lambda.NewFromConfig(d.cfg, func(o *lambda.Options) {
		o.APIOptions = append(o.APIOptions, withFix(stringVariables))
	}).GetFunctionConfiguration(t.Context(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("GetFunctionConfiguration %s: %v", name, err)
	}
	return conf
}

// stringVariables makes the environment's values strings before the SDK
// reads them: moto keeps a variable set from a Number parameter as a JSON
// number, which the SDK refuses, where CloudFormation passes the string.
var stringVariables = fixAnswer("StringVariables", func(answer map[string]any) {
	if env, ok := answer["Environment"].(map[string]any); ok {
		if vars, ok := env["Variables"].(map[string]any); ok {
			for k, v := range vars {
				vars[k] = scalar(v)
			}
		}
	}
})

// fixAnswer is a middleware that rewrites a JSON answer of moto's with fix
// before the SDK decodes it, where moto answers in a shape AWS does not.
func fixAnswer(name string, fix func(map[string]any)) middleware.DeserializeMiddleware {
	return middleware.DeserializeMiddlewareFunc(name, func(ctx context.Context, in middleware.DeserializeInput,
		next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleDeserialize(ctx, in)
		resp, ok := out.RawResponse.(*smithyhttp.Response)
		if err != nil || !ok || resp.StatusCode != http.StatusOK {
			return out, md, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return out, md, err
		}
		var answer map[string]any
		if err := json.Unmarshal(b, &answer); err != nil {
			return out, md, err
		}
		fix(answer)
		if b, err = json.Marshal(answer); err != nil {
			return out, md, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return out, md, nil
	})
}

// withFix adds fix to a client's answers.
func withFix(fix middleware.DeserializeMiddleware) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Deserialize.Insert(fix, "OperationDeserializer", middleware.After)
	}
}

// bootstrap is the function's built bootstrap where this machine runs it,
// or the same package built for this machine (the template's arm64
// binaries do not run on amd64).
func (d *deployment) bootstrap(t *testing.T, id string) string {
	t.Helper()
	if runtime.GOARCH == "arm64" {
		return filepath.Join(d.build, id, "bootstrap")
	}
	return rie.Build(t, functionPackages[id])
}

// call invokes the function and decodes its answer into v.
func (f *function) call(t *testing.T, payload any, v any) string {
	t.Helper()
	b, ok := payload.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(payload); err != nil {
			t.Fatal(err)
		}
	}
	out := f.Invoke(t, b)
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("answer %s: %v", out, err)
		}
	}
	return string(out)
}

// queue plays the event source mapping of one of the stack's queues.
type queue struct {
	d        *deployment
	url, arn string
	sqs      *sqs.Client
}

func (d *deployment) queue(s *Stack, id string) *queue {
	p := s.Physical(id)
	return &queue{d: d, url: p, arn: fmt.Sprintf("arn:aws:sqs:%s:%s:%s", d.cfg.Region, Account, p[strings.LastIndex(p, "/")+1:]),
		sqs: sqs.NewFromConfig(d.cfg)}
}

// receive polls until the queue hands out n messages, or the deadline.
func (q *queue) receive(t *testing.T, n int) []sqstypes.Message {
	t.Helper()
	var msgs []sqstypes.Message
	for deadline := time.Now().Add(30 * time.Second); len(msgs) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d messages within 30 s, want %d", q.url, len(msgs), n)
		}
		out, err := q.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.url),
			MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"All"},
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, out.Messages...)
	}
	return msgs
}

// deliver hands msgs to fn in one SQS event, as the mapping does, and
// deletes those the answer does not hand back.
func (q *queue) deliver(t *testing.T, fn *function, msgs []sqstypes.Message) {
	t.Helper()
	ev := events.SQSEvent{}
	for _, m := range msgs {
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		// The message attributes reach the function as the mapping hands
		// them over: request_id on an API request, kind on a wake-up.
		msgAttrs := map[string]events.SQSMessageAttribute{}
		for k, v := range m.MessageAttributes {
			msgAttrs[k] = events.SQSMessageAttribute{StringValue: v.StringValue, DataType: aws.ToString(v.DataType)}
		}
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Attributes: attrs, MessageAttributes: msgAttrs,
			Md5OfBody: aws.ToString(m.MD5OfBody), EventSource: "aws:sqs", EventSourceARN: q.arn, AWSRegion: q.d.cfg.Region})
	}
	var answer struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	out := fn.call(t, ev, &answer)
	failed := map[string]bool{}
	for _, f := range answer.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	if len(failed) > 0 {
		t.Fatalf("%s: batch item failures: %s", q.url, out)
	}
	for _, m := range msgs {
		if _, err := q.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
}

// cli runs the leadconvert command built from this tree, as an operator
// would, against moto (AWS_ENDPOINT_URL, which the AWS CLI's
// configuration honours too).
type cli struct {
	bin string
	env []string
	log strings.Builder
}

func (d *deployment) cli(t *testing.T) *cli {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "leadconvert")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/leadconvert")
	cmd.Dir = d.root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/leadconvert: %v\n%s", err, out)
	}
	// awstest.Main has pointed this process's AWS variables at moto.
	return &cli{bin: bin, env: append(os.Environ(), "AWS_ENDPOINT_URL="+d.endpoint, "ZOHO_CLIENT_SECRET="+zohosim.DefaultClientSecret)}
}

// run runs leadconvert with args and wants exit code want; it returns
// standard output and standard error.
func (c *cli) run(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	fmt.Fprintf(&c.log, "$ leadconvert %s\n%s%s", strings.Join(quoted, " "), out.String(), errOut.String())
	if code != 0 {
		fmt.Fprintf(&c.log, "[exit %d]\n", code)
	}
	c.log.WriteString("\n")
	if code != want {
		t.Fatalf("leadconvert %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// shellSafe are the arguments a shell takes as they are.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes arg as an operator would type it, so that the
// session's transcript can be pasted into a shell: a condition's quotes
// inside double quotes, JSON inside single ones.
func shellQuote(arg string) string {
	switch {
	case shellSafe.MatchString(arg):
		return arg
	case !strings.Contains(arg, "'"):
		return "'" + arg + "'"
	case !strings.ContainsAny(arg, "\"$`\\!"):
		return `"` + arg + `"`
	}
	return "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
}

// TestDeployedStackUsed deploys the default stack, connects it to the Zoho
// simulator with the operator's connect, and runs its functions under the
// RIE with the environment the stack gave them: a lead from the queue and
// one through the authorizer and the API reach Zoho in one call once the
// wake-up fires, the schedule's target finds the job final. Then every
// operator command runs with --stack against it, the sweeps' last.
func TestDeployedStackUsed(t *testing.T) {
	d := requireBuild(t)
	env := samconfig(t, d.root)["default"]
	params := maps.Clone(env.params)
	// A deploy-time choice, so that the wake-up comes within the test.
	params["MaxWaitSeconds"] = "1"
	s := d.deploy(t, env.stack, params)
	stack := []string{"--stack", s.Name}

	sim := zohosim.New(zohosim.Options{Clock: zohosim.NewManualClock(time.Now().UTC().Truncate(time.Second))})
	leads := sim.SeedLeadRange(4)
	zohoURL, stop := sim.Start()
	t.Cleanup(stop)
	// connect names the data centre of its accounts URL; doctor does not.
	connectZoho := []string{"--zoho-accounts-url", "us=" + zohoURL, "--zoho-api-url", zohoURL}
	zoho := []string{"--zoho-accounts-url", zohoURL, "--zoho-api-url", zohoURL}
	c := d.cli(t)
	t.Cleanup(func() { t.Logf("the operator's session:\n\n%s", c.log.String()) })

	// The secret the stack made holds placeholders and a webhook key:
	// connect fills it from a grant code.
	c.run(t, 0, slices.Concat([]string{"connect", "--client-id", zohosim.DefaultClientID, "--code", sim.GrantCode(3 * time.Minute)}, connectZoho, stack)...)
	secret := readSecret(t, d, s.Outputs["SecretArn"])
	if secret["refresh_token"] == "" || secret["refresh_token"] == "REPLACE_ME" || secret["webhook_key"] == "" {
		t.Fatalf("after connect the secret has fields %v", slices.Sorted(maps.Keys(secret)))
	}
	// moto's CloudFormation accepts the table's TTL and point-in-time
	// recovery but does not apply them (the template tests hold them):
	// doctor sees exactly that, and its fixes make it whole.
	report, _ := c.run(t, 1, slices.Concat([]string{"doctor"}, zoho, stack)...)
	if failed := doctorFailures(report); !slices.Equal(failed, []string{"pitr", "ttl"}) {
		t.Fatalf("doctor failed %v on the fresh stack, want [pitr ttl] (what moto ignores)", failed)
	}
	applyIgnored(t, d, s.Outputs["JobsTableName"])
	c.run(t, 0, slices.Concat([]string{"doctor"}, zoho, stack)...)
	checkTokenKeyPolicy(t, d, s)

	// connect probed the grant's scopes with calls of its own.
	sim.ResetStats()

	fns := map[string]*function{}
	for id := range functionPackages {
		fns[id] = d.startFunction(t, s, id, zohoURL)
	}
	conversions, wakeups := d.queue(s, "ConversionQueue"), d.queue(s, "WakeQueue")
	checkMappings(t, d, fns["ConvertFunction"], conversions, wakeups)

	// One lead from a producer on the queue.
	if _, err := conversions.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(s.Outputs["QueueUrl"]),
		MessageBody: aws.String(zohotest.Body(leads[0]))}); err != nil {
		t.Fatal(err)
	}
	// One through the API: the authorizer admits the key, the route takes
	// the request.
	api := d.gateway(t, s.StoodIn["ConversionApi"], fns)
	if code, _ := api.do(t, "POST", "/conversions", "", zohotest.Body(leads[1])); code != http.StatusUnauthorized {
		t.Fatalf("a request without the key: %d, want 401", code)
	}
	if code, _ := api.do(t, "POST", "/conversions", "not-the-key", zohotest.Body(leads[1])); code != http.StatusForbidden {
		t.Fatalf("a request with a wrong key: %d, want 403", code)
	}
	code, body := api.do(t, "POST", "/conversions", secret["webhook_key"], zohotest.Body(leads[1]))
	var accepted struct {
		RequestID string `json:"request_id"`
	}
	if code != http.StatusAccepted || json.Unmarshal([]byte(body), &accepted) != nil || accepted.RequestID == "" {
		t.Fatalf("POST /conversions: %d %s", code, body)
	}

	// The conversion queue's mapping delivers both; they wait for more.
	conversions.deliver(t, fns["ConvertFunction"], conversions.receive(t, 2))
	if n := sim.Stats().Calls[zohosim.EndpointMassConvert]; n != 0 {
		t.Fatalf("%d mass_convert calls before the wake-up: %+v", n, sim.Jobs())
	}
	// The wake-up comes after MaxWaitSeconds, on the wake-up queue.
	wakeupsDelivered := wakeups.receive(t, 1)
	wakeups.deliver(t, fns["ConvertFunction"], wakeupsDelivered)
	jobs := sim.Jobs()
	if st := sim.Stats(); st.Calls[zohosim.EndpointMassConvert] != 1 || len(jobs) != 1 || len(jobs[0].IDs) != 2 {
		t.Fatalf("Zoho saw %d mass_convert calls, jobs %+v; want one call with both leads", st.Calls[zohosim.EndpointMassConvert], jobs)
	}
	job := jobs[0].ID

	// The schedule (moto's Scheduler, standing in) targets the status
	// function; its input runs it as the schedule would.
	sch, err := scheduler.NewFromConfig(d.cfg).GetSchedule(t.Context(), &scheduler.GetScheduleInput{Name: aws.String(s.StoodIn["StatusFunctionSchedule"])})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(sch.Target.Arn); got != fns["StatusFunction"].arn {
		t.Fatalf("the schedule targets %s, want the status function %s", got, fns["StatusFunction"].arn)
	}
	sim.Clock().(*zohosim.ManualClock).Advance(5 * time.Minute)
	var run struct {
		Errors *int `json:"errors"`
	}
	if out := fns["StatusFunction"].call(t, []byte(aws.ToString(sch.Target.Input)), &run); run.Errors == nil || *run.Errors != 0 {
		t.Fatalf("the scheduled run: %s", out)
	}
	// The job is first due a minute after it was recorded, by the wall
	// clock: ask for it by id, as an operator would.
	fns["StatusFunction"].call(t, map[string][]string{"job_ids": {job}}, nil)
	recorded, err := table.NewJobStore(table.NewClient(d.cfg), s.Outputs["JobsTableName"]).Job(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	if recorded.State.Open() {
		t.Fatalf("job %s is %s after the status run, want final", job, recorded.State)
	}

	// The operator's commands, with --stack.
	want := func(out, what string, substrings ...string) {
		t.Helper()
		for _, sub := range substrings {
			if !strings.Contains(out, sub) {
				t.Fatalf("%s: no %q in\n%s", what, sub, out)
			}
		}
	}
	out, _ := c.run(t, 0, slices.Concat([]string{"jobs", "--finished-since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, stack)...)
	want(out, "jobs --finished-since", job, "COMPLETED")
	out, _ = c.run(t, 0, slices.Concat([]string{"jobs", job}, stack)...)
	want(out, "jobs ID", leads[0]+"  CONVERTED", leads[1]+"  CONVERTED")
	out, _ = c.run(t, 0, slices.Concat([]string{"lead", leads[0]}, stack)...)
	want(out, "lead", "state       CONVERTED", job)
	out, _ = c.run(t, 0, slices.Concat([]string{"request", accepted.RequestID}, stack)...)
	want(out, "request", leads[1]+"  CONVERTED")
	c.run(t, 3, slices.Concat([]string{"lead", "3652397000099999999"}, stack)...)

	opts := filepath.Join(t.TempDir(), "options.json")
	if err := os.WriteFile(opts, []byte(`{"assign_to": {"id": "`+zohotest.Owner+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// To the API, whose URL the stack names is stood in for: --api-url
	// names the local one, as for a local run.
	reqID, _ := c.run(t, 0, slices.Concat([]string{"submit", "--to", "api", "--api-url", api.URL, "--ids", leads[3], "--options", opts}, stack)...)
	if code, body := api.do(t, "GET", "/requests/"+strings.TrimSpace(reqID), secret["webhook_key"], ""); code != http.StatusOK {
		t.Fatalf("submit --to api printed %q; GET /requests/ID: %d %s", reqID, code, body)
	}
	msgID, _ := c.run(t, 0, slices.Concat([]string{"submit", "--ids", leads[2], "--options", opts}, stack)...)
	// A producer's request that can never convert: dead-lettered.
	if _, err := conversions.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(s.Outputs["QueueUrl"]),
		MessageBody: aws.String(`{"ids": ["0123"]}`)}); err != nil {
		t.Fatal(err)
	}
	delivered := conversions.receive(t, 3) // the API request's, the queued one, the bad one
	if !slices.ContainsFunc(delivered, func(m sqstypes.Message) bool { return aws.ToString(m.MessageId) == strings.TrimSpace(msgID) }) {
		t.Fatalf("submit printed %q, not a message on the stack's queue", msgID)
	}
	conversions.deliver(t, fns["ConvertFunction"], delivered)
	out, _ = c.run(t, 0, slices.Concat([]string{"redrive"}, stack)...)
	want(out, "redrive", "Dead-letter queue: 1 letter", "INVALID_DATA  1")
	report, _ = c.run(t, 1, slices.Concat([]string{"doctor"}, zoho, stack)...)
	if failed := doctorFailures(report); !slices.Equal(failed, []string{"dead letters"}) {
		t.Fatalf("doctor failed %v after the dead letter, want [dead letters]", failed)
	}

	// A key rotation: a new instance of the authorizer admits the new key
	// and the previous one, and after --finish only the new one.
	old := secret["webhook_key"]
	_, errOut := c.run(t, 0, slices.Concat([]string{"rotate-key"}, stack)...) // stdout holds only a key asked for with --show
	want(errOut, "rotate-key", "Rotation started")
	secret = readSecret(t, d, s.Outputs["SecretArn"])
	if secret["webhook_key"] == old || secret["webhook_key_previous"] != old {
		t.Fatal("rotate-key did not move the key to webhook_key_previous")
	}
	admits := func(key string) bool {
		t.Helper()
		code, body := api.do(t, "GET", "/requests/"+accepted.RequestID, key, "")
		if code != http.StatusOK && code != http.StatusForbidden {
			t.Fatalf("GET /requests/%s: %d %s", accepted.RequestID, code, body)
		}
		return code == http.StatusOK
	}
	fns["AuthorizerFunction"].Close()
	fns["AuthorizerFunction"] = d.startFunction(t, s, "AuthorizerFunction", zohoURL)
	if !admits(secret["webhook_key"]) || !admits(old) {
		t.Fatal("during the rotation the API does not admit both keys")
	}
	c.run(t, 0, slices.Concat([]string{"rotate-key", "--finish"}, stack)...)
	fns["AuthorizerFunction"].Close()
	fns["AuthorizerFunction"] = d.startFunction(t, s, "AuthorizerFunction", zohoURL)
	if !admits(secret["webhook_key"]) || admits(old) {
		t.Fatal("after the rotation the API does not admit the new key alone")
	}

	// The sweeps, with the README's recipe (sweeps_test.go).
	useSweeps(t, &sweepSession{d: d, s: s, c: c, sim: sim, fns: fns, conversions: conversions, wakeups: wakeups,
		parked: []string{leads[2], leads[3]}, zoho: zoho})
}

func TestShellQuote(t *testing.T) {
	for arg, want := range map[string]string{
		"--stack":                   "--stack",
		"us=http://127.0.0.1:8080":  "us=http://127.0.0.1:8080",
		"cron(0 2 * * ? *)":         "'cron(0 2 * * ? *)'",
		"Lead_Status = 'Qualified'": `"Lead_Status = 'Qualified'"`,
		`{"a":"b"}`:                 `'{"a":"b"}'`,
		`{"a":"it's"}`:              `'{"a":"it'\''s"}'`,
		"":                          "''",
	} {
		if got := shellQuote(arg); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", arg, got, want)
		}
	}
}

// checkMappings: the two queues' event source mappings, which moto created
// and the test plays, deliver to the convert function; the conversion
// queue's batching window is the one the function is told
// (BATCHING_WINDOW_SECONDS), the wake-ups' is none.
func checkMappings(t *testing.T, d *deployment, convert *function, conversions, wakeups *queue) {
	t.Helper()
	// Listed whole: moto's filter by function finds none.
	out, err := lambda.NewFromConfig(d.cfg).ListEventSourceMappings(t.Context(), &lambda.ListEventSourceMappingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	windows := map[string]int32{}
	for _, m := range out.EventSourceMappings {
		if aws.ToString(m.FunctionArn) != convert.arn {
			continue
		}
		windows[aws.ToString(m.EventSourceArn)] = aws.ToInt32(m.MaximumBatchingWindowInSeconds)
	}
	want := map[string]int32{conversions.arn: 0, wakeups.arn: 0}
	if w, err := strconv.Atoi(convert.env["BATCHING_WINDOW_SECONDS"]); err == nil {
		want[conversions.arn] = int32(w)
	}
	if !maps.Equal(windows, want) {
		t.Fatalf("the convert function's mappings (queue: batching window) %v, want %v", windows, want)
	}
}

// doctorLine is a line of doctor's report: its status and its check.
var doctorLine = regexp.MustCompile(`^(ok|warn|skip|FAIL)\s+(\S+(?: \S+)*?)\s{2,}`)

// doctorFailures are the checks doctor's report marks FAIL, sorted.
func doctorFailures(report string) []string {
	var failed []string
	for _, line := range strings.Split(report, "\n") {
		if m := doctorLine.FindStringSubmatch(line); m != nil && m[1] == "FAIL" {
			failed = append(failed, m[2])
		}
	}
	slices.Sort(failed)
	return failed
}

// applyIgnored applies to the table what the template asks and moto's
// CloudFormation ignores: TTL on expires_at, point-in-time recovery.
func applyIgnored(t *testing.T, d *deployment, tableName string) {
	t.Helper()
	db := dynamodb.NewFromConfig(d.cfg)
	if _, err := db.UpdateTimeToLive(t.Context(), &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(tableName),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String("expires_at"), Enabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateContinuousBackups(t.Context(), &dynamodb.UpdateContinuousBackupsInput{TableName: aws.String(tableName),
		PointInTimeRecoverySpecification: &ddbtypes.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
}

// do sends a request to the API with key (none if empty) and returns the
// status and body of the answer.
func (g *gateway) do(t *testing.T, method, path, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, g.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-Webhook-Key", key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// readSecret reads the secret's JSON fields.
func readSecret(t *testing.T, d *deployment, arn string) map[string]string {
	t.Helper()
	out, err := secretsmanager.NewFromConfig(d.cfg).GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &fields); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for k, v := range fields {
		m[k] = fmt.Sprint(v)
	}
	return m
}
