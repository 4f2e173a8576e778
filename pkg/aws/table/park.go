package table

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// An accumulator item ACC#<fingerprint> holds gen, lead_ids and sources (in
// step, at most 50), options, api_version and opened_at_ms. It never loses
// lead_ids (an emptied one holds []), so "as read" is one condition on gen
// and the list's size. A batch item BATCH#<fingerprint>#<gen> holds the
// same plus taker and lease_until_ms, until RecordJob deletes it.

// batchExpiry keeps a batch nobody finished long enough for an operator to
// find it; correctness never depends on TTL.
const batchExpiry = 14 * 24 * time.Hour

var emptyList = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}

func accKey(fp string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": sAttr(AccPrefix + fp)}
}

func batchKey(k jobs.BatchKey) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": sAttr(BatchPrefix + k.String())}
}

func (d *JobStore) Acc(ctx context.Context, fp string) (jobs.Acc, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table), Key: accKey(fp), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return jobs.Acc{}, fmt.Errorf("reading the accumulator: %w", err)
	}
	a := accFromItem(out.Item)
	a.Fingerprint = fp
	return a, nil
}

func accFromItem(it map[string]types.AttributeValue) jobs.Acc {
	a := jobs.Acc{
		Fingerprint: str(it["fingerprint"]),
		Gen:         num(it["gen"]),
		LeadIDs:     strs(it["lead_ids"]),
		Sources:     strs(it["sources"]),
		Options:     str(it["options"]),
		APIVersion:  str(it["api_version"]),
	}
	if ms := num(it["opened_at_ms"]); ms != 0 {
		a.OpenedAt = time.UnixMilli(ms)
	}
	return a
}

// AccItem is the ACC# item holding a, as Park and Take leave it: the
// first lead of a generation opens it (opened_at_ms, and its parked entry
// in the open index), and Take empties it for the next generation.
func AccItem(a jobs.Acc) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"pk": sAttr(AccPrefix + a.Fingerprint), "kind": sAttr("acc"),
		"fingerprint": sAttr(a.Fingerprint), "gen": nAttr(a.Gen),
		"lead_ids": lAttr(a.LeadIDs), "sources": lAttr(a.Sources),
		"options": sAttr(a.Options), "api_version": sAttr(a.APIVersion),
	}
	if len(a.LeadIDs) > 0 {
		it["opened_at_ms"] = nAttr(a.OpenedAt.UnixMilli())
		it["open_shard"], it["due_at"] = sAttr(parkedShard), nAttr(a.OpenedAt.Unix())
	}
	return it
}

// asRead is the condition that the accumulator is still at acc's generation
// and size; :g and :n carry them.
func asRead(acc jobs.Acc) (string, map[string]types.AttributeValue) {
	values := map[string]types.AttributeValue{":g": nAttr(acc.Gen), ":n": nAttr(int64(len(acc.LeadIDs)))}
	if acc.Gen == 0 && len(acc.LeadIDs) == 0 {
		return "attribute_not_exists(pk) OR (gen = :g AND size(lead_ids) = :n)", values
	}
	return "gen = :g AND size(lead_ids) = :n", values
}

// Park writes the accumulator and the parked claims in one transaction. As
// in Claim, a lead whose claim stands cancels it; the cancellation reasons
// name such leads, and the rest is parked in another round.
// parkedClaim parks a claim in the batch :batch.
const parkedClaim = "SET kind = :lead, claim_state = :parked, #owner = :batch, expires_at = :exp REMOVE claim_until_ms, job_id, reason"

