// DynamoDB's read-unit rules, shared by the estimate and the meter on moto.

package main

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB charges reads by the size of the whole item read, projection
// or not, rounded up to 4 KB: one read unit per 4 KB strongly consistent,
// half a unit eventually consistent; per item for GetItem and
// BatchGetItem, per request (everything read together) for Query, where a
// Select COUNT query costs what the same query returning its items does,
// and a filtered one what it read before the filter; a request that reads
// nothing still costs one unit. The open-checks index holds its keys and
// due_at, and index reads are eventually consistent.

// readUnits is what reading size bytes in one unit of charge costs.
func readUnits(size int, consistent bool) float64 {
	u := float64(max(1, (size+4095)/4096))
	if !consistent {
		u /= 2
	}
	return u
}

// queryPageBytes is the most data one Query page reads.
const queryPageBytes = 1 << 20

func itemKey(it map[string]types.AttributeValue) string {
	if v, ok := it["pk"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// itemSize is an item's size as DynamoDB counts it: attribute names plus
// values; strings and binaries by length, numbers about one byte per two
// significant digits plus one, lists and maps 3 bytes plus their elements
// with a byte each.
func itemSize(it map[string]types.AttributeValue) int {
	n := 0
	for k, v := range it {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, e := range v.Value {
			n += len(e)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, e := range v.Value {
			n += numberSize(e)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, e := range v.Value {
			n += len(e)
		}
		return n
	}
	return 0
}

func numberSize(s string) int {
	s = strings.TrimLeft(s, "+-")
	intPart, frac, _ := strings.Cut(s, ".")
	digits := strings.TrimRight(strings.TrimLeft(intPart+frac, "0"), "0")
	return (len(digits)+1)/2 + 1
}
