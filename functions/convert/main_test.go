package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/rie"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestBootstrapThroughRIE builds the function as it is deployed and invokes
// it through the Runtime Interface Emulator with the sample SQS, HTTP API
// and REST API events, against moto and the Zoho simulator.
func TestBootstrapThroughRIE(t *testing.T) {
	cfg := awstest.Require(t)
	bin := rie.Build(t, "./functions/convert")
	tableName := awstest.CreateTableFromTemplate(t, cfg, "JobsTable")
	dlq := awstest.CreateQueue(t, cfg)
	secretARN := awstest.CreateSecret(t, cfg, zohotest.SecretJSON("sample-webhook-key-change-me"))
	sim := zohosim.New(zohosim.Options{Clock: zohosim.NewManualClock(time.Now())})
	sim.SeedLeadRange(8) // the ids of the sample events
	url, stop := sim.Start()
	t.Cleanup(stop)

	fn := rie.Start(t, bin, "JOBS_TABLE="+tableName, "ZOHO_SECRET_ID="+secretARN, "DEAD_LETTER_QUEUE_URL="+dlq,
		"ZOHO_ACCOUNTS_URL="+url, "ZOHO_API_URL="+url, "AWS_LAMBDA_FUNCTION_TIMEOUT=60")

	var sqsAnswer struct {
		BatchItemFailures []any `json:"batchItemFailures"`
	}
	if out := fn.Invoke(t, testkit.SampleEvent(t, "sqs-batch.json")); json.Unmarshal(out, &sqsAnswer) != nil || len(sqsAnswer.BatchItemFailures) != 0 {
		t.Fatalf("SQS batch: %s", out)
	}
	var jobID string
	for _, name := range []string{"httpapi-post.json", "rest-post.json"} {
		var answer struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		out := fn.Invoke(t, testkit.SampleEvent(t, name))
		if json.Unmarshal(out, &answer) != nil || answer.StatusCode != 202 {
			t.Fatalf("%s: %s", name, out)
		}
		var body struct {
			Jobs []struct {
				JobID string `json:"job_id"`
			} `json:"jobs"`
		}
		if json.Unmarshal([]byte(answer.Body), &body) != nil || len(body.Jobs) != 1 {
			t.Fatalf("%s: body %s", name, answer.Body)
		}
		jobID = body.Jobs[0].JobID
	}
	get := strings.ReplaceAll(string(testkit.SampleEvent(t, "httpapi-get-job.json")), "3652397000009835020", jobID)
	if out := fn.Invoke(t, []byte(get)); !strings.Contains(string(out), `"statusCode":200`) || !strings.Contains(string(out), "SCHEDULED") {
		t.Fatalf("GET job: %s", out)
	}

	// Four option sets in three events: four calls, four jobs in DynamoDB.
	if st := sim.Stats(); st.Calls[zohosim.EndpointMassConvert] != 4 || st.IDsSubmitted != 8 {
		t.Fatalf("simulator saw %d calls with %d ids; want 4 with 8", st.Calls[zohosim.EndpointMassConvert], st.IDsSubmitted)
	}
	store := table.NewJobStore(table.NewClient(cfg), tableName)
	for _, zj := range sim.Jobs() {
		if j, err := store.Job(t.Context(), zj.ID); err != nil || len(j.LeadIDs) != len(zj.IDs) {
			t.Fatalf("job %s in DynamoDB: %+v, %v", zj.ID, j, err)
		}
	}

	// The same batch again: nothing new reaches Zoho.
	fn.Invoke(t, testkit.SampleEvent(t, "sqs-batch.json"))
	if n := sim.Stats().Calls[zohosim.EndpointMassConvert]; n != 4 {
		t.Fatalf("the redelivered batch made %d new calls", n-4)
	}

	if out := fn.Invoke(t, []byte(`{"detail-type":"Object Created","source":"aws.s3"}`)); !strings.Contains(string(out), "errorMessage") {
		t.Fatalf("an S3 event was not refused: %s", out)
	}
}
