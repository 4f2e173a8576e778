package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// TokenStore keeps the shared token records as "TOKEN#<key>" items. Their
// attribute names avoid the table's TTL attribute: a token record must
// outlive its token, or a refresh pause would vanish with it.
//
// The access token is stored sealed (sealed_token, binary), bound to the
// table and its item, so the table, its backups and exports hold no usable
// token. Opening costs a call to the key service, so the store remembers the
// token it last sealed or opened for each item, by its ciphertext: a warm
// instance re-reads the item without opening it again, and opens once per
// new token.
type TokenStore struct {
	api    API
	table  string
	sealer oauth.Sealer

	mu     sync.Mutex
	opened map[string]openedToken // by store key
}

// openedToken is a sealed token and what it opened to.
type openedToken struct {
	sealed []byte
	token  string
}

var _ oauth.Store = (*TokenStore)(nil)

// NewTokenStore returns the token store on table, sealing with sealer.
func NewTokenStore(api API, table string, sealer oauth.Sealer) *TokenStore {
	return &TokenStore{api: api, table: table, sealer: sealer, opened: map[string]openedToken{}}
}

const (
	attrPK          = "pk"
	attrSealedToken = "sealed_token"
	// attrClearToken is where versions before sealing kept the token in
	// clear. Such a token is treated as absent, so the first caller after
	// an upgrade refreshes, and the Save that follows removes it.
	attrClearToken   = "access_token"
	attrAPIDomain    = "api_domain"
	attrTokenExpires = "token_expires_ms"
	attrLeaseOwner   = "lease_owner"
	attrLeaseUntil   = "lease_until_ms"
	attrBlockedUntil = "blocked_until_ms"
	attrVersion      = "version"
)

func (d *TokenStore) Load(ctx context.Context, key string) (oauth.Record, error) {
	it, err := d.get(ctx, key)
	if err != nil {
		return oauth.Record{}, err
	}
	tok, err := d.token(ctx, key, it)
	if err != nil {
		return oauth.Record{}, err
	}
	return oauth.Record{
		AccessToken:  tok,
		APIDomain:    str(it[attrAPIDomain]),
		ExpiresAt:    millis(it[attrTokenExpires]),
		LeaseOwner:   str(it[attrLeaseOwner]),
		LeaseUntil:   millis(it[attrLeaseUntil]),
		BlockedUntil: millis(it[attrBlockedUntil]),
		Version:      num(it[attrVersion]),
	}, nil
}

func (d *TokenStore) get(ctx context.Context, key string) (map[string]types.AttributeValue, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            tokenKey(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("loading token record: %w", err)
	}
	return out.Item, nil
}

// token opens the item's sealed token, or returns "" when it has none it
// can use: none at all, or one that does not open for this item.
func (d *TokenStore) token(ctx context.Context, key string, it map[string]types.AttributeValue) (string, error) {
	sealed := bin(it[attrSealedToken])
	if _, clear := it[attrClearToken]; clear || len(sealed) == 0 {
		// A clear token beside a sealed one means a version before sealing
		// saved after this one (a deploy under way, or a rollback): the
		// sealed one is the older token.
		return "", nil
	}
	d.mu.Lock()
	o, ok := d.opened[key]
	d.mu.Unlock()
	if ok && bytes.Equal(o.sealed, sealed) {
		return o.token, nil
	}
	plain, err := d.sealer.Open(ctx, sealed, d.bind(key))
	switch {
	case errors.Is(err, oauth.ErrUnsealable):
		return "", nil // the next caller refreshes, and its Save replaces it
	case err != nil:
		return "", fmt.Errorf("opening the shared token: %w: %w", oauth.ErrSealing, err)
	}
	d.remember(key, sealed, string(plain))
	return string(plain), nil
}

func (d *TokenStore) remember(key string, sealed []byte, token string) {
	d.mu.Lock()
	d.opened[key] = openedToken{sealed: sealed, token: token}
	d.mu.Unlock()
}

