package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/internal/dynamoattr"
)

// DynamoAPI is the part of the DynamoDB client the store uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// DynamoStore is the Store on the jobs table of template.yaml (documented in
// docs/architecture.md): jobs under "JOB#<id>", claims under "LEAD#<id>".
type DynamoStore struct {
	api   DynamoAPI
	table string
}

var _ Store = (*DynamoStore)(nil)

// NewDynamoStore returns a Store on table.
func NewDynamoStore(api DynamoAPI, table string) *DynamoStore {
	return &DynamoStore{api: api, table: table}
}

// Key prefixes and the index of open jobs, shared with template.yaml.
const (
	jobPrefix   = "JOB#"
	leadPrefix  = "LEAD#"
	OpenIndex   = "open-jobs"
	openShard   = "OPEN"
	maxTransact = 100 // DynamoDB's cap on items per transaction
)

// claimable is the condition under which a lead may be claimed: nobody holds
// it, a pending claim lapsed, or any claim expired (TTL deletion lags by
// days, so expiry is compared here and never left to TTL).
const claimable = "attribute_not_exists(pk) OR (claim_state = :pending AND claim_until_ms < :now_ms) OR expires_at < :now_s"

func (d *DynamoStore) Claim(ctx context.Context, owner string, leadIDs []string, now, until time.Time) ([]string, []Claim, error) {
	var claimed []string
	var held []Claim
	for start := 0; start < len(leadIDs); start += maxTransact {
		c, h, err := d.claimBatch(ctx, owner, leadIDs[start:min(start+maxTransact, len(leadIDs))], now, until)
		claimed, held = append(claimed, c...), append(held, h...)
		if err != nil {
			return claimed, held, err
		}
	}
	return claimed, held, nil
}

// claimBatch claims up to 100 leads in one transaction. A transaction is all
// or nothing, so when some leads are held it is cancelled, the cancellation
// reasons name them, and the rest are claimed in another round.
func (d *DynamoStore) claimBatch(ctx context.Context, owner string, ids []string, now, until time.Time) ([]string, []Claim, error) {
	var mine []string // claimed by an earlier try of this call (an SDK retry)
	var held []Claim
	keep := func(c Claim) {
		if c.State == Pending && c.Owner == owner {
			mine = append(mine, c.LeadID)
		} else {
			held = append(held, c)
		}
	}
	values := map[string]types.AttributeValue{
		":pending": dynamoattr.S(string(Pending)),
		":now_ms":  dynamoattr.N(now.UnixMilli()),
		":now_s":   dynamoattr.N(now.Unix()),
	}
	for round := 0; len(ids) > 0; round++ {
		if round == 5 {
			// Only transaction conflicts with other writers get here; the
			// leads count as held by someone else and are retried later.
			for _, id := range ids {
				held = append(held, Claim{LeadID: id, State: Pending, Until: until})
			}
			return mine, held, nil
		}
		items := make([]types.TransactWriteItem, len(ids))
		for i, id := range ids {
			items[i] = types.TransactWriteItem{Put: &types.Put{
				TableName: aws.String(d.table),
				Item: map[string]types.AttributeValue{
					"pk":             dynamoattr.S(leadPrefix + id),
					"kind":           dynamoattr.S("lead"),
					"claim_state":    dynamoattr.S(string(Pending)),
					"owner":          dynamoattr.S(owner),
					"claim_until_ms": dynamoattr.N(until.UnixMilli()),
					"expires_at":     dynamoattr.N(pendingExpiry(until).Unix()),
				},
				ConditionExpression:                 aws.String(claimable),
				ExpressionAttributeValues:           values,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}}
		}
		_, err := d.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return append(mine, ids...), held, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) || len(tce.CancellationReasons) != len(ids) {
			return mine, held, fmt.Errorf("claiming %d leads: %w", len(ids), err)
		}
		var retry, unknown []string
		for i, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				if r.Item != nil {
					keep(claimFromItem(r.Item))
				} else {
					unknown = append(unknown, ids[i])
				}
			case "", "None", "TransactionConflict":
				retry = append(retry, ids[i])
			default:
				return mine, held, fmt.Errorf("claiming lead %s: %s", ids[i], aws.ToString(r.Code))
			}
		}
		if len(unknown) > 0 {
			got, err := d.claims(ctx, unknown)
			if err != nil {
				return mine, held, err
			}
			for _, c := range got {
				keep(c)
			}
		}
		ids = retry
	}
	return mine, held, nil
}

