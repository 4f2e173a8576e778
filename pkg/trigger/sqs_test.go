package trigger

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestDecodeSQS(t *testing.T) {
	e, err := DecodeSQS(event(t, "sqs-batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Records) != 2 {
		t.Fatalf("%d records, want 2", len(e.Records))
	}
	m := e.Records[1]
	if m.MessageId != "2e1424d4-f796-459a-8184-9c92662be6da" ||
		!strings.HasPrefix(m.ReceiptHandle, "AQEBzWwaftRI0KuVm4tP") ||
		m.Body != `{"lead_ids":["3652397000009835023"],"assign_to":"3652397000000186017"}` ||
		m.Attributes["ApproximateReceiveCount"] != "3" ||
		m.EventSourceARN != "arn:aws:sqs:eu-central-1:123456789012:leadconvert-conversions" {
		t.Errorf("Records[1] = %+v", m)
	}
	if v := e.Records[0].MessageAttributes["source"].StringValue; v == nil || *v != "zoho-webhook" {
		t.Errorf("Records[0] source attribute = %v", v)
	}
}

func TestDecodeSQSErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"sns", event(t, "sns.json"), `not an SQS event: Records[0].eventSource is "aws:sns", not "aws:sqs"`},
		{"no records", []byte(`{"Records":[]}`), `not an SQS event: no Records`},
		{"not an object", []byte(`[]`), `not an SQS event: JSON array`},
		{"not JSON", []byte(`3652397000009835021,`), `not an SQS event: not JSON (20 bytes)`},
		{"numeric body", []byte(`{"Records":[{"eventSource":"aws:sqs","body":3652397000009835021}]}`),
			`not an SQS event: unexpected JSON number at Records.body`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeSQS(tt.raw)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

// A batch is answered with the messages to retry; the others are deleted.
func ExampleDecodeSQS() {
	raw := []byte(`{"Records":[
		{"messageId":"059f36b4-87a3-44ab-83d2-661975830a7d","body":"{\"lead_ids\":[\"3652397000009835021\"]}","eventSource":"aws:sqs"},
		{"messageId":"2e1424d4-f796-459a-8184-9c92662be6da","body":"{","eventSource":"aws:sqs"}]}`)
	batch, err := DecodeSQS(raw)
	if err != nil {
		panic(err)
	}
	var resp events.SQSEventResponse
	for _, m := range batch.Records {
		if !strings.HasSuffix(m.Body, "}") { // stands in for a failed conversion
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	fmt.Println(resp.BatchItemFailures)
	// Output: [{2e1424d4-f796-459a-8184-9c92662be6da}]
}
