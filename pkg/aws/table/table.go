// Package table is the one DynamoDB table of a deployment (JobsTable in
// template.yaml): its key scheme, item shapes, the open-checks index, TTL and
// every conditional write, for jobs, lead claims and the shared access token.
// It is the only package that knows the table's layout; the core packages
// see it through jobs.Store, jobs.CheckStore and oauth.Store, whose
// in-memory versions pass the same contract tests (table_test).
//
// Items, by partition key "pk" (docs/architecture.md has every attribute):
//
//	JOB#<zoho job id>    one mass-convert job: what never changes
//	CHK#<zoho job id>    its state, counts and next check: what each check rewrites
//	LEAD#<lead id>       the claim of one lead
//	TOKEN#<credentials>  the access token every instance shares
//	ACC#<fingerprint>    the open accumulator of one option set
//	BATCH#<fp>#<gen>     a taken accumulator, until its job is recorded
//	REQ#<request id>     a request the API queued, for GET /requests/{id}
//	SLOT#<k>             one slot of the deployment's Zoho concurrency budget
//	SWEEP#<name>         a sweep: a COQL selection and conversion options
//	SWEEPRUN#<name>#<id> one run of a sweep: counts, cursor and lease
//
// ClaimItem, AccItem, BatchItem, JobItems, RequestItem and SlotItem are
// items as the table's writes leave them, for whoever sizes its writes
// (cmd/bench); the puts use them, and TestItemsAsWritten holds them in
// step with the updates.
package table

import (
	"context"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The key scheme and the index of open jobs, shared with template.yaml.
// The prefixes are exported for whoever tells items apart by key, as
// cmd/bench does when it bills writes by kind of item.
const (
	JobPrefix      = "JOB#"
	CheckPrefix    = "CHK#"
	LeadPrefix     = "LEAD#"
	TokenPrefix    = "TOKEN#"
	AccPrefix      = "ACC#"
	BatchPrefix    = "BATCH#"
	RequestPrefix  = "REQ#"
	SlotPrefix     = "SLOT#"
	SweepPrefix    = "SWEEP#"
	SweepRunPrefix = "SWEEPRUN#"

	// OpenIndex is the sparse index of open jobs: hash open_shard (always
	// openShard) and no range, with due_at (and a previous version's
	// next_check_at) projected. Only open jobs carry open_shard: the CHK#
	// item of a job, or the JOB# item of a job the previous version
	// recorded. A check changes only a projected attribute, never a key.
	OpenIndex = "open-checks"
	openShard = "OPEN"
	// LegacyOpenIndex is the previous version's index, hash open_shard,
	// range next_check_at. Nothing reads it; CHK# items stay out of it (they
	// carry due_at, not next_check_at). It goes in the next release.
	LegacyOpenIndex = "open-jobs"

	maxTransact = 100 // DynamoDB's cap on items per transaction
	maxBatchGet = 100 // DynamoDB's cap on keys per BatchGetItem
)

// prefixed is ids, each after prefix.
func prefixed(prefix string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = prefix + id
	}
	return out
}

// batchGet reads the items keyed pks with BatchGetItem, 100 keys a call,
// and hands each to item. shape sets the read's options (projection,
// consistency). Unprocessed keys mean throttling: it backs off and asks again.
func (d *JobStore) batchGet(ctx context.Context, pks []string, shape func(*types.KeysAndAttributes), item func(map[string]types.AttributeValue)) error {
	for chunk := range slices.Chunk(pks, maxBatchGet) {
		ka := types.KeysAndAttributes{Keys: make([]map[string]types.AttributeValue, len(chunk))}
		for i, pk := range chunk {
			ka.Keys[i] = map[string]types.AttributeValue{"pk": sAttr(pk)}
		}
		shape(&ka)
		req := map[string]types.KeysAndAttributes{d.table: ka}
		for round := 0; len(req) > 0; round++ {
			if round > 0 {
				if err := pause(ctx, min(25*time.Millisecond<<round, time.Second)); err != nil {
					return err
				}
			}
			out, err := d.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return err
			}
			for _, it := range out.Responses[d.table] {
				item(it)
			}
			req = out.UnprocessedKeys
		}
	}
	return nil
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
