package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// sweepRig is a deployment on moto and the simulator whose stack names a
// schedule group (on moto's Scheduler), a scheduler role and the status
// function, which a Lambda endpoint of the test runs: the real handler,
// wired as functions/status/main.go wires it, behind Lambda's Invoke API.
type sweepRig struct {
	d         *deployed
	fleet     *fleet
	stack     string
	group     string
	fn        string // the status function's ARN
	sched     *scheduler.Client
	aws       []string // --stack, --region, --endpoint-url
	events    []string // the events the function was invoked with
	lambdaURL string
}

func newSweepRig(t *testing.T) *sweepRig {
	t.Helper()
	d := deploy(t, zohosim.Options{})
	r := &sweepRig{d: d, sched: scheduler.NewFromConfig(d.cfg), group: awstest.UniqueName(t, "lc-sweeps"),
		fn: "arn:aws:lambda:" + d.cfg.Region + ":123456789012:function:" + awstest.UniqueName(t, "lc-status")}
	if _, err := r.sched.CreateScheduleGroup(t.Context(), &scheduler.CreateScheduleGroupInput{Name: aws.String(r.group)}); err != nil {
		t.Fatal(err)
	}
	d.outputs = map[string]string{"StatusFunctionArn": r.fn, "SweepScheduleGroupName": r.group,
		"SweepSchedulerRoleArn": "arn:aws:iam::123456789012:role/" + r.group}
	d.params["DefaultOwnerId"] = zohotest.Owner
	r.stack = d.newStack()
	r.aws = []string{"--stack", r.stack, "--region", d.cfg.Region, "--endpoint-url", aws.ToString(d.cfg.BaseEndpoint)}
	r.fleet = d.functions(t)
	srv := httptest.NewServer(http.HandlerFunc(r.invoke))
	t.Cleanup(srv.Close)
	r.lambdaURL = srv.URL
	// The SDK's own per-service endpoint: Lambda calls go to the test's
	// function, every other service to moto.
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", srv.URL)
	return r
}

// invoke answers Lambda's Invoke (POST /2015-03-31/functions/NAME/invocations)
// as Lambda does: the handler's result as the payload, or its error with
// X-Amz-Function-Error.
func (r *sweepRig) invoke(w http.ResponseWriter, req *http.Request) {
	name, _ := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(req.URL.EscapedPath(), "/2015-03-31/functions/"), "/invocations"))
	if req.Method != http.MethodPost || name != r.fn {
		http.Error(w, `{"Type":"User","message":"Function not found: `+name+`"}`, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(req.Body)
	r.events = append(r.events, string(body))
	res, err := r.fleet.status.Invoke(req.Context(), body)
	if err != nil {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		res = map[string]string{"errorMessage": err.Error(), "errorType": "errorString"}
	}
	_ = json.NewEncoder(w).Encode(res)
}

// cli runs leadconvert with the rig's stack and returns its exit code and
// what it printed; a secret printed fails the test.
func (r *sweepRig) cli(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), append(args, r.aws...), strings.NewReader(""), &out, &errOut)
	shown := out.String() + errOut.String()
	t.Logf("$ leadconvert %s\n%s[exit %d]", strings.Join(args, " "), shown, code)
	for _, s := range append(r.d.sim.IssuedTokens(), testWebhookKey, zohosim.DefaultClientSecret, zohosim.DefaultRefreshToken) {
		if s != "" && strings.Contains(shown, s) {
			t.Fatalf("leadconvert %s printed a secret", args[0])
		}
	}
	return code, squash(shown)
}

