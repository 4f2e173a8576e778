package jobs

import (
	"cmp"
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
	"github.com/zoho-bridge/leadconvert/internal/dynamoattr"
)

// ErrConflict is returned by SaveCheck when the job is no longer at the
// version the caller read: another run has checked it meanwhile.
var ErrConflict = errors.New("jobs: the job changed since it was read")

// CheckStore is what the status function needs: the due jobs, oldest
// first, and conditional updates of the jobs it checks.
type CheckStore interface {
	// DueJobs returns up to limit ids of open jobs whose next check is at
	// or before now, the oldest due first, and a cursor for the next page
	// ("" when there is none; a page may be empty).
	DueJobs(ctx context.Context, now time.Time, limit int, cursor string) (ids []string, next string, err error)
	// CountDue counts the open jobs due at now after cursor ("" from the
	// start), for reporting what a run left for the next one.
	CountDue(ctx context.Context, now time.Time, cursor string) (int, error)
	// Jobs reads jobs by id, in the order given, without unknown ids and
	// duplicates. The options of the request are left out.
	Jobs(ctx context.Context, ids []string) ([]Job, error)
	// SaveCheck stores the outcome of a status check: State, ZohoStatus, the
	// four counts, CheckedAt, UpdatedAt, Checks, Reason, and NextCheckAt
	// while the job is open (it stays in the open index) or ExpiresAt once
	// it is terminal (it leaves the index). The version becomes
	// prevVersion+1; ErrConflict when it was no longer prevVersion.
	SaveCheck(ctx context.Context, job Job, prevVersion int64) error
	// ReleaseJobClaims drops the claims that still point at job, so that
	// its leads can be submitted again, and returns how many it dropped.
	ReleaseJobClaims(ctx context.Context, job Job) (int, error)
}

var (
	_ CheckStore = (*DynamoStore)(nil)
	_ CheckStore = (*MemoryStore)(nil)
)

func checkSave(job Job) error {
	if job.State.Open() && job.NextCheckAt.IsZero() {
		return fmt.Errorf("jobs: job %s is open without a next check", job.ID)
	}
	return nil
}

// ---- DynamoDB ----

// jobAttributes are the attributes Jobs reads: everything but the options,
// which may be large and which the checker never needs.
var jobAttributes = []string{"pk", "job_id", "job_status", "raw_status", "lead_ids", "sources",
	"fingerprint", "api_version", "created_at", "updated_at", "checked_at", "checks", "total",
	"converted", "not_converted", "failed_count", "reason", "version", "next_check_at", "expires_at"}

func (d *DynamoStore) dueQuery(now time.Time, cursor string) (*dynamodb.QueryInput, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		IndexName:              aws.String(OpenIndex),
		KeyConditionExpression: aws.String("open_shard = :open AND next_check_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":open": dynamoattr.S(openShard), ":now": dynamoattr.N(now.Unix())},
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

func (d *DynamoStore) DueJobs(ctx context.Context, now time.Time, limit int, cursor string) ([]string, string, error) {
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
		ids = append(ids, strings.TrimPrefix(dynamoattr.String(it["pk"]), jobPrefix))
	}
	return ids, encodeCursor(out.LastEvaluatedKey), nil
}

func (d *DynamoStore) CountDue(ctx context.Context, now time.Time, cursor string) (int, error) {
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
			key[k] = dynamoattr.S(v[1:])
		case strings.HasPrefix(v, "N"):
			key[k] = &types.AttributeValueMemberN{Value: v[1:]}
		default:
			return nil, fmt.Errorf("jobs: malformed cursor")
		}
	}
	return key, nil
}

// maxBatchGet is DynamoDB's cap on keys per BatchGetItem.
const maxBatchGet = 100

