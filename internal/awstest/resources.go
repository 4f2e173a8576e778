package awstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const cleanupTimeout = 30 * time.Second

// cleanupContext is for t.Cleanup functions: t.Context() is already cancelled when they run.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), cleanupTimeout)
}

// CreateSecret creates a Secrets Manager secret with a unique name and value as its
// SecretString, and returns its ARN. The secret is force-deleted (no recovery window) when the
// test ends.
func CreateSecret(t testing.TB, cfg aws.Config, value string) string {
	t.Helper()
	client := secretsmanager.NewFromConfig(cfg)
	name := UniqueName(t, "secret")
	out, err := client.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(value),
	})
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		// An SDK retry after a dropped connection: the first try made it.
		var d *secretsmanager.DescribeSecretOutput
		if d, err = client.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)}); err == nil {
			out = &secretsmanager.CreateSecretOutput{ARN: d.ARN}
		}
	}
	if err != nil {
		t.Fatalf("awstest: create secret: %v", err)
	}
	arn := aws.ToString(out.ARN)
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		_, err := client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
			SecretId:                   aws.String(arn),
			ForceDeleteWithoutRecovery: aws.Bool(true),
		})
		var notFound *smtypes.ResourceNotFoundException
		if err != nil && !errors.As(err, &notFound) {
			t.Errorf("awstest: delete secret %s: %v", arn, err)
		}
	})
	return arn
}

// CreateQueue creates a standard SQS queue with a unique name and returns its URL. The queue is
// deleted when the test ends.
func CreateQueue(t testing.TB, cfg aws.Config) string {
	t.Helper()
	client := sqs.NewFromConfig(cfg)
	out, err := client.CreateQueue(t.Context(), &sqs.CreateQueueInput{
		QueueName: aws.String(UniqueName(t, "queue")),
	})
	if err != nil {
		t.Fatalf("awstest: create queue: %v", err)
	}
	queueURL := aws.ToString(out.QueueUrl)
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		_, err := client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(queueURL)})
		var notFound *sqstypes.QueueDoesNotExist
		if err != nil && !errors.As(err, &notFound) {
			t.Errorf("awstest: delete queue %s: %v", queueURL, err)
		}
	})
	return queueURL
}

// CreateKey creates a symmetric KMS key and returns its ARN. Its deletion is scheduled (7 days,
// the shortest KMS allows) when the test ends.
func CreateKey(t testing.TB, cfg aws.Config) string {
	t.Helper()
	client := kms.NewFromConfig(cfg)
	out, err := client.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String(UniqueName(t, "key"))})
	if err != nil {
		t.Fatalf("awstest: create key: %v", err)
	}
	arn, id := aws.ToString(out.KeyMetadata.Arn), out.KeyMetadata.KeyId
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		// By id: moto's ScheduleKeyDeletion does not take an ARN.
		if _, err := client.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{
			KeyId: id, PendingWindowInDays: aws.Int32(7),
		}); err != nil {
			t.Errorf("awstest: schedule deletion of key %s: %v", arn, err)
		}
	})
	return arn
}
