package table

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// TokenStore keeps the shared token records as "TOKEN#<key>" items. Their
// attribute names avoid the table's TTL attribute: a token record must
// outlive its token, or a refresh pause would vanish with it.
type TokenStore struct {
	api   API
	table string
}

var _ oauth.Store = (*TokenStore)(nil)

// NewTokenStore returns the token store on table.
func NewTokenStore(api API, table string) *TokenStore {
	return &TokenStore{api: api, table: table}
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

func (d *TokenStore) Load(ctx context.Context, key string) (oauth.Record, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            tokenKey(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return oauth.Record{}, fmt.Errorf("loading token record: %w", err)
	}
	it := out.Item
	return oauth.Record{
		AccessToken:  str(it[attrAccessToken]),
		APIDomain:    str(it[attrAPIDomain]),
		ExpiresAt:    millis(it[attrTokenExpires]),
		LeaseOwner:   str(it[attrLeaseOwner]),
		LeaseUntil:   millis(it[attrLeaseUntil]),
		BlockedUntil: millis(it[attrBlockedUntil]),
		Version:      num(it[attrVersion]),
	}, nil
}

func (d *TokenStore) TryLease(ctx context.Context, key, owner string, version int64, now, until time.Time) (bool, error) {
	cond := "attribute_not_exists(pk)"
	values := map[string]types.AttributeValue{
		":owner": sAttr(owner),
		":until": msValue(until),
		":one":   nAttr(1),
	}
	if version != 0 {
		cond = "version = :v AND (attribute_not_exists(lease_owner) OR lease_owner = :owner OR lease_until_ms < :now)"
		values[":v"] = nAttr(version)
		values[":now"] = msValue(now)
	}
	return d.update(ctx, key, "SET lease_owner = :owner, lease_until_ms = :until, version = if_not_exists(version, :one)", cond, values)
}

func (d *TokenStore) Save(ctx context.Context, key, owner string, rec oauth.Record) (bool, error) {
	update := "SET access_token = :tok, token_expires_ms = :exp, version = version + :one REMOVE lease_owner, lease_until_ms, blocked_until_ms"
	values := map[string]types.AttributeValue{
		":owner": sAttr(owner),
		":tok":   sAttr(rec.AccessToken),
		":exp":   msValue(rec.ExpiresAt),
		":one":   nAttr(1),
	}
	if rec.APIDomain != "" {
		update = "SET access_token = :tok, api_domain = :dom, token_expires_ms = :exp, version = version + :one REMOVE lease_owner, lease_until_ms, blocked_until_ms"
		values[":dom"] = sAttr(rec.APIDomain)
	} else {
		update += ", api_domain"
	}
	return d.update(ctx, key, update, "lease_owner = :owner", values)
}

func (d *TokenStore) Release(ctx context.Context, key, owner string, blockedUntil time.Time) error {
	update := "REMOVE lease_owner, lease_until_ms"
	values := map[string]types.AttributeValue{":owner": sAttr(owner)}
	if !blockedUntil.IsZero() {
		update = "SET blocked_until_ms = :b " + update
		values[":b"] = msValue(blockedUntil)
	}
	_, err := d.update(ctx, key, update, "lease_owner = :owner", values)
	return err
}

func (d *TokenStore) Drop(ctx context.Context, key, accessToken string) error {
	_, err := d.update(ctx, key,
		"SET version = version + :one REMOVE access_token, api_domain, token_expires_ms",
		"access_token = :tok",
		map[string]types.AttributeValue{
			":tok": sAttr(accessToken),
			":one": nAttr(1),
		})
	return err
}

// update runs one conditional UpdateItem; a failed condition is a false, not an error.
func (d *TokenStore) update(ctx context.Context, key, update, cond string, values map[string]types.AttributeValue) (bool, error) {
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       tokenKey(key),
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

func tokenKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: sAttr(tokenPrefix + key)}
}

func msValue(t time.Time) types.AttributeValue { return nAttr(t.UnixMilli()) }

func millis(v types.AttributeValue) time.Time {
	if ms := num(v); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}
