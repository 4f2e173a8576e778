package table

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// A request item REQ#<request id> holds lead_ids, created_at, expires_at
// and, once dead-lettered, fail_code and fail_reason.

var _ jobs.Requests = (*JobStore)(nil)

func requestKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": sAttr(RequestPrefix + id)}
}

// RequestItem is the REQ# item of r: the one RecordRequest puts, with
// what FailRequest sets once r has failed.
func RequestItem(r jobs.Request) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"pk": sAttr(RequestPrefix + r.ID), "kind": sAttr("request"), "request_id": sAttr(r.ID),
		"lead_ids": lAttr(r.LeadIDs), "created_at": sAttr(r.CreatedAt.UTC().Format(time.RFC3339Nano)),
	}
	if !r.ExpiresAt.IsZero() {
		it["expires_at"] = nAttr(r.ExpiresAt.Unix())
	}
	if r.FailCode != "" {
		it["fail_code"], it["fail_reason"] = sAttr(r.FailCode), sAttr(r.FailReason)
	}
	return it
}

func (d *JobStore) RecordRequest(ctx context.Context, r jobs.Request) error {
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: RequestItem(r),
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("recording request %s: %w", r.ID, err)
	}
	return nil
}

func (d *JobStore) Request(ctx context.Context, id string) (jobs.Request, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table), Key: requestKey(id), ConsistentRead: aws.Bool(true)})
	switch {
	case err != nil:
		return jobs.Request{}, fmt.Errorf("reading request %s: %w", id, err)
	case out.Item == nil:
		return jobs.Request{}, jobs.ErrNotFound
	}
	it := out.Item
	r := jobs.Request{ID: id, LeadIDs: strs(it["lead_ids"]), CreatedAt: timeAttr(it["created_at"]),
		FailCode: str(it["fail_code"]), FailReason: str(it["fail_reason"])}
	if v := num(it["expires_at"]); v != 0 {
		r.ExpiresAt = time.Unix(v, 0)
	}
	return r, nil
}

func (d *JobStore) FailRequest(ctx context.Context, id, code, reason string) error {
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(d.table), Key: requestKey(id),
		UpdateExpression:          aws.String("SET fail_code = :c, fail_reason = :r"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": sAttr(code), ":r": sAttr(reason)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("failing request %s: %w", id, err)
	}
	return nil
}
