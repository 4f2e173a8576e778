package table

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/budget"
)

// Slots are the Zoho concurrency budget's slots, SLOT#<k> items holding
// holder and until_ms while taken. Both writes are UpdateItem, which both
// functions may already call.
type Slots struct {
	api   API
	table string
}

var _ budget.Slots = (*Slots)(nil)

// NewSlots returns the budget's slots on table.
func NewSlots(api API, table string) *Slots { return &Slots{api: api, table: table} }

func slotKey(slot int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": sAttr(slotPrefix + strconv.Itoa(slot))}
}

// TryTake takes slot if it is free. A slot held until U is taken at t iff
// t < U, so its lease has lapsed once until_ms <= now: the rule of the
// memory slots, the token lease and every claim, so that the stores agree
// at the very millisecond a lease ends.
func (s *Slots) TryTake(ctx context.Context, slot int, holder string, now, until time.Time) (bool, error) {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: slotKey(slot),
		UpdateExpression:    aws.String("SET kind = :slot, holder = :h, until_ms = :until"),
		ConditionExpression: aws.String("attribute_not_exists(holder) OR until_ms <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":slot": sAttr("slot"), ":h": sAttr(holder),
			":until": nAttr(until.UnixMilli()), ":now": nAttr(now.UnixMilli())},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("taking budget slot %d: %w", slot, err)
	}
	return true, nil
}

func (s *Slots) Free(ctx context.Context, slot int, holder string) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: slotKey(slot),
		UpdateExpression:          aws.String("REMOVE holder, until_ms"),
		ConditionExpression:       aws.String("holder = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": sAttr(holder)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("freeing budget slot %d: %w", slot, err)
	}
	return nil
}
