package awstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func vals(names ...string) map[string]ddbtypes.AttributeValue {
	m := map[string]ddbtypes.AttributeValue{}
	for _, n := range names {
		m[n] = &ddbtypes.AttributeValueMemberS{Value: "x"}
	}
	return m
}

func leadKey(id string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "LEAD#" + id}}
}

// TestCheckRequest: each placeholder defined must be used and each used
// defined, token by token (":a" is not in ":ab"), in every expression of
// every request and of every item of a transaction.
func TestCheckRequest(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want []string // each violation's "request: placeholder problem" start; none when valid
	}{
		{"update, all used", &dynamodb.UpdateItemInput{Key: leadKey("1"),
			UpdateExpression: aws.String("SET #o = :o"), ConditionExpression: aws.String("attribute_not_exists(pk) OR until_ms <= :now"),
			ExpressionAttributeNames: map[string]string{"#o": "owner"}, ExpressionAttributeValues: vals(":o", ":now")}, nil},
		{"unused value", &dynamodb.UpdateItemInput{Key: leadKey("1"),
			UpdateExpression: aws.String("SET a = :a"), ExpressionAttributeValues: vals(":a", ":b")},
			[]string{"UpdateItem LEAD#1: :b is defined in ExpressionAttributeValues but no expression uses it"}},
		{"undefined name", &dynamodb.DeleteItemInput{Key: leadKey("2"),
			ConditionExpression: aws.String("#owner = :o"), ExpressionAttributeValues: vals(":o")},
			[]string{"DeleteItem LEAD#2: #owner is used in an expression but not defined in ExpressionAttributeNames"}},
		{"undefined value", &dynamodb.PutItemInput{Item: leadKey("3"),
			ConditionExpression: aws.String("attribute_not_exists(pk) OR v < :v")},
			[]string{"PutItem LEAD#3: :v is used in an expression but not defined in ExpressionAttributeValues"}},
		{":a defined, only :ab used", &dynamodb.UpdateItemInput{Key: leadKey("4"),
			UpdateExpression: aws.String("SET x = :ab"), ExpressionAttributeValues: vals(":a", ":ab")},
			[]string{"UpdateItem LEAD#4: :a is defined in ExpressionAttributeValues but no expression uses it"}},
		{":ab defined, :a used", &dynamodb.UpdateItemInput{Key: leadKey("5"),
			UpdateExpression: aws.String("SET x = :a"), ExpressionAttributeValues: vals(":ab")},
			[]string{
				"UpdateItem LEAD#5: :ab is defined in ExpressionAttributeValues but no expression uses it",
				"UpdateItem LEAD#5: :a is used in an expression but not defined in ExpressionAttributeValues",
			}},
		{"#n a prefix of #name", &dynamodb.QueryInput{KeyConditionExpression: aws.String("#name = :v"),
			ExpressionAttributeNames: map[string]string{"#n": "n", "#name": "name"}, ExpressionAttributeValues: vals(":v")},
			[]string{"Query: #n is defined in ExpressionAttributeNames but no expression uses it"}},
		{"query over key condition, filter and projection", &dynamodb.QueryInput{KeyConditionExpression: aws.String("open_shard = :open"),
			FilterExpression: aws.String("due_at <= :now"), ProjectionExpression: aws.String("pk, #d"),
			ExpressionAttributeNames: map[string]string{"#d": "due_at"}, ExpressionAttributeValues: vals(":open", ":now")}, nil},
		{"empty values map", &dynamodb.UpdateItemInput{Key: leadKey("6"),
			UpdateExpression: aws.String("REMOVE a"), ExpressionAttributeValues: vals()},
			[]string{"UpdateItem LEAD#6: ExpressionAttributeValues must not be empty"}},
		{"a value without the colon", &dynamodb.UpdateItemInput{Key: leadKey("7"),
			UpdateExpression: aws.String("SET a = :a"), ExpressionAttributeValues: vals(":a", "b")},
			[]string{"UpdateItem LEAD#7: b is in ExpressionAttributeValues but does not start with :"}},
		{"get with a projection", &dynamodb.GetItemInput{Key: leadKey("8"), ProjectionExpression: aws.String("#s"),
			ExpressionAttributeNames: map[string]string{"#s": "claim_state", "#o": "owner"}},
			[]string{"GetItem LEAD#8: #o is defined in ExpressionAttributeNames but no expression uses it"}},
		{"batch get projection", &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{
			"t": {Keys: []map[string]ddbtypes.AttributeValue{leadKey("9")}, ProjectionExpression: aws.String("pk, #st"),
				ExpressionAttributeNames: map[string]string{"#s": "claim_state"}}}},
			[]string{
				"BatchGetItem t: #s is defined in ExpressionAttributeNames but no expression uses it",
				"BatchGetItem t: #st is used in an expression but not defined in ExpressionAttributeNames",
			}},
		{"scan filter", &dynamodb.ScanInput{FilterExpression: aws.String("kind = :k"), ExpressionAttributeValues: vals(":k")}, nil},
		// What moto lets through: an unused value in one item of a transaction.
		{"unused value in a transaction", &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
			{Put: &ddbtypes.Put{Item: leadKey("10"), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
			{Update: &ddbtypes.Update{Key: leadKey("11"), UpdateExpression: aws.String("SET claim_state = :s"),
				ConditionExpression: aws.String("#owner = :owner"), ExpressionAttributeNames: map[string]string{"#owner": "owner"},
				ExpressionAttributeValues: vals(":s", ":owner", ":now")}},
			{ConditionCheck: &ddbtypes.ConditionCheck{Key: leadKey("12"), ConditionExpression: aws.String("v = :v"),
				ExpressionAttributeValues: vals(":v")}},
			{Delete: &ddbtypes.Delete{Key: leadKey("13"), ConditionExpression: aws.String("gen = :g"),
				ExpressionAttributeValues: vals(":gen")}},
		}}, []string{
			"TransactWriteItems[1] Update LEAD#11: :now is defined in ExpressionAttributeValues but no expression uses it",
			"TransactWriteItems[3] Delete LEAD#13: :gen is defined in ExpressionAttributeValues but no expression uses it",
			"TransactWriteItems[3] Delete LEAD#13: :g is used in an expression but not defined in ExpressionAttributeValues",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRequest(tt.in)
			var got []string
			if err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					got = append(got, strings.TrimSuffix(line, " (DynamoDB: ValidationException)"))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("CheckRequest:\n got %q\nwant %q", got, tt.want)
			}
			var ee *ExpressionError
			if tt.want != nil && !errors.As(err, &ee) {
				t.Errorf("%v is not an *ExpressionError", err)
			}
		})
	}
}

