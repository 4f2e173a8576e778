package table

import (
	"cmp"
	"context"
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

// jobAttributes are the attributes Jobs reads of both items: everything
// but the options, which may be large and which the checker never needs.
var jobAttributes = []string{"pk", "job_id", "job_status", "raw_status", "lead_ids", "sources",
	"fingerprint", "api_version", "created_at", "updated_at", "checked_at", "checks", "total",
	"converted", "not_converted", "failed_count", "reason", "version", "due_at", "next_check_at", "expires_at"}

// dueJobs reads the whole open-checks index and returns the ids of the
// jobs due at now, oldest due first (then by id). The index is keyed on
// what a check never changes, so it cannot stop at now: it reads every
// open job's entry (under 100 bytes), due or not, in 1 MB pages, and
// filters; docs/architecture.md has what that costs. A job the previous
// version recorded is due by its next_check_at.
func (d *JobStore) dueJobs(ctx context.Context, now time.Time) ([]string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		IndexName:                 aws.String(OpenIndex),
		KeyConditionExpression:    aws.String("open_shard = :open"),
		FilterExpression:          aws.String("due_at <= :now OR next_check_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":open": sAttr(openShard), ":now": nAttr(now.Unix())},
	}
	type due struct {
		at int64
		id string
	}
	var all []due
	for {
		out, err := d.api.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("querying due jobs: %w", err)
		}
		for _, it := range out.Items {
			pk := str(it["pk"])
			at := num(it["due_at"])
			if strings.HasPrefix(pk, JobPrefix) {
				at = num(it["next_check_at"])
			}
			all = append(all, due{at, strings.TrimPrefix(strings.TrimPrefix(pk, CheckPrefix), JobPrefix)})
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	slices.SortFunc(all, func(a, b due) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id)) })
	ids := make([]string, len(all))
	for i, x := range all {
		ids[i] = x.id
	}
	return ids, nil
}

// DueJobs reads the due jobs once, for the first page; the cursor holds
// the ids of the pages to come. So the index is read once a run, as the
// run's count of what it left would read it anyway, and a job checked
// meanwhile cannot shift a page.
func (d *JobStore) DueJobs(ctx context.Context, now time.Time, limit int, cursor string) ([]string, string, error) {
	ids, err := d.dueFrom(ctx, now, cursor)
	if err != nil {
		return nil, "", err
	}
	limit = max(limit, 1)
	if len(ids) <= limit {
		return ids, "", nil
	}
	return ids[:limit], dueCursorPrefix + strings.Join(ids[limit:], ","), nil
}

// CountDue counts the ids the cursor holds; from the start, it reads the
// index.
func (d *JobStore) CountDue(ctx context.Context, now time.Time, cursor string) (int, error) {
	ids, err := d.dueFrom(ctx, now, cursor)
	return len(ids), err
}

const dueCursorPrefix = "due:"

