package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/rie"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
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

	fn := rie.Start(t, bin, "JOBS_TABLE="+tableName, "TOKEN_KEY_ID="+awstest.CreateKey(t, cfg), "ZOHO_SECRET_ID="+secretARN, "DEAD_LETTER_QUEUE_URL="+dlq,
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
	checkTokenSealed(t, cfg, tableName, sim.IssuedTokens())
}

// checkTokenSealed: the table holds one shared token, sealed with the key
// of TOKEN_KEY_ID, and none of the tokens Zoho issued in clear.
func checkTokenSealed(t *testing.T, cfg aws.Config, tableName string, issued []string) {
	t.Helper()
	out, err := table.NewClient(cfg).Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(tableName)})
	if err != nil {
		t.Fatal(err)
	}
	tokens := 0
	for _, it := range out.Items {
		if pk, _ := it["pk"].(*types.AttributeValueMemberS); pk != nil && strings.HasPrefix(pk.Value, "TOKEN#") {
			tokens++
			if _, ok := it["sealed_token"].(*types.AttributeValueMemberB); !ok {
				t.Errorf("%s has no sealed_token", pk.Value)
			}
		}
		for name, v := range it {
			for _, tok := range issued {
				if s, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(s.Value, tok) {
					t.Errorf("attribute %s holds a Zoho token in clear", name)
				}
			}
		}
	}
	if tokens != 1 || len(issued) == 0 {
		t.Fatalf("%d token items, %d tokens issued; want 1 item", tokens, len(issued))
	}
}

// TestFleetBatchingThroughRIE: the deployed shape of fleet-wide batching,
// on moto's DynamoDB and SQS. A webhook and SQS messages are parked; the
// wake-up the function puts on its own queue comes back after its delay
// and sends them in one call, recorded in DynamoDB.
func TestFleetBatchingThroughRIE(t *testing.T) {
	cfg := awstest.Require(t)
	bin := rie.Build(t, "./functions/convert")
	tableName := awstest.CreateTableFromTemplate(t, cfg, "JobsTable")
	dlq, queue := awstest.CreateQueue(t, cfg), awstest.CreateQueue(t, cfg)
	secretARN := awstest.CreateSecret(t, cfg, zohotest.SecretJSON("sample-webhook-key-change-me"))
	sim := zohosim.New(zohosim.Options{Clock: zohosim.NewManualClock(time.Now())})
	ids := sim.SeedLeadRange(4)
	url, stop := sim.Start()
	t.Cleanup(stop)
	fn := rie.Start(t, bin, "JOBS_TABLE="+tableName, "TOKEN_KEY_ID="+awstest.CreateKey(t, cfg), "ZOHO_SECRET_ID="+secretARN, "DEAD_LETTER_QUEUE_URL="+dlq,
		"CONVERSION_QUEUE_URL="+queue, "MAX_WAIT_SECONDS=2", "BATCHING_WINDOW_SECONDS=0", "DEFAULT_OWNER_ID="+zohotest.Owner,
		"ZOHO_ACCOUNTS_URL="+url, "ZOHO_API_URL="+url, "AWS_LAMBDA_FUNCTION_TIMEOUT=60")

	// Half the messages name the owner, half rely on DEFAULT_OWNER_ID: the
	// same options, so one call.

	var msgs []testkit.SQSMessage
	for i, id := range ids {
		body := `{"ids":["` + id + `"]}`
		if i%2 == 0 {
			body = zohotest.Body(id)
		}
		msgs = append(msgs, testkit.SQSMessage{ID: fmt.Sprintf("m%d", i), Body: body})
	}
	if out := fn.Invoke(t, testkit.SQSEvent(msgs...)); !strings.Contains(string(out), `"batchItemFailures":[]`) {
		t.Fatalf("SQS batch: %s", out)
	}
	if n := sim.Stats().Calls[zohosim.EndpointMassConvert]; n != 0 {
		t.Fatalf("%d calls before the wait ran out", n)
	}

	// The wake-up, once SQS lets it be seen (polled, with a deadline).
	sqsClient := sqs.NewFromConfig(cfg)
	var wake string
	for deadline := time.Now().Add(20 * time.Second); wake == "" && time.Now().Before(deadline); {
		out, err := sqsClient.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if _, ok := convert.ParseWake(aws.ToString(m.Body)); ok {
				wake = aws.ToString(m.Body)
			}
		}
	}
	if wake == "" {
		t.Fatal("no wake-up came back on the conversion queue")
	}
	if out := fn.Invoke(t, testkit.SQSEvent(testkit.SQSMessage{ID: "wake", Body: wake})); !strings.Contains(string(out), `"batchItemFailures":[]`) {
		t.Fatalf("wake-up: %s", out)
	}
	jobs := sim.Jobs()
	if len(jobs) != 1 || len(jobs[0].IDs) != 4 {
		t.Fatalf("Zoho jobs %+v; want one with the 4 leads", jobs)
	}
	if want := `"assign_to":{"id":"` + zohotest.Owner + `"}`; !strings.Contains(string(jobs[0].Body), want) {
		t.Errorf("Zoho received %s; want %s", jobs[0].Body, want)
	}
	if j, err := table.NewJobStore(table.NewClient(cfg), tableName).Job(t.Context(), jobs[0].ID); err != nil || len(j.LeadIDs) != 4 {
		t.Fatalf("the job in DynamoDB: %+v, %v", j, err)
	}
}