// squash is s with every run of spaces one space: the checks below read
// the words, not the columns.
func squash(s string) string {
	var lines []string
	for l := range strings.SplitSeq(s, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

func (r *sweepRig) schedule(t *testing.T, name string) (*scheduler.GetScheduleOutput, bool) {
	t.Helper()
	out, err := r.sched.GetSchedule(t.Context(), &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(r.group)})
	if _, missing := errors.AsType[*schedtypes.ResourceNotFoundException](err); missing {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return out, true
}

// seed makes n leads matching the sweep's condition, and n others.
func (r *sweepRig) seed(n int) []string {
	ids := r.d.sim.SeedLeadRange(2 * n)
	var want []string
	for i, id := range ids {
		status := "Contacted"
		if i%2 == 0 {
			status, want = "Qualified", append(want, id)
		}
		r.d.sim.SetLeadFields(id, map[string]any{"Lead_Status": status, "Lead_Source": "Web"})
	}
	return want
}

const sweepDeal = `{"Deals":{"Deal_Name":"Web lead","Stage":"Qualification","Closing_Date":"2026-12-31"}}`

// TestSweepCommands follows a sweep's life through the commands: create
// (its schedule made on Scheduler), a dry run, a run whose leads the
// convert function converts, show, pause (the schedule's tick is then
// refused), resume and delete.
func TestSweepCommands(t *testing.T) {
	r := newSweepRig(t)
	leads := r.seed(60)
	optsFile := filepath.Join(t.TempDir(), "options.json")
	if err := os.WriteFile(optsFile, []byte(sweepDeal), 0o600); err != nil {
		t.Fatal(err)
	}
	cond := "Lead_Status = 'Qualified' and Lead_Source = 'Web'"
	if code, out := r.cli(t, "sweep", "create", "--name", "qualified-web", "--schedule", "cron(0 2 * * ? *)", "--time-zone", "Europe/Berlin",
		"--condition", cond, "--options", "@"+optsFile); code != exitOK || !strings.Contains(out, "sweep qualified-web created, enabled") {
		t.Fatalf("create: exit %d", code)
	}
	s, ok := r.schedule(t, "qualified-web")
	if !ok {
		t.Fatal("create made no schedule")
	}
	if aws.ToString(s.ScheduleExpression) != "cron(0 2 * * ? *)" || aws.ToString(s.ScheduleExpressionTimezone) != "Europe/Berlin" ||
		s.State != schedtypes.ScheduleStateEnabled || s.FlexibleTimeWindow.Mode != schedtypes.FlexibleTimeWindowModeOff ||
		aws.ToString(s.Target.Arn) != r.fn || aws.ToString(s.Target.Input) != `{"sweep":"qualified-web","run":"<aws.scheduler.scheduled-time>"}` ||
		s.Target.RetryPolicy == nil || aws.ToInt32(s.Target.RetryPolicy.MaximumRetryAttempts) != scheduleRetries {
		t.Fatalf("the schedule: %+v, target %+v", s, s.Target)
	}
	// Created again without --replace: refused, nothing changed.
	if code, out := r.cli(t, "sweep", "create", "--name", "qualified-web", "--schedule", "rate(1 hour)", "--condition", cond); code != exitFailed ||
		!strings.Contains(out, "--replace") {
		t.Fatalf("create over an existing sweep: exit %d", code)
	}

	// The dry run counts and converts nothing.
	code, out := r.cli(t, "sweep", "run", "qualified-web", "--dry-run")
	if code != exitOK || !strings.Contains(out, "would queue 60") || !strings.Contains(out, "zoho calls 5: 1 COQL, 2 Get Records, 2 mass_convert") ||
		!strings.Contains(out, leads[0]+" Lead "+leads[0]) {
		t.Fatalf("dry run: exit %d", code)
	}
	if _, err := sqs.NewFromConfig(r.d.cfg).PurgeQueue(t.Context(), &sqs.PurgeQueueInput{QueueUrl: &r.d.queue}); err != nil {
		t.Fatal(err)
	}

	// The run queues them; the convert function converts them.
	if code, out := r.cli(t, "sweep", "run", "qualified-web"); code != exitOK || !strings.Contains(out, "queued 60") ||
		!strings.Contains(out, "ended: done") {
		t.Fatalf("run: exit %d", code)
	}
	r.fleet.deliver(t)
	code, out = r.cli(t, "sweep", "show", "qualified-web")
	if code != exitOK || !strings.Contains(out, "ENABLED in group "+r.group) || !strings.Contains(out, "done") {
		t.Fatalf("show: exit %d", code)
	}
	var shown sweepView
	code, out = r.cli(t, "sweep", "show", "qualified-web", "-o", "json")
	if err := json.Unmarshal([]byte(out), &shown); code != exitOK || err != nil || len(shown.Runs) != 1 || shown.Runs[0].Queued != 60 ||
		shown.Runs[0].Matched != 60 || shown.Runs[0].End != sweep.EndDone || shown.MaxLeads != sweep.DefaultMaxLeads {
		t.Fatalf("show -o json: exit %d, %+v %v", code, shown, err)
	}
	// Its leads' outcomes, read from its one message's request.
	if o := shown.Runs[0].Outcomes; o == nil || o.MessagesRead != 1 || o.Partial ||
		o.Converted+o.NotConverted+o.Rejected+o.Pending != 60 {
		t.Fatalf("show -o json: the run's outcomes %+v", o)
	}
	if code, out := r.cli(t, "sweep", "list"); code != exitOK || !strings.Contains(out, "qualified-web enabled cron(0 2 * * ? *)") {
		t.Fatalf("list: exit %d", code)
	}

	// Paused: the schedule is disabled, and a tick on its way is refused.
	if code, _ := r.cli(t, "sweep", "pause", "qualified-web"); code != exitOK {
		t.Fatalf("pause: exit %d", code)
	}
	if s, _ := r.schedule(t, "qualified-web"); s.State != schedtypes.ScheduleStateDisabled || aws.ToString(s.Target.Arn) != r.fn {
		t.Fatalf("paused schedule: %+v", s)
	}
	tick := strings.ReplaceAll(sweep.ScheduleInput("qualified-web"), sweep.ScheduledTime, "2026-12-05T01:00:00Z")
	var paused *sweep.PausedError
	if _, err := r.fleet.status.Invoke(t.Context(), json.RawMessage(tick)); !errors.As(err, &paused) {
		t.Fatalf("a tick of a paused sweep: %v", err)
	}
	if code, out := r.cli(t, "sweep", "run", "qualified-web"); code != exitFailed || !strings.Contains(out, "is paused") {
		t.Fatalf("run of a paused sweep: exit %d", code)
	}
	if code, _ := r.cli(t, "sweep", "resume", "qualified-web"); code != exitOK {
		t.Fatalf("resume: exit %d", code)
	}
	if s, _ := r.schedule(t, "qualified-web"); s.State != schedtypes.ScheduleStateEnabled {
		t.Fatalf("resumed schedule: %+v", s)
	}
	// A schedule deleted behind the commands' back: show says so, and
	// resume makes it again.
	if _, err := r.sched.DeleteSchedule(t.Context(), &scheduler.DeleteScheduleInput{Name: aws.String("qualified-web"), GroupName: aws.String(r.group)}); err != nil {
		t.Fatal(err)
	}
	if code, out := r.cli(t, "sweep", "show", "qualified-web"); code != exitOK || !strings.Contains(out, "MISSING from group "+r.group) {
		t.Fatalf("show without its schedule: exit %d", code)
	}
	if code, _ := r.cli(t, "sweep", "resume", "qualified-web"); code != exitOK {
		t.Fatalf("resume without a schedule: exit %d", code)
	}
	if s, ok := r.schedule(t, "qualified-web"); !ok || s.State != schedtypes.ScheduleStateEnabled || aws.ToString(s.ScheduleExpressionTimezone) != "Europe/Berlin" {
		t.Fatalf("the schedule resume made again: %+v", s)
	}
	// The tick now runs, once however often it is delivered: its leads
	// are converted or claimed, so it queues nothing new.
	for range 2 {
		rep, err := r.fleet.status.Invoke(t.Context(), json.RawMessage(tick))
		if err != nil || rep.(sweep.Report).RunID != "2026-12-05T01:00:00Z" || rep.(sweep.Report).Queued != 0 {
			t.Fatalf("the tick: %+v %v", rep, err)
		}
	}

	// Deleted: schedule and sweep gone, its runs kept until they expire.
	if code, _ := r.cli(t, "sweep", "delete", "qualified-web"); code != exitOK {
		t.Fatalf("delete: exit %d", code)
	}
	if _, ok := r.schedule(t, "qualified-web"); ok {
		t.Fatal("the schedule outlived its sweep")
	}
	st := table.NewJobStore(table.NewClient(r.d.cfg), r.d.table)
	if _, err := st.Sweep(t.Context(), "qualified-web"); !errors.Is(err, sweep.ErrNotFound) {
		t.Fatalf("the sweep after delete: %v", err)
	}
	if code, _ := r.cli(t, "sweep", "show", "qualified-web"); code != exitNotFound {
		t.Fatalf("show of a deleted sweep: exit %d", code)
	}
	if code, _ := r.cli(t, "sweep", "delete", "qualified-web"); code != exitNotFound {
		t.Fatalf("delete twice: exit %d", code)
	}
}

// TestSweepCreateRefuses: a bad schedule, condition or options is refused
// with a message naming the problem, and nothing is stored or scheduled.
func TestSweepCreateRefuses(t *testing.T) {
	r := newSweepRig(t)
	good := map[string]string{"--schedule": "cron(0 2 * * ? *)", "--time-zone": "Europe/Berlin",
		"--condition": "Lead_Status = 'Qualified'", "--options": sweepDeal, "--max-leads": "500"}
	for _, tc := range []struct {
		flag, value, want string
	}{
		{"--schedule", "cron(0 2 * * * *)", "exactly one of day-of-month"},
		{"--schedule", "rate(1 hours)", "singular"},
		{"--schedule", "cron(0 25 * * ? *)", "cron hours"},
		{"--time-zone", "Europe/Berlim", "IANA"},
		{"--condition", "Lead_Status = 'Qualified'; delete", "semicolon"},
		{"--condition", "Lead_Status == 'Qualified'", "condition"},
		{"--options", `{"Deals":{"Deal_Name":"x"}}`, "$.Deals.Stage"},
		{"--options", `{"ids":["1"]}`, "ids are chosen by the run"},
		{"--options", `{"assign_to":`, "not JSON"},
		{"--max-leads", "200000", "max_leads"},
		{"--view", "3652397000000087501x", "custom view's id"},
		{"--view", "Leads#1", "custom view's id"},
	} {
		t.Run(tc.flag+"="+tc.value, func(t *testing.T) {
			args := []string{"sweep", "create", "--name", "bad"}
			for k, v := range good {
				if k == tc.flag {
					v = tc.value
				}
				args = append(args, k, v)
			}
			if _, ok := good[tc.flag]; !ok {
				args = append(args, tc.flag, tc.value)
			}
			code, out := r.cli(t, args...)
			if code != exitUsage || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want %d and a message saying %q", code, exitUsage, tc.want)
			}
			if _, ok := r.schedule(t, "bad"); ok {
				t.Fatal("a refused sweep got a schedule")
			}
			if _, err := table.NewJobStore(table.NewClient(r.d.cfg), r.d.table).Sweep(t.Context(), "bad"); !errors.Is(err, sweep.ErrNotFound) {
				t.Fatalf("a refused sweep was stored: %v", err)
			}
		})
	}
}

// TestSweepOverAView: a sweep created with --view (and a condition that
// narrows it) is shown with its view, and its run queues exactly the
// view's leads that match the condition.
func TestSweepOverAView(t *testing.T) {
	const cvid = "3652397000000087501"
	r := newSweepRig(t)
	leads := r.seed(20) // Qualified, Web
	var want []string
	for i, id := range leads {
		f := map[string]any{"Territory": "South", "Company": "Other"}
		if i%2 == 0 {
			f["Territory"] = "North"
		}
		if i%4 == 0 {
			f["Company"] = "Acme"
		}
		if i%4 == 0 {
			want = append(want, id)
		}
		r.d.sim.SetLeadFields(id, f)
	}
	r.d.sim.DefineView(cvid, "Territory = 'North'")
	if code, out := r.cli(t, "sweep", "create", "--name", "north", "--schedule", "rate(1 day)", "--view", cvid,
		"--condition", "Company = 'Acme'", "--options", sweepDeal); code != exitOK || !strings.Contains(out, "sweep north created") {
		t.Fatalf("create: exit %d", code)
	}
	if code, out := r.cli(t, "sweep", "list"); code != exitOK || !strings.Contains(out, "view "+cvid+" where Company = 'Acme'") {
		t.Fatalf("list: exit %d", code)
	}
	if code, out := r.cli(t, "sweep", "run", "north"); code != exitOK || !strings.Contains(out, "queued "+strconv.Itoa(len(want))) ||
		!strings.Contains(out, "ended: done") {
		t.Fatalf("run: exit %d", code)
	}
	var shown sweepView
	code, out := r.cli(t, "sweep", "show", "north", "-o", "json")
	if err := json.Unmarshal([]byte(out), &shown); code != exitOK || err != nil || shown.View != cvid || len(shown.Runs) != 1 ||
		shown.Runs[0].Matched != len(want) || shown.Runs[0].Queued != len(want) {
		t.Fatalf("show -o json: exit %d, %+v %v", code, shown, err)
	}
	if code, out := r.cli(t, "sweep", "show", "north"); code != exitOK || !strings.Contains(out, "view "+cvid) {
		t.Fatalf("show: exit %d", code)
	}
}

// TestSweepCreateChecksFields: before any run has recorded the fields of
// Leads, create says the condition's fields could not be checked and
// stores the sweep; once a run (here a dry run, through the status
// function) has recorded them, a condition naming a field Leads does not
// have is refused, naming the field and when the fields were seen.
func TestSweepCreateChecksFields(t *testing.T) {
	r := newSweepRig(t)
	leads := r.seed(2)
	r.d.sim.SetLeadFields(leads[0], map[string]any{"Territory": "North"})
	create := func(name, cond string) (int, string) {
		t.Helper()
		return r.cli(t, "sweep", "create", "--name", name, "--schedule", "rate(1 day)", "--condition", cond, "--options", sweepDeal)
	}
	const notYet = "could not be checked yet"
	if code, out := create("first", "Lead_Status = 'Qualified'"); code != exitOK || !strings.Contains(out, notYet) {
		t.Fatalf("create before any run: exit %d, want %d and %q", code, exitOK, notYet)
	}
	if code, _ := r.cli(t, "sweep", "run", "first", "--dry-run"); code != exitOK {
		t.Fatalf("dry run: exit %d", code)
	}
	seen, err := table.NewJobStore(table.NewClient(r.d.cfg), r.d.table).LeadFields(t.Context())
	if err != nil || seen.SeenAt.IsZero() {
		t.Fatalf("the dry run recorded no fields: %+v %v", seen, err)
	}
	for _, tc := range []struct {
		name, cond string
		code       int
		want       string
	}{
		{"typo", "Lead_Status = 'Qualified' and Lead_Stauts = 'Web'", exitUsage, "Lead_Stauts is not a field of Leads"},
		{"typo", "Lead_Status = 'Qualified' and Lead_Stauts = 'Web'", exitUsage, "saw at " + seen.SeenAt.UTC().Format(time.RFC3339)},
		{"custom", "Territory = 'North' and Lead_Source = 'Web'", exitOK, "sweep custom created"},
	} {
		code, out := create(tc.name, tc.cond)
		if code != tc.code || !strings.Contains(out, tc.want) || strings.Contains(out, notYet) {
			t.Errorf("create %s: exit %d, want %d and %q", tc.cond, code, tc.code, tc.want)
		}
	}
	if _, err := table.NewJobStore(table.NewClient(r.d.cfg), r.d.table).Sweep(t.Context(), "typo"); !errors.Is(err, sweep.ErrNotFound) {
		t.Fatalf("a refused sweep was stored: %v", err)
	}
}

// TestSweepCreateUndoesWithoutSchedule: a schedule Scheduler refuses (here,
// a group that does not exist) leaves no sweep behind.
func TestSweepCreateUndoesWithoutSchedule(t *testing.T) {
	r := newSweepRig(t)
	code, out := r.cli(t, "sweep", "create", "--name", "orphan", "--schedule", "rate(1 day)", "--condition", "Lead_Status = 'Qualified'",
		"--options", sweepDeal, "--schedule-group", r.group+"-missing")
	if code != exitFailed || !strings.Contains(out, "the sweep was not kept") {
		t.Fatalf("exit %d", code)
	}
	if _, err := table.NewJobStore(table.NewClient(r.d.cfg), r.d.table).Sweep(t.Context(), "orphan"); !errors.Is(err, sweep.ErrNotFound) {
		t.Fatalf("the sweep without a schedule: %v", err)
	}
	if code, out := r.cli(t, "sweep", "list"); code != exitOK || strings.Contains(out, "orphan") {
		t.Fatalf("list: exit %d", code)
	}
}

// TestSweepRunFunctionError: the function's refusal, as Lambda reports it
// (X-Amz-Function-Error), is said with the function's message.
func TestSweepRunFunctionError(t *testing.T) {
	r := newSweepRig(t)
	api := lambda.NewFromConfig(r.d.cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(r.lambdaURL) })
	_, err := invokeSweep(t.Context(), api, r.fn, sweepEvent{Sweep: "gone"})
	var fe *FunctionError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, `sweep "gone" is not defined`) {
		t.Fatalf("an unknown sweep: %v", err)
	}
}
