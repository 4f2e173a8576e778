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
