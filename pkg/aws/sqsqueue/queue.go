package sqsqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
)

// maxDelay is SQS's cap on DelaySeconds.
const maxDelay = 900 * time.Second

// Queue sends to the conversion queue: requests the API accepted, and the
// accumulators' wake-ups, delayed.
type Queue struct {
	api SendMessageAPI
	url string
}

var _ convert.Timer = (*Queue)(nil)

// NewQueue returns the sender for the conversion queue at url.
func NewQueue(api SendMessageAPI, url string) *Queue { return &Queue{api: api, url: url} }

// Enqueue puts a conversion request on the queue; requestID travels as the
// message attribute request_id.
func (q *Queue) Enqueue(ctx context.Context, body, requestID string) error {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(body)}
	if requestID != "" {
		in.MessageAttributes = map[string]types.MessageAttributeValue{
			"request_id": {DataType: aws.String("String"), StringValue: aws.String(requestID)}}
	}
	return q.send(ctx, in, "queueing a request")
}

// Wake sends a wake-up, delivered after after (at most 15 minutes, SQS's
// cap; a longer wait is cut to it).
func (q *Queue) Wake(ctx context.Context, w convert.Wakeup, after time.Duration) error {
	delay := int32(min(max(after, 0), maxDelay).Seconds())
	return q.send(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(convert.WakeBody(w)),
		DelaySeconds: delay, MessageAttributes: map[string]types.MessageAttributeValue{
			convert.KindAttribute: {DataType: aws.String("String"), StringValue: aws.String(convert.KindWake)}}},
		"sending a wake-up")
}

func (q *Queue) send(ctx context.Context, in *sqs.SendMessageInput, what string) error {
	if q.url == "" {
		return errors.New("no conversion queue configured (CONVERSION_QUEUE_URL)")
	}
	if _, err := q.api.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
