package testkit_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/lambdaio"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
)

// TestEMFSumsWhatObsWrites: the parser reads pkg/obs's lines, sums by name
// and by name/dimension value, and skips log lines.
func TestEMFSumsWhatObsWrites(t *testing.T) {
	m := obs.NewMetrics("convert")
	m.Count("JobsScheduled", 2)
	m.Duration("RunDuration", 1500*time.Millisecond)
	m.CountBy("ZohoErrors", "Code", "TOO_MANY_REQUESTS", 4)
	var out bytes.Buffer
	if err := m.Flush(&out, time.Now()); err != nil {
		t.Fatal(err)
	}
	out.WriteString(`{"level":"INFO","msg":"a log line"}` + "\n")
	m.Count("JobsScheduled", 3)
	if err := m.Flush(&out, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := testkit.EMFSums(t, out.Bytes())
	want := map[string]float64{"JobsScheduled": 5, "RunDuration": 1500, "ZohoErrors/TOO_MANY_REQUESTS": 4}
	if len(got) != len(want) {
		t.Fatalf("sums %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("sums %v, want %v", got, want)
		}
	}
	counts := map[string]float64{}
	for line := range bytes.Lines(out.Bytes()) {
		if e, ok, err := testkit.ParseEMF(line); err != nil {
			t.Fatal(err)
		} else if ok {
			e.AddTo(counts, "Count")
		}
	}
	if _, ok := counts["RunDuration"]; ok || counts["JobsScheduled"] != 5 {
		t.Fatalf("counts %v: want Count units only", counts)
	}
}

func TestParseEMFRefusesMalformedLines(t *testing.T) {
	for _, line := range []string{
		`not json`,
		`{"_aws":{"CloudWatchMetrics":[]}}`,
		`{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Function"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"Function":"f"}`,
		`{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Function","Code"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"Function":"f","X":1}`,
	} {
		if _, _, err := testkit.ParseEMF([]byte(line)); err == nil {
			t.Errorf("%s: parsed", line)
		}
	}
}

func TestSQSEvent(t *testing.T) {
	raw := testkit.SQSEvent(testkit.SQSMessage{ID: "m1", Body: `{"ids":["1"]}`},
		testkit.SQSMessage{ID: "m2", Body: "x", Receives: 3, MessageAttributes: map[string]string{"kind": "wake"}})
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 2 || ev.Records[0].MessageId != "m1" || ev.Records[0].Body != `{"ids":["1"]}` ||
		ev.Records[0].Attributes["ApproximateReceiveCount"] != "1" || ev.Records[1].Attributes["ApproximateReceiveCount"] != "3" ||
		ev.Records[1].EventSource != "aws:sqs" || ev.Records[0].ReceiptHandle == ev.Records[1].ReceiptHandle {
		t.Fatalf("event %s", raw)
	}
	// The convert function reads the attributes a sender set, and only those.
	if got, err := lambdaio.Decode(raw); err != nil || got.SQS[0].Kind() != "" || got.SQS[1].Kind() != "wake" {
		t.Fatalf("decoded %+v, %v; want m2 alone of kind wake", got, err)
	}
}

func TestSampleEvent(t *testing.T) {
	if b := testkit.SampleEvent(t, "sqs-batch.json"); !json.Valid(b) {
		t.Fatalf("events/sqs-batch.json: %s", b)
	}
}
