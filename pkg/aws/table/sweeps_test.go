package table_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// TestSweepItems: a run expires sweep.RunRetention after it started (the
// table's TTL attribute), and the catalog item holds the sweeps' names as
// a string set, dropped when a sweep is deleted.
func TestSweepItems(t *testing.T) {
	client, name := newTable(t)
	st := table.NewJobStore(client, name)
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if err := st.PutSweep(ctx, sweep.Sweep{Name: n, Schedule: "rate(1 day)", TimeZone: "UTC", Condition: "Lead_Status = 'x'", MaxLeads: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.StartRun(ctx, sweep.Run{Sweep: "a", ID: "r1", StartedAt: t0, Version: 1}); err != nil {
		t.Fatal(err)
	}
	get := func(pk string) map[string]types.AttributeValue {
		t.Helper()
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	exp, ok := get("SWEEPRUN#a#r1")["expires_at"].(*types.AttributeValueMemberN)
	if want := t0.Add(sweep.RunRetention).Unix(); !ok || exp.Value != strconv.FormatInt(want, 10) {
		t.Fatalf("the run's expires_at: %v, want %d", exp, want)
	}
	if err := st.DeleteSweep(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	names, ok := get("SWEEPS")["names"].(*types.AttributeValueMemberSS)
	if !ok || len(names.Value) != 1 || names.Value[0] != "b" {
		t.Fatalf("the catalog after deleting a: %+v", names)
	}
}
