package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// checkIndexes: the status function reads open-checks; the previous
// version's functions read open-jobs until every instance runs this one.
func (d *doctor) checkIndexes(ctx context.Context) result {
	const check = "indexes"
	out, err := d.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(d.o.dep.Table)})
	if err != nil {
		return result{statusFail, check, fmt.Sprintf("cannot describe table %s: %v", d.o.dep.Table, err), "check --table (stack output JobsTableName) and dynamodb:DescribeTable"}
	}
	found := map[string]ddbtypes.GlobalSecondaryIndexDescription{}
	for _, g := range out.Table.GlobalSecondaryIndexes {
		found[aws.ToString(g.IndexName)] = g
	}
	open, has := found[table.OpenIndex]
	switch {
	case !has:
		return result{statusFail, check, fmt.Sprintf("table %s has no %s index: the status function cannot find open jobs", d.o.dep.Table, table.OpenIndex),
			"deploy the template (sam deploy): it adds the index"}
	case open.IndexStatus != ddbtypes.IndexStatusActive:
		return result{statusWarn, check, fmt.Sprintf("%s is %s: open jobs are not checked until it is ACTIVE", table.OpenIndex, open.IndexStatus), "wait for DynamoDB to finish building it"}
	case len(open.KeySchema) != 1 || aws.ToString(open.KeySchema[0].AttributeName) != "open_shard":
		return result{statusFail, check, fmt.Sprintf("%s is not keyed on open_shard alone", table.OpenIndex), "deploy the template: the code reads the index it defines"}
	}
	d.openIndex = true
	if _, has := found[table.LegacyOpenIndex]; !has {
		return result{statusWarn, check, fmt.Sprintf("%s ACTIVE; %s is gone, which the previous version reads while an upgrade rolls out", table.OpenIndex, table.LegacyOpenIndex),
			"nothing once every function runs this version"}
	}
	return passed(check, "%s ACTIVE; %s kept for the upgrade", table.OpenIndex, table.LegacyOpenIndex)
}

// ttlAttribute is the attribute the table's TTL must read (JobsTable in
// template.yaml): every item that may expire carries it.
const ttlAttribute = "expires_at"

func (d *doctor) checkTTL(ctx context.Context) result {
	const check = "ttl"
	out, err := d.ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(d.o.dep.Table)})
	if err != nil {
		return result{statusFail, check, "cannot describe the table's TTL: " + err.Error(), "check dynamodb:DescribeTimeToLive"}
	}
	ttl := out.TimeToLiveDescription
	if ttl == nil || ttl.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled || aws.ToString(ttl.AttributeName) != ttlAttribute {
		st := "TTL is DISABLED"
		if ttl != nil && ttl.TimeToLiveStatus != "" {
			st = fmt.Sprintf("TTL is %s", ttl.TimeToLiveStatus)
		}
		if ttl != nil && aws.ToString(ttl.AttributeName) != "" {
			st += fmt.Sprintf(" on %s, not %s", aws.ToString(ttl.AttributeName), ttlAttribute)
		}
		return result{statusFail, check, fmt.Sprintf("%s: finished jobs, claims and requests are never deleted and the table grows for ever", st),
			fmt.Sprintf("aws dynamodb update-time-to-live --table-name %s --time-to-live-specification Enabled=true,AttributeName=%s", d.o.dep.Table, ttlAttribute)}
	}
	return passed(check, "enabled on %s", ttlAttribute)
}

func (d *doctor) checkPITR(ctx context.Context) result {
	const check = "pitr"
	out, err := d.ddb.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(d.o.dep.Table)})
	if err != nil {
		return result{statusFail, check, "cannot describe the table's backups: " + err.Error(), "check dynamodb:DescribeContinuousBackups"}
	}
	var st ddbtypes.PointInTimeRecoveryStatus = "DISABLED"
	if c := out.ContinuousBackupsDescription; c != nil && c.PointInTimeRecoveryDescription != nil {
		st = c.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus
	}
	if st != ddbtypes.PointInTimeRecoveryStatusEnabled {
		return result{statusFail, check, fmt.Sprintf("point-in-time recovery is %s: a bad write or a deleted item cannot be undone (the template turns it on)", st),
			fmt.Sprintf("aws dynamodb update-continuous-backups --table-name %s --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true", d.o.dep.Table)}
	}
	return passed(check, "point-in-time recovery enabled")
}

