package table_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// TestItemsAsWritten: each item the table exports is, attribute for
// attribute, the item its writes leave, updates included; cmd/bench sizes
// and bills DynamoDB writes with them.
func TestItemsAsWritten(t *testing.T) {
	api, name := newTable(t)
	st, slots := table.NewJobStore(api, name), table.NewSlots(api, name)
	ctx := context.Background()
	until, exp := t0.Add(time.Minute), t0.Add(24*time.Hour)
	acc := jobs.Acc{Fingerprint: "fp-items", Options: `{"a":1}`, APIVersion: "v7"}
	parked := acc
	parked.LeadIDs, parked.Sources, parked.OpenedAt = []string{"12", "13"}, []string{"m2", "m3"}, t0
	b := jobs.Batch{Acc: parked, Taker: "run-3", LeaseUntil: until}
	job := jobs.Job{ID: "j1", State: jobs.Scheduled, LeadIDs: parked.LeadIDs, Sources: parked.Sources, Batch: b.Key(),
		Fingerprint: acc.Fingerprint, Options: acc.Options, APIVersion: acc.APIVersion, CreatedAt: t0, UpdatedAt: t0, NextCheckAt: until}
	jobItem, checkItem := table.JobItems(job, exp)
	r := jobs.Request{ID: "req-1", LeadIDs: []string{"11"}, CreatedAt: t0, ExpiresAt: exp}
	failed := r
	failed.FailCode, failed.FailReason = "NOT_QUEUED", "the queue was unavailable"
	for _, step := range []struct {
		name string
		do   func() error // nil: the item an earlier step wrote
		want map[string]types.AttributeValue
	}{
		{"pending claim", func() error { _, _, err := st.Claim(ctx, "run-1", []string{"11"}, t0, until); return err },
			table.ClaimItem(jobs.Claim{LeadID: "11", State: jobs.Pending, Owner: "run-1", Until: until, ExpiresAt: jobs.PendingExpiry(until)})},
		{"rejected claim", func() error { return st.Reject(ctx, "run-1", "11", "invalid", exp) },
			table.ClaimItem(jobs.Claim{LeadID: "11", State: jobs.Rejected, Owner: "run-1", Reason: "invalid", ExpiresAt: exp})},
		{"parked claim", func() error {
			_, _, err := st.Park(ctx, "run-2", acc, parked.LeadIDs, parked.Sources, t0, exp)
			return err
		},
			table.ClaimItem(jobs.Claim{LeadID: "12", State: jobs.Parked, Owner: acc.Key().Owner(), ExpiresAt: exp})},
		{"opened accumulator", nil, table.AccItem(parked)},
		{"batch", func() error { _, err := st.Take(ctx, parked, b.Taker, b.LeaseUntil); return err }, table.BatchItem(b)},
		{"emptied accumulator", nil, table.AccItem(jobs.Acc{Fingerprint: acc.Fingerprint, Gen: 1, Options: acc.Options, APIVersion: acc.APIVersion})},
		{"job", func() error { return st.RecordJob(ctx, job, exp) }, jobItem},
		{"check", nil, checkItem},
		{"scheduled claim", nil, table.ClaimItem(jobs.Claim{LeadID: "13", State: jobs.ClaimScheduled, JobID: job.ID, ExpiresAt: exp, Attempts: 1})},
		{"request", func() error { return st.RecordRequest(ctx, r) }, table.RequestItem(r)},
		{"failed request", func() error { return st.FailRequest(ctx, r.ID, failed.FailCode, failed.FailReason) }, table.RequestItem(failed)},
		{"taken slot", func() error { _, err := slots.TryTake(ctx, 3, "h-1", t0, until); return err }, table.SlotItem(3, "h-1", until)},
		{"freed slot", func() error { return slots.Free(ctx, 3, "h-1") }, table.SlotItem(3, "", time.Time{})},
	} {
		if step.do != nil {
			if err := step.do(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
		}
		pk := step.want["pk"].(*types.AttributeValueMemberS).Value
		if got := item(t, api, name, pk); !reflect.DeepEqual(got, step.want) {
			t.Errorf("%s: the table wrote\n\t%s\nthe exported item is\n\t%s", step.name, show(got), show(step.want))
		}
	}
}

// show is an item, one attribute after another by name.
func show(it map[string]types.AttributeValue) string {
	var out []string
	for name, v := range it {
		out = append(out, name+"="+showValue(v))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func showValue(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return fmt.Sprintf("%q", v.Value)
	case *types.AttributeValueMemberN:
		return v.Value
	case *types.AttributeValueMemberL:
		var out []string
		for _, e := range v.Value {
			out = append(out, showValue(e))
		}
		return "[" + strings.Join(out, " ") + "]"
	}
	return fmt.Sprintf("%#v", v)
}
