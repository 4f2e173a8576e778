// The previous layout of jobs, for the baseline of the lifetime lines: one
// JOB# item that each check updates whole, in the index keyed on
// next_check_at (table.LegacyOpenIndex). Its requests are those the
// previous version of pkg/aws/table made, item for item; only the claims'
// writes and their release are the store's own.

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// previousStore is the job store as the previous version kept jobs.
type previousStore struct {
	*table.JobStore // the claims
	api             table.API
	plain           *table.JobStore // reads what was read again, unbilled
	table           string
}

func newPreviousStore(api, plain table.API, name string) lifetimeStore {
	return &previousStore{JobStore: table.NewJobStore(api, name), api: api, plain: table.NewJobStore(plain, name), table: name}
}

// previousJobItem is the JOB# item the previous version wrote: the job
// whole, with the index keys while it is open.
func previousJobItem(j jobs.Job) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"pk": attrS("JOB#" + j.ID), "kind": attrS("job"), "job_id": attrS(j.ID), "job_status": attrS(string(j.State)),
		"lead_ids": attrL(j.LeadIDs), "lead_count": attrN(int64(len(j.LeadIDs))), "sources": attrL(j.Sources),
		"created_at": attrS(j.CreatedAt.UTC().Format(time.RFC3339Nano)), "updated_at": attrS(j.UpdatedAt.UTC().Format(time.RFC3339Nano)),
		"checks": attrN(int64(j.Checks)), "total": attrN(int64(j.Total)), "converted": attrN(int64(j.Converted)),
		"not_converted": attrN(int64(j.NotConvertedFigure())), "failed_count": attrN(int64(j.FailedCount)), "version": attrN(j.Version),
	}
	if j.Batch != (jobs.BatchKey{}) {
		it["batch"] = attrS(j.Batch.String())
	}
	for k, v := range map[string]string{"raw_status": j.ZohoStatus, "fingerprint": j.Fingerprint,
		"options": j.Options, "api_version": j.APIVersion, "reason": j.Reason} {
		if v != "" {
			it[k] = attrS(v)
		}
	}
	if j.State.Open() {
		it["open_shard"], it["next_check_at"] = attrS("OPEN"), attrN(j.NextCheckAt.Unix())
	}
	return it
}

func (p *previousStore) RecordJob(ctx context.Context, job jobs.Job, claimsExpire time.Time) error {
	job.Version = 1
	items := []types.TransactWriteItem{{Put: &types.Put{TableName: aws.String(p.table), Item: previousJobItem(job),
		ConditionExpression: aws.String("attribute_not_exists(pk)")}}}
	for _, id := range job.LeadIDs {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                aws.String(p.table),
			Key:                      map[string]types.AttributeValue{"pk": attrS("LEAD#" + id)},
			UpdateExpression:         aws.String("SET kind = :lead, claim_state = :sched, job_id = :job, expires_at = :exp REMOVE #owner, claim_until_ms, reason"),
			ExpressionAttributeNames: map[string]string{"#owner": "owner"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":lead": attrS("lead"),
				":sched": attrS(string(jobs.ClaimScheduled)), ":job": attrS(job.ID), ":exp": attrN(claimsExpire.Unix())},
		}})
	}
	_, err := p.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

func (p *previousStore) dueQuery(now time.Time) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{TableName: aws.String(p.table), IndexName: aws.String(table.LegacyOpenIndex),
		KeyConditionExpression:    aws.String("open_shard = :open AND next_check_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":open": attrS("OPEN"), ":now": attrN(now.Unix())},
		ScanIndexForward:          aws.Bool(true)}
}

// DueJobs reads one page; the lifetime never has more than one open job,
// so it needs no cursor.
func (p *previousStore) DueJobs(ctx context.Context, now time.Time, limit int, _ string) ([]string, string, error) {
	in := p.dueQuery(now)
	in.Limit = aws.Int32(int32(max(limit, 1)))
	out, err := p.api.Query(ctx, in)
	if err != nil {
		return nil, "", err
	}
	var ids []string
	for _, it := range out.Items {
		ids = append(ids, strings.TrimPrefix(str(it["pk"]), "JOB#"))
	}
	if len(out.LastEvaluatedKey) > 0 {
		return nil, "", errors.New("previous layout: more than one page of due jobs")
	}
	return ids, "", nil
}