// queueAttributes reads the attributes of the queue at url.
func (d *doctor) queueAttributes(ctx context.Context, url string) (map[string]string, error) {
	out, err := d.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// checkQueue: the conversion queue's depth, and that it redrives to the DLQ.
func (d *doctor) checkQueue(ctx context.Context) result {
	const check = "queue"
	q, err := d.queueAttributes(ctx, d.o.dep.QueueURL)
	if err != nil {
		return result{statusFail, check, "cannot read the conversion queue: " + err.Error(), "check --queue-url (stack output QueueUrl) and sqs:GetQueueAttributes"}
	}
	dlq, err := d.queueAttributes(ctx, d.o.dep.DLQURL)
	if err != nil {
		return result{statusFail, check, "cannot read the dead-letter queue: " + err.Error(), "check --dlq-url (stack output DeadLetterQueueUrl) and sqs:GetQueueAttributes"}
	}
	var redrive struct {
		Target   string          `json:"deadLetterTargetArn"`
		Receives json.RawMessage `json:"maxReceiveCount"` // a number or a string, depending on who wrote it
	}
	if p := q["RedrivePolicy"]; p == "" || json.Unmarshal([]byte(p), &redrive) != nil || redrive.Target != dlq["QueueArn"] {
		return result{statusFail, check, "the conversion queue does not redrive to the dead-letter queue: a request that keeps failing is retried until its retention ends, then lost unseen",
			"deploy the template, or check that --dlq-url is this queue's dead-letter queue"}
	}
	return passed(check, "%s waiting, %s in flight, %s delayed; redrives to the DLQ after %s receives",
		q["ApproximateNumberOfMessages"], q["ApproximateNumberOfMessagesNotVisible"], q["ApproximateNumberOfMessagesDelayed"],
		strings.Trim(string(redrive.Receives), `"`))
}

// peekCount is how many dead letters doctor reads: one receive.
const peekCount = 10

// checkDeadLetters counts the DLQ and peeks at up to ten letters for their
// reasons: received with a short visibility timeout and made visible again
// at once, so nothing is consumed (each receive counts on the letter's
// receive count, which on the DLQ drives nothing).
func (d *doctor) checkDeadLetters(ctx context.Context) result {
	const check = "dead letters"
	attrs, err := d.queueAttributes(ctx, d.o.dep.DLQURL)
	if err != nil {
		return result{statusFail, check, "cannot read the dead-letter queue: " + err.Error(), "check --dlq-url (stack output DeadLetterQueueUrl)"}
	}
	visible, _ := strconv.Atoi(attrs["ApproximateNumberOfMessages"])
	hidden, _ := strconv.Atoi(attrs["ApproximateNumberOfMessagesNotVisible"])
	if visible+hidden == 0 {
		return passed(check, "none")
	}
	out, err := d.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(d.o.dep.DLQURL), MaxNumberOfMessages: peekCount, VisibilityTimeout: 5,
		MessageAttributeNames:       []string{"error_code", "error_reason"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp},
	})
	if err != nil {
		return result{statusFail, check, fmt.Sprintf("%d dead letters; cannot peek at them: %v", visible+hidden, err), "leadconvert redrive shows them by reason"}
	}
	if len(out.Messages) > 0 {
		entries := make([]sqstypes.ChangeMessageVisibilityBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			entries[i] = sqstypes.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		// Put back for redrive at once; had this failed, they reappear after 5 s anyway.
		_, _ = d.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(d.o.dep.DLQURL), Entries: entries})
	}
	type letter struct {
		sent         int64
		code, reason string
	}
	letters := make([]letter, 0, len(out.Messages))
	codes := map[string]int{}
	for _, m := range out.Messages {
		l := letter{code: "none (moved by SQS after too many receives)"}
		l.sent, _ = strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64)
		if v, ok := m.MessageAttributes["error_code"]; ok {
			l.code = aws.ToString(v.StringValue)
		}
		if v, ok := m.MessageAttributes["error_reason"]; ok {
			l.reason = aws.ToString(v.StringValue)
		}
		codes[l.code]++
		letters = append(letters, l)
	}
	found := fmt.Sprintf("%d waiting", visible+hidden)
	if len(letters) > 0 {
		slices.SortFunc(letters, func(a, b letter) int { return cmp.Compare(a.sent, b.sent) })
		byCode := make([]string, 0, len(codes))
		for c, n := range codes {
			byCode = append(byCode, fmt.Sprintf("%s %d", c, n))
		}
		slices.Sort(byCode)
		oldest := letters[0]
		found += fmt.Sprintf("; of %d peeked: %s; oldest %s: %s", len(letters), strings.Join(byCode, ", "),
			time.UnixMilli(oldest.sent).UTC().Format(time.RFC3339), oldest.code)
		if oldest.reason != "" {
			found += ": " + clip(oldest.reason, 160)
		}
	}
	return result{statusFail, check, found, "leadconvert redrive shows them by reason and moves back those that can succeed"}
}

