package table_test

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// newTable is a table made from template.yaml on moto, and its client.
func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	cfg := awstest.Require(t)
	return table.NewClient(cfg), awstest.CreateTableFromTemplate(t, cfg, "JobsTable")
}

// updates records the keys of the UpdateItem requests made through it.
type updates struct {
	table.API
	mu   sync.Mutex
	keys []string
}

func (u *updates) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	u.mu.Lock()
	u.keys = append(u.keys, in.Key["pk"].(*types.AttributeValueMemberS).Value)
	u.mu.Unlock()
	return u.API.UpdateItem(ctx, in, opts...)
}

func item(t *testing.T, api *dynamodb.Client, name, pk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := api.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(name),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// size is an item's size as DynamoDB bills it, near enough: names and
// values, a number as its digits.
func size(it map[string]types.AttributeValue) int {
	n := 0
	for k, v := range it {
		n += len(k)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		case *types.AttributeValueMemberN:
			n += len(v.Value)
		default:
			n += 1024 // no list or map belongs in a check item
		}
	}
	return n
}

// TestCheckWritesOnlyTheSmallItem: a check rewrites the CHK# item, under
// 1 KB, and keeps its index keys, so that it costs one write unit and one
// for its index entry; the JOB# item with the leads is never written.
func TestCheckWritesOnlyTheSmallItem(t *testing.T) {
	api, name := newTable(t)
	u := &updates{API: awstest.CheckExpressions(t, api)}
	st := table.NewJobStore(u, name)
	ctx := context.Background()
	j := jobs.Job{ID: "3652397000009871000", State: jobs.Scheduled, LeadIDs: leadIDs(8000, 50), Sources: make([]string, 50),
		Options:    `{"Deals":{"Deal_Name":"Website enquiry","Stage":"Qualification","Closing_Date":"2026-12-31"},"assign_to":{"id":"3652397000000186017"}}`,
		APIVersion: "v7", CreatedAt: t0, UpdatedAt: t0, NextCheckAt: t0.Add(time.Minute)}
	for i := range j.Sources {
		j.Sources[i] = "5b7f2c1e-8a4d-4000-8000-" + strconv.Itoa(100000000000+i)
	}
	if err := st.RecordJob(ctx, j, t0.Add(32*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	jobBefore := item(t, api, name, "JOB#"+j.ID)
	recorded := item(t, api, name, "CHK#"+j.ID)
	if size(jobBefore) < 2048 {
		t.Fatalf("the job item is %d bytes; the test wants one of a real job's size", size(jobBefore))
	}

	j.Version = 1
	for k, tc := range []struct {
		state jobs.State
		next  time.Time
	}{
		{jobs.InProgress, t0.Add(3 * time.Minute)},
		{jobs.InProgress, t0.Add(8 * time.Minute)},
		{jobs.Completed, time.Time{}},
	} {
		now := t0.Add(time.Duration(k+1) * time.Minute)
		j.State, j.ZohoStatus, j.Total, j.Converted, j.Waiting = tc.state, "In Progress", 50, 10*(k+1), 50-10*(k+1)
		j.Checks, j.CheckedAt, j.UpdatedAt, j.NextCheckAt = k+1, now, now, tc.next
		if !tc.state.Open() {
			j.ExpiresAt = now.Add(30 * 24 * time.Hour)
		}
		if err := st.SaveCheck(ctx, j, j.Version); err != nil {
			t.Fatal(err)
		}
		j.Version++
		chk := item(t, api, name, "CHK#"+j.ID)
		if n := size(chk); n >= 1024 {
			t.Errorf("check %d: the CHK# item is %d bytes, over one write unit", k+1, n)
		}
		if tc.state.Open() && (!reflect.DeepEqual(chk["created_at"], recorded["created_at"]) ||
			chk["open_shard"] == nil || chk["next_check_at"] != nil) {
			t.Errorf("check %d moved the index keys or entered the old index: %v", k+1, chk)
		}
		if !tc.state.Open() && (chk["open_shard"] != nil || chk["due_at"] != nil) {
			t.Errorf("the terminal check left the job in the index: %v", chk)
		}
	}
	if want := []string{"CHK#" + j.ID, "CHK#" + j.ID, "CHK#" + j.ID}; !slices.Equal(u.keys, want) {
		t.Fatalf("the checks updated %v, want only the CHK# item", u.keys)
	}
	if got := item(t, api, name, "JOB#"+j.ID); size(got) != size(jobBefore) {
		t.Fatalf("the JOB# item changed")
	}
	got, err := st.Job(ctx, j.ID)
	if err != nil || got.State != jobs.Completed || got.Converted != 30 || got.Checks != 3 || got.Version != 4 ||
		len(got.LeadIDs) != 50 || got.Options != j.Options || !got.ExpiresAt.Equal(j.ExpiresAt) || !got.NextCheckAt.IsZero() {
		t.Fatalf("the job reads %+v, %v", got, err)
	}
}

// legacyJobItem is a JOB# item as the previous version wrote it, state and
// index keys included, and no CHK# item.
func legacyJobItem(id string, leads []string, created, next time.Time) map[string]types.AttributeValue {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	l := make([]types.AttributeValue, len(leads))
	for i, v := range leads {
		l[i] = s(v)
	}
	return map[string]types.AttributeValue{
		"pk": s("JOB#" + id), "kind": s("job"), "job_id": s(id), "job_status": s("SCHEDULED"),
		"lead_ids": &types.AttributeValueMemberL{Value: l}, "lead_count": n(int64(len(leads))),
		"sources": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("msg")}}, "api_version": s("v7"),
		"created_at": s(created.UTC().Format(time.RFC3339Nano)), "updated_at": s(created.UTC().Format(time.RFC3339Nano)),
		"checks": n(0), "total": n(0), "converted": n(0), "not_converted": n(0), "failed_count": n(0), "version": n(1),
		"open_shard": s("OPEN"), "next_check_at": n(next.Unix()),
	}
}