// Jobs reads with BatchGetItem, eventually consistent: a job read a little
// stale fails SaveCheck's condition, which is what guards correctness.
func (d *DynamoStore) Jobs(ctx context.Context, ids []string) ([]Job, error) {
	ids = uniq(ids)
	names := make(map[string]string, len(jobAttributes))
	proj := make([]string, len(jobAttributes))
	for i, a := range jobAttributes {
		ph := "#a" + strconv.Itoa(i) // some attribute names are reserved words
		names[ph], proj[i] = a, ph
	}
	byID := make(map[string]Job, len(ids))
	for chunk := range slices.Chunk(ids, maxBatchGet) {
		keys := make([]map[string]types.AttributeValue, len(chunk))
		for i, id := range chunk {
			keys[i] = map[string]types.AttributeValue{"pk": dynamoattr.S(jobPrefix + id)}
		}
		req := map[string]types.KeysAndAttributes{d.table: {Keys: keys,
			ProjectionExpression: aws.String(strings.Join(proj, ", ")), ExpressionAttributeNames: names}}
		for round := 0; len(req) > 0; round++ {
			if round > 0 {
				// Unprocessed keys mean throttling: back off before asking again.
				if err := pause(ctx, min(25*time.Millisecond<<round, time.Second)); err != nil {
					return nil, fmt.Errorf("reading jobs: %w", err)
				}
			}
			out, err := d.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("reading jobs: %w", err)
			}
			for _, it := range out.Responses[d.table] {
				j := jobFromItem(it)
				byID[j.ID] = j
			}
			req = out.UnprocessedKeys
		}
	}
	out := make([]Job, 0, len(byID))
	for _, id := range ids {
		if j, ok := byID[id]; ok {
			out = append(out, j)
		}
	}
	return out, nil
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

func uniq(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func (d *DynamoStore) SaveCheck(ctx context.Context, job Job, prevVersion int64) error {
	if err := checkSave(job); err != nil {
		return err
	}
	names := map[string]string{"#st": "job_status", "#raw": "raw_status", "#total": "total",
		"#conv": "converted", "#notconv": "not_converted", "#failed": "failed_count",
		"#checked": "checked_at", "#updated": "updated_at", "#checks": "checks", "#v": "version",
		"#reason": "reason", "#shard": "open_shard", "#next": "next_check_at", "#exp": "expires_at"}
	values := map[string]types.AttributeValue{
		":st": dynamoattr.S(string(job.State)), ":total": dynamoattr.N(int64(job.Total)), ":conv": dynamoattr.N(int64(job.Converted)),
		":notconv": dynamoattr.N(int64(job.NotConverted)), ":failed": dynamoattr.N(int64(job.FailedCount)),
		":checked": dynamoattr.S(job.CheckedAt.UTC().Format(time.RFC3339Nano)),
		":updated": dynamoattr.S(job.UpdatedAt.UTC().Format(time.RFC3339Nano)),
		":checks":  dynamoattr.N(int64(job.Checks)), ":prev": dynamoattr.N(prevVersion), ":v": dynamoattr.N(prevVersion + 1),
	}
	set := []string{"#st = :st", "#total = :total", "#conv = :conv", "#notconv = :notconv",
		"#failed = :failed", "#checked = :checked", "#updated = :updated", "#checks = :checks", "#v = :v"}
	var remove []string
	optional := func(name, ph, v string) {
		if v == "" {
			remove = append(remove, name)
			return
		}
		set, values[ph] = append(set, name+" = "+ph), dynamoattr.S(v)
	}
	optional("#raw", ":raw", job.ZohoStatus)
	optional("#reason", ":reason", job.Reason)
	if job.State.Open() {
		set = append(set, "#shard = :shard", "#next = :next")
		values[":shard"], values[":next"] = dynamoattr.S(openShard), dynamoattr.N(job.NextCheckAt.Unix())
		remove = append(remove, "#exp")
	} else {
		// Without the index keys the job leaves the sparse index.
		remove = append(remove, "#shard", "#next")
		if job.ExpiresAt.IsZero() {
			remove = append(remove, "#exp")
		} else {
			set, values[":exp"] = append(set, "#exp = :exp"), dynamoattr.N(job.ExpiresAt.Unix())
		}
	}
	update := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		update += " REMOVE " + strings.Join(remove, ", ")
	}
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(d.table),
		Key:                                 map[string]types.AttributeValue{"pk": dynamoattr.S(jobPrefix + job.ID)},
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String("#v = :prev"),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf) && ccf.Item == nil:
		return ErrNotFound
	case errors.As(err, &ccf):
		return ErrConflict
	case err != nil:
		return fmt.Errorf("saving the check of job %s: %w", job.ID, err)
	}
	return nil
}