// clip shortens s to n bytes for a one-line report.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// checkOpenJobs reads every open job's entry in the open-checks index, as
// the status function does each run, then the jobs themselves for their
// age. A job open past the stale limit means the status function is not
// ending jobs.
func (d *doctor) checkOpenJobs(ctx context.Context) result {
	const check = "open jobs"
	if !d.openIndex {
		return skip(check, "needs the "+table.OpenIndex+" index")
	}
	store := table.NewJobStore(d.ddb, d.o.dep.Table)
	ids, _, err := store.DueJobs(ctx, time.Unix(math.MaxInt32, 0), math.MaxInt32, "")
	if err != nil {
		return result{statusFail, check, "cannot read the open-checks index: " + err.Error(), "check dynamodb:Query on the table's indexes"}
	}
	if len(ids) == 0 {
		return passed(check, "none")
	}
	open, err := store.Jobs(ctx, ids)
	if err != nil {
		return result{statusFail, check, "cannot read the open jobs: " + err.Error(), "check dynamodb:BatchGetItem on the table"}
	}
	limit := d.staleAfter()
	var oldest time.Duration
	var overdue []string
	for _, j := range open {
		age := d.now.Sub(j.CreatedAt)
		oldest = max(oldest, age)
		if age > limit {
			overdue = append(overdue, j.ID)
		}
	}
	if len(overdue) > 0 {
		slices.Sort(overdue)
		return result{statusFail, check, fmt.Sprintf("%d open, %d past the stale limit of %s (%s): the status function is not ending them",
			len(open), len(overdue), limit, clip(strings.Join(overdue, ", "), 120)),
			"check the status function's schedule and its logs (errors, timeouts)"}
	}
	return passed(check, "%d open, the oldest %s old (stale after %s)", len(open), oldest.Round(time.Minute), limit)
}

// checkStaleJobs scans for jobs that ended STALE. No index holds ended
// jobs, so it is a scan: it reads every item (each 1 MB page costs about
// 128 read units), at most --scan-limit of them, and says what it read.
func (d *doctor) checkStaleJobs(ctx context.Context) result {
	const check = "stale jobs"
	store := table.NewJobStore(d.ddb, d.o.dep.Table)
	res, err := store.FinishedJobs(ctx, d.ddb, table.FinishedQuery{State: jobs.Stale, Limit: d.o.scanLimit, MaxScanned: d.o.scanLimit})
	if err != nil {
		return result{statusFail, check, "cannot scan the table: " + err.Error(), "check dynamodb:Scan and dynamodb:BatchGetItem on the table"}
	}
	cost := fmt.Sprintf("items scanned: %d, read units: %.0f", res.Scanned, res.ReadUnits)
	if res.More {
		cost += fmt.Sprintf(", stopped at --scan-limit %d: the rest unread", d.o.scanLimit)
	}
	if len(res.Jobs) > 0 {
		stale := make([]string, len(res.Jobs))
		for i, j := range res.Jobs {
			stale[i] = j.ID
		}
		slices.Sort(stale)
		return result{statusWarn, check, fmt.Sprintf("%d ended STALE (%s): Zoho never reported them finished; their leads were read back (%s)",
			len(stale), clip(strings.Join(stale, ", "), 120), cost),
			"leadconvert jobs lists them; leadconvert lead ID tells what became of a lead"}
	}
	return passed(check, "none (%s)", cost)
}

