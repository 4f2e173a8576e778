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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/rie"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/aws/httpclient"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
)

// runEmulated is runLocal on the Lambda runtime path: the built bootstrap
// binaries under the Runtime Interface Emulator, with DynamoDB, Secrets
// Manager, SQS and KMS from moto on 127.0.0.1, and the Zoho simulator.
func runEmulated(w io.Writer, eventsDir string) error {
	ctx := context.Background()
	endpoint, stopMoto, err := awstest.StartMoto()
	if err != nil {
		return err
	}
	defer stopMoto()
	awsCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), HTTPClient: httpclient.Wrap(nil),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	root, err := awstest.RepoRoot()
	if err != nil {
		return err
	}
	const tableName = "leadconvert-local-jobs"
	if err := awstest.CreateTable(ctx, awsCfg, filepath.Join(root, awstest.TemplateFile), "JobsTable", tableName); err != nil {
		return err
	}
	sec, err := secretsmanager.NewFromConfig(awsCfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("leadconvert-local-zoho"), SecretString: aws.String(sampleSecret())})
	if err != nil {
		return err
	}
	key, err := kms.NewFromConfig(awsCfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("leadconvert-local-token")})
	if err != nil {
		return err
	}
	dlq, err := sqs.NewFromConfig(awsCfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("leadconvert-local-dlq")})
	if err != nil {
		return err
	}

	clock := zohosim.NewManualClock(time.Now().UTC().Truncate(time.Second))
	sim := zohosim.New(zohosim.Options{Clock: clock, StatusCasings: []string{"upper", "title", "lower"}})
	sim.SeedLeadRange(8)
	url, stopSim := sim.Start()
	defer stopSim()

	dir, err := os.MkdirTemp("", "leadconvert-emulated-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := []string{"AWS_ENDPOINT_URL=" + endpoint, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing", "JOBS_TABLE=" + tableName, "ZOHO_SECRET_ID=" + aws.ToString(sec.ARN),
		"TOKEN_KEY_ID=" + aws.ToString(key.KeyMetadata.Arn),
		"DEAD_LETTER_QUEUE_URL=" + aws.ToString(dlq.QueueUrl), "ZOHO_ACCOUNTS_URL=" + url, "ZOHO_API_URL=" + url,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=60"}
	fns := map[string]*rie.Function{}
	for _, name := range []string{"convert", "status"} {
		sub := filepath.Join(dir, name)
		if err := os.Mkdir(sub, 0o755); err != nil {
			return err
		}
		bin, err := rie.BuildBinary("./functions/"+name, sub)
		if err != nil {
			return err
		}
		fn, err := rie.StartProcess(bin, env)
		if err != nil {
			return err
		}
		defer fn.Close()
		fns[name] = fn
	}

	fmt.Fprintf(w, "Emulated run: bootstrap binaries under the Lambda Runtime Interface Emulator, moto at %s, Zoho simulator at %s.\n\n", endpoint, url)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tFUNCTION\tANSWER")
	for _, name := range []string{"sqs-batch.json", "httpapi-post.json", "rest-post.json", "httpapi-get-job.json"} {
		raw, err := os.ReadFile(filepath.Join(eventsDir, name))
		if err != nil {
			return err
		}
		if all := sim.Jobs(); name == "httpapi-get-job.json" && len(all) > 0 {
			raw = []byte(strings.ReplaceAll(string(raw), "3652397000009835020", all[0].ID))
		}
		out, err := fns["convert"].Call(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(tw, "events/%s\tconvert\t%s\n", name, short(string(out)))
	}

	// The jobs are due in real minutes; ask for them by id, as an operator
	// would, while the simulated Zoho moves them along.
	var ids []string
	for _, j := range sim.Jobs() {
		ids = append(ids, j.ID)
	}
	req, _ := json.Marshal(map[string][]string{"job_ids": ids})
	for range 4 {
		clock.Advance(time.Minute)
		out, err := fns["status"].Call(req)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		fmt.Fprintf(tw, "{\"job_ids\": [%d jobs]}\tstatus\t%s\n", len(ids), short(string(out)))
	}
	tw.Flush()

	store := table.NewJobStore(table.NewClient(awsCfg), tableName)
	fmt.Fprintln(w, "\nJobs in DynamoDB (moto):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "JOB ID\tLEADS\tSTATUS\tZOHO SAID\tCONVERTED\tFAILED\tCHECKS\t")
	for _, id := range ids {
		j, err := store.Job(ctx, id)
		if err != nil {
			return fmt.Errorf("job %s: %w", id, err)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t\n", j.ID, len(j.LeadIDs), j.State, j.ZohoStatus, j.Converted, j.FailedCount, j.Checks)
	}
	tw.Flush()
	st := sim.Stats()
	fmt.Fprintf(w, "\nZoho calls: %d mass_convert, %d status, %d token refresh (shared through DynamoDB by both functions).\n",
		st.Calls[zohosim.EndpointMassConvert], st.Calls[zohosim.EndpointStatus], st.TokensIssued)
	return nil
}
