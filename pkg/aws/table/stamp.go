package table

import (
	"crypto/rand"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A stamp marks one conditional update whose own write makes its condition
// false (a version it bumps, a claim state it moves). The SDK sends an
// attempt again when it loses the answer of one DynamoDB applied
// (aws-sdk-go-v2#2737: net.ErrClosed while reading a 200); that retry then
// fails its condition on its own write, and without the stamp it reads as
// another writer's. The update writes the stamp into the item (saved_by)
// and asks for the item on a failed condition: finding the stamp there,
// the caller knows its write was applied. TransactWriteItems needs none:
// DynamoDB answers a retry of its ClientRequestToken with the first
// success.
type stamp string

const stampAttr = "saved_by"

func newStamp() stamp { return stamp(rand.Text()) }

// mark adds the stamp to in's update expression and asks for the old item
// when its condition fails.
func (s stamp) mark(in *dynamodb.UpdateItemInput) {
	if in.ExpressionAttributeNames == nil {
		in.ExpressionAttributeNames = map[string]string{}
	}
	if in.ExpressionAttributeValues == nil {
		in.ExpressionAttributeValues = map[string]types.AttributeValue{}
	}
	in.ExpressionAttributeNames["#stamp"] = stampAttr
	in.ExpressionAttributeValues[":stamp"] = sAttr(string(s))
	if rest, ok := strings.CutPrefix(*in.UpdateExpression, "SET "); ok {
		in.UpdateExpression = aws.String("SET #stamp = :stamp, " + rest)
	} else {
		in.UpdateExpression = aws.String("SET #stamp = :stamp " + *in.UpdateExpression)
	}
	in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
}

// applied reports whether err is a failed condition on an item that
// already carries the stamp: this very write, applied by an attempt whose
// answer was lost.
func (s stamp) applied(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf) && ccf.Item != nil && str(ccf.Item[stampAttr]) == string(s)
}
