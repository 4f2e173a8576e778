package lambdaio

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestDecodeSQS(t *testing.T) {
	e, err := Decode(event(t, "sqs-batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != KindSQS || len(e.SQS) != 2 {
		t.Fatalf("%v with %d records, want sqs with 2", e.Kind, len(e.SQS))
	}
	want := SQSMessage{MessageID: "2e1424d4-f796-459a-8184-9c92662be6da",
		Body: `{"lead_ids":["3652397000009835023"],"assign_to":"3652397000000186017"}`, EventSource: "aws:sqs"}
	want.Attributes.SentTimestamp = "1779614049901"
	if m := e.SQS[1]; m != want || !m.SentAt().Equal(time.UnixMilli(1779614049901)) || m.RequestID() != "" {
		t.Errorf("Records[1] = %+v (sent at %v), want %+v", m, m.SentAt(), want)
	}
	if (SQSMessage{}).SentAt() != (time.Time{}) {
		t.Error("a message without SentTimestamp has a sending time")
	}
}

func TestDecodeSQSErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"sns", event(t, "sns.json"), `unrecognised event: Records[0].eventSource is "aws:sns", not "aws:sqs"`},
		{"no records", []byte(`{"Records":[]}`), `unrecognised event: empty Records array`},
		{"not an object", []byte(`[]`), `unrecognised event: JSON array`},
		{"not JSON", []byte(`3652397000009835021,`), `unrecognised event: not JSON (20 bytes)`},
		{"numeric body", []byte(`{"Records":[{"eventSource":"aws:sqs","body":3652397000009835021}]}`),
			`unrecognised event: unexpected JSON number at Records.body`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.raw)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

// A batch is answered with the messages to retry; the others are deleted.
func ExampleDecode() {
	raw := []byte(`{"Records":[
		{"messageId":"059f36b4-87a3-44ab-83d2-661975830a7d","body":"{\"lead_ids\":[\"3652397000009835021\"]}","eventSource":"aws:sqs"},
		{"messageId":"2e1424d4-f796-459a-8184-9c92662be6da","body":"{","eventSource":"aws:sqs"}]}`)
	e, err := Decode(raw)
	if err != nil {
		panic(err)
	}
	var resp events.SQSEventResponse
	for _, m := range e.SQS {
		if !strings.HasSuffix(m.Body, "}") { // stands in for a failed conversion
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageID})
		}
	}
	fmt.Println(resp.BatchItemFailures)
	// Output: [{2e1424d4-f796-459a-8184-9c92662be6da}]
}
