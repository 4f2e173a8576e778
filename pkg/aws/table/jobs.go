package table

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// API is the part of the DynamoDB client the stores use.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// JobStore keeps jobs and lead claims in the table.
type JobStore struct {
	api   API
	table string
}

var (
	_ jobs.Store      = (*JobStore)(nil)
	_ jobs.CheckStore = (*JobStore)(nil)
)

// NewJobStore returns the job and claim store on table.
func NewJobStore(api API, table string) *JobStore {
	return &JobStore{api: api, table: table}
}

// heldBy is the condition under which :owner holds a claim: pending for a
// run, or parked in a batch (jobs.Owner).
const heldBy = "(claim_state = :pending OR claim_state = :parked) AND #owner = :owner"

// claimable is the condition under which a lead may be claimed: nobody holds
// it, a pending claim lapsed, or any claim expired (TTL deletion lags by
// days, so expiry is compared here and never left to TTL).
//
// It is jobs.LeadProtocol's claimable states written as a condition, with
// jobs.Lapsed's rule: what holds until u has lapsed at now when u <= now.
const claimable = "attribute_not_exists(pk) OR (claim_state = :pending AND claim_until_ms <= :now_ms) OR claim_state = :retry OR claim_state = :lettered OR expires_at <= :now_s"

// pendingClaim makes a claim pending for :owner until :until. It is an
// update, not a put, so that the lead's count of attempts survives.
const pendingClaim = "SET kind = :lead, claim_state = :pending, #owner = :owner, claim_until_ms = :until, expires_at = :exp REMOVE job_id, reason"

// claimWrite is a transaction's write of lead id's claim: an update, not a
// put, so that the lead's count of attempts survives it. A claim that
// stands cancels it and comes back in the cancellation reasons.
func (d *JobStore) claimWrite(id, update, cond string, values map[string]types.AttributeValue) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                           aws.String(d.table),
		Key:                                 leadKey(id),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            map[string]string{"#owner": "owner"},
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

func leadKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": sAttr(LeadPrefix + id)}
}

func (d *JobStore) Claim(ctx context.Context, owner jobs.Owner, leadIDs []string, now, until time.Time) ([]string, []jobs.Claim, error) {
	var claimed []string
	var held []jobs.Claim
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
func (d *JobStore) claimBatch(ctx context.Context, owner jobs.Owner, ids []string, now, until time.Time) ([]string, []jobs.Claim, error) {
	var mine []string // claimed by an earlier try of this call (an SDK retry)
	var held []jobs.Claim
	keep := func(c jobs.Claim) {
		if c.State == jobs.Pending && c.Owner == owner {
			mine = append(mine, c.LeadID)
		} else {
			held = append(held, c)
		}
	}
	values := map[string]types.AttributeValue{
		":pending":  sAttr(string(jobs.Pending)),
		":retry":    sAttr(string(jobs.Retry)),
		":lettered": sAttr(string(jobs.Lettered)),
		":now_ms":   nAttr(now.UnixMilli()),
		":now_s":    nAttr(now.Unix()),
		":lead":     sAttr("lead"),
		":owner":    sAttr(string(owner)),
		":until":    nAttr(until.UnixMilli()),
		":exp":      nAttr(jobs.PendingExpiry(until).Unix()),
	}
	for round := 0; len(ids) > 0; round++ {
		if round == 5 {
			// Only transaction conflicts with other writers get here; the
			// leads count as held by someone else and are retried later.
			for _, id := range ids {
				held = append(held, jobs.Claim{LeadID: id, State: jobs.Pending, Until: until})
			}
			return mine, held, nil
		}
		items := make([]types.TransactWriteItem, len(ids))
		for i, id := range ids {
			items[i] = d.claimWrite(id, pendingClaim, claimable, values)
		}
		_, err := d.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return append(mine, ids...), held, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) || len(tce.CancellationReasons) != len(ids) {
			return mine, held, fmt.Errorf("claiming %d leads: %w", len(ids), err)
		}
		again, err := d.sortCancelled(ctx, tce.CancellationReasons, ids, keep)
		if err != nil {
			return mine, held, fmt.Errorf("claiming: %w", err)
		}
		retry := make([]string, len(again))
		for k, i := range again {
			retry[k] = ids[i]
		}
		ids = retry
	}
	return mine, held, nil
}

// sortCancelled reads the reasons a transaction of claim writes (one per id,
// in order) was cancelled: a claim that stands goes to keep (read back when
// the reason came without the item); the indexes of writes that only met a
// conflict with another transaction are returned, to try again.
func (d *JobStore) sortCancelled(ctx context.Context, reasons []types.CancellationReason, ids []string, keep func(jobs.Claim)) ([]int, error) {
	var again []int
	var unknown []string
	for i, r := range reasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			if r.Item != nil {
				keep(claimFromItem(r.Item))
			} else {
				unknown = append(unknown, ids[i])
			}
		case "", "None", "TransactionConflict":
			again = append(again, i)
		default:
			return nil, fmt.Errorf("lead %s: %s", ids[i], aws.ToString(r.Code))
		}
	}
	if len(unknown) > 0 {
		got, err := d.Claims(ctx, unknown)
		if err != nil {
			return nil, err
		}
		for _, c := range got {
			keep(c)
		}
	}
	return again, nil
}

