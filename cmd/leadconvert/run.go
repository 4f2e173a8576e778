package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

func newRunCmd() *cobra.Command {
	var (
		events            string
		leads             int
		verbose, emulated bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the whole flow on embedded defaults: a Zoho simulator, in-memory stores, the sample events",
		Long: `run feeds the sample events of events/ and a stream of single-lead requests through the
functions' real Lambda handlers, with a Zoho simulator on 127.0.0.1 and in-memory stores and
secret (no AWS account, no network), follows the jobs to their end with the status function,
and prints what happened. With --emulated it runs the built bootstraps under the Lambda
Runtime Interface Emulator against moto instead.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if emulated {
				return runEmulated(cmd.OutOrStdout(), events)
			}
			return runLocal(cmd.OutOrStdout(), events, leads, verbose)
		},
	}
	f := cmd.Flags()
	f.StringVar(&events, "events", "events", "folder of sample events")
	f.IntVar(&leads, "leads", 200, "extra single-lead SQS messages to convert (10% duplicates)")
	f.BoolVarP(&verbose, "verbose", "v", false, "print the functions' JSON logs to stderr")
	f.BoolVar(&emulated, "emulated", false, "run the built bootstraps under the Lambda Runtime Interface Emulator against moto")
	return cmd
}

// sampleWebhookKey is the key the sample events present.
const sampleWebhookKey = "sample-webhook-key-change-me"

// sampleSecret is the Zoho secret of the local runs: the simulator's
// credentials and the sample webhook key.
func sampleSecret() string {
	return fmt.Sprintf(`{"client_id":%q,"client_secret":%q,"refresh_token":%q,"webhook_key":%q}`,
		zohosim.DefaultClientID, zohosim.DefaultClientSecret, zohosim.DefaultRefreshToken, sampleWebhookKey)
}

// runLocal converts the sample events, then a stream of single-lead
// webhooks and SQS messages arriving over simulated minutes at three
// function instances, follows the jobs to their end with the status
// function, and prints what happened.
func runLocal(w io.Writer, eventsDir string, extra int, verbose bool) error {
	ctx := context.Background()
	clock := zohosim.NewManualClock(time.Now().UTC().Truncate(time.Second))
	sim := zohosim.New(zohosim.Options{Clock: clock, StatusCasings: []string{"upper", "title", "lower"}})
	ids := sim.SeedLeadRange(8 + extra) // the sample events use the first eight
	sim.FailLeads(ids[len(ids)-1])      // Zoho will fail one lead, to show it
	url, stop := sim.Start()
	defer stop()

	logs := io.Discard
	if verbose {
		logs = os.Stderr
	}
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
		"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url,
		"MAX_WAIT_SECONDS": strconv.Itoa(int(maxWait.Seconds())), "BATCHING_WINDOW_SECONDS": strconv.Itoa(int(window.Seconds())),
		// The streamed single-lead requests name no owner: they get the
		// simulated org's user, as a deployment's DefaultOwnerId would give.
		"DEFAULT_OWNER_ID": zohosim.DefaultUserID}
	getenv := func(k string) string { return env[k] }
	convertCfg, err := config.LoadConvert(getenv)
	if err != nil {
		return err
	}
	statusCfg, err := config.LoadStatus(getenv)
	if err != nil {
		return err
	}
	deps := app.NewEmbedded(sampleSecret(), clock.Now, logs)
	// Three instances of the convert function share the table and the queue,
	// as Lambda's instances share them.
	var fleet []*app.Convert
	for range instances {
		fn, err := app.NewConvert(convertCfg, deps.Convert())
		if err != nil {
			return err
		}
		fleet = append(fleet, fn)
	}
	statusFn, err := app.NewStatus(statusCfg, deps.Status())
	if err != nil {
		return err
	}
	l := &localRun{ctx: ctx, w: w, clock: clock, sim: sim, deps: deps, fleet: fleet}

	fmt.Fprintf(w, "Local run: Zoho simulator at %s (simulated clock), embedded table, secret, queues and dead-letter queue;\n"+
		"%d convert instances, MAX_WAIT_SECONDS %d, batching window %ds (none on the wake-up queue).\n\n", url, instances, int(maxWait.Seconds()), int(window.Seconds()))
	if err := l.samples(eventsDir); err != nil {
		return err
	}
	if err := l.stream(ids[8:]); err != nil {
		return err
	}

	runs, started := 0, clock.Now()
	for ; runs < 60 && openJobs(ctx, sim, deps.Jobs) > 0; runs++ {
		clock.Advance(time.Minute)
		raw, err := os.ReadFile(filepath.Join(eventsDir, "schedule.json"))
		if err != nil {
			return err
		}
		if _, err := statusFn.Invoke(ctx, raw); err != nil {
			return fmt.Errorf("status run: %w", err)
		}
	}
	fmt.Fprintf(w, "\nStatus function: %d runs over %s of simulated time until every job was final.\n\n", runs, clock.Now().Sub(started))
	return report(ctx, w, sim, deps)
}

const (
	instances = 3
	maxWait   = time.Minute
	window    = 5 * time.Second // the conversion queue event source's MaximumBatchingWindowInSeconds
)

// localRun is the state of runLocal.
type localRun struct {
	ctx   context.Context
	w     io.Writer
	clock *zohosim.ManualClock
	sim   *zohosim.Server
	deps  *app.Embedded
	fleet []*app.Convert
	turn  int
}

// instance is the next instance, in turn.
func (l *localRun) instance() *app.Convert {
	l.turn++
	return l.fleet[l.turn%len(l.fleet)]
}

// deliver is the SQS event sources: they hand what the queues hold to an
// instance, a batch at a time.
func (l *localRun) deliver() error {
	_, err := l.deps.Deliver(l.ctx, l.instance(), 1000)
	return err
}

// tick moves the clock a second: the wake-up queue, whose event source has
// no batching window, is delivered every second; the conversion queue's
// gatherers close every window.
func (l *localRun) tick(start time.Time) error {
	l.clock.Advance(time.Second)
	if l.clock.Now().Sub(start)%window == 0 {
		return l.deliver()
	}
	_, err := l.deps.DeliverWakes(l.ctx, l.instance())
	return err
}

// samples feeds the sample events of eventsDir through the real handlers.
func (l *localRun) samples(eventsDir string) error {
	tw := tabwriter.NewWriter(l.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tTRIGGER\tANSWER")
	var requestID string
	for _, name := range []string{"sqs-batch.json", "httpapi-post.json", "rest-post.json"} {
		raw, err := os.ReadFile(filepath.Join(eventsDir, name))
		if err != nil {
			return err
		}
		res, err := l.instance().Invoke(l.ctx, raw)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		kind, answer := describe(res)
		if r, ok := res.(events.APIGatewayV2HTTPResponse); ok && requestID == "" {
			var q struct {
				RequestID string `json:"request_id"`
			}
			_ = json.Unmarshal([]byte(r.Body), &q)
			requestID = q.RequestID
		}
		fmt.Fprintf(tw, "events/%s\t%s\t%s\n", name, kind, answer)
	}
	if err := l.deliver(); err != nil { // the API's requests reach the queue's consumer
		return err
	}
	l.clock.Advance(maxWait) // their wake-ups come due
	if err := l.deliver(); err != nil {
		return err
	}
	if job := l.firstJob(); job != "" {
		raw, err := os.ReadFile(filepath.Join(eventsDir, "httpapi-get-job.json"))
		if err != nil {
			return err
		}
		res, err := l.instance().Invoke(l.ctx, []byte(strings.ReplaceAll(string(raw), "3652397000009835020", job)))
		if err != nil {
			return err
		}
		kind, answer := describe(res)
		fmt.Fprintf(tw, "events/httpapi-get-job.json\t%s\t%s\n", kind, answer)
	}
	if requestID != "" {
		kind, answer := describe(l.get("/requests/" + requestID))
		fmt.Fprintf(tw, "GET /requests/%s\t%s\t%s\n", requestID, kind, answer)
	}
	return tw.Flush()
}

func (l *localRun) firstJob() string {
	if all := l.sim.Jobs(); len(all) > 0 {
		return all[0].ID
	}
	return ""
}

// get is a GET of the API, as API Gateway would hand it over.
func (l *localRun) get(path string) any {
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "GET " + path, RawPath: path,
		Headers: map[string]string{"x-webhook-key": sampleWebhookKey},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "local-get", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: path}}}
	raw, _ := json.Marshal(ev)
	res, err := l.instance().Invoke(l.ctx, raw)
	if err != nil {
		return err
	}
	return res
}

// stream sends ids one lead at a time, one a second of simulated
// time, alternately as a webhook (POST /conversions) and as an SQS
// message, to the instances in turn; the event source delivers what the
// queue holds every batching window. It prints the calls Zoho received.
func (l *localRun) stream(ids []string) error {
	before := len(l.sim.Jobs())
	start := l.clock.Now()
	arrived := map[string]time.Time{}
	var hookID string
	for i, id := range ids {
		arrived[id] = l.clock.Now()
		body := `{"ids":["` + id + `"]}`
		if i%2 == 0 {
			hookID = fmt.Sprintf("hook-%04d", i)
			ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "POST /conversions", RawPath: "/conversions",
				Headers: map[string]string{"x-webhook-key": sampleWebhookKey, "content-type": "application/json"}, Body: body,
				RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: hookID, Stage: "$default",
					HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/conversions"}}}
			raw, _ := json.Marshal(ev)
			res, err := l.instance().Invoke(l.ctx, raw)
			if err != nil {
				return err
			}
			if r, ok := res.(events.APIGatewayV2HTTPResponse); !ok || r.StatusCode != 202 {
				return fmt.Errorf("webhook %s: %v", hookID, res)
			}
		} else if err := l.deps.Queue.Enqueue(l.ctx, body, ""); err != nil {
			return err
		}
		if err := l.tick(start); err != nil {
			return err
		}
	}
	for l.deps.Queue.Len()+l.deps.Wakes.Len() > 0 { // the last wake-ups
		if err := l.tick(start); err != nil {
			return err
		}
	}
	elapsed := l.clock.Now().Sub(start)

	tw := tabwriter.NewWriter(l.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(l.w, "\n%d single-lead requests over %s, half webhooks and half SQS messages, at %d instances:\n\n",
		len(ids), elapsed.Round(time.Second), instances)
	fmt.Fprintln(tw, "CALL\tAT\tLEADS\tLONGEST WAIT\t")
	calls, leads := 0, 0
	var longest time.Duration
	for _, j := range l.sim.Jobs()[before:] {
		wait := time.Duration(0)
		for _, id := range j.IDs {
			if a, ok := arrived[id]; ok {
				wait = max(wait, j.ScheduledAt.Sub(a))
			}
		}
		longest = max(longest, wait)
		calls, leads = calls+1, leads+len(j.IDs)
		fmt.Fprintf(tw, "%d\t+%s\t%d\t%s\t\n", calls, j.ScheduledAt.Sub(start).Round(time.Second), len(j.IDs), wait.Round(time.Second))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if calls > 0 {
		fmt.Fprintf(l.w, "\n%d leads in %d mass_convert calls: %.1f leads per call (one call per lead without batching); the longest wait %s, MAX_WAIT_SECONDS %d.\n",
			leads, calls, float64(leads)/float64(calls), longest.Round(time.Second), int(maxWait.Seconds()))
	}
	if hookID != "" {
		_, answer := describe(l.get("/requests/" + hookID))
		fmt.Fprintf(l.w, "GET /requests/%s: %s\n", hookID, answer)
	}
	return nil
}

func describe(res any) (kind, answer string) {
	switch r := res.(type) {
	case events.SQSEventResponse:
		return "SQS", fmt.Sprintf("%d of the batch handed back for a retry", len(r.BatchItemFailures))
	case events.APIGatewayV2HTTPResponse:
		return "HTTP API", fmt.Sprintf("%d %s", r.StatusCode, short(r.Body))
	case events.APIGatewayProxyResponse:
		return "REST API", fmt.Sprintf("%d %s", r.StatusCode, short(r.Body))
	}
	return "?", fmt.Sprintf("%T", res)
}

func short(s string) string {
	if len(s) > 70 {
		return s[:67] + "..."
	}
	return s
}

func openJobs(ctx context.Context, sim *zohosim.Server, store jobs.Store) int {
	n := 0
	for _, zj := range sim.Jobs() {
		if j, err := store.Job(ctx, zj.ID); err == nil && j.State.Open() {
			n++
		}
	}
	return n
}

func report(ctx context.Context, w io.Writer, sim *zohosim.Server, deps *app.Embedded) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "JOB ID\tLEADS\tSTATUS\tZOHO SAID\tCONVERTED\tFAILED\tCHECKS\t")
	var leads, converted, failed int
	for _, zj := range sim.Jobs() {
		j, err := deps.Jobs.Job(ctx, zj.ID)
		if err != nil {
			return fmt.Errorf("job %s: %w", zj.ID, err)
		}
		leads += len(j.LeadIDs)
		converted += j.Converted
		failed += j.FailedCount
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t\n", j.ID, len(j.LeadIDs), j.State, j.ZohoStatus, j.Converted, j.FailedCount, j.Checks)
	}
	tw.Flush()
	st := sim.Stats()
	letters := deps.DeadLetters.Letters()
	fmt.Fprintf(w, "\nLeads: %d scheduled in %d jobs, %d converted, %d failed in Zoho (claims released for resubmission), %d dead-lettered.\n",
		leads, len(sim.Jobs()), converted, failed, len(letters))
	fmt.Fprintf(w, "Zoho calls: %d mass_convert for %d jobs, %d status, %d token refresh; %d ids sent twice.\n",
		st.Calls[zohosim.EndpointMassConvert], st.JobsScheduled, st.Calls[zohosim.EndpointStatus], st.TokensIssued, st.DuplicateSubmissions)
	return nil
}
