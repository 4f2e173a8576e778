package table

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// jobAttributes are the attributes Jobs reads of both items: everything
// but the options, which may be large and which the checker never needs.
var jobAttributes = []string{"pk", "job_id", "job_status", "raw_status", "lead_ids", "sources",
	"fingerprint", "api_version", "created_at", "updated_at", "checked_at", "checks", "total",
	"converted", "not_converted", "failed_count", "reason", "version", "due_at", "next_check_at", "expires_at"}

// dueQuery reads the open jobs, oldest recorded first, and keeps those due
// at now. Keyed on what a check never changes, the index reads every open
// job's entry (a few hundred bytes each) to find the due ones, where a key
// on the next check would have let the query stop at now, at the price of
// moving every job's entry at every check (docs/architecture.md). A job the
// previous version recorded is due by its next_check_at.
func (d *JobStore) dueQuery(now time.Time, cursor string) (*dynamodb.QueryInput, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		IndexName:                 aws.String(OpenIndex),
		KeyConditionExpression:    aws.String("open_shard = :open"),
		FilterExpression:          aws.String("due_at <= :now OR next_check_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":open": sAttr(openShard), ":now": nAttr(now.Unix())},
		ScanIndexForward:          aws.Bool(true), // oldest first
	}
	if cursor != "" {
		key, err := decodeCursor(cursor)
		if err != nil {
			return nil, err
		}
		in.ExclusiveStartKey = key
	}
	return in, nil
}

// DueJobs reads index pages until it has limit due jobs or the index ends.
// A Query's Limit counts the entries it reads, due or not, so each page
// asks for no more than are still wanted: a page never passes the cursor.
func (d *JobStore) DueJobs(ctx context.Context, now time.Time, limit int, cursor string) ([]string, string, error) {
	in, err := d.dueQuery(now, cursor)
	if err != nil {
		return nil, "", err
	}
	limit = max(limit, 1)
	var ids []string
	for {
		in.Limit = aws.Int32(int32(limit - len(ids)))
		out, err := d.api.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("querying due jobs: %w", err)
		}
		for _, it := range out.Items {
			pk := str(it["pk"])
			ids = append(ids, strings.TrimPrefix(strings.TrimPrefix(pk, checkPrefix), jobPrefix))
		}
		if len(out.LastEvaluatedKey) == 0 || len(ids) >= limit {
			return ids, encodeCursor(out.LastEvaluatedKey), nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func (d *JobStore) CountDue(ctx context.Context, now time.Time, cursor string) (int, error) {
	in, err := d.dueQuery(now, cursor)
	if err != nil {
		return 0, err
	}
	in.Select = types.SelectCount
	total := 0
	for {
		out, err := d.api.Query(ctx, in)
		if err != nil {
			return total, fmt.Errorf("counting due jobs: %w", err)
		}
		total += int(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			return total, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// encodeCursor makes a LastEvaluatedKey opaque. Its attributes are the
// table and index keys: strings and numbers only.
func encodeCursor(key map[string]types.AttributeValue) string {
	if len(key) == 0 {
		return ""
	}
	m := make(map[string]string, len(key))
	for k, v := range key {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			m[k] = "S" + v.Value
		case *types.AttributeValueMemberN:
			m[k] = "N" + v.Value
		}
	}
	b, _ := json.Marshal(m) // a map of strings always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string) (map[string]types.AttributeValue, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	var m map[string]string
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil || len(m) == 0 {
		return nil, fmt.Errorf("jobs: malformed cursor")
	}
	key := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		switch {
		case strings.HasPrefix(v, "S"):
			key[k] = sAttr(v[1:])
		case strings.HasPrefix(v, "N"):
			key[k] = &types.AttributeValueMemberN{Value: v[1:]}
		default:
			return nil, fmt.Errorf("jobs: malformed cursor")
		}
	}
	return key, nil
}

// Jobs reads both items of each job with BatchGetItem, eventually
// consistent: a job read a little stale fails SaveCheck's condition, which
// is what guards correctness.
func (d *JobStore) Jobs(ctx context.Context, ids []string) ([]jobs.Job, error) {
	ids = jobs.Uniq(ids)
	names := make(map[string]string, len(jobAttributes))
	proj := make([]string, len(jobAttributes))
	for i, a := range jobAttributes {
		ph := "#a" + strconv.Itoa(i) // some attribute names are reserved words
		names[ph], proj[i] = a, ph
	}
	pks := make([]string, 0, 2*len(ids))
	for _, id := range ids {
		pks = append(pks, jobPrefix+id, checkPrefix+id)
	}
	items := make(map[string]map[string]types.AttributeValue, len(pks))
	err := d.batchGet(ctx, pks, func(ka *types.KeysAndAttributes) {
		ka.ProjectionExpression, ka.ExpressionAttributeNames = aws.String(strings.Join(proj, ", ")), names
	}, func(it map[string]types.AttributeValue) { items[str(it["pk"])] = it })
	if err != nil {
		return nil, fmt.Errorf("reading jobs: %w", err)
	}
	out := make([]jobs.Job, 0, len(ids))
	for _, id := range ids {
		job, check := items[jobPrefix+id], items[checkPrefix+id]
		if job != nil || check != nil {
			out = append(out, jobFromItems(job, check))
		}
	}
	return out, nil
}

// SaveCheck updates the job's CHK# item: under 1 KB, one write unit, and
// one more for its index entry, whose keys a check never moves (an update
// of due_at, or the entry's delete once the job ends). A job the previous
// version recorded has no CHK# item; its JOB# item is updated as that
// version did (saveLegacyCheck), until it ends.
func (d *JobStore) SaveCheck(ctx context.Context, job jobs.Job, prevVersion int64) error {
	if err := jobs.CheckSaveable(job); err != nil {
		return err
	}
	names := map[string]string{"#st": "job_status", "#raw": "raw_status", "#total": "total",
		"#conv": "converted", "#notconv": "not_converted", "#failed": "failed_count",
		"#checked": "checked_at", "#updated": "updated_at", "#checks": "checks", "#v": "version",
		"#reason": "reason", "#shard": "open_shard", "#due": "due_at", "#exp": "expires_at"}
	update, values := checkUpdate(job, prevVersion, "#shard", "#due")
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(d.table),
		Key:                                 map[string]types.AttributeValue{"pk": sAttr(checkPrefix + job.ID)},
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String("#v = :prev"),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf) && ccf.Item == nil:
		return d.saveLegacyCheck(ctx, job, prevVersion)
	case errors.As(err, &ccf):
		return jobs.ErrConflict
	case err != nil:
		return fmt.Errorf("saving the check of job %s: %w", job.ID, err)
	}
	return nil
}

// checkUpdate is the update expression of a check and its values: the
// state, the counts, the version, and while the job is open the index's
// hash key shard and the next check (due), which go once it ends.
func checkUpdate(job jobs.Job, prevVersion int64, shard, due string) (string, map[string]types.AttributeValue) {
	values := map[string]types.AttributeValue{
		":st": sAttr(string(job.State)), ":total": nAttr(int64(job.Total)), ":conv": nAttr(int64(job.Converted)),
		":notconv": nAttr(int64(job.NotConverted)), ":failed": nAttr(int64(job.FailedCount)),
		":checked": sAttr(job.CheckedAt.UTC().Format(time.RFC3339Nano)),
		":updated": sAttr(job.UpdatedAt.UTC().Format(time.RFC3339Nano)),
		":checks":  nAttr(int64(job.Checks)), ":prev": nAttr(prevVersion), ":v": nAttr(prevVersion + 1),
	}
	set := []string{"#st = :st", "#total = :total", "#conv = :conv", "#notconv = :notconv",
		"#failed = :failed", "#checked = :checked", "#updated = :updated", "#checks = :checks", "#v = :v"}
	var remove []string
	optional := func(name, ph, v string) {
		if v == "" {
			remove = append(remove, name)
			return
		}
		set, values[ph] = append(set, name+" = "+ph), sAttr(v)
	}
	optional("#raw", ":raw", job.ZohoStatus)
	optional("#reason", ":reason", job.Reason)
	if job.State.Open() {
		set = append(set, shard+" = :shard", due+" = :due")
		values[":shard"], values[":due"] = sAttr(openShard), nAttr(job.NextCheckAt.Unix())
		remove = append(remove, "#exp")
	} else {
		// Without the hash key the job leaves the sparse index.
		remove = append(remove, shard, due)
		if job.ExpiresAt.IsZero() {
			remove = append(remove, "#exp")
		} else {
			set, values[":exp"] = append(set, "#exp = :exp"), nAttr(job.ExpiresAt.Unix())
		}
	}
	update := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		update += " REMOVE " + strings.Join(remove, ", ")
	}
	return update, values
}