func (d *JobStore) Park(ctx context.Context, owner jobs.Owner, acc jobs.Acc, leadIDs, sources []string, now, expires time.Time) ([]string, []jobs.Claim, error) {
	if len(acc.LeadIDs)+len(leadIDs) > jobs.MaxLeadsPerBatch || len(leadIDs) != len(sources) {
		return nil, nil, fmt.Errorf("jobs: cannot park %d leads (%d sources) in an accumulator holding %d", len(leadIDs), len(sources), len(acc.LeadIDs))
	}
	batch := acc.Key().Owner()
	var parked []string
	var held []jobs.Claim
	keep := func(c jobs.Claim) {
		if c.State == jobs.Parked && c.Owner == batch {
			parked = append(parked, c.LeadID) // an earlier try of this call
		} else {
			held = append(held, c)
		}
	}
	ids, srcs := leadIDs, sources
	for round := 0; len(ids) > 0; round++ {
		if round == 5 {
			return parked, held, fmt.Errorf("parking %d leads: the transaction kept conflicting", len(ids))
		}
		cond, values := asRead(acc)
		update := "SET kind = :acc, gen = :g, fingerprint = :fp, options = :opts, api_version = :v, " +
			"lead_ids = list_append(if_not_exists(lead_ids, :empty), :ids), sources = list_append(if_not_exists(sources, :empty), :srcs)"
		values[":acc"], values[":fp"], values[":opts"], values[":v"] = sAttr("acc"), sAttr(acc.Fingerprint), sAttr(acc.Options), sAttr(acc.APIVersion)
		values[":empty"], values[":ids"], values[":srcs"] = emptyList, lAttr(ids), lAttr(srcs)
		if len(acc.LeadIDs) == 0 {
			opened := now
			if !acc.OpenedAt.IsZero() {
				opened = acc.OpenedAt
			}
			// The first lead enters the generation in the parked entries of
			// the open index, for the status function's safety net.
			update += ", opened_at_ms = :opened, open_shard = :pshard, due_at = :opened_s"
			values[":opened"], values[":pshard"], values[":opened_s"] = nAttr(opened.UnixMilli()), sAttr(parkedShard), nAttr(opened.Unix())
		}
		items := []types.TransactWriteItem{{Update: &types.Update{
			TableName: aws.String(d.table), Key: accKey(acc.Fingerprint), UpdateExpression: aws.String(update),
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: values,
		}}}
		claimValues := map[string]types.AttributeValue{":me": sAttr(string(owner)),
			":pending": sAttr(string(jobs.Pending)), ":retry": sAttr(string(jobs.Retry)), ":lettered": sAttr(string(jobs.Lettered)), ":now_ms": nAttr(now.UnixMilli()), ":now_s": nAttr(now.Unix()),
			":lead": sAttr("lead"), ":parked": sAttr(string(jobs.Parked)), ":batch": sAttr(string(batch)), ":exp": nAttr(expires.Unix())}
		for _, id := range ids {
			items = append(items, d.claimWrite(id, parkedClaim, claimable+" OR (claim_state = :pending AND #owner = :me)", claimValues))
		}
		_, err := d.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return append(parked, ids...), held, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) || len(tce.CancellationReasons) != len(items) {
			return parked, held, fmt.Errorf("parking %d leads: %w", len(ids), err)
		}
		if aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			return parked, held, jobs.ErrChanged
		}
		again, err := d.sortCancelled(ctx, tce.CancellationReasons[1:], ids, keep)
		if err != nil {
			return parked, held, fmt.Errorf("parking: %w", err)
		}
		var retry, retrySrc []string
		for _, i := range again {
			retry, retrySrc = append(retry, ids[i]), append(retrySrc, srcs[i])
		}
		ids, srcs = retry, retrySrc
	}
	return parked, held, nil
}

func (d *JobStore) Take(ctx context.Context, acc jobs.Acc, taker string, leaseUntil time.Time) (jobs.Batch, error) {
	if len(acc.LeadIDs) == 0 {
		return jobs.Batch{}, jobs.ErrChanged
	}
	// Within a generation the list only grows, so the same size means the
	// same leads: the condition makes acc, as read, the batch.
	b := jobs.Batch{Acc: acc, Taker: taker, LeaseUntil: leaseUntil}
	cond, values := asRead(acc)
	values[":g1"], values[":empty"] = nAttr(acc.Gen+1), emptyList
	item := BatchItem(b)
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String(d.table), Key: accKey(acc.Fingerprint),
			UpdateExpression:    aws.String("SET gen = :g1, lead_ids = :empty, sources = :empty REMOVE opened_at_ms, open_shard, due_at"),
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: values}},
		{Put: &types.Put{TableName: aws.String(d.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}}
	for round := 0; ; round++ {
		_, err := d.api.TransactWriteItems(ctx, in)
		if err == nil {
			return b, nil
		}
		// Only a failed condition means the accumulator moved on; a conflict
		// with another transaction is tried again, anything else is an error.
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return jobs.Batch{}, fmt.Errorf("taking the accumulator: %w", err)
		}
		switch cancelledBy(tce) {
		case "ConditionalCheckFailed":
			return jobs.Batch{}, jobs.ErrChanged
		case "TransactionConflict":
			if round < conflictRounds {
				continue
			}
		}
		return jobs.Batch{}, fmt.Errorf("taking the accumulator: %w", err)
	}
}

// conflictRounds bounds the tries of a transaction that keeps meeting
// other transactions on its items.
const conflictRounds = 5