// Claims reads the claims of leadIDs, strongly consistent; leads without a
// claim are left out.
func (d *JobStore) Claims(ctx context.Context, ids []string) ([]jobs.Claim, error) {
	var out []jobs.Claim
	err := d.batchGet(ctx, prefixed(LeadPrefix, ids), func(ka *types.KeysAndAttributes) { ka.ConsistentRead = aws.Bool(true) },
		func(it map[string]types.AttributeValue) { out = append(out, claimFromItem(it)) })
	if err != nil {
		return nil, fmt.Errorf("reading claims: %w", err)
	}
	return out, nil
}

// Release deletes the claims a few at a time in parallel: a chunk's claims
// must go within the little time an invocation has left.
func (d *JobStore) Release(ctx context.Context, owner jobs.Owner, leadIDs []string) error {
	errs := make([]error, len(leadIDs))
	sem := make(chan struct{}, releaseConcurrency)
	var wg sync.WaitGroup
	for i, id := range leadIDs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName:                aws.String(d.table),
				Key:                      map[string]types.AttributeValue{"pk": sAttr(LeadPrefix + id)},
				ConditionExpression:      aws.String(heldBy),
				ExpressionAttributeNames: map[string]string{"#owner": "owner"},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":pending": sAttr(string(jobs.Pending)), ":parked": sAttr(string(jobs.Parked)), ":owner": sAttr(string(owner))},
			})
			var ccf *types.ConditionalCheckFailedException
			if err != nil && !errors.As(err, &ccf) {
				errs[i] = fmt.Errorf("releasing lead %s: %w", id, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// releaseConcurrency bounds the deletes of one Release in flight.
const releaseConcurrency = 10

func (d *JobStore) Reject(ctx context.Context, owner jobs.Owner, leadID, reason string, expires time.Time) error {
	return d.verdict(ctx, owner, leadID, jobs.Rejected, reason, expires)
}

func (d *JobStore) Letter(ctx context.Context, owner jobs.Owner, leadID, reason string, expires time.Time) error {
	return d.verdict(ctx, owner, leadID, jobs.Lettered, reason, expires)
}

// verdict gives a lead owner holds its end: rejected or lettered, with the
// reason, its counts starting again. The claim keeps its owner: a lettered
// lead names the batch whose letter must carry it (a takeover sends the
// letter again for the leads of a batch whose letter was not sent).
func (d *JobStore) verdict(ctx context.Context, owner jobs.Owner, leadID string, state jobs.ClaimState, reason string, expires time.Time) error {
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(d.table),
		Key:                      leadKey(leadID),
		UpdateExpression:         aws.String("SET claim_state = :state, reason = :reason, expires_at = :exp REMOVE claim_until_ms, attempts, doubts"),
		ConditionExpression:      aws.String(heldBy),
		ExpressionAttributeNames: map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":state": sAttr(string(state)), ":pending": sAttr(string(jobs.Pending)), ":parked": sAttr(string(jobs.Parked)), ":owner": sAttr(string(owner)),
			":reason": sAttr(reason), ":exp": nAttr(expires.Unix()),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("recording lead %s %s: %w", leadID, state, err)
	}
	return nil
}

// RecordJob writes the job's two items and repoints its claims in one
// transaction. The claim updates are unconditional: Zoho has scheduled the
// job, so its leads belong to it whatever happened to the pending claims
// meanwhile. The JOB# item is never written again, so it expires with the
// claims that point at it.
func (d *JobStore) RecordJob(ctx context.Context, job jobs.Job, claimsExpire time.Time) error {
	mine, check := JobItems(job, claimsExpire)
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName:                           aws.String(d.table),
		Item:                                mine,
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}, {Put: &types.Put{
		TableName: aws.String(d.table),
		Item:      check,
	}}}
	state := jobs.ClaimScheduled
	if job.State == jobs.InDoubt {
		state = jobs.ClaimInDoubt
	}
	// Each call that carried a lead is one of its attempts; a call in doubt
	// that may not have carried it counts as a doubt.
	count := "attempts"
	if job.NoAttempt {
		count = "doubts"
	}
	for _, id := range job.LeadIDs {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                aws.String(d.table),
			Key:                      leadKey(id),
			UpdateExpression:         aws.String("SET kind = :lead, claim_state = :state, job_id = :job, expires_at = :exp ADD " + count + " :one REMOVE #owner, claim_until_ms, reason"),
			ExpressionAttributeNames: map[string]string{"#owner": "owner"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":lead": sAttr("lead"), ":state": sAttr(string(state)), ":job": sAttr(job.ID), ":exp": nAttr(claimsExpire.Unix()), ":one": nAttr(1),
			},
		}})
	}
	if job.Batch != (jobs.BatchKey{}) {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(d.table), Key: map[string]types.AttributeValue{"pk": sAttr(BatchPrefix + job.Batch.String())}}})
	}
	if len(items) > maxTransact {
		return fmt.Errorf("job %s has %d leads; a job holds at most %d", job.ID, len(job.LeadIDs), maxTransact-3)
	}
	if _, err := d.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		var tce *types.TransactionCanceledException
		if errors.As(err, &tce) && len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			if sameJob(tce.CancellationReasons[0].Item, mine) {
				// This very write, applied by an attempt whose answer was
				// lost: the transaction did all of it.
				return nil
			}
			return jobs.JobExistsError(job.ID)
		}
		return fmt.Errorf("recording job %s: %w", job.ID, err)
	}
	return nil
}

