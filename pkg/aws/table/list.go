package table

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// The operator's listings (leadconvert jobs). The functions never list:
// they find jobs through the open-checks index by due time only.

// OpenJobs reads every open job: the entries of the open-checks index (all
// of them, due or not, in 1 MB pages), then both items of each job. The
// jobs come oldest first (then by id).
func (d *JobStore) OpenJobs(ctx context.Context) ([]jobs.Job, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		IndexName:                 aws.String(OpenIndex),
		KeyConditionExpression:    aws.String("open_shard = :open"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":open": sAttr(openShard)},
	}
	var ids []string
	for {
		out, err := d.api.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("querying open jobs: %w", err)
		}
		for _, it := range out.Items {
			ids = append(ids, strings.TrimPrefix(strings.TrimPrefix(str(it["pk"]), CheckPrefix), JobPrefix))
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	js, err := d.Jobs(ctx, ids)
	if err != nil {
		return nil, err
	}
	// An entry read from the index may belong to a job that ended since.
	js = slices.DeleteFunc(js, func(j jobs.Job) bool { return !j.State.Open() })
	slices.SortFunc(js, func(a, b jobs.Job) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	return js, nil
}

// Scanner is the part of the DynamoDB client a scan of the table needs. It
// is not in API: only an operator's listing of finished jobs scans, and the
// functions' clients (and their test wrappers) need not offer it.
type Scanner interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// FinishedQuery selects ended jobs.
type FinishedQuery struct {
	Since time.Time  // ended at or after (their last update)
	State jobs.State // only jobs that ended in this state; "" any
	Limit int        // stop scanning once this many are found (at least 1)
	// MaxScanned stops the scan once it has read this many items, found
	// or not: what a caller is willing to pay for. 0: no cap.
	MaxScanned int
}

// Finished is what a scan for ended jobs found.
type Finished struct {
	Jobs []jobs.Job // the last ended first
	// Scanned counts the items the scan read (and paid for: a Scan is
	// billed for every item it reads, whatever its filter keeps), in Pages
	// pages of at most 1 MB.
	Scanned, Pages int
	// ReadUnits is what the scan consumed, as DynamoDB reports it.
	ReadUnits float64
	// More is true when the scan stopped at the limit before the end of the
	// table: other ended jobs, newer ones included, may exist.
	More bool
}

// FinishedJobs scans the table for jobs that ended since q.Since. Ended
// jobs are in no index (the open-checks index is sparse), so this is a
// Scan: it reads every item (claims, requests and jobs alike) until it has
// found q.Limit jobs, and filters on the CHK# items' state and time (and
// on the JOB# items of the previous version, which hold both). api must be
// the client the store was made with, or one on the same table.
func (d *JobStore) FinishedJobs(ctx context.Context, api Scanner, q FinishedQuery) (Finished, error) {
	q.Limit = max(q.Limit, 1)
	filter := "attribute_not_exists(open_shard) AND updated_at >= :since AND (kind = :check OR (kind = :job AND attribute_exists(job_status)))"
	values := map[string]types.AttributeValue{
		// updated_at is RFC 3339 with a variable fraction, which does not
		// sort as text within a second: a second's margin here, the exact
		// comparison below.
		":since": sAttr(q.Since.Add(-time.Second).UTC().Format(time.RFC3339)),
		":check": sAttr("check"), ":job": sAttr("job"),
	}
	if q.State != "" {
		filter += " AND job_status = :state"
		values[":state"] = sAttr(string(q.State))
	}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(d.table),
		FilterExpression:          aws.String(filter),
		ExpressionAttributeValues: values,
		ProjectionExpression:      aws.String("pk, updated_at"),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal,
	}
	var res Finished
	var ids []string
	for {
		if q.MaxScanned > 0 {
			in.Limit = aws.Int32(int32(min(q.MaxScanned-res.Scanned, 10000)))
		}
		out, err := api.Scan(ctx, in)
		if err != nil {
			return Finished{}, fmt.Errorf("scanning for finished jobs: %w", err)
		}
		res.Pages++
		res.Scanned += int(out.ScannedCount)
		if out.ConsumedCapacity != nil {
			res.ReadUnits += aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
		}
		for _, it := range out.Items {
			if !timeAttr(it["updated_at"]).Before(q.Since) {
				ids = append(ids, strings.TrimPrefix(strings.TrimPrefix(str(it["pk"]), CheckPrefix), JobPrefix))
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		if len(ids) >= q.Limit || q.MaxScanned > 0 && res.Scanned >= q.MaxScanned {
			res.More = true
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	js, err := d.Jobs(ctx, ids)
	if err != nil {
		return Finished{}, err
	}
	slices.SortFunc(js, func(a, b jobs.Job) int { return cmp.Or(b.UpdatedAt.Compare(a.UpdatedAt), cmp.Compare(a.ID, b.ID)) })
	if len(js) > q.Limit {
		js, res.More = js[:q.Limit], true
	}
	res.Jobs = js
	return res, nil
}
