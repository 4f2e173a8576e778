package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// A sweep item SWEEP#<name> holds the definition (name, schedule,
// time_zone, condition, view, options, max_leads, enabled, created_at) and, while
// a run is under way, open_run; last_run names the last run started and
// recent_runs the last sweep.RecentRuns, oldest first. A run item
// SWEEPRUN#<name>#<run id> holds the run's counts, cursor, lease and
// version, and expires_at (sweep.RunRetention after it started). Names and
// run ids never hold '#' (sweep.ValidName, sweep.ValidRunID).
//
// The table has a partition key only, and a Scan reads every lead and job
// to find a handful of sweeps; so the catalog item SWEEPS holds the set of
// sweep names (names), kept in the same transaction as each sweep item,
// and the sweep item lists its recent runs: listing sweeps and their runs
// is one GetItem per item.

var (
	_ sweep.Store   = (*JobStore)(nil)
	_ sweep.Catalog = (*JobStore)(nil)
)

// catalogKey is the item that lists the sweeps' names.
const catalogKey = "SWEEPS"

func catalogItemKey() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": sAttr(catalogKey)}
}

func sweepKey(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": sAttr(SweepPrefix + name)}
}

func runKey(name, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": sAttr(SweepRunPrefix + name + "#" + id)}
}

func boolAttr(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

func boolOf(v types.AttributeValue) bool {
	b, ok := v.(*types.AttributeValueMemberBOOL)
	return ok && b.Value
}

func timeString(t time.Time) types.AttributeValue {
	if t.IsZero() {
		return sAttr("")
	}
	return sAttr(t.UTC().Format(time.RFC3339Nano))
}

func timeOf(v types.AttributeValue) time.Time {
	if str(v) == "" {
		return time.Time{}
	}
	return timeAttr(v)
}

// setAll is an update expression setting every attribute of attrs, with
// placeholders for every name (run attributes such as end and cursor are
// DynamoDB reserved words).
func setAll(attrs map[string]types.AttributeValue, names map[string]string, values map[string]types.AttributeValue) string {
	var parts []string
	for i, k := range slices.Sorted(maps.Keys(attrs)) {
		n, v := "#s"+strconv.Itoa(i), ":s"+strconv.Itoa(i)
		names[n], values[v] = k, attrs[k]
		parts = append(parts, n+" = "+v)
	}
	return "SET " + strings.Join(parts, ", ")
}

func (d *JobStore) PutSweep(ctx context.Context, s sweep.Sweep) error {
	attrs := map[string]types.AttributeValue{
		"kind": sAttr("sweep"), "name": sAttr(s.Name), "schedule": sAttr(s.Schedule), "time_zone": sAttr(s.TimeZone),
		"condition": sAttr(s.Condition), "view": sAttr(s.View), "options": sAttr(string(s.Options)), "max_leads": nAttr(int64(s.MaxLeads)),
		"enabled": boolAttr(s.Enabled),
	}
	names, values := map[string]string{"#created": "created_at"}, map[string]types.AttributeValue{":created": timeString(s.CreatedAt)}
	// An update, not a put: it keeps the runs' open_run, last_run and
	// recent_runs. The catalog learns the name in the same write.
	expr := setAll(attrs, names, values) + ", #created = if_not_exists(#created, :created)"
	_, err := d.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String(d.table), Key: sweepKey(s.Name),
			UpdateExpression: aws.String(expr), ExpressionAttributeNames: names, ExpressionAttributeValues: values}},
		{Update: &types.Update{TableName: aws.String(d.table), Key: catalogItemKey(),
			UpdateExpression:          aws.String("SET kind = :kind ADD #names :name"),
			ExpressionAttributeNames:  map[string]string{"#names": "names"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":kind": sAttr("sweeps"), ":name": &types.AttributeValueMemberSS{Value: []string{s.Name}}}}},
	}})
	if err != nil {
		return fmt.Errorf("storing sweep %s: %w", s.Name, err)
	}
	return nil
}

