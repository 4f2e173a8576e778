package oauth

import (
	"context"
	"errors"
)

// Sealer encrypts the shared access token before a Store writes it where
// others can read it (a table, its backups and exports) and decrypts it
// after the Store reads it back. bind names what the token belongs to (the
// table and the item): a ciphertext opens only with the bind it was sealed
// with, so one copied to another item or table is useless.
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte, bind map[string]string) ([]byte, error)
	Open(ctx context.Context, ciphertext []byte, bind map[string]string) ([]byte, error)
}

// ErrUnsealable is wrapped by a Sealer's Open when the ciphertext itself is
// at fault: altered, sealed for another bind, or under another key. A Store
// then holds no usable token, and the next caller refreshes: waiting would
// not mend it. Any other Open error (the key service unreachable, a
// permission missing) may pass, so it is an error, not an absent token.
var ErrUnsealable = errors.New("oauth: the sealed token does not open for this item")

// ErrSealing is wrapped by a Store's errors when its Sealer failed for a
// reason other than the ciphertext (ErrUnsealable): the key disabled or
// its policy changed, the key service throttling or unreachable. Such a
// failure passes by itself or needs an operator, so a Source counts it
// (TokenSealErrors) and, when it kept a new token from being stored,
// pauses refreshing rather than let every instance refresh in turn.
var ErrSealing = errors.New("oauth: the key service failed")
