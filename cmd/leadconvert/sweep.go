package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/outcome"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

const sweepLong = `A sweep converts, on a schedule, every lead a COQL condition, a custom view of
Leads, or a view narrowed by a condition selects: each run
pages the matching leads by id, reads them back so that converted leads are never sent
(one converted id fails a whole mass_convert call), skips leads a request already
claimed, and puts the rest on the conversion queue with the sweep's options, at most
--max-leads a run (default 1,000: a conversion cannot be undone). From the queue the
leads go the way every lead goes.

A sweep is stored in the stack's table; its schedule is an EventBridge Scheduler
schedule named after it in the stack's group (output SweepScheduleGroupName), which
invokes the status function as the stack's role (SweepSchedulerRoleArn) with
{"sweep":"NAME","run":"<the tick's time>"}: a tick delivered twice is one run.
Start with a dry run: it counts and samples what a run would queue, and converts nothing.`

func newSweepCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Define, run and follow sweeps: scheduled conversions of the leads a COQL condition or a custom view selects",
		Long:  sweepLong,
		Example: `  leadconvert sweep create --stack leadconvert --name qualified-web \
    --schedule 'cron(0 2 * * ? *)' --time-zone Europe/Berlin \
    --condition "Lead_Status = 'Qualified' and Lead_Source = 'Web'" --options @options.json
  leadconvert sweep run qualified-web --dry-run --stack leadconvert
  leadconvert sweep show qualified-web --stack leadconvert`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for leadconvert sweep: want create, list, show, run, pause, resume or delete", args[0])}
			}
			return usageError{errors.New("sweep: name a command: create, list, show, run, pause, resume or delete")}
		},
	}
	cmd.AddCommand(newSweepCreateCmd(), newSweepListCmd(), newSweepShowCmd(), newSweepRunCmd(),
		newSweepStateCmd(false), newSweepStateCmd(true), newSweepDeleteCmd())
	return cmd
}

// sweepEnv is what the sweep commands work with.
type sweepEnv struct {
	store  *table.JobStore
	sched  *schedules
	lambda lambdaAPI
}

// openSweeps resolves the deployment and requires the table and need.
func openSweeps(ctx context.Context, d *deployment, need ...string) (*sweepEnv, error) {
	cfg, err := d.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	if err := d.resolve(ctx, cfg); err != nil {
		return nil, err
	}
	if err := d.require(append([]string{"table"}, need...)...); err != nil {
		return nil, err
	}
	return &sweepEnv{
		store:  table.NewJobStore(table.NewClient(cfg), d.Table),
		sched:  &schedules{api: scheduler.NewFromConfig(cfg), group: d.ScheduleGroup, function: d.StatusFunction, role: d.SchedulerRole},
		lambda: lambda.NewFromConfig(cfg),
	}, nil
}

// sweepNameArg is the NAME argument of a sweep command.
func sweepNameArg(cmd *cobra.Command, args []string) error {
	if err := exactArgs(1)(cmd, args); err != nil {
		return err
	}
	if !sweep.ValidName(args[0]) {
		return usageError{fmt.Errorf("sweep name %q: use 1 to 64 letters, digits, - and _", args[0])}
	}
	return nil
}

// readSweepOptions reads --options: a JSON object inline, @FILE, or
// nothing (the deployment's defaults alone).
func readSweepOptions(v string) (json.RawMessage, error) {
	if v == "" {
		return json.RawMessage(`{}`), nil
	}
	b := []byte(v)
	if file, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if b, err = os.ReadFile(file); err != nil {
			return nil, usageError{fmt.Errorf("--options: %w", err)}
		}
	}
	if !json.Valid(b) {
		return nil, usageError{errors.New(`--options: not JSON: want a conversion request without ids, e.g. '{"assign_to":{"id":"..."}}', or @FILE`)}
	}
	return compactJSON(b), nil
}

func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b // not reached: b is valid JSON
	}
	return buf.Bytes()
}