// claims reads claims by lead id (for reasons that came without the item).
func (d *DynamoStore) claims(ctx context.Context, ids []string) ([]Claim, error) {
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = map[string]types.AttributeValue{"pk": dynamoattr.S(leadPrefix + id)}
	}
	var out []Claim
	req := map[string]types.KeysAndAttributes{d.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	for len(req) > 0 {
		res, err := d.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("reading claims: %w", err)
		}
		for _, it := range res.Responses[d.table] {
			out = append(out, claimFromItem(it))
		}
		req = res.UnprocessedKeys
	}
	return out, nil
}

func (d *DynamoStore) Release(ctx context.Context, owner string, leadIDs []string) error {
	var errs []error
	for _, id := range leadIDs {
		_, err := d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                aws.String(d.table),
			Key:                      map[string]types.AttributeValue{"pk": dynamoattr.S(leadPrefix + id)},
			ConditionExpression:      aws.String("claim_state = :pending AND #owner = :owner"),
			ExpressionAttributeNames: map[string]string{"#owner": "owner"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pending": dynamoattr.S(string(Pending)), ":owner": dynamoattr.S(owner)},
		})
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			errs = append(errs, fmt.Errorf("releasing lead %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func (d *DynamoStore) Reject(ctx context.Context, owner, leadID, reason string, expires time.Time) error {
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(d.table),
		Key:                      map[string]types.AttributeValue{"pk": dynamoattr.S(leadPrefix + leadID)},
		UpdateExpression:         aws.String("SET claim_state = :rejected, reason = :reason, expires_at = :exp REMOVE #owner, claim_until_ms"),
		ConditionExpression:      aws.String("claim_state = :pending AND #owner = :owner"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":rejected": dynamoattr.S(string(Rejected)), ":pending": dynamoattr.S(string(Pending)), ":owner": dynamoattr.S(owner),
			":reason": dynamoattr.S(reason), ":exp": dynamoattr.N(expires.Unix()),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("rejecting lead %s: %w", leadID, err)
	}
	return nil
}

// RecordJob writes the job and repoints its claims in one transaction. The
// claim updates are unconditional: Zoho has scheduled the job, so its leads
// belong to it whatever happened to the pending claims meanwhile.
func (d *DynamoStore) RecordJob(ctx context.Context, job Job, claimsExpire time.Time) error {
	job.Version = 1
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName:           aws.String(d.table),
		Item:                jobItem(job),
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}}}
	for _, id := range job.LeadIDs {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                aws.String(d.table),
			Key:                      map[string]types.AttributeValue{"pk": dynamoattr.S(leadPrefix + id)},
			UpdateExpression:         aws.String("SET kind = :lead, claim_state = :sched, job_id = :job, expires_at = :exp REMOVE #owner, claim_until_ms, reason"),
			ExpressionAttributeNames: map[string]string{"#owner": "owner"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":lead": dynamoattr.S("lead"), ":sched": dynamoattr.S(string(ClaimScheduled)), ":job": dynamoattr.S(job.ID), ":exp": dynamoattr.N(claimsExpire.Unix()),
			},
		}})
	}
	if len(items) > maxTransact {
		return fmt.Errorf("job %s has %d leads; a job holds at most %d", job.ID, len(job.LeadIDs), maxTransact-1)
	}
	if _, err := d.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		var tce *types.TransactionCanceledException
		if errors.As(err, &tce) && len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			return errJobExists(job.ID)
		}
		return fmt.Errorf("recording job %s: %w", job.ID, err)
	}
	return nil
}

func (d *DynamoStore) Job(ctx context.Context, id string) (Job, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            map[string]types.AttributeValue{"pk": dynamoattr.S(jobPrefix + id)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Job{}, fmt.Errorf("reading job %s: %w", id, err)
	}
	if out.Item == nil {
		return Job{}, ErrNotFound
	}
	return jobFromItem(out.Item), nil
}

