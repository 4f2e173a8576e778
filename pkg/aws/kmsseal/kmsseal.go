// Package kmsseal is oauth.Sealer over AWS KMS: the shared access token is
// encrypted with one symmetric key (TokenKey in template.yaml), and the
// Store's bind becomes KMS's encryption context, which the key policy
// checks and which Decrypt must be given exactly as Encrypt was.
//
// The token (about 100 bytes) is sent to KMS itself, well under Encrypt's
// 4 KB: envelope encryption with a data key would cost the same one call
// per seal and per open, and more code.
package kmsseal

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// API is the part of the KMS client a Sealer calls.
type API interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, opts ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Sealer seals with one KMS key.
type Sealer struct {
	api   API
	keyID string
}

var _ oauth.Sealer = (*Sealer)(nil)

// New returns a Sealer for the key keyID (an id, ARN or alias).
func New(api API, keyID string) *Sealer { return &Sealer{api: api, keyID: keyID} }

// Seal encrypts plaintext under the key with bind as encryption context.
func (s *Sealer) Seal(ctx context.Context, plaintext []byte, bind map[string]string) ([]byte, error) {
	out, err := s.api.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             aws.String(s.keyID),
		Plaintext:         plaintext,
		EncryptionContext: bind,
	})
	if err != nil {
		return nil, fmt.Errorf("kmsseal: encrypt: %w", err)
	}
	return out.CiphertextBlob, nil
}

// Open decrypts ciphertext, which must have been sealed under this key
// (naming the key makes KMS refuse a ciphertext of any other) with bind.
func (s *Sealer) Open(ctx context.Context, ciphertext []byte, bind map[string]string) ([]byte, error) {
	out, err := s.api.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             aws.String(s.keyID),
		CiphertextBlob:    ciphertext,
		EncryptionContext: bind,
	})
	var invalid *types.InvalidCiphertextException
	var otherKey *types.IncorrectKeyException
	switch {
	case errors.As(err, &invalid) || errors.As(err, &otherKey):
		return nil, fmt.Errorf("kmsseal: decrypt: %w: %w", oauth.ErrUnsealable, err)
	case err != nil:
		return nil, fmt.Errorf("kmsseal: decrypt: %w", err)
	}
	return out.Plaintext, nil
}