func newSweepCreateCmd() *cobra.Command {
	var (
		d       deployment
		rules   requestRules
		s       sweep.Sweep
		options string
		paused  bool
		replace bool
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Define a sweep and make its schedule",
		Long: `create checks the sweep before anything is stored: the name; the schedule as
EventBridge Scheduler would (cron with six fields, one of day-of-month and day-of-week
'?'; rate with minute(s), hour(s) or day(s)) and the time zone (an IANA name); the
condition (one COQL where clause over Leads: = != like in 'not in' 'is null' 'is not
null', and/or, parentheses; no ';'), and its fields against the fields of Leads a run
last recorded (every run, a dry run too, reads them from Zoho once a day; before any
run has, create says the fields could not be checked yet and goes on); the custom
view's id (--view: a Zoho record id, the cvid in the view's URL; with --condition
too, the run selects the view's leads that match the condition); the options with
the convert function's own decoder and the stack's ZohoApiVersion and DefaultOwnerId
(--api-version, --default-owner). A sweep that fails a check is not stored, and the
command exits 2 naming the problem.

Then it stores the sweep and creates its schedule (ENABLED, or DISABLED with
--paused). If the schedule cannot be made, the sweep is taken back out (or, with
--replace, its previous definition put back). --replace redefines an existing sweep,
keeping its runs.`,
		Example: `  leadconvert sweep create --stack leadconvert --name qualified-web \
    --schedule 'cron(0 2 * * ? *)' --time-zone Europe/Berlin \
    --condition "Lead_Status = 'Qualified' and Lead_Source = 'Web'" \
    --options '{"assign_to":{"id":"3652397000000186017"},"Deals":{"Deal_Name":"Web lead","Stage":"Qualification","Closing_Date":"2026-12-31"}}'
  leadconvert sweep create --stack leadconvert --name hourly-events --schedule 'rate(1 hour)' \
    --condition "Lead_Source = 'Trade Show'" --options @options.json --max-leads 200 --paused
  leadconvert sweep create --stack leadconvert --name view-nightly --schedule 'cron(0 3 * * ? *)' \
    --view 3652397000000087501 --options @options.json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if s.Name == "" || s.Schedule == "" || s.Condition == "" && s.View == "" {
				return usageError{errors.New("--name, --schedule and --condition or --view (or both) are required")}
			}
			opts, err := readSweepOptions(options)
			if err != nil {
				return err
			}
			s.Options, s.Enabled, s.CreatedAt = opts, !paused, time.Now().UTC()
			// What needs no deployment is judged before AWS is asked
			// anything; Check below judges it all again, options included.
			pre := s
			pre.Options = json.RawMessage(`{"assign_to":{"id":"1"}}`)
			if err := pre.Check(&convert.Decoder{APIVersion: defaultAPIVersion}); err != nil {
				return usageError{fmt.Errorf("sweep %s not created: %w", s.Name, err)}
			}
			ctx := cmd.Context()
			env, err := openSweeps(ctx, &d, "function", "schedule-group", "scheduler-role")
			if err != nil {
				return err
			}
			dec, err := rules.decoder(d.Params)
			if err != nil {
				return err
			}
			if err := s.Check(dec); err != nil {
				return usageError{fmt.Errorf("sweep %s not created: %w", s.Name, err)}
			}
			if err := checkSweepFields(ctx, env.store, s, cmd.ErrOrStderr()); err != nil {
				return err
			}
			old, err := env.store.Sweep(ctx, s.Name)
			exists := err == nil
			switch {
			case errors.Is(err, sweep.ErrNotFound):
			case err != nil:
				return err
			case !replace:
				return fmt.Errorf("sweep %s exists (created %s): pass --replace to redefine it", s.Name, old.CreatedAt.Format(time.RFC3339))
			}
			if err := env.store.PutSweep(ctx, s); err != nil {
				return err
			}
			if err := env.sched.put(ctx, s); err != nil {
				// A sweep without its schedule would never run: take it back.
				undo, what := env.store.DeleteSweep(ctx, s.Name), "the sweep was not kept"
				if exists {
					undo, what = env.store.PutSweep(ctx, old), "its previous definition was put back"
				}
				if undo != nil {
					return fmt.Errorf("%w; taking the sweep back failed too (%v): delete it with leadconvert sweep delete %s", err, undo, s.Name)
				}
				return fmt.Errorf("%w; %s", err, what)
			}
			verb, state := "created", "enabled"
			if exists {
				verb = "replaced"
			}
			if paused {
				state = "paused"
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "sweep %s %s, %s: %s in %s, at most %d leads a run\n", s.Name, verb, state, s.Schedule, s.TimeZone, s.MaxLeads)
			fmt.Fprintf(w, "schedule %s in group %s invokes %s\n", s.Name, d.ScheduleGroup, d.StatusFunction)
			fmt.Fprintf(cmd.ErrOrStderr(), "See what a run would convert: leadconvert sweep run %s --dry-run%s\n", s.Name, sweepHint(&d))
			return nil
		},
	}
	f := cmd.Flags()
	d.addAWSFlags(cmd)
	d.addSweepFlags(cmd)
	rules.addFlags(cmd)
	f.StringVar(&s.Name, "name", "", "sweep name: 1 to 64 letters, digits, - and _ (also its schedule's name)")
	f.StringVar(&s.Schedule, "schedule", "", "EventBridge Scheduler expression: 'cron(0 2 * * ? *)' or 'rate(1 hour)'")
	f.StringVar(&s.TimeZone, "time-zone", sweep.DefaultTimeZone, "IANA time zone of a cron schedule, e.g. Europe/Berlin")
	f.StringVar(&s.Condition, "condition", "", "COQL where clause over Leads, e.g. \"Lead_Status = 'Qualified'\"")
	f.StringVar(&s.View, "view", "", "id of a custom view of Leads to select from (narrowed by --condition if given)")
	f.StringVar(&options, "options", "", "conversion options: a JSON request without ids (assign_to, Deals, ...), or @FILE")
	f.IntVar(&s.MaxLeads, "max-leads", sweep.DefaultMaxLeads, "leads a run queues at most (1 to 100000)")
	f.BoolVar(&paused, "paused", false, "store the sweep paused, its schedule DISABLED")
	f.BoolVar(&replace, "replace", false, "redefine an existing sweep (its runs are kept)")
	return cmd
}

// checkSweepFields checks the fields s's condition names against the
// fields of Leads a run last recorded (the table's STAT#lead-fields item):
// the operator's command holds no Zoho token, so it reads what the status
// function saw. Before any run has recorded them it says so on w and lets
// the condition through: the run's query then meets an unknown field as
// Zoho's INVALID_QUERY, which ends the run with that reason.
func checkSweepFields(ctx context.Context, fields sweep.FieldStore, s sweep.Sweep, w io.Writer) error {
	if s.Condition == "" {
		return nil
	}
	known, err := fields.LeadFields(ctx)
	if err != nil {
		return err
	}
	if known.SeenAt.IsZero() {
		fmt.Fprintln(w, "The condition's fields could not be checked yet: no run has recorded the fields of Leads (every run records them, a dry run too).")
		return nil
	}
	if err := sweep.CheckFields(s.Condition, known); err != nil {
		return usageError{fmt.Errorf("sweep %s not created: %w", s.Name, err)}
	}
	return nil
}

// sweepHint repeats how the deployment was named, for the next command.
func sweepHint(d *deployment) string {
	if d.Stack != "" {
		return " --stack " + d.Stack
	}
	return " --table " + d.Table + " --function " + d.StatusFunction
}

// sweepView is a sweep as list and show print it: its definition, as the
// API shows it, the state of its schedule, and (show) its last runs.
type sweepView struct {
	outcome.SweepDefinition
	ScheduleAt *scheduleView       `json:"schedule_state,omitempty"`
	Runs       []outcome.RunReport `json:"runs,omitempty"`
}

// selection is a sweep's selection in one cell: its condition, its view,
// or both as the run's from and where clauses read.
func selection(view, condition string) string {
	switch {
	case view == "":
		return condition
	case condition == "":
		return "view " + view
	}
	return "view " + view + " where " + condition
}

func enabledWord(on bool) string {
	if on {
		return "enabled"
	}
	return "paused"
}

func newSweepListCmd() *cobra.Command {
	var (
		d   deployment
		out output
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the sweeps (read from the table's catalog item, not a scan)",
		Example: `  leadconvert sweep list --stack leadconvert
  leadconvert sweep list --stack leadconvert -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			env, err := openSweeps(cmd.Context(), &d)
			if err != nil {
				return err
			}
			sweeps, err := env.store.Sweeps(cmd.Context())
			if err != nil {
				return err
			}
			views := make([]sweepView, 0, len(sweeps))
			for _, s := range sweeps {
				views = append(views, sweepView{SweepDefinition: outcome.NewSweepDefinition(s)})
			}
			w := cmd.OutOrStdout()
			if out.json() {
				return writeJSONTo(w, map[string]any{"sweeps": views})
			}
			if len(views) == 0 {
				fmt.Fprintln(w, "no sweeps: define one with leadconvert sweep create")
				return nil
			}
			rows := make([][]string, 0, len(views))
			for _, v := range views {
				rows = append(rows, []string{v.Name, enabledWord(v.Enabled), v.Schedule, v.TimeZone, strconv.Itoa(v.MaxLeads),
					cmp.Or(v.LastRun, "-"), selection(v.View, v.Condition)})
			}
			return printTable(w, []string{"NAME", "STATE", "SCHEDULE", "TIME ZONE", "MAX LEADS", "LAST RUN", "SELECTION"}, rows)
		},
	}
	d.addAWSFlags(cmd)
	out.add(cmd)
	return cmd
}

