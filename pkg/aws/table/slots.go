package table

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	return map[string]types.AttributeValue{"pk": sAttr(SlotPrefix + strconv.Itoa(slot))}
}

// SlotItem is the SLOT# item of slot as TryTake leaves it, taken by holder
// until until; Free leaves SlotItem(slot, "", time.Time{}).
func SlotItem(slot int, holder string, until time.Time) map[string]types.AttributeValue {
	it := slotKey(slot)
	it["kind"] = sAttr("slot")
	if holder != "" {
		it["holder"], it["until_ms"] = sAttr(holder), nAttr(until.UnixMilli())
	}
	return it
}

// TryTake takes slot if it is free. A slot held until U is taken at t iff
// t < U, so its lease has lapsed once until_ms <= now: the rule of the
// memory slots, the token lease and every claim, so that the stores agree
// at the very millisecond a lease ends.
func (s *Slots) TryTake(ctx context.Context, slot int, holder string, now, until time.Time) (bool, error) {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: slotKey(slot),
		UpdateExpression:    aws.String("SET kind = :slot, holder = :h, until_ms = :until"),
		ConditionExpression: aws.String("attribute_not_exists(holder) OR holder = :h OR until_ms <= :now"),
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

// Vacant reads the n slots with one eventually consistent BatchGetItem:
// half a read unit per slot, where a waiter's blind try costs a write unit
// per slot, billed even when its condition fails. A slot read a moment late
// costs at worst one failed write or one step's wait. A slot never taken
// has no item.
func (s *Slots) Vacant(ctx context.Context, n int, now time.Time) ([]int, error) {
	held := make([]bool, n)
	keys := make([]map[string]types.AttributeValue, n)
	for slot := range n {
		keys[slot] = slotKey(slot)
	}
	out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		s.table: {Keys: keys, ProjectionExpression: aws.String("pk, holder, until_ms")}}})
	if err != nil {
		return nil, fmt.Errorf("reading the budget's slots: %w", err)
	}
	for _, it := range out.Responses[s.table] {
		if slot, ok := slotOf(it, n); ok {
			_, taken := it["holder"]
			held[slot] = taken && now.UnixMilli() < num(it["until_ms"])
		}
	}
	// Keys left unread (throttling) count as held: the waiter's next step
	// reads again, and a read per step is what bounds its cost.
	for _, k := range out.UnprocessedKeys[s.table].Keys {
		if slot, ok := slotOf(k, n); ok {
			held[slot] = true
		}
	}
	var free []int
	for slot, h := range held {
		if !h {
			free = append(free, slot)
		}
	}
	return free, nil
}

// slotOf is the number of the slot item (or key) it, if below n.
func slotOf(it map[string]types.AttributeValue, n int) (int, bool) {
	slot, err := strconv.Atoi(strings.TrimPrefix(str(it["pk"]), SlotPrefix))
	return slot, err == nil && slot >= 0 && slot < n
}
