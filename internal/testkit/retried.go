package testkit

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
)

// RetriedWrites applies every single-item write (PutItem, UpdateItem,
// DeleteItem) twice and answers the second, as the SDK does when an applied
// attempt's answer is lost (aws-sdk-go-v2#2737: net.ErrClosed while reading
// a 200) and it sends the request again. A TransactWriteItems goes once:
// the SDK keeps its ClientRequestToken across retries, and DynamoDB answers
// a retried token with the first success.
func RetriedWrites(api table.API) table.API { return retried{api} }

type retried struct{ table.API }

func (r retried) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return twice(ctx, r.API.PutItem, in, opts)
}

func (r retried) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return twice(ctx, r.API.UpdateItem, in, opts)
}

func (r retried) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return twice(ctx, r.API.DeleteItem, in, opts)
}

// twice makes the call, and if it went through, makes it again and answers that.
func twice[In, Out any](ctx context.Context, call func(context.Context, In, ...func(*dynamodb.Options)) (Out, error), in In, opts []func(*dynamodb.Options)) (Out, error) {
	if out, err := call(ctx, in, opts...); err != nil {
		return out, err
	}
	return call(ctx, in, opts...)
}