func newSweepShowCmd() *cobra.Command {
	var (
		d   deployment
		out output
	)
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a sweep's definition, its schedule and its last runs",
		Long: `show prints the sweep as stored, the state of its schedule in Scheduler (ENABLED,
DISABLED, or missing), and its last 20 runs, newest first: started, matched, skipped as
converted, claimed or not found, queued, over max_leads, what became of the queued
leads (converted, not converted, rejected, pending), and how each ended (done,
max_leads, error with Zoho's answer, or running). Runs are read by the ids the sweep
keeps, not by a scan, and are kept 90 days. Each message of a run is a request
(sweep:NAME:RUN:N) that lists its leads; the outcomes are read a request at a time,
for at most 10 messages over the runs shown, newest first, and marked partial past
that (leadconvert request sweep:NAME:RUN:N shows one message's leads).`,
		Example: `  leadconvert sweep show qualified-web --stack leadconvert
  leadconvert sweep show qualified-web --stack leadconvert -o json`,
		Args: sweepNameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			env, err := openSweeps(ctx, &d)
			if err != nil {
				return err
			}
			rep, err := outcome.OfSweep(ctx, env.store, env.store, args[0])
			if errors.Is(err, sweep.ErrNotFound) {
				return notFound("sweep %s: not defined (leadconvert sweep list shows the sweeps)", args[0])
			}
			if err != nil {
				return err
			}
			v := sweepView{SweepDefinition: rep.SweepDefinition, Runs: rep.Runs}
			if d.ScheduleGroup != "" {
				sv, err := env.sched.get(ctx, v.Name)
				if err != nil {
					return err
				}
				v.ScheduleAt = &sv
			}
			if out.json() {
				return writeJSONTo(cmd.OutOrStdout(), v)
			}
			return printSweep(cmd.OutOrStdout(), v)
		},
	}
	d.addAWSFlags(cmd)
	d.addSweepFlags(cmd)
	out.add(cmd)
	return cmd
}

