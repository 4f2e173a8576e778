package table

// Attribute conversions. Reading is lenient: a missing or mistyped attribute
// reads as the zero value, so an item written by an older version still loads.

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// sAttr is a string attribute.
func sAttr(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// nAttr is a number attribute.
func nAttr(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// lAttr is a list of string attributes.
func lAttr(vs []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(vs))
	for i, v := range vs {
		l[i] = sAttr(v)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// str reads a string attribute.
func str(v types.AttributeValue) string {
	if a, ok := v.(*types.AttributeValueMemberS); ok {
		return a.Value
	}
	return ""
}

// bin reads a binary attribute.
func bin(v types.AttributeValue) []byte {
	if a, ok := v.(*types.AttributeValueMemberB); ok {
		return a.Value
	}
	return nil
}

// num reads a number attribute.
func num(v types.AttributeValue) int64 {
	if a, ok := v.(*types.AttributeValueMemberN); ok {
		i, _ := strconv.ParseInt(a.Value, 10, 64)
		return i
	}
	return 0
}

// strs reads a list of string attributes.
func strs(v types.AttributeValue) []string {
	a, ok := v.(*types.AttributeValueMemberL)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(a.Value))
	for _, e := range a.Value {
		out = append(out, str(e))
	}
	return out
}
