// Package secretstore reads the Zoho secret from AWS Secrets Manager: the
// secret.Fetcher of the deployed functions.
package secretstore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
)

// API is the part of the Secrets Manager client the fetcher uses.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretsManager fetches one secret's string.
type SecretsManager struct {
	api API
	id  string
}

var _ secret.Fetcher = (*SecretsManager)(nil)

// New returns a fetcher of secret id (a name or an ARN).
func New(api API, id string) *SecretsManager { return &SecretsManager{api: api, id: id} }

// Fetch reads the current version of the secret.
func (s *SecretsManager) Fetch(ctx context.Context) (string, error) {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.id)})
	if err != nil {
		return "", fmt.Errorf("reading secret %s: %w", s.id, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %s has no SecretString (binary secrets are not supported)", s.id)
	}
	return *out.SecretString, nil
}