// ReleaseJobClaims deletes each claim on the condition that it still points
// at job: a lead submitted again meanwhile belongs to its new job.
func (d *DynamoStore) ReleaseJobClaims(ctx context.Context, job Job) (int, error) {
	released := 0
	var errs []error
	for _, id := range uniq(job.LeadIDs) {
		_, err := d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:           aws.String(d.table),
			Key:                 map[string]types.AttributeValue{"pk": dynamoattr.S(leadPrefix + id)},
			ConditionExpression: aws.String("claim_state = :sched AND job_id = :job"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":sched": dynamoattr.S(string(ClaimScheduled)), ":job": dynamoattr.S(job.ID)},
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

// ---- memory ----

// dueKey orders the open index as DynamoDB does: by next_check_at in unix
// seconds, then (our choice for ties) by id.
type dueKey struct {
	at int64
	id string
}

func (k dueKey) String() string { return strconv.FormatInt(k.at, 10) + "/" + k.id }

func (m *MemoryStore) due(now time.Time, cursor string) ([]dueKey, error) {
	var after *dueKey
	if cursor != "" {
		at, id, ok := strings.Cut(cursor, "/")
		v, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("jobs: malformed cursor")
		}
		after = &dueKey{v, id}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []dueKey
	for id, j := range m.jobs {
		k := dueKey{j.NextCheckAt.Unix(), id}
		if j.State.Open() && k.at <= now.Unix() && (after == nil || cmpDue(k, *after) > 0) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, cmpDue)
	return keys, nil
}

func cmpDue(a, b dueKey) int {
	return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id))
}

func (m *MemoryStore) DueJobs(_ context.Context, now time.Time, limit int, cursor string) ([]string, string, error) {
	keys, err := m.due(now, cursor)
	if err != nil {
		return nil, "", err
	}
	limit = max(limit, 1)
	next := ""
	if len(keys) > limit {
		keys, next = keys[:limit], keys[limit-1].String()
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	return ids, next, nil
}

func (m *MemoryStore) CountDue(_ context.Context, now time.Time, cursor string) (int, error) {
	keys, err := m.due(now, cursor)
	return len(keys), err
}

func (m *MemoryStore) Jobs(_ context.Context, ids []string) ([]Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Job
	for _, id := range uniq(ids) {
		if j, ok := m.jobs[id]; ok {
			j.LeadIDs, j.Sources, j.Options = slices.Clone(j.LeadIDs), slices.Clone(j.Sources), ""
			out = append(out, j)
		}
	}
	return out, nil
}

func (m *MemoryStore) SaveCheck(_ context.Context, job Job, prevVersion int64) error {
	if err := checkSave(job); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[job.ID]
	switch {
	case !ok:
		return ErrNotFound
	case j.Version != prevVersion:
		return ErrConflict
	}
	j.State, j.ZohoStatus, j.Reason = job.State, job.ZohoStatus, job.Reason
	j.Total, j.Converted, j.NotConverted, j.FailedCount = job.Total, job.Converted, job.NotConverted, job.FailedCount
	j.CheckedAt, j.UpdatedAt, j.Checks = job.CheckedAt, job.UpdatedAt, job.Checks
	// Times are kept to the second, as DynamoDB keeps them.
	if job.State.Open() {
		j.NextCheckAt, j.ExpiresAt = time.Unix(job.NextCheckAt.Unix(), 0), time.Time{}
	} else {
		j.NextCheckAt, j.ExpiresAt = time.Time{}, time.Time{}
		if !job.ExpiresAt.IsZero() {
			j.ExpiresAt = time.Unix(job.ExpiresAt.Unix(), 0)
		}
	}
	j.Version = prevVersion + 1
	m.jobs[job.ID] = j
	return nil
}

func (m *MemoryStore) ReleaseJobClaims(_ context.Context, job Job) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	released := 0
	for _, id := range uniq(job.LeadIDs) {
		if c, ok := m.claims[id]; ok && c.State == ClaimScheduled && c.JobID == job.ID {
			delete(m.claims, id)
			released++
		}
	}
	return released, nil
}