// Job reads the job's two items, strongly consistent. A job the previous
// version recorded has no CHK# item: its JOB# item holds everything.
func (d *JobStore) Job(ctx context.Context, id string) (jobs.Job, error) {
	var job, check map[string]types.AttributeValue
	err := d.batchGet(ctx, []string{JobPrefix + id, CheckPrefix + id}, func(ka *types.KeysAndAttributes) { ka.ConsistentRead = aws.Bool(true) },
		func(it map[string]types.AttributeValue) {
			if strings.HasPrefix(str(it["pk"]), CheckPrefix) {
				check = it
			} else {
				job = it
			}
		})
	if err != nil {
		return jobs.Job{}, fmt.Errorf("reading job %s: %w", id, err)
	}
	if job == nil && check == nil {
		return jobs.Job{}, jobs.ErrNotFound
	}
	return jobFromItems(job, check), nil
}

// sameJob reports whether the stored job item is the one mine would write:
// the same leads, recorded at the same instant.
func sameJob(stored, mine map[string]types.AttributeValue) bool {
	return stored != nil && str(stored["created_at"]) == str(mine["created_at"]) &&
		slices.Equal(strs(stored["lead_ids"]), strs(mine["lead_ids"]))
}

// JobItems are the JOB# and CHK# items RecordJob puts for j, whose
// claims expire at claimsExpire.
func JobItems(j jobs.Job, claimsExpire time.Time) (job, check map[string]types.AttributeValue) {
	j.Version = 1 // each check's write adds one
	return jobItem(j, claimsExpire), checkItem(j)
}

// jobItem is the JOB# item: what a check never changes. expires is when
// the claims of its leads expire.
func jobItem(j jobs.Job, expires time.Time) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"pk":         sAttr(JobPrefix + j.ID),
		"kind":       sAttr("job"),
		"job_id":     sAttr(j.ID),
		"lead_ids":   lAttr(j.LeadIDs),
		"lead_count": nAttr(int64(len(j.LeadIDs))),
		"sources":    lAttr(j.Sources),
		"created_at": sAttr(j.CreatedAt.UTC().Format(time.RFC3339Nano)),
		"expires_at": nAttr(expires.Unix()),
	}
	if j.Batch != (jobs.BatchKey{}) {
		it["batch"] = sAttr(j.Batch.String())
	}
	optional := map[string]string{"fingerprint": j.Fingerprint, "options": j.Options, "api_version": j.APIVersion}
	for k, v := range optional {
		if v != "" {
			it[k] = sAttr(v)
		}
	}
	return it
}

// checkItem is the CHK# item of a job as recorded: its state, counts and
// next check. It stays far under 1 KB, the unit of a write.
func checkItem(j jobs.Job) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"pk":            sAttr(CheckPrefix + j.ID),
		"kind":          sAttr("check"),
		"job_id":        sAttr(j.ID),
		"job_status":    sAttr(string(j.State)),
		"created_at":    sAttr(j.CreatedAt.UTC().Format(time.RFC3339Nano)),
		"updated_at":    sAttr(j.UpdatedAt.UTC().Format(time.RFC3339Nano)),
		"checks":        nAttr(int64(j.Checks)),
		"total":         nAttr(int64(j.Total)),
		"converted":     nAttr(int64(j.Converted)),
		"not_converted": nAttr(int64(j.NotConvertedFigure())),
		"failed_count":  nAttr(int64(j.FailedCount)),
		"version":       nAttr(j.Version),
	}
	if j.State.Open() {
		// Only open jobs carry the index's hash key: the index stays sparse.
		it["open_shard"] = sAttr(openShard)
		it["due_at"] = nAttr(j.NextCheckAt.Unix())
	}
	return it
}