// dueFrom is the due jobs from cursor on: read from the index for "".
func (d *JobStore) dueFrom(ctx context.Context, now time.Time, cursor string) ([]string, error) {
	if cursor == "" {
		return d.dueJobs(ctx, now)
	}
	rest, ok := strings.CutPrefix(cursor, dueCursorPrefix)
	ids := strings.Split(rest, ",")
	for _, id := range ids {
		if !ok || !jobs.IsJobID(id) {
			return nil, fmt.Errorf("jobs: malformed cursor")
		}
	}
	return ids, nil
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
		pks = append(pks, JobPrefix+id, CheckPrefix+id)
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
		job, check := items[JobPrefix+id], items[CheckPrefix+id]
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
// version did, until it ends.
func (d *JobStore) SaveCheck(ctx context.Context, job jobs.Job, prevVersion int64) error {
	if err := jobs.CheckSaveable(job); err != nil {
		return err
	}
	err := d.updateCheck(ctx, CheckPrefix+job.ID, "due_at", job, prevVersion)
	if errors.Is(err, jobs.ErrNotFound) {
		return d.updateCheck(ctx, JobPrefix+job.ID, "next_check_at", job, prevVersion)
	}
	return err
}

// updateCheck writes a check into the item pk, conditional on its version;
// due names the item's next-check attribute (the previous version's JOB#
// items call it next_check_at, and keep it in both indexes until the job
// ends: it goes with LegacyOpenIndex). A missing item is ErrNotFound.
func (d *JobStore) updateCheck(ctx context.Context, pk, due string, job jobs.Job, prevVersion int64) error {
	names := map[string]string{"#st": "job_status", "#raw": "raw_status", "#total": "total",
		"#conv": "converted", "#notconv": "not_converted", "#failed": "failed_count",
		"#checked": "checked_at", "#updated": "updated_at", "#checks": "checks", "#v": "version",
		"#reason": "reason", "#shard": "open_shard", "#due": due, "#exp": "expires_at"}
	update, values := checkUpdate(job, prevVersion, "#shard", "#due")
	// The save ends the run's check lease (LeaseCheck), if it took one.
	names["#lo"], names["#lu"] = "check_lease", "check_lease_until_ms"
	if strings.Contains(update, " REMOVE ") {
		update += ", #lo, #lu"
	} else {
		update += " REMOVE #lo, #lu"
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       map[string]types.AttributeValue{"pk": sAttr(pk)},
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#v = :prev"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
	st := newStamp()
	st.mark(in)
	_, err := d.api.UpdateItem(ctx, in)
	if st.applied(err) {
		return nil
	}
	return conditionOf(err, jobs.ErrConflict, "saving the check of job "+job.ID)
}

// checkUpdate is the update expression of a check and its values: the
// state, the counts, the version, and while the job is open the index's
// hash key shard and the next check (due), which go once it ends.
func checkUpdate(job jobs.Job, prevVersion int64, shard, due string) (string, map[string]types.AttributeValue) {
	values := map[string]types.AttributeValue{
		":st": sAttr(string(job.State)), ":total": nAttr(int64(job.Total)), ":conv": nAttr(int64(job.Converted)),
		":notconv": nAttr(int64(job.NotConvertedFigure())), ":failed": nAttr(int64(job.FailedCount)),
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

// SettleLeads writes the job's results, then moves each claim Settle
// decides to move, on the condition that it is still as read: a lead sent
// again meanwhile belongs to its new job. Both writes repeat harmlessly, so
// a run that dies between them is finished by the next.
func (d *JobStore) SettleLeads(ctx context.Context, job jobs.Job, results []jobs.LeadResult, p jobs.SettlePolicy) ([]string, error) {
	if len(results) > 0 {
		_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(d.table),
			Key:                       map[string]types.AttributeValue{"pk": sAttr(JobPrefix + job.ID)},
			UpdateExpression:          aws.String("SET results = :r"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":r": resultsAttr(results)},
		})
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			return nil, fmt.Errorf("storing the results of job %s: %w", job.ID, err)
		}
	}
	// Only a lead Zoho did not convert may move: the claims of the others
	// are not even read (a clean job of 50 leads would cost 50 read units).
	var ids []string
	for _, r := range results {
		if r.Conversion != jobs.Converted {
			ids = append(ids, r.LeadID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
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
			moved, now, err := d.moveClaim(ctx, c, next)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !moved {
				// It moved on since the read. If another run settling this
				// very job moved it to retry, this run sends it too (settling
				// repeats harmlessly, and that run may fail before it sends);
				// any other move leaves it to its new holder.
				if now != nil && now.State == jobs.Retry && now.JobID == job.ID {
					retry = append(retry, c.LeadID)
				}
				continue
			}
			if next.State == jobs.Rejected && p.Rejected != nil {
				p.Rejected(c, byID[c.LeadID])
			}
		}
		if next.State == jobs.Retry && next.JobID == job.ID {
			retry = append(retry, c.LeadID)
		}
	}
	return retry, errors.Join(errs...)
}

// moveClaim writes next over claim c if c is still what was read, and
// reports whether it did; a claim that changed meanwhile is left to its
// new holder, and now is that claim as the failed condition found it (nil
// when it is gone), so the caller needs no second read.
func (d *JobStore) moveClaim(ctx context.Context, c, next jobs.Claim) (moved bool, now *jobs.Claim, err error) {
	values := map[string]types.AttributeValue{":seen": sAttr(string(c.State)), ":job": sAttr(c.JobID),
		":state": sAttr(string(next.State)), ":exp": nAttr(next.ExpiresAt.Unix())}
	update := "SET claim_state = :state, expires_at = :exp"
	switch next.State {
	case jobs.Retry:
		update += ", job_id = :job"
	case jobs.Rejected:
		update += ", reason = :reason REMOVE job_id, attempts, doubts"
		values[":reason"] = sAttr(next.Reason)
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       leadKey(c.LeadID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("claim_state = :seen AND job_id = :job"),
		ExpressionAttributeValues: values,
	}
	// Stamped: a retry of a move that was applied finds the claim moved,
	// and must still report the move (a rejection is announced once).
	st := newStamp()
	st.mark(in)
	_, err = d.api.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case st.applied(err):
	case errors.As(err, &ccf) && ccf.Item != nil:
		cur := claimFromItem(ccf.Item)
		return false, &cur, nil
	case errors.As(err, &ccf):
		return false, nil, nil // the claim is gone
	case err != nil:
		return false, nil, fmt.Errorf("settling lead %s of job %s: %w", c.LeadID, c.JobID, err)
	}
	return true, nil, nil
}

// resultsAttr stores results as a map by lead id, each with its outcome
// ("o") and the ids of the records Zoho made, when it returned them.
func resultsAttr(results []jobs.LeadResult) types.AttributeValue {
	m := make(map[string]types.AttributeValue, len(results))
	for _, r := range results {
		e := map[string]types.AttributeValue{"o": sAttr(string(r.Conversion))}
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
		out = append(out, jobs.LeadResult{LeadID: id, Conversion: jobs.Conversion(str(e.Value["o"])),
			ContactID: str(e.Value["contact"]), AccountID: str(e.Value["account"]), DealID: str(e.Value["deal"])})
	}
	slices.SortFunc(out, func(a, b jobs.LeadResult) int { return strings.Compare(a.LeadID, b.LeadID) })
	return out
}
