package awstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const raceTemplate = `Resources:
  Race:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
`

// raceRounds is how many times two writers race for one item.
const raceRounds = 40

// TestSerialMotoIsAtomic is why RequireSerial exists: two writers race,
// round after round, to create the same item, each in a transaction that
// also puts an item of its own. On DynamoDB exactly one transaction
// succeeds, whole; the serial moto must agree. The threaded moto is only
// watched: it may let both win, or not, as the threads fall.
func TestSerialMotoIsAtomic(t *testing.T) {
	t.Parallel()
	t.Run("serial", func(t *testing.T) {
		t.Parallel()
		cfg := RequireSerial(t)
		if doubled := race(t, cfg, t.Errorf); doubled != 0 {
			t.Errorf("both transactions won %d of %d rounds on the serial moto", doubled, raceRounds)
		}
	})
	t.Run("threaded", func(t *testing.T) {
		t.Parallel()
		cfg := Require(t)
		odd := 0
		doubled := race(t, cfg, func(string, ...any) { odd++ })
		t.Logf("the threaded moto let both transactions win %d of %d rounds, and did %d other things DynamoDB never does",
			doubled, raceRounds, odd)
	})
}

// race runs the rounds on moto at cfg and returns in how many both writers
// won. It reports through odd anything DynamoDB could never do but a
// double win: no winner, a winner whose writes are not all there, a
// loser's write that is.
func race(t *testing.T, cfg aws.Config, odd func(format string, args ...any)) (doubled int) {
	t.Helper()
	db := dynamodb.NewFromConfig(cfg)
	table := createTableFromTemplate(t, cfg, writeTemplate(t, raceTemplate), "Race")
	ctx := t.Context()
	for round := range raceRounds {
		key := fmt.Sprintf("race#%d", round)
		start := make(chan struct{})
		var errs [2]error
		var wg sync.WaitGroup
		for racer := range errs {
			wg.Go(func() {
				<-start
				errs[racer] = claim(ctx, db, table, key, racer)
			})
		}
		close(start)
		wg.Wait()

		won := 0
		for racer, err := range errs {
			var canceled *ddbtypes.TransactionCanceledException
			switch {
			case err == nil:
				won++
			case errors.As(err, &canceled) && len(canceled.CancellationReasons) > 0 &&
				aws.ToString(canceled.CancellationReasons[0].Code) == "ConditionalCheckFailed":
				if item := get(t, db, table, fmt.Sprintf("%s#side#%d", key, racer)); item != nil {
					odd("round %d: racer %d lost, yet its other write is there", round, racer)
				}
			default:
				t.Fatalf("round %d: racer %d: %v", round, racer, err)
			}
		}
		switch won {
		case 0:
			odd("round %d: neither transaction won", round)
			continue
		case 2:
			doubled++
			continue
		}
		winner := 0
		if errs[0] != nil {
			winner = 1
		}
		item := get(t, db, table, key)
		if item == nil || !attrIs(item["winner"], fmt.Sprint(winner)) {
			odd("round %d: racer %d won, but the item is %v", round, winner, item)
		}
		if get(t, db, table, fmt.Sprintf("%s#side#%d", key, winner)) == nil {
			odd("round %d: racer %d won, but its other write is missing", round, winner)
		}
	}
	return doubled
}

// claim creates item key, unless it exists, and with it an item of racer's
// own, in one transaction.
func claim(ctx context.Context, db *dynamodb.Client, table, key string, racer int) error {
	_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Put: &ddbtypes.Put{
			TableName: aws.String(table),
			Item: map[string]ddbtypes.AttributeValue{
				"pk":     &ddbtypes.AttributeValueMemberS{Value: key},
				"winner": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprint(racer)},
			},
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
		{Put: &ddbtypes.Put{
			TableName: aws.String(table),
			Item: map[string]ddbtypes.AttributeValue{
				"pk": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("%s#side#%d", key, racer)},
			},
		}},
	}})
	return err
}

func get(t *testing.T, db *dynamodb.Client, table, key string) map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return out.Item
}

func attrIs(v ddbtypes.AttributeValue, want string) bool {
	s, ok := v.(*ddbtypes.AttributeValueMemberS)
	return ok && s.Value == want
}

// TestRequireSerialConfig: RequireSerial's moto is another server than
// Require's, on loopback.
func TestRequireSerialConfig(t *testing.T) {
	cfg := RequireSerial(t)
	ep := aws.ToString(cfg.BaseEndpoint)
	if err := checkLoopbackURL(ep); err != nil {
		t.Errorf("BaseEndpoint = %q: %v", ep, err)
	}
	if other := aws.ToString(Require(t).BaseEndpoint); strings.EqualFold(ep, other) {
		t.Errorf("RequireSerial and Require both reach %s", ep)
	}
}

// TestSerialMotoKeepsTransactionTokens: the SDK retries a transaction whose
// answer was lost with the same ClientRequestToken, and DynamoDB answers
// such a retry with the first success, applying nothing again. moto would
// run it again and cancel it on its own write; the serial moto must not.
func TestSerialMotoKeepsTransactionTokens(t *testing.T) {
	cfg := RequireSerial(t)
	db := dynamodb.NewFromConfig(cfg)
	table := createTableFromTemplate(t, cfg, writeTemplate(t, raceTemplate), "Race")
	write := func(key, winner, token string) error {
		_, err := db.TransactWriteItems(t.Context(), &dynamodb.TransactWriteItemsInput{
			ClientRequestToken: aws.String(token),
			TransactItems: []ddbtypes.TransactWriteItem{{Put: &ddbtypes.Put{
				TableName: aws.String(table),
				Item: map[string]ddbtypes.AttributeValue{
					"pk":     &ddbtypes.AttributeValueMemberS{Value: key},
					"winner": &ddbtypes.AttributeValueMemberS{Value: winner},
				},
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			}}},
		})
		return err
	}
	for _, tc := range []struct {
		name          string
		winner, token string // of the second call; the first is winner "0", token "first"
		want          func(error) bool
	}{
		{"same token, same request: the first success", "0", "first", func(err error) bool { return err == nil }},
		{"another token: run again, and cancelled", "0", "second", func(err error) bool {
			var canceled *ddbtypes.TransactionCanceledException
			return errors.As(err, &canceled)
		}},
		{"same token, another request: a mismatch", "1", "first", func(err error) bool {
			var mismatch *ddbtypes.IdempotentParameterMismatchException
			return errors.As(err, &mismatch)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "token#" + strings.ReplaceAll(tc.name, " ", "-")
			first := key + "#first" // tokens are the server's, not the table's: one per case
			if err := write(key, "0", first); err != nil {
				t.Fatalf("first call: %v", err)
			}
			token := first
			if tc.token != "first" {
				token = key + "#" + tc.token
			}
			if err := write(key, tc.winner, token); !tc.want(err) {
				t.Errorf("second call: %v", err)
			}
			if item := get(t, db, table, key); !attrIs(item["winner"], "0") {
				t.Errorf("item = %v, want the first call's", item)
			}
		})
	}
}