// cancelledBy is the first reason a transaction was cancelled for, other
// than "None" (the items that were fine).
func cancelledBy(tce *types.TransactionCanceledException) string {
	for _, r := range tce.CancellationReasons {
		if c := aws.ToString(r.Code); c != "" && c != "None" {
			return c
		}
	}
	return ""
}

// BatchItem is the BATCH# item Take puts for b.
func BatchItem(b jobs.Batch) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": sAttr(BatchPrefix + b.Key().String()), "kind": sAttr("batch"),
		"fingerprint": sAttr(b.Fingerprint), "gen": nAttr(b.Gen),
		"lead_ids": lAttr(b.LeadIDs), "sources": lAttr(b.Sources),
		"options": sAttr(b.Options), "api_version": sAttr(b.APIVersion),
		"opened_at_ms": nAttr(b.OpenedAt.UnixMilli()),
		"taker":        sAttr(b.Taker), "lease_until_ms": nAttr(b.LeaseUntil.UnixMilli()),
		// Listed with the open accumulators until its job is recorded.
		"open_shard": sAttr(parkedShard), "due_at": nAttr(b.OpenedAt.Unix()),
		"expires_at": nAttr(b.LeaseUntil.Add(batchExpiry).Unix()),
	}
}

// parkedShard is the open index's partition of the open accumulators and
// batches; its due_at is when the first lead was accepted.
const parkedShard = "PARKED"

var _ jobs.ParkedStore = (*JobStore)(nil)

// Parked reads the parked entries of the open index: every accumulator
// holding leads and every batch not yet recorded, about 60 bytes each.
func (d *JobStore) Parked(ctx context.Context) ([]jobs.ParkedBatch, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		IndexName:                 aws.String(OpenIndex),
		KeyConditionExpression:    aws.String("open_shard = :parked"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":parked": sAttr(parkedShard)},
	}
	var out []jobs.ParkedBatch
	for {
		page, err := d.api.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("querying the parked batches: %w", err)
		}
		for _, it := range page.Items {
			pk, opened := str(it["pk"]), time.Unix(num(it["due_at"]), 0)
			if fp, ok := strings.CutPrefix(pk, AccPrefix); ok {
				out = append(out, jobs.ParkedBatch{Fingerprint: fp, OpenedAt: opened})
			} else if k := jobs.ParseBatchKey(strings.TrimPrefix(pk, BatchPrefix)); k != (jobs.BatchKey{}) {
				out = append(out, jobs.ParkedBatch{Fingerprint: k.Fingerprint, Gen: k.Gen, Taken: true, OpenedAt: opened})
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func (d *JobStore) Batch(ctx context.Context, key jobs.BatchKey) (jobs.Batch, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table), Key: batchKey(key), ConsistentRead: aws.Bool(true)})
	switch {
	case err != nil:
		return jobs.Batch{}, fmt.Errorf("reading batch %s: %w", key, err)
	case out.Item == nil:
		return jobs.Batch{}, jobs.ErrNotFound
	}
	b := jobs.Batch{Acc: accFromItem(out.Item), Taker: str(out.Item["taker"])}
	if ms := num(out.Item["lease_until_ms"]); ms != 0 {
		b.LeaseUntil = time.UnixMilli(ms)
	}
	return b, nil
}

func (d *JobStore) Lease(ctx context.Context, key jobs.BatchKey, taker string, now, until time.Time) error {
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(d.table), Key: batchKey(key),
		UpdateExpression:    aws.String("SET taker = :t, lease_until_ms = :until"),
		ConditionExpression: aws.String("attribute_exists(pk) AND (taker = :t OR lease_until_ms <= :now)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": sAttr(taker), ":until": nAttr(until.UnixMilli()), ":now": nAttr(now.UnixMilli())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	return conditionOf(err, jobs.ErrChanged, "leasing batch "+key.String())
}

// conditionOf reads the error of a conditional write made with
// ReturnValuesOnConditionCheckFailure ALL_OLD: a failed condition without
// an item is jobs.ErrNotFound, any other is failed, and anything else an
// error about what.
func conditionOf(err, failed error, what string) error {
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf) && ccf.Item == nil:
		return jobs.ErrNotFound
	case errors.As(err, &ccf):
		return failed
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (d *JobStore) DropBatch(ctx context.Context, key jobs.BatchKey) error {
	if _, err := d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(d.table), Key: batchKey(key)}); err != nil {
		return fmt.Errorf("dropping batch %s: %w", key, err)
	}
	return nil
}