func jobItem(j Job) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"pk":            dynamoattr.S(jobPrefix + j.ID),
		"kind":          dynamoattr.S("job"),
		"job_id":        dynamoattr.S(j.ID),
		"job_status":    dynamoattr.S(string(j.State)),
		"lead_ids":      dynamoattr.L(j.LeadIDs),
		"lead_count":    dynamoattr.N(int64(len(j.LeadIDs))),
		"sources":       dynamoattr.L(j.Sources),
		"created_at":    dynamoattr.S(j.CreatedAt.UTC().Format(time.RFC3339Nano)),
		"updated_at":    dynamoattr.S(j.UpdatedAt.UTC().Format(time.RFC3339Nano)),
		"checks":        dynamoattr.N(int64(j.Checks)),
		"total":         dynamoattr.N(int64(j.Total)),
		"converted":     dynamoattr.N(int64(j.Converted)),
		"not_converted": dynamoattr.N(int64(j.NotConverted)),
		"failed_count":  dynamoattr.N(int64(j.FailedCount)),
		"version":       dynamoattr.N(j.Version),
	}
	optional := map[string]string{"raw_status": j.ZohoStatus, "fingerprint": j.Fingerprint,
		"options": j.Options, "api_version": j.APIVersion, "reason": j.Reason}
	for k, v := range optional {
		if v != "" {
			it[k] = dynamoattr.S(v)
		}
	}
	if !j.CheckedAt.IsZero() {
		it["checked_at"] = dynamoattr.S(j.CheckedAt.UTC().Format(time.RFC3339Nano))
	}
	if j.State.Open() {
		// Only open jobs carry the index keys: the index stays sparse.
		it["open_shard"] = dynamoattr.S(openShard)
		it["next_check_at"] = dynamoattr.N(j.NextCheckAt.Unix())
	}
	if !j.ExpiresAt.IsZero() {
		it["expires_at"] = dynamoattr.N(j.ExpiresAt.Unix())
	}
	return it
}

func jobFromItem(it map[string]types.AttributeValue) Job {
	j := Job{
		ID:           dynamoattr.String(it["job_id"]),
		State:        State(dynamoattr.String(it["job_status"])),
		ZohoStatus:   dynamoattr.String(it["raw_status"]),
		LeadIDs:      dynamoattr.Strings(it["lead_ids"]),
		Fingerprint:  dynamoattr.String(it["fingerprint"]),
		Options:      dynamoattr.String(it["options"]),
		Sources:      dynamoattr.Strings(it["sources"]),
		APIVersion:   dynamoattr.String(it["api_version"]),
		CreatedAt:    timeAttr(it["created_at"]),
		UpdatedAt:    timeAttr(it["updated_at"]),
		CheckedAt:    timeAttr(it["checked_at"]),
		Checks:       int(dynamoattr.Int(it["checks"])),
		Total:        int(dynamoattr.Int(it["total"])),
		Converted:    int(dynamoattr.Int(it["converted"])),
		NotConverted: int(dynamoattr.Int(it["not_converted"])),
		FailedCount:  int(dynamoattr.Int(it["failed_count"])),
		Reason:       dynamoattr.String(it["reason"]),
		Version:      dynamoattr.Int(it["version"]),
	}
	if v := dynamoattr.Int(it["next_check_at"]); v != 0 {
		j.NextCheckAt = time.Unix(v, 0)
	}
	if v := dynamoattr.Int(it["expires_at"]); v != 0 {
		j.ExpiresAt = time.Unix(v, 0)
	}
	return j
}

func claimFromItem(it map[string]types.AttributeValue) Claim {
	c := Claim{
		LeadID: dynamoattr.String(it["pk"])[len(leadPrefix):],
		State:  ClaimState(dynamoattr.String(it["claim_state"])),
		Owner:  dynamoattr.String(it["owner"]),
		JobID:  dynamoattr.String(it["job_id"]),
		Reason: dynamoattr.String(it["reason"]),
	}
	if v := dynamoattr.Int(it["claim_until_ms"]); v != 0 {
		c.Until = time.UnixMilli(v)
	}
	if v := dynamoattr.Int(it["expires_at"]); v != 0 {
		c.ExpiresAt = time.Unix(v, 0)
	}
	return c
}

func timeAttr(v types.AttributeValue) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, dynamoattr.String(v))
	return t
}

// NewDynamoDB returns the DynamoDB client the stores expect. Response
// checksum validation is off: HTTPS already guards integrity, and the SDK's
// validator logs a spurious warning on every error answer, which lack the
// checksum header (aws-sdk-go-v2 issue 3545), and failed conditions are
// routine here.
func NewDynamoDB(cfg aws.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
}
