package deploytest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// lambdaFront serves Lambda's Invoke API (POST
// /2015-03-31/functions/NAME/invocations) on 127.0.0.1 for functions running
// under the RIE, so that `leadconvert sweep run`, which invokes the status
// function by the ARN of the stack's output StatusFunctionArn, reaches the
// created function. It is needed because neither end can be used as it is:
// moto's Invoke would run the function in Docker, which is not here, and the
// RIE answers only its own path (.../functions/function/invocations),
// whatever the function is called.
//
// The front forwards the payload as it is and hands back the function's
// answer as Lambda does, with one translation: Lambda marks a function's
// error with the header X-Amz-Function-Error, which the CLI reads, while
// the RIE answers it with 200 and the runtime's error document alone
// ({"errorMessage", "errorType"}, and nothing else). The front marks that
// document; a sweep's report never has that shape. A name the front does
// not serve is Lambda's 404, so that a CLI invoking the wrong function fails
// as it would in AWS.
func lambdaFront(t *testing.T, fns ...*function) string {
	t.Helper()
	served := map[string]*function{}
	for _, f := range fns {
		served[f.arn] = f
		served[f.arn[strings.LastIndex(f.arn, ":")+1:]] = f // by name, as Invoke also takes it
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.EscapedPath()
		rest, okPrefix := strings.CutPrefix(path, "/2015-03-31/functions/")
		escaped, okSuffix := strings.CutSuffix(rest, "/invocations")
		name, err := url.PathUnescape(escaped)
		f := served[name]
		if r.Method != http.MethodPost || !okPrefix || !okSuffix || err != nil || f == nil {
			lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
			return
		}
		// The CLI waits for the answer; the front plays no other kind.
		if typ := r.Header.Get("X-Amz-Invocation-Type"); typ != "" && typ != "RequestResponse" {
			lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", "the test's Lambda front plays RequestResponse only, not "+typ)
			return
		}
		payload, err := io.ReadAll(r.Body)
		if err != nil {
			lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
			return
		}
		out, err := f.Call(payload)
		if err != nil {
			lambdaError(w, http.StatusBadGateway, "ServiceException", err.Error())
			return
		}
		if functionError(out) {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// lambdaError answers as Lambda's API answers an error: its type in
// X-Amzn-ErrorType, which the SDK reads, and a JSON message.
func lambdaError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}

// functionError reports whether the RIE's answer is the runtime's error
// document: an object with errorMessage and errorType and, at most, the
// stackTrace some runtimes add.
func functionError(answer []byte) bool {
	var doc map[string]json.RawMessage
	if json.Unmarshal(answer, &doc) != nil {
		return false
	}
	_, msg := doc["errorMessage"]
	_, typ := doc["errorType"]
	delete(doc, "stackTrace")
	return msg && typ && len(doc) == 2
}

// sweepSession is what the sweep part of the operator's session uses of
// the deployed stack's session.
type sweepSession struct {
	d                    *deployment
	s                    *Stack
	c                    *cli
	sim                  *zohosim.Server
	fns                  map[string]*function
	conversions, wakeups *queue
	zoho                 []string // doctor's flags naming the simulator
	// parked are leads the session's requests left in their batch, whose
	// wake-up waits on the wake-up queue.
	parked []string
}

// words is s with every run of blanks one space, line by line: the checks
// read the words of the CLI's tables, not their columns.
func words(s string) string {
	var lines []string
	for l := range strings.SplitSeq(s, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

// wantWords fails unless out, its blanks squashed, holds every phrase.
func wantWords(t *testing.T, out, what string, phrases ...string) {
	t.Helper()
	w := words(out)
	for _, p := range phrases {
		if !strings.Contains(w, p) {
			t.Fatalf("%s: no %q in\n%s", what, p, out)
		}
	}
}

// fire invokes the schedule's target as Scheduler does at the tick at:
// Lambda's Invoke (here lambdaFront) with the schedule's input, the
// scheduled time filled in.
func fire(t *testing.T, d *deployment, front string, sch *scheduler.GetScheduleOutput, at string) *lambda.InvokeOutput {
	t.Helper()
	api := lambda.NewFromConfig(d.cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(front) })
	res, err := api.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: sch.Target.Arn,
		Payload: []byte(strings.ReplaceAll(aws.ToString(sch.Target.Input), sweep.ScheduledTime, at))})
	if err != nil {
		t.Fatalf("the tick at %s: %v", at, err)
	}
	return res
}

// doctorCheck is the line of doctor's report for check, or "".
func doctorCheck(report, check string) string {
	for line := range strings.SplitSeq(report, "\n") {
		if m := doctorLine.FindStringSubmatch(line); m != nil && m[2] == check {
			return line
		}
	}
	return ""
}

// schedule is the sweep's schedule on moto's Scheduler, in the stack's
// group; ok is false if there is none.
func (ss *sweepSession) schedule(t *testing.T, name string) (out *scheduler.GetScheduleOutput, ok bool) {
	t.Helper()
	out, err := scheduler.NewFromConfig(ss.d.cfg).GetSchedule(t.Context(), &scheduler.GetScheduleInput{Name: aws.String(name),
		GroupName: aws.String(ss.s.Outputs["SweepScheduleGroupName"])})
	if _, missing := errors.AsType[*schedtypes.ResourceNotFoundException](err); missing {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return out, true
}

// queueEmpty fails unless the conversion queue holds no message, visible,
// in flight or delayed.
func (ss *sweepSession) queueEmpty(t *testing.T, what string) {
	t.Helper()
	out, err := ss.conversions.sqs.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(ss.conversions.url),
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"}})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range out.Attributes {
		if v != "0" {
			t.Fatalf("%s: the conversion queue's %s is %s, want 0", what, k, v)
		}
	}
}

// useSweeps runs the README's sweep recipe with --stack against the
// created stack, as the operator would: create (its schedule on moto's
// Scheduler in the stack's group, targeting the status function as the
// stack's SweepSchedulerRole), list, a dry run, a run whose leads the
// convert function under the RIE sends to Zoho, show, pause, resume and
// delete. `sweep run` reaches the status function under the RIE through
// lambdaFront. It is not a t.Helper, so that a failure names its line here.
func useSweeps(t *testing.T, ss *sweepSession) {
	stack := []string{"--stack", ss.s.Name}
	group, role, status := ss.s.Outputs["SweepScheduleGroupName"], ss.s.Outputs["SweepSchedulerRoleArn"], ss.s.Outputs["StatusFunctionArn"]
	if group == "" || role == "" || status != ss.fns["StatusFunction"].arn {
		t.Fatalf("the stack's sweep outputs: group %q, role %q, status function %q (want %s)", group, role, status, ss.fns["StatusFunction"].arn)
	}
	if want := "arn:aws:iam::" + Account + ":role/" + ss.s.Physical("SweepSchedulerRole"); role != want {
		t.Fatalf("SweepSchedulerRoleArn is %s, want the stack's role %s", role, want)
	}
	front := lambdaFront(t, ss.fns["StatusFunction"])
	ss.c.env = append(ss.c.env, "AWS_ENDPOINT_URL_LAMBDA="+front)

	// The leads the session's requests parked go to Zoho at their
	// wake-up, in a job Zoho has not finished: claimed, and not converted,
	// which only the claims tell a sweep.
	massConverts := ss.sim.Stats().Calls[zohosim.EndpointMassConvert]
	ss.wakeups.deliver(t, ss.fns["ConvertFunction"], ss.wakeups.receive(t, 1))
	claimed := ss.parked
	if jobs := ss.sim.Jobs(); ss.sim.Stats().Calls[zohosim.EndpointMassConvert] != massConverts+1 ||
		!slices.Equal(slices.Sorted(slices.Values(jobs[len(jobs)-1].IDs)), slices.Sorted(slices.Values(claimed))) {
		t.Fatalf("the parked leads' wake-up: jobs %+v, want one more with %v", jobs, claimed)
	}

	// What the condition will see: five leads to convert, two that match
	// but were converted in Zoho's UI, the claimed leads, and three that
	// do not match.
	fresh := ss.sim.SeedLeadRange(5)
	converted := ss.sim.SeedLeadRange(2)
	ss.sim.SeedConvertedLeads(converted...)
	others := ss.sim.SeedLeadRange(3)
	for _, id := range slices.Concat(fresh, converted, claimed) {
		ss.sim.SetLeadFields(id, map[string]any{"Lead_Status": "Qualified", "Lead_Source": "Web"})
	}
	names := [][2]string{{"Ada", "Lovelace"}, {"Grace", "Hopper"}, {"Katherine", "Johnson"}, {"Margaret", "Hamilton"}, {"Annie", "Easley"}}
	for i, id := range fresh {
		ss.sim.SetLeadFields(id, map[string]any{"First_Name": names[i][0], "Last_Name": names[i][1]})
	}
	for _, id := range others {
		ss.sim.SetLeadFields(id, map[string]any{"Lead_Status": "Contacted", "Lead_Source": "Web"})
	}
	matched := len(fresh) + len(converted) + len(claimed)

	// The README's recipe, with a Deals object and the owner.
	const name = "qualified-web"
	opts := `{"assign_to":{"id":"` + zohotest.Owner + `"},"Deals":{"Deal_Name":"Web lead","Stage":"Qualification","Closing_Date":"2026-12-31"}}`
	out, errOut := ss.c.run(t, 0, slices.Concat([]string{"sweep", "create", "--name", name, "--schedule", "cron(0 2 * * ? *)",
		"--time-zone", "Europe/Berlin", "--condition", "Lead_Status = 'Qualified'", "--options", opts}, stack)...)
	wantWords(t, out, "sweep create", "sweep "+name+" created, enabled: cron(0 2 * * ? *) in Europe/Berlin",
		"schedule "+name+" in group "+group+" invokes "+status)
	wantWords(t, errOut, "sweep create", "sweep run "+name+" --dry-run --stack "+ss.s.Name)
	sch, ok := ss.schedule(t, name)
	switch {
	case !ok:
		t.Fatalf("sweep create made no schedule %s in group %s", name, group)
	case aws.ToString(sch.GroupName) != group, aws.ToString(sch.ScheduleExpression) != "cron(0 2 * * ? *)",
		aws.ToString(sch.ScheduleExpressionTimezone) != "Europe/Berlin", sch.State != schedtypes.ScheduleStateEnabled:
		t.Fatalf("the schedule: group %s, %s in %s, %s", aws.ToString(sch.GroupName), aws.ToString(sch.ScheduleExpression),
			aws.ToString(sch.ScheduleExpressionTimezone), sch.State)
	case aws.ToString(sch.Target.Arn) != status, aws.ToString(sch.Target.RoleArn) != role,
		aws.ToString(sch.Target.Input) != sweep.ScheduleInput(name):
		t.Fatalf("the schedule's target: %s as %s with %s; want the status function %s as the stack's role %s",
			aws.ToString(sch.Target.Arn), aws.ToString(sch.Target.RoleArn), aws.ToString(sch.Target.Input), status, role)
	}

	// With a sweep defined, doctor probes the COQL scope the runs need;
	// the session's dead letter is still its only failure.
	report, _ := ss.c.run(t, 1, slices.Concat([]string{"doctor"}, ss.zoho, stack)...)
	if failed := doctorFailures(report); !slices.Equal(failed, []string{"dead letters"}) {
		t.Fatalf("doctor failed %v with a sweep defined, want [dead letters]", failed)
	}
	if line := doctorCheck(report, "scopes"); !strings.HasPrefix(line, "ok") || !strings.Contains(line, "ZohoCRM.coql.READ") {
		t.Fatalf("doctor's scopes with a sweep defined: %q, want ok with ZohoCRM.coql.READ probed", line)
	}

	out, _ = ss.c.run(t, 0, slices.Concat([]string{"sweep", "list"}, stack)...)
	wantWords(t, out, "sweep list", name+" enabled cron(0 2 * * ? *) Europe/Berlin 1000 - Lead_Status = 'Qualified'")

	// The dry run counts, samples and estimates, and converts nothing.
	massConverts = ss.sim.Stats().Calls[zohosim.EndpointMassConvert]
	out, _ = ss.c.run(t, 0, slices.Concat([]string{"sweep", "run", name, "--dry-run"}, stack)...)
	wantWords(t, out, "sweep run --dry-run", "dry run of sweep "+name+": nothing was queued or stored",
		"matched "+strconv.Itoa(matched), "already converted "+strconv.Itoa(len(converted)), "already claimed "+strconv.Itoa(len(claimed)),
		"not found 0", "would queue "+strconv.Itoa(len(fresh)), "over max_leads 0",
		"zoho calls 3: 1 COQL, 1 Get Records, 1 mass_convert", "sample: the first "+strconv.Itoa(len(fresh))+" it would queue")
	for i, id := range fresh {
		wantWords(t, out, "the dry run's sample", id+" "+names[i][0]+" "+names[i][1])
	}
	for _, id := range slices.Concat(converted, claimed, others) {
		if strings.Contains(out, id) {
			t.Fatalf("the dry run's sample names %s, which a run must not queue:\n%s", id, out)
		}
	}
	ss.queueEmpty(t, "after the dry run")

	// The run queues the five in one message with the sweep's options;
	// the convert function takes them as any request, and the wake-up
	// sends them to Zoho in one mass_convert call.
	out, _ = ss.c.run(t, 0, slices.Concat([]string{"sweep", "run", name}, stack)...)
	wantWords(t, out, "sweep run", "sweep "+name+", run ", "matched "+strconv.Itoa(matched), "already converted "+strconv.Itoa(len(converted)),
		"already claimed "+strconv.Itoa(len(claimed)), "queued "+strconv.Itoa(len(fresh)), "messages 1; 1 COQL call and 1 Get Records call", "ended: done")
	if n := ss.sim.Stats().Calls[zohosim.EndpointMassConvert]; n != massConverts {
		t.Fatalf("%d mass_convert calls during the sweep's run itself, want none: it only queues", n-massConverts)
	}
	queued := ss.conversions.receive(t, 1)
	if len(queued) != 1 {
		t.Fatalf("the run put %d messages on the queue, want 1", len(queued))
	}
	ss.conversions.deliver(t, ss.fns["ConvertFunction"], queued)
	ss.wakeups.deliver(t, ss.fns["ConvertFunction"], ss.wakeups.receive(t, 1))
	var job zohosim.JobInfo
	for _, j := range ss.sim.Jobs() {
		if slices.Contains(j.IDs, fresh[0]) {
			job = j
		}
	}
	if got := slices.Sorted(slices.Values(job.IDs)); !slices.Equal(got, fresh) ||
		ss.sim.Stats().Calls[zohosim.EndpointMassConvert] != massConverts+1 {
		t.Fatalf("Zoho got the sweep's leads %v in %d mass_convert calls, want %v in 1", job.IDs,
			ss.sim.Stats().Calls[zohosim.EndpointMassConvert]-massConverts, fresh)
	}
	var sent struct {
		AssignTo struct {
			ID string `json:"id"`
		} `json:"assign_to"`
	}
	if err := json.Unmarshal(job.Body, &sent); err != nil || sent.AssignTo.ID != zohotest.Owner || job.Deals["Deal_Name"] != "Web lead" {
		t.Fatalf("the sweep's mass_convert call: %s, want the sweep's owner and deal", job.Body)
	}
	// Zoho finishes the job; the status function, asked for it as an
	// operator would, finds the leads converted.
	ss.sim.Clock().(*zohosim.ManualClock).Advance(5 * time.Minute)
	if j, _ := ss.sim.Job(job.ID); j.State != zohosim.JobCompleted || j.Converted != len(fresh) {
		t.Fatalf("the sweep's job in Zoho: %+v", j)
	}
	ss.fns["StatusFunction"].call(t, map[string][]string{"job_ids": {job.ID}}, nil)
	out, _ = ss.c.run(t, 0, slices.Concat([]string{"jobs", job.ID}, stack)...)
	for _, id := range fresh {
		wantWords(t, out, "jobs ID of the sweep's job", id+" CONVERTED")
	}

	out, _ = ss.c.run(t, 0, slices.Concat([]string{"sweep", "show", name}, stack)...)
	wantWords(t, out, "sweep show", "sweep "+name+" (enabled)", "schedule cron(0 2 * * ? *) Europe/Berlin",
		"scheduler ENABLED in group "+group, "condition Lead_Status = 'Qualified'",
		"RUN STARTED MATCHED CONVERTED CLAIMED NOT FOUND QUEUED OVER MAX OUTCOMES ENDED",
		// The outcomes of its queued leads, from its message's request:
		// every one converted.
		" "+strconv.Itoa(matched)+" "+strconv.Itoa(len(converted))+" "+strconv.Itoa(len(claimed))+" 0 "+strconv.Itoa(len(fresh))+" 0 "+
			strconv.Itoa(len(fresh))+"/0/0/0 done")

	// Paused: the table first, then the schedule, DISABLED; a run is
	// refused. Resumed: ENABLED again.
	out, _ = ss.c.run(t, 0, slices.Concat([]string{"sweep", "pause", name}, stack)...)
	wantWords(t, out, "sweep pause", "sweep "+name+" paused; schedule DISABLED")
	if sch, ok := ss.schedule(t, name); !ok || sch.State != schedtypes.ScheduleStateDisabled || aws.ToString(sch.Target.Arn) != status {
		t.Fatalf("the paused sweep's schedule: %+v", sch)
	}
	_, errOut = ss.c.run(t, 1, slices.Concat([]string{"sweep", "run", name}, stack)...)
	wantWords(t, errOut, "sweep run of a paused sweep", "sweep "+name+" is paused")
	// A tick already on its way when the sweep was paused: the function
	// refuses it, as Lambda reports a function's error.
	if res := fire(t, ss.d, front, sch, "2026-12-05T01:00:00Z"); aws.ToString(res.FunctionError) == "" ||
		!strings.Contains(string(res.Payload), `sweep \"`+name+`\" is paused`) {
		t.Fatalf("a tick of the paused sweep: function error %q, answer %s", aws.ToString(res.FunctionError), res.Payload)
	}
	out, _ = ss.c.run(t, 0, slices.Concat([]string{"sweep", "resume", name}, stack)...)
	wantWords(t, out, "sweep resume", "sweep "+name+" enabled; schedule ENABLED")
	if sch, ok := ss.schedule(t, name); !ok || sch.State != schedtypes.ScheduleStateEnabled || aws.ToString(sch.Target.RoleArn) != role {
		t.Fatalf("the resumed sweep's schedule: %+v", sch)
	}

	// The schedule's tick, as Scheduler delivers it to the status
	// function (its input, the scheduled time filled in): a run of its
	// own, which finds every matching lead converted by now, the claimed
	// leads' job having ended too, and queues nothing.
	sch, _ = ss.schedule(t, name)
	const tickTime = "2026-12-06T01:00:00Z" // 02:00 in Berlin
	res := fire(t, ss.d, front, sch, tickTime)
	var tick sweep.Report
	if err := json.Unmarshal(res.Payload, &tick); err != nil || res.FunctionError != nil || tick.RunID != tickTime ||
		tick.End != sweep.EndDone || tick.Matched != matched || tick.SkippedConverted != matched || tick.Queued != 0 {
		t.Fatalf("the schedule's tick: %s; want run %s, all %d matching leads converted, none queued", res.Payload, tickTime, matched)
	}
	ss.queueEmpty(t, "after the tick")

	// Deleted: the schedule is gone from the group, and the sweep.
	out, _ = ss.c.run(t, 0, slices.Concat([]string{"sweep", "delete", name}, stack)...)
	wantWords(t, out, "sweep delete", "sweep "+name+" and its schedule deleted")
	if _, ok := ss.schedule(t, name); ok {
		t.Fatalf("schedule %s is still in group %s after sweep delete", name, group)
	}
	out, _ = ss.c.run(t, 0, slices.Concat([]string{"sweep", "list"}, stack)...)
	wantWords(t, out, "sweep list after delete", "no sweeps")
	ss.c.run(t, 3, slices.Concat([]string{"sweep", "show", name}, stack)...)
}