func (d *JobStore) Sweeps(ctx context.Context) ([]sweep.Sweep, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table), Key: catalogItemKey(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("reading the sweeps' names: %w", err)
	}
	var list []string
	if ss, ok := out.Item["names"].(*types.AttributeValueMemberSS); ok {
		list = slices.Sorted(slices.Values(ss.Value))
	}
	var sweeps []sweep.Sweep
	for _, name := range list {
		s, err := d.Sweep(ctx, name)
		if errors.Is(err, sweep.ErrNotFound) {
			continue // written by hand, or a table restored in part: list what is there
		}
		if err != nil {
			return nil, err
		}
		sweeps = append(sweeps, s)
	}
	return sweeps, nil
}

func (d *JobStore) SetEnabled(ctx context.Context, name string, enabled bool) error {
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(d.table), Key: sweepKey(name),
		UpdateExpression: aws.String("SET enabled = :e"), ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": boolAttr(enabled)}})
	if _, ok := errors.AsType[*types.ConditionalCheckFailedException](err); ok {
		return sweep.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("setting sweep %s enabled=%t: %w", name, enabled, err)
	}
	return nil
}

func (d *JobStore) DeleteSweep(ctx context.Context, name string) error {
	_, err := d.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String(d.table), Key: sweepKey(name), ConditionExpression: aws.String("attribute_exists(pk)")}},
		{Update: &types.Update{TableName: aws.String(d.table), Key: catalogItemKey(),
			UpdateExpression:          aws.String("DELETE #names :name"),
			ExpressionAttributeNames:  map[string]string{"#names": "names"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":name": &types.AttributeValueMemberSS{Value: []string{name}}}}},
	}})
	if cancelled(err) {
		return sweep.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("deleting sweep %s: %w", name, err)
	}
	return nil
}

func (d *JobStore) Sweep(ctx context.Context, name string) (sweep.Sweep, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table), Key: sweepKey(name), ConsistentRead: aws.Bool(true)})
	switch {
	case err != nil:
		return sweep.Sweep{}, fmt.Errorf("reading sweep %s: %w", name, err)
	case out.Item == nil:
		return sweep.Sweep{}, sweep.ErrNotFound
	}
	it := out.Item
	s := sweep.Sweep{RecentRuns: strList(it["recent_runs"]), Name: str(it["name"]), Schedule: str(it["schedule"]), TimeZone: str(it["time_zone"]),
		Condition: str(it["condition"]), View: str(it["view"]), MaxLeads: int(num(it["max_leads"])), Enabled: boolOf(it["enabled"]),
		OpenRun: str(it["open_run"]), LastRun: str(it["last_run"]), CreatedAt: timeOf(it["created_at"])}
	if o := str(it["options"]); o != "" {
		s.Options = json.RawMessage(o)
	}
	return s, nil
}

func strList(v types.AttributeValue) []string {
	l, _ := v.(*types.AttributeValueMemberL)
	if l == nil {
		return nil
	}
	out := make([]string, 0, len(l.Value))
	for _, e := range l.Value {
		out = append(out, str(e))
	}
	return out
}

func listAttr(ss []string) types.AttributeValue {
	l := &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	for _, s := range ss {
		l.Value = append(l.Value, sAttr(s))
	}
	return l
}

func runAttrs(r sweep.Run) map[string]types.AttributeValue {
	attrs := runFields(r)
	if !r.StartedAt.IsZero() {
		attrs["expires_at"] = nAttr(r.StartedAt.Add(sweep.RunRetention).Unix())
	}
	return attrs
}

