package table

import (
	"context"
	"time"
)

// TokenState is a shared token item as stored, its token left sealed. It is
// what an operator may read: the key policy lets only the functions' roles
// decrypt the token, and an operator's check must not need to.
type TokenState struct {
	Exists bool // the item exists, token or not
	Sealed bool // it holds a sealed token
	// Clear reports a token in clear from a version before sealing; the
	// functions treat it as absent.
	Clear      bool
	APIDomain  string
	ExpiresAt  time.Time
	LeaseOwner string
	LeaseUntil time.Time
	// BlockedUntil is the refresh pause after Zoho throttled or refused
	// the credentials.
	BlockedUntil time.Time
	Version      int64
}

// State reads the item of key with one consistent GetItem and opens
// nothing: no key service call.
func (d *TokenStore) State(ctx context.Context, key string) (TokenState, error) {
	it, err := d.get(ctx, key)
	if err != nil || it == nil {
		return TokenState{}, err
	}
	_, clear := it[attrClearToken]
	return TokenState{
		Exists:       true,
		Sealed:       len(bin(it[attrSealedToken])) > 0,
		Clear:        clear,
		APIDomain:    str(it[attrAPIDomain]),
		ExpiresAt:    millis(it[attrTokenExpires]),
		LeaseOwner:   str(it[attrLeaseOwner]),
		LeaseUntil:   millis(it[attrLeaseUntil]),
		BlockedUntil: millis(it[attrBlockedUntil]),
		Version:      num(it[attrVersion]),
	}, nil
}
