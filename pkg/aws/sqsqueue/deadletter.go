// Package sqsqueue sends to the deployment's SQS queues: dead letters, with
// their reason as message attributes (the sqsbatch.DeadLetter of the
// deployed convert function).
package sqsqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
)

// SendMessageAPI is the part of the SQS client DeadLetter uses.
type SendMessageAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// DeadLetter sends dead letters to an SQS queue.
type DeadLetter struct {
	api SendMessageAPI
	url string
	now func() time.Time
}

var _ sqsbatch.DeadLetter = (*DeadLetter)(nil)

// NewDeadLetter returns the dead-letter sender for the queue at url.
func NewDeadLetter(api SendMessageAPI, url string) *DeadLetter {
	return &DeadLetter{api: api, url: url, now: time.Now}
}

// Send puts body on the queue with the reason as message attributes, so an
// operator sees why before redriving it.
func (d *DeadLetter) Send(ctx context.Context, body string, l sqsbatch.Letter) error {
	if d.url == "" {
		return errors.New("no dead-letter queue configured (DEAD_LETTER_QUEUE_URL)")
	}
	if body == "" {
		body = "(empty message)" // SQS refuses empty bodies
	}
	attr := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	attrs := map[string]types.MessageAttributeValue{
		"error_code":   attr(nonEmpty(l.Code, "UNKNOWN")),
		"error_reason": attr(nonEmpty(truncate(l.Reason, 1000), "unknown")),
		"failed_at":    attr(d.now().UTC().Format(time.RFC3339)),
	}
	if l.MessageID != "" {
		attrs["source_message_id"] = attr(l.MessageID)
	}
	if l.RequestID != "" {
		attrs["request_id"] = attr(l.RequestID)
	}
	_, err := d.api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(d.url), MessageBody: aws.String(body), MessageAttributes: attrs})
	if err != nil {
		return fmt.Errorf("sending to the dead-letter queue: %w", err)
	}
	return nil
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
