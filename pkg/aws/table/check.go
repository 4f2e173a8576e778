package table

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// jobAttributes are the attributes Jobs reads: everything but the options,
// which may be large and which the checker never needs.
var jobAttributes = []string{"pk", "job_id", "job_status", "raw_status", "lead_ids", "sources",
	"fingerprint", "api_version", "created_at", "updated_at", "checked_at", "checks", "total",
	"converted", "not_converted", "failed_count", "reason", "version", "next_check_at", "expires_at"}

func (d *JobStore) dueQuery(now time.Time, cursor string) (*dynamodb.QueryInput, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		IndexName:              aws.String(OpenIndex),
		KeyConditionExpression: aws.String("open_shard = :open AND next_check_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":open": sAttr(openShard), ":now": nAttr(now.Unix())},
		ScanIndexForward: aws.Bool(true), // oldest due first
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

func (d *JobStore) DueJobs(ctx context.Context, now time.Time, limit int, cursor string) ([]string, string, error) {
	in, err := d.dueQuery(now, cursor)
	if err != nil {
		return nil, "", err
	}
	in.Limit = aws.Int32(int32(max(limit, 1)))
	out, err := d.api.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("querying due jobs: %w", err)
	}
	ids := make([]string, 0, len(out.Items))
	for _, it := range out.Items {
		ids = append(ids, strings.TrimPrefix(str(it["pk"]), jobPrefix))
	}
	return ids, encodeCursor(out.LastEvaluatedKey), nil
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

// Jobs reads with BatchGetItem, eventually consistent: a job read a little
// stale fails SaveCheck's condition, which is what guards correctness.
func (d *JobStore) Jobs(ctx context.Context, ids []string) ([]jobs.Job, error) {
	ids = jobs.Uniq(ids)
	names := make(map[string]string, len(jobAttributes))
	proj := make([]string, len(jobAttributes))
	for i, a := range jobAttributes {
		ph := "#a" + strconv.Itoa(i) // some attribute names are reserved words
		names[ph], proj[i] = a, ph
	}
	byID := make(map[string]jobs.Job, len(ids))
	err := d.batchGet(ctx, jobPrefix, ids, func(ka *types.KeysAndAttributes) {
		ka.ProjectionExpression, ka.ExpressionAttributeNames = aws.String(strings.Join(proj, ", ")), names
	}, func(it map[string]types.AttributeValue) {
		j := jobFromItem(it)
		byID[j.ID] = j
	})
	if err != nil {
		return nil, fmt.Errorf("reading jobs: %w", err)
	}
	out := make([]jobs.Job, 0, len(byID))
	for _, id := range ids {
		if j, ok := byID[id]; ok {
			out = append(out, j)
		}
	}
	return out, nil
}

func (d *JobStore) SaveCheck(ctx context.Context, job jobs.Job, prevVersion int64) error {
	if err := jobs.CheckSaveable(job); err != nil {
		return err
	}
	names := map[string]string{"#st": "job_status", "#raw": "raw_status", "#total": "total",
		"#conv": "converted", "#notconv": "not_converted", "#failed": "failed_count",
		"#checked": "checked_at", "#updated": "updated_at", "#checks": "checks", "#v": "version",
		"#reason": "reason", "#shard": "open_shard", "#next": "next_check_at", "#exp": "expires_at"}
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
		set = append(set, "#shard = :shard", "#next = :next")
		values[":shard"], values[":next"] = sAttr(openShard), nAttr(job.NextCheckAt.Unix())
		remove = append(remove, "#exp")
	} else {
		// Without the index keys the job leaves the sparse index.
		remove = append(remove, "#shard", "#next")
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

// SettleLeads writes the job's results, then moves each claim Settle
// decides to move, on the condition that it is still as read: a lead sent
// again meanwhile belongs to its new job. Both writes repeat harmlessly, so
// a run that dies between them is finished by the next.
func (d *JobStore) SettleLeads(ctx context.Context, job jobs.Job, results []jobs.LeadResult, p jobs.SettlePolicy) ([]string, error) {
	if len(results) > 0 {
		_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(d.table),
			Key:                       map[string]types.AttributeValue{"pk": sAttr(jobPrefix + job.ID)},
			UpdateExpression:          aws.String("SET results = :r"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":r": resultsAttr(results)},
		})
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			return nil, fmt.Errorf("storing the results of job %s: %w", job.ID, err)
		}
	}
	ids := make([]string, len(results))
	for i, r := range results {
		ids[i] = r.LeadID
	}
	claims, err := d.Claims(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]jobs.LeadResult, len(results))
	for _, r := range results {
		byID[r.LeadID] = r
	}
	var retry []string
	var errs []error
	for _, c := range claims {
		next, write := jobs.Settle(c, job, byID[c.LeadID], p)
		if write {
			if err := d.moveClaim(ctx, c, next); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if next.State == jobs.Retry && next.JobID == job.ID {
			retry = append(retry, c.LeadID)
		}
	}
	return retry, errors.Join(errs...)
}

// moveClaim writes next over claim c if c is still what was read; a claim
// that changed meanwhile is left to its new holder.
func (d *JobStore) moveClaim(ctx context.Context, c, next jobs.Claim) error {
	values := map[string]types.AttributeValue{":seen": sAttr(string(c.State)), ":job": sAttr(c.JobID),
		":state": sAttr(string(next.State)), ":exp": nAttr(next.ExpiresAt.Unix())}
	update := "SET claim_state = :state, expires_at = :exp"
	switch next.State {
	case jobs.Retry:
		update += ", job_id = :job"
	case jobs.Rejected:
		update += ", reason = :reason REMOVE job_id, attempts"
		values[":reason"] = sAttr(next.Reason)
	}
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       leadKey(c.LeadID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("claim_state = :seen AND job_id = :job"),
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("settling lead %s of job %s: %w", c.LeadID, c.JobID, err)
	}
	return nil
}

// resultsAttr stores results as a map by lead id, each with its outcome
// ("o") and the ids of the records Zoho made, when it returned them.
func resultsAttr(results []jobs.LeadResult) types.AttributeValue {
	m := make(map[string]types.AttributeValue, len(results))
	for _, r := range results {
		e := map[string]types.AttributeValue{"o": sAttr(string(r.Outcome))}
		for k, v := range map[string]string{"contact": r.ContactID, "account": r.AccountID, "deal": r.DealID} {
			if v != "" {
				e[k] = sAttr(v)
			}
		}
		m[r.LeadID] = &types.AttributeValueMemberM{Value: e}
	}
	return &types.AttributeValueMemberM{Value: m}
}

func resultsFromAttr(v types.AttributeValue) []jobs.LeadResult {
	m, ok := v.(*types.AttributeValueMemberM)
	if !ok {
		return nil
	}
	out := make([]jobs.LeadResult, 0, len(m.Value))
	for id, ev := range m.Value {
		e, _ := ev.(*types.AttributeValueMemberM)
		if e == nil {
			continue
		}
		out = append(out, jobs.LeadResult{LeadID: id, Outcome: jobs.Outcome(str(e.Value["o"])),
			ContactID: str(e.Value["contact"]), AccountID: str(e.Value["account"]), DealID: str(e.Value["deal"])})
	}
	slices.SortFunc(out, func(a, b jobs.LeadResult) int { return strings.Compare(a.LeadID, b.LeadID) })
	return out
}
