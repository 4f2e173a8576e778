package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// sampleWebhookKey is the key the sample events present.
const sampleWebhookKey = "sample-webhook-key-change-me"

// sampleSecret is the Zoho secret of the local runs: the simulator's
// credentials and the sample webhook key.
func sampleSecret() string {
	return fmt.Sprintf(`{"client_id":%q,"client_secret":%q,"refresh_token":%q,"webhook_key":%q}`,
		zohosim.DefaultClientID, zohosim.DefaultClientSecret, zohosim.DefaultRefreshToken, sampleWebhookKey)
}

// runLocal converts the sample events and extra leads, follows the jobs to
// their end with the status function, and prints what happened.
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
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded",
		"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url}
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
	convertFn, err := app.NewConvert(convertCfg, deps.Convert())
	if err != nil {
		return err
	}
	statusFn, err := app.NewStatus(statusCfg, deps.Status())
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "Local run: Zoho simulator at %s (simulated clock), embedded job store, secret and dead-letter queue.\n\n", url)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tTRIGGER\tANSWER")
	var firstJob string
	for _, name := range []string{"sqs-batch.json", "httpapi-post.json", "rest-post.json", "httpapi-get-job.json"} {
		raw, err := os.ReadFile(filepath.Join(eventsDir, name))
		if err != nil {
			return err
		}
		if name == "httpapi-get-job.json" && firstJob != "" {
			raw = []byte(strings.ReplaceAll(string(raw), "3652397000009835020", firstJob))
		}
		res, err := convertFn.Invoke(ctx, raw)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		kind, answer := describe(res)
		if firstJob == "" {
			if all := sim.Jobs(); len(all) > 0 {
				firstJob = all[0].ID
			}
		}
		fmt.Fprintf(tw, "events/%s\t%s\t%s\n", name, kind, answer)
	}
	batch := syntheticBatch(ids[8:])
	res, err := convertFn.Invoke(ctx, batch)
	if err != nil {
		return err
	}
	_, answer := describe(res)
	fmt.Fprintf(tw, "%d single-lead messages (10%% duplicates)\tSQS\t%s\n", extra+extra/10, answer)
	tw.Flush()

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

// syntheticBatch is one SQS batch of single-lead messages with 10% repeats.
func syntheticBatch(ids []string) json.RawMessage {
	var ev events.SQSEvent
	add := func(id string) {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("local-%04d", len(ev.Records)),
			Body: `{"ids":["` + id + `"]}`, EventSource: "aws:sqs"})
	}
	for _, id := range ids {
		add(id)
	}
	for i := 0; i < len(ids)/10; i++ {
		add(ids[i*10])
	}
	b, _ := json.Marshal(ev)
	return b
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
