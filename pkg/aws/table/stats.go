package table

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/credits"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

var (
	_ jobs.CheckLeaser     = (*JobStore)(nil)
	_ jobs.CompletionStats = (*JobStore)(nil)
)

// LeaseCheck writes the check lease on the job's CHK# item (or, for a job
// the previous version recorded, its JOB# item): check_lease and
// check_lease_until_ms, on the condition of the version read and of no
// other live lease. SaveCheck removes both. One small write per job that
// ends, where a second run's read-back would cost Zoho a call per 50 leads.
func (d *JobStore) LeaseCheck(ctx context.Context, id string, version int64, owner string, now, until time.Time) error {
	err := d.leaseCheck(ctx, CheckPrefix+id, version, owner, now, until)
	if errors.Is(err, jobs.ErrNotFound) {
		return d.leaseCheck(ctx, JobPrefix+id, version, owner, now, until)
	}
	return err
}

func (d *JobStore) leaseCheck(ctx context.Context, pk string, version int64, owner string, now, until time.Time) error {
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(d.table),
		Key:                 map[string]types.AttributeValue{"pk": sAttr(pk)},
		UpdateExpression:    aws.String("SET check_lease = :owner, check_lease_until_ms = :until"),
		ConditionExpression: aws.String("version = :v AND (attribute_not_exists(check_lease) OR check_lease = :owner OR check_lease_until_ms <= :now)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": sAttr(owner), ":until": msValue(until),
			":v": nAttr(version), ":now": msValue(now)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	return conditionOf(err, jobs.ErrConflict, "leasing the check of "+pk)
}

// statsKey is the item of the completion times: a few hundred bytes (at
// most jobs.CompletionWindow numbers per bucket), read once per status
// run and written once per run that saw jobs end.
const statsKey = "STAT#completions"

// Completions reads the completion times (eventually consistent: a
// statistic, half a read unit).
func (d *JobStore) Completions(ctx context.Context) (jobs.Completions, error) {
	c, _, err := d.completions(ctx, false)
	return c, err
}

func (d *JobStore) completions(ctx context.Context, consistent bool) (jobs.Completions, int64, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table),
		Key: map[string]types.AttributeValue{"pk": sAttr(statsKey)}, ConsistentRead: aws.Bool(consistent)})
	if err != nil {
		return nil, 0, fmt.Errorf("reading the completion times: %w", err)
	}
	c := jobs.Completions{}
	if m, ok := out.Item["buckets"].(*types.AttributeValueMemberM); ok {
		for b, v := range m.Value {
			l, _ := v.(*types.AttributeValueMemberL)
			if l == nil {
				continue
			}
			for _, n := range l.Value {
				c[b] = append(c[b], num(n))
			}
		}
	}
	if out.Item == nil {
		return c, -1, nil
	}
	return c, num(out.Item["version"]), nil
}

// AddCompletions merges add into the item, conditional on the version it
// read; a conflict with another run's add reads again, a few times.
func (d *JobStore) AddCompletions(ctx context.Context, add jobs.Completions) error {
	for range 5 {
		cur, version, err := d.completions(ctx, true)
		if err != nil {
			return err
		}
		for b, secs := range add {
			cur.Add(b, secs...)
		}
		buckets := make(map[string]types.AttributeValue, len(cur))
		for b, secs := range cur {
			l := make([]types.AttributeValue, len(secs))
			for i, s := range secs {
				l[i] = nAttr(s)
			}
			buckets[b] = &types.AttributeValueMemberL{Value: l}
		}
		// UpdateItem, which creates a missing item too: the status
		// function's role is granted no PutItem.
		in := &dynamodb.UpdateItemInput{TableName: aws.String(d.table),
			Key:              map[string]types.AttributeValue{"pk": sAttr(statsKey)},
			UpdateExpression: aws.String("SET kind = :kind, buckets = :b, version = :next"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":kind": sAttr("stat"),
				":b": &types.AttributeValueMemberM{Value: buckets}, ":next": nAttr(version + 1)}}
		if version < 0 {
			in.ConditionExpression = aws.String("attribute_not_exists(pk)")
		} else {
			in.ConditionExpression = aws.String("version = :v")
			in.ExpressionAttributeValues[":v"] = nAttr(version)
		}
		// Stamped: a retry of an add that was applied is not another
		// run's, to be read and added again.
		st := newStamp()
		st.mark(in)
		_, err = d.api.UpdateItem(ctx, in)
		var ccf *types.ConditionalCheckFailedException
		if st.applied(err) {
			return nil
		}
		if !errors.As(err, &ccf) {
			if err != nil {
				return fmt.Errorf("storing the completion times: %w", err)
			}
			return nil
		}
	}
	return errors.New("storing the completion times: another run kept changing them")
}

// creditsKey is the item of the org's credits as last seen: one instance
// writes it at most once a minute, and when it crosses the floor.
const creditsKey = "STAT#credits"

var _ credits.Store = (*JobStore)(nil)

// LoadCredits reads the last figure saved (eventually consistent).
func (d *JobStore) LoadCredits(ctx context.Context) (credits.Seen, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table),
		Key: map[string]types.AttributeValue{"pk": sAttr(creditsKey)}})
	if err != nil {
		return credits.Seen{}, fmt.Errorf("reading the org's credits: %w", err)
	}
	if out.Item == nil {
		return credits.Seen{}, nil
	}
	return credits.Seen{Left: int(num(out.Item["credits_left"])), At: time.UnixMilli(num(out.Item["seen_at_ms"])).UTC()}, nil
}

// SaveCredits keeps s unless a newer figure is saved: instances answer in
// any order.
func (d *JobStore) SaveCredits(ctx context.Context, s credits.Seen) error {
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(d.table),
		Key:                 map[string]types.AttributeValue{"pk": sAttr(creditsKey)},
		UpdateExpression:    aws.String("SET kind = :kind, credits_left = :left, seen_at_ms = :at"),
		ConditionExpression: aws.String("attribute_not_exists(seen_at_ms) OR seen_at_ms < :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": sAttr("stat"),
			":left": nAttr(int64(s.Left)), ":at": msValue(s.At)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("saving the org's credits: %w", err)
	}
	return nil
}