// jobFromItems reads a job from its JOB# item and its CHK# item, either of
// which may be nil. Without a CHK# item (a job the previous version
// recorded) the JOB# item holds the state too.
func jobFromItems(job, check map[string]types.AttributeValue) jobs.Job {
	j := jobs.Job{
		ID:          str(job["job_id"]),
		State:       jobs.State(str(job["job_status"])),
		ZohoStatus:  str(job["raw_status"]),
		LeadIDs:     strs(job["lead_ids"]),
		Fingerprint: str(job["fingerprint"]),
		Options:     str(job["options"]),
		Sources:     strs(job["sources"]),
		APIVersion:  str(job["api_version"]),
		CreatedAt:   timeAttr(job["created_at"]),
		UpdatedAt:   timeAttr(job["updated_at"]),
		CheckedAt:   timeAttr(job["checked_at"]),
		Checks:      int(num(job["checks"])),
		Total:       int(num(job["total"])),
		Converted:   int(num(job["converted"])),
		FailedCount: int(num(job["failed_count"])),
		Reason:      str(job["reason"]),
		Version:     num(job["version"]),
		Batch:       jobs.ParseBatchKey(str(job["batch"])),
		NextCheckAt: unixAttr(job["next_check_at"]),
		ExpiresAt:   unixAttr(job["expires_at"]),
		Results:     resultsFromAttr(job["results"]),
	}
	if check == nil {
		j.SetNotConvertedFigure(int(num(job["not_converted"])))
		return j
	}
	j.ID, j.State, j.ZohoStatus = str(check["job_id"]), jobs.State(str(check["job_status"])), str(check["raw_status"])
	j.CreatedAt, j.UpdatedAt, j.CheckedAt = timeAttr(check["created_at"]), timeAttr(check["updated_at"]), timeAttr(check["checked_at"])
	j.Checks, j.Total, j.Converted = int(num(check["checks"])), int(num(check["total"])), int(num(check["converted"]))
	j.SetNotConvertedFigure(int(num(check["not_converted"])))
	j.FailedCount = int(num(check["failed_count"]))
	j.Reason, j.Version = str(check["reason"]), num(check["version"])
	// A job's expiry is its check's, set once the job ends; the JOB# item's
	// is when the claims of its leads expire.
	j.NextCheckAt, j.ExpiresAt = unixAttr(check["due_at"]), unixAttr(check["expires_at"])
	return j
}

// unixAttr reads a number of unix seconds; absent, the zero time.
func unixAttr(v types.AttributeValue) time.Time {
	if n := num(v); n != 0 {
		return time.Unix(n, 0)
	}
	return time.Time{}
}

func claimFromItem(it map[string]types.AttributeValue) jobs.Claim {
	c := jobs.Claim{
		LeadID:   str(it["pk"])[len(LeadPrefix):],
		State:    jobs.ClaimState(str(it["claim_state"])),
		Owner:    jobs.Owner(str(it["owner"])),
		JobID:    str(it["job_id"]),
		Reason:   str(it["reason"]),
		Attempts: int(num(it["attempts"])),
		Doubts:   int(num(it["doubts"])),
	}
	if v := num(it["claim_until_ms"]); v != 0 {
		c.Until = time.UnixMilli(v)
	}
	if v := num(it["expires_at"]); v != 0 {
		c.ExpiresAt = time.Unix(v, 0)
	}
	return c
}

// ClaimItem is the LEAD# item holding c, as the table's writes leave it.
// They are updates, so that a lead's counts survive its claims; the
// table's tests hold this in step with them.
func ClaimItem(c jobs.Claim) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{"pk": sAttr(LeadPrefix + c.LeadID), "kind": sAttr("lead"), "claim_state": sAttr(string(c.State))}
	for name, v := range map[string]string{"owner": string(c.Owner), "job_id": c.JobID, "reason": c.Reason} {
		if v != "" {
			it[name] = sAttr(v)
		}
	}
	for name, v := range map[string]int{"attempts": c.Attempts, "doubts": c.Doubts} {
		if v != 0 {
			it[name] = nAttr(int64(v))
		}
	}
	if !c.Until.IsZero() {
		it["claim_until_ms"] = nAttr(c.Until.UnixMilli())
	}
	if !c.ExpiresAt.IsZero() {
		it["expires_at"] = nAttr(c.ExpiresAt.Unix())
	}
	return it
}

func timeAttr(v types.AttributeValue) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, str(v))
	return t
}

// NewClient returns the DynamoDB client the stores expect. Response
// checksum validation is off: HTTPS already guards integrity, and the SDK's
// validator logs a spurious warning on every error answer, which lack the
// checksum header (aws-sdk-go-v2 issue 3545), and failed conditions are
// routine here.
func NewClient(cfg aws.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
}
