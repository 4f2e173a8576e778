// Package dynamoattr converts between Go values and the DynamoDB attribute
// values the stores write: strings, integers and lists of strings. Reading
// is lenient: a missing or mistyped attribute reads as the zero value, so
// an item written by an older version still loads.
package dynamoattr

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// S is a string attribute.
func S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// N is a number attribute.
func N(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// L is a list of string attributes.
func L(vs []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(vs))
	for i, v := range vs {
		l[i] = S(v)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// String reads a string attribute.
func String(v types.AttributeValue) string {
	if a, ok := v.(*types.AttributeValueMemberS); ok {
		return a.Value
	}
	return ""
}

// Int reads a number attribute.
func Int(v types.AttributeValue) int64 {
	if a, ok := v.(*types.AttributeValueMemberN); ok {
		i, _ := strconv.ParseInt(a.Value, 10, 64)
		return i
	}
	return 0
}

// Strings reads a list of string attributes.
func Strings(v types.AttributeValue) []string {
	a, ok := v.(*types.AttributeValueMemberL)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(a.Value))
	for _, e := range a.Value {
		out = append(out, String(e))
	}
	return out
}