// TestNotConvertedIsOneAttribute: a job of Zoho's Waiting and a call in
// doubt's NotConverted are both stored as not_converted, as when Job had
// one field for both, so that items already stored read the same.
func TestNotConvertedIsOneAttribute(t *testing.T) {
	api, name := newTable(t)
	st := table.NewJobStore(awstest.CheckExpressions(t, api), name)
	ctx := context.Background()
	for k, tc := range []struct {
		id, legacy string
		state      jobs.State
		field      func(*jobs.Job) *int
	}{
		{"3652397000009873000", "3652397000009873001", jobs.Scheduled, func(j *jobs.Job) *int { return &j.Waiting }},
		{jobs.DoubtPrefix + "00000000000abcf1", jobs.DoubtPrefix + "00000000000abcf2", jobs.InDoubt,
			func(j *jobs.Job) *int { return &j.NotConverted }},
	} {
		j := jobs.Job{ID: tc.id, State: tc.state, LeadIDs: leadIDs(9200+10*k, 1), CreatedAt: t0, UpdatedAt: t0, NextCheckAt: t0}
		if err := st.RecordJob(ctx, j, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		j.Checks, j.CheckedAt, j.NextCheckAt = 1, t0, t0.Add(time.Minute)
		j.Waiting, j.NotConverted = 7, 7
		*tc.field(&j) = 3
		if err := st.SaveCheck(ctx, j, 1); err != nil {
			t.Fatal(err)
		}
		if got := item(t, api, name, "CHK#"+j.ID)["not_converted"]; !reflect.DeepEqual(got, &types.AttributeValueMemberN{Value: "3"}) {
			t.Errorf("%s: not_converted stored as %#v, want 3", j.ID, got)
		}
		got, err := st.Job(ctx, j.ID)
		if err != nil || *tc.field(&got) != 3 || got.Waiting+got.NotConverted != 3 {
			t.Errorf("%s reads Waiting %d, NotConverted %d, %v; want 3 in its kind's field only", j.ID, got.Waiting, got.NotConverted, err)
		}

		old := legacyJobItem(tc.legacy, leadIDs(9205+10*k, 1), t0, t0.Add(time.Minute))
		old["not_converted"] = &types.AttributeValueMemberN{Value: "4"}
		if _, err := api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: old}); err != nil {
			t.Fatal(err)
		}
		got, err = st.Job(ctx, tc.legacy)
		if err != nil || *tc.field(&got) != 4 || got.Waiting+got.NotConverted != 4 {
			t.Errorf("%s of the previous version reads Waiting %d, NotConverted %d, %v; want 4 in its kind's field only",
				tc.legacy, got.Waiting, got.NotConverted, err)
		}
	}
}