// recordingTB is a testing.TB whose cleanups and errors a test can run
// and read.
type recordingTB struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (r *recordingTB) Helper()          {}
func (r *recordingTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// countingDynamoDB counts the requests that reached it.
type countingDynamoDB struct {
	DynamoDB
	updates int
}

func (c *countingDynamoDB) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.updates++
	return &dynamodb.UpdateItemOutput{}, nil
}

// TestCheckExpressionsRefusesAndReports: a refused request never reaches
// DynamoDB, fails with an *ExpressionError, and fails the test at its end
// even when the code under test dropped the error.
func TestCheckExpressionsRefusesAndReports(t *testing.T) {
	tb := &recordingTB{TB: t}
	next := &countingDynamoDB{}
	c := CheckExpressions(tb, next)
	ctx := context.Background()
	good := &dynamodb.UpdateItemInput{Key: leadKey("1"), UpdateExpression: aws.String("SET a = :a"), ExpressionAttributeValues: vals(":a")}
	if _, err := c.UpdateItem(ctx, good); err != nil || next.updates != 1 {
		t.Fatalf("a valid update: %v, %d sent", err, next.updates)
	}
	bad := &dynamodb.UpdateItemInput{Key: leadKey("2"), UpdateExpression: aws.String("SET a = :a"), ExpressionAttributeValues: vals(":a", ":unused")}
	_, err := c.UpdateItem(ctx, bad)
	var ee *ExpressionError
	if !errors.As(err, &ee) || ee.Placeholder != ":unused" || ee.Request != "UpdateItem LEAD#2" || next.updates != 1 {
		t.Fatalf("an invalid update: %v, %d sent", err, next.updates)
	}
	if len(tb.errors) != 0 {
		t.Fatalf("reported before the test ended: %q", tb.errors)
	}
	for _, f := range tb.cleanups {
		f()
	}
	if len(tb.errors) != 1 || !strings.Contains(tb.errors[0], ":unused is defined in ExpressionAttributeValues but no expression uses it") {
		t.Fatalf("at the end: %q", tb.errors)
	}
}