func runFields(r sweep.Run) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"kind": sAttr("sweep_run"), "sweep": sAttr(r.Sweep), "run_id": sAttr(r.ID),
		"started_at": timeString(r.StartedAt), "ended_at": timeString(r.EndedAt), "end": sAttr(r.End), "reason": sAttr(r.Reason),
		"cursor": sAttr(r.Cursor), "matched": nAttr(int64(r.Matched)), "skipped_converted": nAttr(int64(r.SkippedConverted)),
		"skipped_not_found": nAttr(int64(r.SkippedNotFound)), "skipped_claimed": nAttr(int64(r.SkippedClaimed)),
		"queued": nAttr(int64(r.Queued)), "over_max": nAttr(int64(r.OverMax)), "more_over_max": boolAttr(r.MoreOverMax),
		"messages": nAttr(int64(r.Messages)), "coql_calls": nAttr(int64(r.COQLCalls)), "read_calls": nAttr(int64(r.ReadCalls)),
		"invocations": nAttr(int64(r.Invocations)), "lease_owner": sAttr(r.LeaseOwner), "lease_until_ms": nAttr(r.LeaseUntil.UnixMilli()),
	}
}

// StartRun reads the sweep first for its recent runs: DynamoDB cannot
// append to a list and trim it in one update, so the new list is written
// whole, on the condition that no run started since the read (last_run
// unchanged).
func (d *JobStore) StartRun(ctx context.Context, r sweep.Run) error {
	sw, err := d.Sweep(ctx, r.Sweep)
	if err != nil {
		return err
	}
	attrs := runAttrs(r)
	attrs["version"] = nAttr(1)
	names, values := map[string]string{}, map[string]types.AttributeValue{}
	runExpr := setAll(attrs, names, values)
	sweepValues := map[string]types.AttributeValue{":id": sAttr(r.ID), ":none": sAttr(""), ":recent": listAttr(sweep.AddRecent(sw.RecentRuns, r.ID))}
	cond := "attribute_exists(pk) AND (attribute_not_exists(open_run) OR open_run = :none) AND "
	if sw.LastRun == "" {
		cond += "attribute_not_exists(last_run)"
	} else {
		cond += "last_run = :prev"
		sweepValues[":prev"] = sAttr(sw.LastRun)
	}
	_, err = d.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String(d.table), Key: sweepKey(r.Sweep),
			UpdateExpression:          aws.String("SET open_run = :id, last_run = :id, recent_runs = :recent"),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeValues: sweepValues}},
		{Update: &types.Update{TableName: aws.String(d.table), Key: runKey(r.Sweep, r.ID),
			UpdateExpression: aws.String(runExpr), ConditionExpression: aws.String("attribute_not_exists(pk)"),
			ExpressionAttributeNames: names, ExpressionAttributeValues: values}},
	}})
	if err == nil {
		return nil
	}
	if cancelled(err) {
		if _, rerr := d.Sweep(ctx, r.Sweep); errors.Is(rerr, sweep.ErrNotFound) {
			return sweep.ErrNotFound
		}
		return sweep.ErrChanged
	}
	return fmt.Errorf("starting run %s of sweep %s: %w", r.ID, r.Sweep, err)
}

// cancelled reports a transaction a condition cancelled.
func cancelled(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	return slices.ContainsFunc(tce.CancellationReasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == "ConditionalCheckFailed"
	})
}

func (d *JobStore) SweepRun(ctx context.Context, name, id string) (sweep.Run, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table), Key: runKey(name, id), ConsistentRead: aws.Bool(true)})
	switch {
	case err != nil:
		return sweep.Run{}, fmt.Errorf("reading run %s of sweep %s: %w", id, name, err)
	case out.Item == nil:
		return sweep.Run{}, sweep.ErrNotFound
	}
	it := out.Item
	r := sweep.Run{Sweep: str(it["sweep"]), ID: str(it["run_id"]), StartedAt: timeOf(it["started_at"]), EndedAt: timeOf(it["ended_at"]),
		End: str(it["end"]), Reason: str(it["reason"]), Cursor: str(it["cursor"]), Counts: sweep.Counts{Matched: int(num(it["matched"])),
			SkippedConverted: int(num(it["skipped_converted"])), SkippedNotFound: int(num(it["skipped_not_found"])),
			SkippedClaimed: int(num(it["skipped_claimed"])), Queued: int(num(it["queued"])), OverMax: int(num(it["over_max"])),
			MoreOverMax: boolOf(it["more_over_max"]), Messages: int(num(it["messages"])), COQLCalls: int(num(it["coql_calls"])),
			ReadCalls: int(num(it["read_calls"]))},
		Invocations: int(num(it["invocations"])), LeaseOwner: str(it["lease_owner"]), Version: int(num(it["version"]))}
	if ms := num(it["lease_until_ms"]); ms > 0 {
		r.LeaseUntil = time.UnixMilli(ms)
	}
	return r, nil
}

