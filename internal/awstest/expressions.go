package awstest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB is the part of the DynamoDB client the table's stores call:
// table.API, and Scan for the operator's listing. *dynamodb.Client is one.
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// CheckExpressions returns api with every request's placeholders checked
// as DynamoDB checks them, and moto does not always: each `:value` and
// `#name` a request defines must be used by one of its expressions, and
// each one used must be defined. moto accepts an unused value inside
// TransactWriteItems, which DynamoDB refuses, so without this check a
// leftover placeholder passes every test and fails on AWS.
//
// A request that breaks the rule is not sent: it fails with an
// *ExpressionError, as DynamoDB would fail it with a ValidationException.
// The violation also fails t when the test ends, in case the code under
// test swallowed the error (a best-effort write, a retry loop).
func CheckExpressions(t testing.TB, api DynamoDB) *ExpressionChecker {
	t.Helper()
	c := &ExpressionChecker{next: api}
	t.Cleanup(func() {
		for _, err := range c.Violations() {
			t.Errorf("awstest: a request DynamoDB would refuse: %v", err)
		}
	})
	return c
}

// ExpressionChecker is the DynamoDB client that CheckExpressions returns.
type ExpressionChecker struct {
	next DynamoDB

	mu         sync.Mutex
	violations []error
}

// Violations returns the refused requests so far.
func (c *ExpressionChecker) Violations() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.violations)
}

func (c *ExpressionChecker) refuse(err error) error {
	c.mu.Lock()
	c.violations = append(c.violations, err)
	c.mu.Unlock()
	return err
}

func (c *ExpressionChecker) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := CheckRequest(in); err != nil {
		return nil, c.refuse(err)
	}
	return c.next.GetItem(ctx, in, opts...)
}

func (c *ExpressionChecker) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := CheckRequest(in); err != nil {
		return nil, c.refuse(err)
	}
	return c.next.PutItem(ctx, in, opts...)
}

func (c *ExpressionChecker) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	if err := CheckRequest(in); err != nil {
		return nil, c.refuse(err)
	}
	return c.next.BatchGetItem(ctx, in, opts...)
}

func (c *ExpressionChecker) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := CheckRequest(in); err != nil {
		return nil, c.refuse(err)
	}
	return c.next.UpdateItem(ctx, in, opts...)
}

func (c *ExpressionChecker) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := CheckRequest(in); err != nil {
		return nil, c.refuse(err)
	}
	return c.next.DeleteItem(ctx, in, opts...)
}

func (c *ExpressionChecker) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if err := CheckRequest(in); err != nil {
		return nil, c.refuse(err)
	}
	return c.next.TransactWriteItems(ctx, in, opts...)
}

func (c *ExpressionChecker) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := CheckRequest(in); err != nil {
		return nil, c.refuse(err)
	}
	return c.next.Query(ctx, in, opts...)
}

func (c *ExpressionChecker) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if err := CheckRequest(in); err != nil {
		return nil, c.refuse(err)
	}
	return c.next.Scan(ctx, in, opts...)
}

// ExpressionError is a request DynamoDB refuses for its placeholders.
type ExpressionError struct {
	Request     string // e.g. "UpdateItem TOKEN#k" or "TransactWriteItems[2] Update LEAD#1"
	Placeholder string // ":v" or "#n"; empty for an empty map
	Problem     string
}

func (e *ExpressionError) Error() string {
	if e.Placeholder == "" {
		return fmt.Sprintf("%s: %s (DynamoDB: ValidationException)", e.Request, e.Problem)
	}
	return fmt.Sprintf("%s: %s %s (DynamoDB: ValidationException)", e.Request, e.Placeholder, e.Problem)
}