func printSweep(w io.Writer, v sweepView) error {
	sched := "(no --schedule-group: not looked up)"
	if sv := v.ScheduleAt; sv != nil {
		if sv.Found {
			sched = fmt.Sprintf("%s in group %s", sv.State, sv.Group)
		} else {
			sched = fmt.Sprintf("MISSING from group %s: the sweep never runs; make it with sweep create --replace", sv.Group)
		}
	}
	fields := [][]string{
		{"sweep", v.Name + " (" + enabledWord(v.Enabled) + ")"},
		{"schedule", v.Schedule + " " + v.TimeZone},
		{"scheduler", sched},
		{"view", cmp.Or(v.View, "-")},
		{"condition", cmp.Or(v.Condition, "-")},
		{"options", string(v.Options)},
		{"max leads", strconv.Itoa(v.MaxLeads)},
		{"created", v.CreatedAt.Format(time.RFC3339)},
	}
	if v.OpenRun != "" {
		fields = append(fields, []string{"open run", v.OpenRun})
	}
	for _, f := range fields {
		fmt.Fprintf(w, "%-10s %s\n", f[0], f[1])
	}
	fmt.Fprintln(w)
	if len(v.Runs) == 0 {
		fmt.Fprintln(w, "no runs yet")
		return nil
	}
	rows := make([][]string, 0, len(v.Runs))
	for _, r := range v.Runs {
		over := strconv.Itoa(r.OverMax)
		if r.MoreOverMax {
			over += "+"
		}
		end := r.End
		if r.Reason != "" {
			end += ": " + r.Reason
		}
		rows = append(rows, []string{r.ID, r.StartedAt.Format(time.RFC3339), strconv.Itoa(r.Matched), strconv.Itoa(r.SkippedConverted),
			strconv.Itoa(r.SkippedClaimed), strconv.Itoa(r.SkippedNotFound), strconv.Itoa(r.Queued), over, outcomesWord(r.Outcomes), end})
	}
	if err := printTable(w, []string{"RUN", "STARTED", "MATCHED", "CONVERTED", "CLAIMED", "NOT FOUND", "QUEUED", "OVER MAX", "OUTCOMES", "ENDED"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nCONVERTED, CLAIMED and NOT FOUND are the leads the run skipped. OUTCOMES are its queued leads'\n"+
		"converted/not converted/rejected/pending, from its messages' requests (%d messages a view;\n"+
		"* partial: not every message read). leadconvert request sweep:NAME:RUN:N shows message N's leads.\n", outcome.RunMessages)
	return nil
}

// outcomesWord is a run's outcomes as one column: converted/not
// converted/rejected/pending, * when partial, - when not read.
func outcomesWord(o *outcome.RunOutcomes) string {
	if o == nil {
		return "-"
	}
	w := fmt.Sprintf("%d/%d/%d/%d", o.Converted, o.NotConverted, o.Rejected, o.Pending)
	if o.Partial {
		w += "*"
	}
	return w
}

// maxRunInvocations bounds how often `sweep run` invokes the function for
// one run that keeps reaching its deadline (each goes on from the cursor).
const maxRunInvocations = 50

func newSweepRunCmd() *cobra.Command {
	var (
		d      deployment
		out    output
		dryRun bool
		runID  string
	)
	cmd := &cobra.Command{
		Use:   "run NAME",
		Short: "Run a sweep now, or with --dry-run see what a run would convert",
		Long: `run invokes the status function (Lambda Invoke, waiting for the answer) with
{"sweep":"NAME"} and prints its report: leads matched, skipped as already converted,
claimed or not found, queued, over max_leads, and how the run ended. A run that reaches
the function's deadline goes on from its cursor: run invokes the function again until
the run ends. A sweep with a run under way goes on with that run.

--dry-run counts and samples instead, and stores and queues nothing: how many leads
match, how many are converted or claimed, the first ids that would be queued with their
names, and the
Zoho calls the run would make (its COQL pages and Get Records calls, counted as the dry
run makes them, and ceil(queued / 50) mass_convert calls). A paused sweep can be dry
run, not run.`,
		Example: `  leadconvert sweep run qualified-web --dry-run --stack leadconvert
  leadconvert sweep run qualified-web --stack leadconvert
  leadconvert sweep run qualified-web --stack leadconvert --run-id 2026-12-05T01:00:00Z -o json`,
		Args: sweepNameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			if runID != "" && (dryRun || !sweep.ValidRunID(runID)) {
				return usageError{fmt.Errorf("--run-id %q: 1 to 64 letters, digits and -_.:+, and not with --dry-run", runID)}
			}
			ctx := cmd.Context()
			env, err := openSweeps(ctx, &d, "function")
			if err != nil {
				return err
			}
			// Read first: an unknown or paused sweep is said plainly, and
			// costs no invocation.
			s, err := env.store.Sweep(ctx, args[0])
			switch {
			case errors.Is(err, sweep.ErrNotFound):
				return notFound("sweep %s: not defined (leadconvert sweep list shows the sweeps)", args[0])
			case err != nil:
				return err
			case !s.Enabled && !dryRun:
				return fmt.Errorf("sweep %s is paused: resume it (leadconvert sweep resume %s), or see what it would do with --dry-run", s.Name, s.Name)
			}
			ev := sweepEvent{Sweep: s.Name, DryRun: dryRun, Run: runID}
			var rep sweep.Report
			for i := range maxRunInvocations {
				if rep, err = invokeSweep(ctx, env.lambda, d.StatusFunction, ev); err != nil {
					return err
				}
				if dryRun || rep.Stopped != sweep.StoppedDeadline || i == maxRunInvocations-1 {
					break
				}
				ev.Run = rep.RunID // the same run, from its cursor
			}
			if out.json() {
				return writeJSONTo(cmd.OutOrStdout(), rep)
			}
			printReport(cmd.OutOrStdout(), rep)
			if rep.End == sweep.EndError {
				return &exitError{code: exitFailed, err: fmt.Errorf("run %s of sweep %s ended in error: %s", rep.RunID, rep.Sweep, rep.Reason)}
			}
			return nil
		},
	}
	d.addAWSFlags(cmd)
	d.addSweepFlags(cmd)
	out.add(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count and sample what a run would queue; store and queue nothing")
	cmd.Flags().StringVar(&runID, "run-id", "", "the run's id (default: a new run named by its start, or the run under way)")
	return cmd
}

func printReport(w io.Writer, rep sweep.Report) {
	queued := "queued"
	if rep.DryRun {
		fmt.Fprintf(w, "dry run of sweep %s: nothing was queued or stored\n", rep.Sweep)
		queued = "would queue"
	} else {
		fmt.Fprintf(w, "sweep %s, run %s, started %s\n", rep.Sweep, rep.RunID, rep.StartedAt.Format(time.RFC3339))
	}
	over := strconv.Itoa(rep.OverMax)
	if rep.MoreOverMax {
		over += " and more pages"
	}
	for _, l := range [][2]string{
		{"matched", strconv.Itoa(rep.Matched)},
		{"already converted", strconv.Itoa(rep.SkippedConverted)},
		{"already claimed", strconv.Itoa(rep.SkippedClaimed)},
		{"not found", strconv.Itoa(rep.SkippedNotFound)},
		{queued, strconv.Itoa(rep.Queued)},
		{"over max_leads", over},
	} {
		fmt.Fprintf(w, "  %-18s %s\n", l[0], l[1])
	}
	if rep.DryRun {
		if c := rep.Calls; c != nil {
			fmt.Fprintf(w, "  %-18s %d: %d COQL, %d Get Records, %d mass_convert (at most 50 leads a call)\n", "zoho calls", c.Total, c.COQL, c.GetRecords, c.MassConvert)
		}
		if len(rep.Sample) > 0 {
			fmt.Fprintf(w, "  sample: the first %d it would queue\n", len(rep.Sample))
			for _, id := range rep.Sample {
				fmt.Fprintf(w, "    %s  %s\n", id, rep.SampleNames[id])
			}
		}
	} else {
		fmt.Fprintf(w, "  %-18s %d; %s and %s\n", "messages", rep.Messages, plural(rep.COQLCalls, "COQL call"), plural(rep.ReadCalls, "Get Records call"))
	}
	switch {
	case rep.Repeated:
		fmt.Fprintf(w, "run %s had ended already (%s): nothing was queued again\n", rep.RunID, rep.End)
	case rep.Stopped == sweep.StoppedBusy:
		fmt.Fprintf(w, "another invocation holds run %s: it goes on there\n", rep.RunID)
	case rep.Stopped != "":
		fmt.Fprintf(w, "stopped (%s); the run goes on from lead %s at the status function's next invocation (every StatusSchedule)\n", rep.Stopped, rep.Cursor)
	case rep.End == sweep.EndError:
		fmt.Fprintf(w, "ended in error: %s\n", rep.Reason)
	case rep.End != "":
		fmt.Fprintf(w, "ended: %s\n", rep.End)
	}
}

// newSweepStateCmd is pause (resume false) or resume.
func newSweepStateCmd(resume bool) *cobra.Command {
	var d deployment
	use, short, long := "pause NAME", "Pause a sweep: disable its schedule, and refuse its runs",
		`pause marks the sweep paused in the table first, so that the status function refuses
its runs even if a tick is on its way, then sets its schedule DISABLED. A run under way
stops at its next invocation. resume undoes both.`
	if resume {
		use, short, long = "resume NAME", "Resume a paused sweep: enable its schedule", `resume marks the sweep enabled and sets its schedule ENABLED (making it again if it
is missing).`
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long,
		Example: "  leadconvert sweep " + strings.Fields(use)[0] + " qualified-web --stack leadconvert",
		Args:    sweepNameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			env, err := openSweeps(ctx, &d, "function", "schedule-group", "scheduler-role")
			if err != nil {
				return err
			}
			err = env.store.SetEnabled(ctx, args[0], resume)
			if errors.Is(err, sweep.ErrNotFound) {
				return notFound("sweep %s: not defined (leadconvert sweep list shows the sweeps)", args[0])
			}
			if err != nil {
				return err
			}
			s, err := env.store.Sweep(ctx, args[0])
			if err != nil {
				return err
			}
			if err := env.sched.put(ctx, s); err != nil {
				return fmt.Errorf("sweep %s is %s in the table, but its schedule was not updated (run this again): %w", s.Name, enabledWord(resume), err)
			}
			state := "DISABLED"
			if resume {
				state = "ENABLED"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sweep %s %s; schedule %s\n", s.Name, enabledWord(resume), state)
			return nil
		},
	}
	d.addAWSFlags(cmd)
	d.addSweepFlags(cmd)
	return cmd
}

func newSweepDeleteCmd() *cobra.Command {
	var d deployment
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a sweep and its schedule",
		Long: `delete removes the schedule first, so that no tick arrives for a sweep that is gone,
then the sweep. Its runs stay in the table until they expire (90 days after they
started); a sweep defined again under the same name starts with no runs listed.`,
		Example: "  leadconvert sweep delete qualified-web --stack leadconvert",
		Args:    sweepNameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			env, err := openSweeps(ctx, &d, "schedule-group")
			if err != nil {
				return err
			}
			hadSchedule, err := env.sched.remove(ctx, args[0])
			if err != nil {
				return err
			}
			err = env.store.DeleteSweep(ctx, args[0])
			switch {
			case errors.Is(err, sweep.ErrNotFound) && !hadSchedule:
				return notFound("sweep %s: not defined, and no schedule of that name in group %s", args[0], d.ScheduleGroup)
			case errors.Is(err, sweep.ErrNotFound):
				fmt.Fprintf(cmd.OutOrStdout(), "schedule %s deleted (the sweep itself was not stored)\n", args[0])
				return nil
			case err != nil:
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sweep %s and its schedule deleted; its runs stay until they expire\n", args[0])
			return nil
		},
	}
	d.addAWSFlags(cmd)
	d.addSweepFlags(cmd)
	return cmd
}