// TestJobsOfThePreviousVersionAreFollowed: a job the previous version
// recorded (no CHK# item) is found due beside new ones, read, checked in
// its JOB# item and ended, as that version did.
func TestJobsOfThePreviousVersionAreFollowed(t *testing.T) {
	api, name := newTable(t)
	st := table.NewJobStore(awstest.CheckExpressions(t, api), name)
	ctx := context.Background()
	old := "3652397000009872000"
	if _, err := api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name),
		Item: legacyJobItem(old, leadIDs(9000, 2), t0, t0.Add(time.Minute))}); err != nil {
		t.Fatal(err)
	}
	fresh := jobs.Job{ID: "3652397000009872001", State: jobs.Scheduled, LeadIDs: leadIDs(9010, 1),
		CreatedAt: t0.Add(time.Second), UpdatedAt: t0, NextCheckAt: t0.Add(time.Minute)}
	if err := st.RecordJob(ctx, fresh, t0.Add(32*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	if got, _ := allDue(t, st, now, 10); !slices.Equal(got, []string{old, fresh.ID}) {
		t.Fatalf("due %v, want the old job and the new one", got)
	}
	js, err := st.Jobs(ctx, []string{old})
	if err != nil || len(js) != 1 || js[0].Version != 1 || len(js[0].LeadIDs) != 2 || !js[0].NextCheckAt.Equal(now) {
		t.Fatalf("read %+v, %v", js, err)
	}
	j := js[0]
	j.State, j.Checks, j.CheckedAt, j.UpdatedAt, j.NextCheckAt = jobs.InProgress, 1, now, now, now.Add(2*time.Minute)
	if err := st.SaveCheck(ctx, j, 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := allDue(t, st, now, 10); !slices.Equal(got, []string{fresh.ID}) {
		t.Fatalf("after its check due %v, want only the new job", got)
	}
	if got, _ := allDue(t, st, now.Add(2*time.Minute), 10); !slices.Equal(got, []string{fresh.ID, old}) {
		t.Fatalf("two minutes on due %v, want both, the new job due first", got)
	}
	if it := item(t, api, name, "CHK#"+old); it != nil {
		t.Fatalf("the old job got a CHK# item: %v", it)
	}
	if err := st.SaveCheck(ctx, j, 1); err == nil {
		t.Fatal("a stale save of the old job succeeded")
	}
	j.State, j.Checks, j.NextCheckAt, j.ExpiresAt = jobs.Completed, 2, time.Time{}, now.Add(30*24*time.Hour)
	if err := st.SaveCheck(ctx, j, 2); err != nil {
		t.Fatal(err)
	}
	got, err := st.Job(ctx, old)
	if err != nil || got.State != jobs.Completed || got.Version != 3 || !got.ExpiresAt.Equal(j.ExpiresAt) || len(got.LeadIDs) != 2 {
		t.Fatalf("the ended old job reads %+v, %v", got, err)
	}
	if got, _ := allDue(t, st, now.Add(time.Hour), 10); !slices.Equal(got, []string{fresh.ID}) {
		t.Fatalf("after its end due %v, want only the new job", got)
	}
}
