package testkit

import (
	"encoding/json"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// SQSMessage is one message of an SQS event.
type SQSMessage struct {
	ID   string
	Body string
	// Receives is the message's ApproximateReceiveCount: 1 on the first
	// delivery (0 is taken as 1).
	Receives int
	// MessageAttributes are the string attributes its sender set, such as
	// a wake-up's convert.KindAttribute.
	MessageAttributes map[string]string
}

// SQSRecord is m as the SQS event source mapping presents it to Lambda.
func SQSRecord(m SQSMessage) events.SQSMessage {
	receives := strconv.Itoa(max(m.Receives, 1))
	attrs := make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes))
	for name, v := range m.MessageAttributes {
		attrs[name] = events.SQSMessageAttribute{DataType: "String", StringValue: &v}
	}
	return events.SQSMessage{
		MessageId:     m.ID,
		ReceiptHandle: "AQEB" + m.ID + "-" + receives,
		Body:          m.Body,
		Attributes: map[string]string{
			"ApproximateReceiveCount":          receives,
			"SentTimestamp":                    "1779614047123",
			"SenderId":                         "AROAEXAMPLEROLEID:lead-scoring-job",
			"ApproximateFirstReceiveTimestamp": "1779614047130",
		},
		MessageAttributes: attrs,
		Md5OfBody:         "00000000000000000000000000000000",
		EventSource:       "aws:sqs",
		EventSourceARN:    "arn:aws:sqs:eu-central-1:123456789012:zoho-lead-convert-ConversionQueue-8HJ2K4L6M8N0",
		AWSRegion:         "eu-central-1",
	}
}

// SQSEvent is the encoded SQS event that delivers msgs in one invocation.
func SQSEvent(msgs ...SQSMessage) json.RawMessage {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		ev.Records[i] = SQSRecord(m)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err) // strings and maps only
	}
	return b
}
