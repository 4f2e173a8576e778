// Command convert is the convert Lambda function: Zoho lead conversions
// requested through API Gateway or SQS become batched mass_convert calls.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/aws/secretstore"
	"github.com/zoho-bridge/leadconvert/pkg/aws/sqsqueue"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
)

func main() {
	cfg, err := config.LoadConvert(os.Getenv)
	if err != nil {
		fail(err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		fail(err)
	}
	ddb, sqsClient := table.NewClient(awsCfg), sqs.NewFromConfig(awsCfg)
	jobStore := table.NewJobStore(ddb, cfg.JobsTable)
	deps := app.ConvertDeps{
		Shared: app.Shared{
			Secret: secret.NewCache(secretstore.New(secretsmanager.NewFromConfig(awsCfg), cfg.SecretID),
				secret.CacheConfig{Logger: obs.NewLogger(os.Stdout, cfg.LogLevel)}),
			Tokens:  table.NewTokenStore(ddb, cfg.JobsTable, kmsseal.New(kms.NewFromConfig(awsCfg), cfg.TokenKeyID)),
			Slots:   table.NewSlots(ddb, cfg.JobsTable),
			Credits: table.NewJobStore(ddb, cfg.JobsTable),
			Out:     os.Stdout,
		},
		Jobs:       jobStore,
		DeadLetter: sqsqueue.NewDeadLetter(sqsClient, cfg.DeadLetterQueueURL),
		Sweeps:     jobStore, // GET /sweeps/{name}
	}
	if cfg.ConversionQueueURL != "" {
		deps.Queue = sqsqueue.NewQueue(sqsClient, cfg.ConversionQueueURL)
	}
	if cfg.WakeQueueURL != "" {
		deps.Wakes = sqsqueue.NewQueue(sqsClient, cfg.WakeQueueURL)
	}
	fn, err := app.NewConvert(cfg, deps)
	if err != nil {
		fail(err)
	}
	lambda.Start(fn.Invoke)
}

// fail stops the cold start; Lambda reports it as an init error.
func fail(err error) {
	fmt.Fprintf(os.Stderr, "convert: configuration: %v\n", err)
	os.Exit(1)
}