func (p *previousStore) CountDue(ctx context.Context, now time.Time, _ string) (int, error) {
	in := p.dueQuery(now)
	in.Select = types.SelectCount
	out, err := p.api.Query(ctx, in)
	if err != nil {
		return 0, err
	}
	return int(out.Count), nil
}

// Jobs reads the whole JOB# items (the previous version projected away
// the options, which does not change what a read costs).
func (p *previousStore) Jobs(ctx context.Context, ids []string) ([]jobs.Job, error) {
	var keys []map[string]types.AttributeValue
	for _, id := range jobs.Uniq(ids) {
		keys = append(keys, map[string]types.AttributeValue{"pk": attrS("JOB#" + id)})
	}
	if len(keys) == 0 {
		return nil, nil
	}
	out, err := p.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{p.table: {Keys: keys}}})
	if err != nil {
		return nil, err
	}
	if len(out.UnprocessedKeys) > 0 {
		return nil, errors.New("previous layout: unprocessed keys")
	}
	var js []jobs.Job
	for _, it := range out.Responses[p.table] {
		// The item just read, decoded as table.JobStore decodes a job the
		// previous version recorded.
		j, err := p.plain.Job(ctx, str(it["job_id"]))
		if err != nil {
			return nil, err
		}
		js = append(js, j)
	}
	return js, nil
}

// SaveCheck updates the JOB# item whole, as the previous version did.
func (p *previousStore) SaveCheck(ctx context.Context, job jobs.Job, prevVersion int64) error {
	values := map[string]types.AttributeValue{
		":st": attrS(string(job.State)), ":total": attrN(int64(job.Total)), ":conv": attrN(int64(job.Converted)),
		":notconv": attrN(int64(job.NotConvertedFigure())), ":failed": attrN(int64(job.FailedCount)),
		":checked": attrS(job.CheckedAt.UTC().Format(time.RFC3339Nano)), ":updated": attrS(job.UpdatedAt.UTC().Format(time.RFC3339Nano)),
		":checks": attrN(int64(job.Checks)), ":prev": attrN(prevVersion), ":v": attrN(prevVersion + 1),
	}
	set := []string{"job_status = :st", "#total = :total", "converted = :conv", "not_converted = :notconv",
		"failed_count = :failed", "checked_at = :checked", "updated_at = :updated", "checks = :checks", "version = :v"}
	var remove []string
	for name, v := range map[string]string{"raw_status": job.ZohoStatus, "#reason": job.Reason} {
		if v == "" {
			remove = append(remove, name)
		} else {
			set, values[":"+strings.TrimPrefix(name, "#")] = append(set, name+" = :"+strings.TrimPrefix(name, "#")), attrS(v)
		}
	}
	if job.State.Open() {
		set = append(set, "open_shard = :shard", "next_check_at = :next")
		values[":shard"], values[":next"] = attrS("OPEN"), attrN(job.NextCheckAt.Unix())
		remove = append(remove, "expires_at")
	} else {
		set, values[":exp"] = append(set, "expires_at = :exp"), attrN(job.ExpiresAt.Unix())
		remove = append(remove, "open_shard", "next_check_at")
	}
	_, err := p.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(p.table), Key: map[string]types.AttributeValue{"pk": attrS("JOB#" + job.ID)},
		UpdateExpression:         aws.String("SET " + strings.Join(set, ", ") + " REMOVE " + strings.Join(remove, ", ")),
		ConditionExpression:      aws.String("version = :prev"),
		ExpressionAttributeNames: map[string]string{"#total": "total", "#reason": "reason"}, ExpressionAttributeValues: values,
	})
	if err != nil {
		return fmt.Errorf("previous layout: saving the check: %w", err)
	}
	return nil
}