// bind ties a sealed token to this table and its item: the key policy
// names the table, and a ciphertext copied to another item does not open.
func (d *TokenStore) bind(key string) map[string]string {
	return map[string]string{"table": d.table, "item": TokenPrefix + key}
}

// TryLease takes the refresh lease. A lease held until U is live at t iff
// t < U, so it has lapsed once lease_until_ms <= now: the rule of the
// memory store, the budget's slots and every claim, so that the stores
// agree at the very millisecond a lease ends.
func (d *TokenStore) TryLease(ctx context.Context, key, owner string, version int64, now, until time.Time) (bool, error) {
	cond := "attribute_not_exists(pk)"
	values := map[string]types.AttributeValue{
		":owner": sAttr(owner),
		":until": msValue(until),
		":one":   nAttr(1),
	}
	if version != 0 {
		cond = "version = :v AND (attribute_not_exists(lease_owner) OR lease_owner = :owner OR lease_until_ms <= :now)"
		values[":v"] = nAttr(version)
		values[":now"] = msValue(now)
	}
	return d.update(ctx, key, "SET lease_owner = :owner, lease_until_ms = :until, version = if_not_exists(version, :one)", cond, values)
}

func (d *TokenStore) Save(ctx context.Context, key, owner string, rec oauth.Record) (bool, error) {
	sealed, err := d.sealer.Seal(ctx, []byte(rec.AccessToken), d.bind(key))
	if err != nil {
		return false, fmt.Errorf("sealing the shared token: %w: %w", oauth.ErrSealing, err)
	}
	update := "SET sealed_token = :tok, token_expires_ms = :exp, version = version + :one REMOVE access_token, lease_owner, lease_until_ms, blocked_until_ms"
	values := map[string]types.AttributeValue{
		":owner": sAttr(owner),
		":tok":   &types.AttributeValueMemberB{Value: sealed},
		":exp":   msValue(rec.ExpiresAt),
		":one":   nAttr(1),
	}
	if rec.APIDomain != "" {
		update = "SET sealed_token = :tok, api_domain = :dom, token_expires_ms = :exp, version = version + :one REMOVE access_token, lease_owner, lease_until_ms, blocked_until_ms"
		values[":dom"] = sAttr(rec.APIDomain)
	} else {
		update += ", api_domain"
	}
	saved, err := d.update(ctx, key, update, "lease_owner = :owner", values)
	if saved {
		d.remember(key, sealed, rec.AccessToken) // this instance need not open its own token
	}
	return saved, err
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

// Drop reads the item to learn the sealed form of accessToken (through the
// cache: no call to the key service), then removes it on the condition that
// it is still that ciphertext. It runs only after Zoho refused a token.
func (d *TokenStore) Drop(ctx context.Context, key, accessToken string) error {
	it, err := d.get(ctx, key)
	if err != nil {
		return err
	}
	tok, err := d.token(ctx, key, it)
	if err != nil || tok != accessToken {
		return err // another token, or none: nothing of ours to drop
	}
	_, err = d.update(ctx, key,
		"SET version = version + :one REMOVE sealed_token, api_domain, token_expires_ms",
		"sealed_token = :tok",
		map[string]types.AttributeValue{
			":tok": it[attrSealedToken],
			":one": nAttr(1),
		})
	return err
}

// update runs one conditional UpdateItem; a failed condition is a false, not an error.
// It is stamped: a save, release or drop removes what its condition asks
// for, so a retry of one that was applied must not read as a lease lost.
func (d *TokenStore) update(ctx context.Context, key, update, cond string, values map[string]types.AttributeValue) (bool, error) {
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       tokenKey(key),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: values,
	}
	st := newStamp()
	st.mark(in)
	_, err := d.api.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case st.applied(err):
		return true, nil
	case errors.As(err, &ccf):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("updating token record: %w", err)
	}
	return true, nil
}

func tokenKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: sAttr(TokenPrefix + key)}
}

func msValue(t time.Time) types.AttributeValue { return nAttr(t.UnixMilli()) }

func millis(v types.AttributeValue) time.Time {
	if ms := num(v); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}
