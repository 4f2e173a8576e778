package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/internal/dynamoattr"
)

// DynamoAPI is the part of the DynamoDB client DynamoStore uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// DynamoStore keeps token records as items of the jobs table, keyed by
// "pk". Its attribute names avoid the table's TTL attribute: a token record
// must outlive its token, or a refresh pause would vanish with it.
type DynamoStore struct {
	api   DynamoAPI
	table string
}

var _ Store = (*DynamoStore)(nil)

// NewDynamoStore returns a Store over table.
func NewDynamoStore(api DynamoAPI, table string) *DynamoStore {
	return &DynamoStore{api: api, table: table}
}

const (
	attrPK           = "pk"
	attrAccessToken  = "access_token"
	attrAPIDomain    = "api_domain"
	attrTokenExpires = "token_expires_ms"
	attrLeaseOwner   = "lease_owner"
	attrLeaseUntil   = "lease_until_ms"
	attrBlockedUntil = "blocked_until_ms"
	attrVersion      = "version"
)

func (d *DynamoStore) Load(ctx context.Context, key string) (Record, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            pk(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Record{}, fmt.Errorf("loading token record: %w", err)
	}
	it := out.Item
	return Record{
		AccessToken:  dynamoattr.String(it[attrAccessToken]),
		APIDomain:    dynamoattr.String(it[attrAPIDomain]),
		ExpiresAt:    millis(it[attrTokenExpires]),
		LeaseOwner:   dynamoattr.String(it[attrLeaseOwner]),
		LeaseUntil:   millis(it[attrLeaseUntil]),
		BlockedUntil: millis(it[attrBlockedUntil]),
		Version:      dynamoattr.Int(it[attrVersion]),
	}, nil
}

func (d *DynamoStore) TryLease(ctx context.Context, key, owner string, version int64, now, until time.Time) (bool, error) {
	cond := "attribute_not_exists(pk)"
	values := map[string]types.AttributeValue{
		":owner": dynamoattr.S(owner),
		":until": msValue(until),
		":one":   dynamoattr.N(1),
	}
	if version != 0 {
		cond = "version = :v AND (attribute_not_exists(lease_owner) OR lease_owner = :owner OR lease_until_ms < :now)"
		values[":v"] = dynamoattr.N(version)
		values[":now"] = msValue(now)
	}
	return d.update(ctx, key, "SET lease_owner = :owner, lease_until_ms = :until, version = if_not_exists(version, :one)", cond, values)
}

func (d *DynamoStore) Save(ctx context.Context, key, owner string, rec Record) (bool, error) {
	update := "SET access_token = :tok, token_expires_ms = :exp, version = version + :one REMOVE lease_owner, lease_until_ms, blocked_until_ms"
	values := map[string]types.AttributeValue{
		":owner": dynamoattr.S(owner),
		":tok":   dynamoattr.S(rec.AccessToken),
		":exp":   msValue(rec.ExpiresAt),
		":one":   dynamoattr.N(1),
	}
	if rec.APIDomain != "" {
		update = "SET access_token = :tok, api_domain = :dom, token_expires_ms = :exp, version = version + :one REMOVE lease_owner, lease_until_ms, blocked_until_ms"
		values[":dom"] = dynamoattr.S(rec.APIDomain)
	} else {
		update += ", api_domain"
	}
	return d.update(ctx, key, update, "lease_owner = :owner", values)
}

func (d *DynamoStore) Release(ctx context.Context, key, owner string, blockedUntil time.Time) error {
	update := "REMOVE lease_owner, lease_until_ms"
	values := map[string]types.AttributeValue{":owner": dynamoattr.S(owner)}
	if !blockedUntil.IsZero() {
		update = "SET blocked_until_ms = :b " + update
		values[":b"] = msValue(blockedUntil)
	}
	_, err := d.update(ctx, key, update, "lease_owner = :owner", values)
	return err
}

func (d *DynamoStore) Drop(ctx context.Context, key, accessToken string) error {
	_, err := d.update(ctx, key,
		"SET version = version + :one REMOVE access_token, api_domain, token_expires_ms",
		"access_token = :tok",
		map[string]types.AttributeValue{
			":tok": dynamoattr.S(accessToken),
			":one": dynamoattr.N(1),
		})
	return err
}

// update runs one conditional UpdateItem; a failed condition is a false, not an error.
func (d *DynamoStore) update(ctx context.Context, key, update, cond string, values map[string]types.AttributeValue) (bool, error) {
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       pk(key),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("updating token record: %w", err)
	}
	return true, nil
}

func pk(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: dynamoattr.S(key)}
}

func msValue(t time.Time) types.AttributeValue { return dynamoattr.N(t.UnixMilli()) }

func millis(v types.AttributeValue) time.Time {
	if ms := dynamoattr.Int(v); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}