// Zoho's limit on complex calls in flight per org (zoho-crm-api.md 4).
const zohoConcurrency = 10

// wakeupInstances is the wake-up queue's MaximumConcurrency (template.yaml).
const wakeupInstances = 2

// checkConcurrency weighs the stack's parameters against Zoho's 10 calls in
// flight. Every CRM call holds one of ZohoConcurrencyBudget slots, so the
// budget bounds the deployment whatever the instances; without it (a stack
// of a version before the budget) the instances' own caps must.
func (d *doctor) checkConcurrency(context.Context) result {
	const check = "concurrency"
	if d.params == nil {
		return skip(check, "needs --stack (reads the stack's parameters)")
	}
	num := func(name string) (int, bool) {
		n, err := strconv.Atoi(d.params[name])
		return n, err == nil
	}
	perInstance, ok1 := num("MaxZohoConcurrency")
	queue, ok2 := num("QueueMaximumConcurrency")
	status, ok3 := num("StatusConcurrency")
	if !ok1 || !ok2 || !ok3 {
		return result{statusWarn, check, "the stack lacks MaxZohoConcurrency, QueueMaximumConcurrency or StatusConcurrency: not a stack of this template?", "pass --stack of a leadconvert deployment"}
	}
	// Calls the queues' instances and the status function may make at
	// once; API instances come on top, unbounded.
	caps := (queue+wakeupInstances)*perInstance + status
	capsSum := fmt.Sprintf("(%d queue + %d wake-up instances) x %d + %d status = %d", queue, wakeupInstances, perInstance, status, caps)
	if reserved, ok := num("ConvertReservedConcurrency"); ok && reserved > 0 && reserved < queue+wakeupInstances+1 {
		return result{statusFail, check, fmt.Sprintf("ConvertReservedConcurrency %d < %d queue + %d wake-up instances + 1 for the API: SQS deliveries are throttled and count towards the DLQ",
			reserved, queue, wakeupInstances),
			fmt.Sprintf("raise ConvertReservedConcurrency to at least %d, or lower QueueMaximumConcurrency", queue+wakeupInstances+1)}
	}
	budget, ok := num("ZohoConcurrencyBudget")
	switch {
	case (!ok || budget == 0) && caps > zohoConcurrency:
		return result{statusFail, check, fmt.Sprintf("no deployment budget: the instances alone may have %s calls in flight, over Zoho's %d (and the API's on top)", capsSum, zohoConcurrency),
			"deploy this version (ZohoConcurrencyBudget, default 8), or lower QueueMaximumConcurrency and MaxZohoConcurrency"}
	case !ok || budget == 0:
		return passed(check, "no deployment budget; the instances' caps allow %s of Zoho's %d (the API's calls come on top)", capsSum, zohoConcurrency)
	case budget > zohoConcurrency:
		return result{statusFail, check, fmt.Sprintf("ZohoConcurrencyBudget %d is over Zoho's %d calls in flight: Zoho answers 429", budget, zohoConcurrency),
			"set ZohoConcurrencyBudget to 10 at most (8 leaves 2 for the org's other integrations)"}
	case budget == zohoConcurrency:
		return result{statusWarn, check, fmt.Sprintf("ZohoConcurrencyBudget %d takes all of Zoho's %d: the org's other integrations get 429", budget, zohoConcurrency),
			"lower ZohoConcurrencyBudget (the default 8 leaves 2)"}
	}
	return passed(check, "every Zoho call holds one of %d budget slots, within Zoho's %d, whatever the instances (their caps alone: %s)", budget, zohoConcurrency, capsSum)
}
