package trigger

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// DecodeSQS decodes an SQS event. Like Detect, it refuses an empty batch
// and records from any other source. Failures in the batch are answered
// with an events.SQSEventResponse naming their messageIds.
func DecodeSQS(raw []byte) (events.SQSEvent, error) {
	var e events.SQSEvent
	if err := json.Unmarshal(raw, &e); err != nil {
		return events.SQSEvent{}, fmt.Errorf("not an SQS event: %s", jsonProblem(raw, err))
	}
	if len(e.Records) == 0 {
		return events.SQSEvent{}, errors.New("not an SQS event: no Records")
	}
	for i, m := range e.Records {
		if problem := sqsSourceProblem(i, m.EventSource); problem != "" {
			return events.SQSEvent{}, errors.New("not an SQS event: " + problem)
		}
	}
	return e, nil
}