// CheckRequest checks the placeholders of one request: a *GetItemInput,
// *PutItemInput, *UpdateItemInput, *DeleteItemInput, *QueryInput,
// *ScanInput, *BatchGetItemInput or *TransactWriteItemsInput. It returns
// every violation, joined, or nil.
func CheckRequest(in any) error {
	var parts []exprs
	switch in := in.(type) {
	case *dynamodb.GetItemInput:
		parts = append(parts, exprs{"GetItem " + keyOf(in.Key), in.ExpressionAttributeNames, nil,
			[]*string{in.ProjectionExpression}})
	case *dynamodb.PutItemInput:
		parts = append(parts, exprs{"PutItem " + keyOf(in.Item), in.ExpressionAttributeNames, in.ExpressionAttributeValues,
			[]*string{in.ConditionExpression}})
	case *dynamodb.UpdateItemInput:
		parts = append(parts, exprs{"UpdateItem " + keyOf(in.Key), in.ExpressionAttributeNames, in.ExpressionAttributeValues,
			[]*string{in.UpdateExpression, in.ConditionExpression}})
	case *dynamodb.DeleteItemInput:
		parts = append(parts, exprs{"DeleteItem " + keyOf(in.Key), in.ExpressionAttributeNames, in.ExpressionAttributeValues,
			[]*string{in.ConditionExpression}})
	case *dynamodb.QueryInput:
		parts = append(parts, exprs{"Query", in.ExpressionAttributeNames, in.ExpressionAttributeValues,
			[]*string{in.KeyConditionExpression, in.FilterExpression, in.ProjectionExpression}})
	case *dynamodb.ScanInput:
		parts = append(parts, exprs{"Scan", in.ExpressionAttributeNames, in.ExpressionAttributeValues,
			[]*string{in.FilterExpression, in.ProjectionExpression}})
	case *dynamodb.BatchGetItemInput:
		tables := make([]string, 0, len(in.RequestItems))
		for name := range in.RequestItems {
			tables = append(tables, name)
		}
		sort.Strings(tables)
		for _, name := range tables {
			ka := in.RequestItems[name]
			parts = append(parts, exprs{"BatchGetItem " + name, ka.ExpressionAttributeNames, nil,
				[]*string{ka.ProjectionExpression}})
		}
	case *dynamodb.TransactWriteItemsInput:
		for i, it := range in.TransactItems {
			at := fmt.Sprintf("TransactWriteItems[%d] ", i)
			switch {
			case it.Put != nil:
				parts = append(parts, exprs{at + "Put " + keyOf(it.Put.Item), it.Put.ExpressionAttributeNames,
					it.Put.ExpressionAttributeValues, []*string{it.Put.ConditionExpression}})
			case it.Update != nil:
				parts = append(parts, exprs{at + "Update " + keyOf(it.Update.Key), it.Update.ExpressionAttributeNames,
					it.Update.ExpressionAttributeValues, []*string{it.Update.UpdateExpression, it.Update.ConditionExpression}})
			case it.Delete != nil:
				parts = append(parts, exprs{at + "Delete " + keyOf(it.Delete.Key), it.Delete.ExpressionAttributeNames,
					it.Delete.ExpressionAttributeValues, []*string{it.Delete.ConditionExpression}})
			case it.ConditionCheck != nil:
				parts = append(parts, exprs{at + "ConditionCheck " + keyOf(it.ConditionCheck.Key), it.ConditionCheck.ExpressionAttributeNames,
					it.ConditionCheck.ExpressionAttributeValues, []*string{it.ConditionCheck.ConditionExpression}})
			}
		}
	default:
		return fmt.Errorf("awstest.CheckRequest: %T is not a request it knows", in)
	}
	var errs []error
	for _, p := range parts {
		errs = append(errs, p.check()...)
	}
	return errors.Join(errs...)
}

// exprs is one request (or one item of a transaction): its expressions
// and the placeholders it defines for them.
type exprs struct {
	request string
	names   map[string]string
	values  map[string]types.AttributeValue
	texts   []*string
}

// placeholder is a name or value placeholder as a whole token, so that
// ":a" is not found inside ":ab". Expressions have no string literals, so
// a token is never quoted text.
var placeholder = regexp.MustCompile(`[#:][A-Za-z0-9_]+`)

func (e exprs) check() []error {
	var errs []error
	bad := func(ph, problem string) {
		errs = append(errs, &ExpressionError{Request: e.request, Placeholder: ph, Problem: problem})
	}
	// The SDK sends a non-nil empty map as {}, which DynamoDB refuses.
	if e.names != nil && len(e.names) == 0 {
		bad("", "ExpressionAttributeNames must not be empty")
	}
	if e.values != nil && len(e.values) == 0 {
		bad("", "ExpressionAttributeValues must not be empty")
	}
	used := map[string]bool{}
	for _, s := range e.texts {
		if s == nil {
			continue
		}
		for _, tok := range placeholder.FindAllString(*s, -1) {
			used[tok] = true
		}
	}
	for _, ph := range sortedKeys(e.names) {
		switch {
		case !strings.HasPrefix(ph, "#"):
			bad(ph, "is in ExpressionAttributeNames but does not start with #")
		case !used[ph]:
			bad(ph, "is defined in ExpressionAttributeNames but no expression uses it")
		}
	}
	for _, ph := range sortedKeys(e.values) {
		switch {
		case !strings.HasPrefix(ph, ":"):
			bad(ph, "is in ExpressionAttributeValues but does not start with :")
		case !used[ph]:
			bad(ph, "is defined in ExpressionAttributeValues but no expression uses it")
		}
	}
	for _, ph := range sortedKeys(used) {
		_, name := e.names[ph]
		_, value := e.values[ph]
		switch {
		case strings.HasPrefix(ph, "#") && !name:
			bad(ph, "is used in an expression but not defined in ExpressionAttributeNames")
		case strings.HasPrefix(ph, ":") && !value:
			bad(ph, "is used in an expression but not defined in ExpressionAttributeValues")
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// keyOf names an item by its partition key "pk", the table's key.
func keyOf(key map[string]types.AttributeValue) string {
	if s, ok := key["pk"].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return "(no pk)"
}