func (d *JobStore) SaveRun(ctx context.Context, r sweep.Run) error {
	attrs := runAttrs(r)
	attrs["version"] = nAttr(int64(r.Version + 1))
	names, values := map[string]string{"#v": "version"}, map[string]types.AttributeValue{":was": nAttr(int64(r.Version))}
	run := types.Update{TableName: aws.String(d.table), Key: runKey(r.Sweep, r.ID),
		UpdateExpression: aws.String(setAll(attrs, names, values)), ConditionExpression: aws.String("#v = :was"),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values}
	var err error
	if r.End == "" {
		in := &dynamodb.UpdateItemInput{TableName: run.TableName, Key: run.Key,
			UpdateExpression: run.UpdateExpression, ConditionExpression: run.ConditionExpression,
			ExpressionAttributeNames: names, ExpressionAttributeValues: values}
		// Stamped: a retry of a save that was applied finds the version
		// moved on, and is not another invocation taking the run over.
		st := newStamp()
		st.mark(in)
		_, err = d.api.UpdateItem(ctx, in)
		var ccf *types.ConditionalCheckFailedException
		switch {
		case st.applied(err):
			return nil
		case errors.As(err, &ccf):
			return sweep.ErrChanged
		}
	} else {
		// The run's end and the sweep's open run go in one write, so the
		// sweep is never left pointing at an ended run.
		_, err = d.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &run},
			{Update: &types.Update{TableName: aws.String(d.table), Key: sweepKey(r.Sweep),
				UpdateExpression: aws.String("REMOVE open_run"), ConditionExpression: aws.String("open_run = :id"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":id": sAttr(r.ID)}}},
		}})
		if cancelled(err) {
			return sweep.ErrChanged
		}
	}
	if err != nil {
		return fmt.Errorf("saving run %s of sweep %s: %w", r.ID, r.Sweep, err)
	}
	return nil
}

// leadFieldsKey is the item of the fields of Leads a sweep's run last read
// from Zoho (names, a list in Zoho's order, and seen_at): written by the
// status function at most once a day, read by `sweep create`.
const leadFieldsKey = "STAT#lead-fields"

var _ sweep.FieldStore = (*JobStore)(nil)

// LeadFields reads the fields last saved; none saved is the zero value.
func (d *JobStore) LeadFields(ctx context.Context) (sweep.LeadFields, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table),
		Key: map[string]types.AttributeValue{"pk": sAttr(leadFieldsKey)}})
	if err != nil {
		return sweep.LeadFields{}, fmt.Errorf("reading the fields of Leads: %w", err)
	}
	if out.Item == nil {
		return sweep.LeadFields{}, nil
	}
	return sweep.LeadFields{Names: strList(out.Item["names"]), SeenAt: timeOf(out.Item["seen_at"])}, nil
}

// SaveLeadFields replaces the fields saved: the newest reading of Zoho's
// metadata is the truth, whichever run made it.
func (d *JobStore) SaveLeadFields(ctx context.Context, f sweep.LeadFields) error {
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: map[string]types.AttributeValue{
		"pk": sAttr(leadFieldsKey), "kind": sAttr("stat"), "names": listAttr(f.Names), "seen_at": timeString(f.SeenAt)}})
	if err != nil {
		return fmt.Errorf("saving the fields of Leads: %w", err)
	}
	return nil
}