// saveLegacyCheck stores a check in the JOB# item of a job the previous
// version recorded, as it did: open_shard and next_check_at, which keep it
// in both indexes until it ends. It goes with LegacyOpenIndex.
func (d *JobStore) saveLegacyCheck(ctx context.Context, job jobs.Job, prevVersion int64) error {
	names := map[string]string{"#st": "job_status", "#raw": "raw_status", "#total": "total",
		"#conv": "converted", "#notconv": "not_converted", "#failed": "failed_count",
		"#checked": "checked_at", "#updated": "updated_at", "#checks": "checks", "#v": "version",
		"#reason": "reason", "#shard": "open_shard", "#next": "next_check_at", "#exp": "expires_at"}
	update, values := checkUpdate(job, prevVersion, "#shard", "#next")
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(d.table),
		Key:                                 map[string]types.AttributeValue{"pk": sAttr(jobPrefix + job.ID)},
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String("#v = :prev"),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf) && ccf.Item == nil:
		return jobs.ErrNotFound
	case errors.As(err, &ccf):
		return jobs.ErrConflict
	case err != nil:
		return fmt.Errorf("saving the check of job %s: %w", job.ID, err)
	}
	return nil
}

// ReleaseJobClaims deletes each claim on the condition that it still points
// at job: a lead submitted again meanwhile belongs to its new job.
func (d *JobStore) ReleaseJobClaims(ctx context.Context, job jobs.Job, leadIDs []string) (int, error) {
	released := 0
	var errs []error
	for _, id := range jobs.Uniq(leadIDs) {
		_, err := d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:           aws.String(d.table),
			Key:                 map[string]types.AttributeValue{"pk": sAttr(leadPrefix + id)},
			ConditionExpression: aws.String("claim_state = :sched AND job_id = :job"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":sched": sAttr(string(jobs.ClaimScheduled)), ":job": sAttr(job.ID)},
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			released++
		case !errors.As(err, &ccf):
			errs = append(errs, fmt.Errorf("releasing lead %s of job %s: %w", id, job.ID, err))
		}
	}
	return released, errors.Join(errs...)
}
