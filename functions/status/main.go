// Command status is the status Lambda function: on a schedule, it follows
// every open Zoho mass-convert job to its end.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/eventbus"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/aws/secretstore"
	"github.com/zoho-bridge/leadconvert/pkg/aws/sqsqueue"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
)

func main() {
	cfg, err := config.LoadStatus(os.Getenv)
	if err != nil {
		fail(err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		fail(err)
	}
	ddb := table.NewClient(awsCfg)
	jobStore := table.NewJobStore(ddb, cfg.JobsTable)
	deps := app.StatusDeps{
		Shared: app.Shared{
			Secret: secret.NewCache(secretstore.New(secretsmanager.NewFromConfig(awsCfg), cfg.SecretID),
				secret.CacheConfig{Logger: obs.NewLogger(os.Stdout, cfg.LogLevel)}),
			Tokens:  table.NewTokenStore(ddb, cfg.JobsTable, kmsseal.New(kms.NewFromConfig(awsCfg), cfg.TokenKeyID)),
			Slots:   table.NewSlots(ddb, cfg.JobsTable),
			Credits: jobStore,
			Out:     os.Stdout,
		},
		Jobs:   jobStore,
		Sweeps: jobStore,
	}
	if cfg.ConversionQueueURL != "" {
		deps.Resend = sqsqueue.NewQueue(sqs.NewFromConfig(awsCfg), cfg.ConversionQueueURL)
	}
	if cfg.EventBusName != "" {
		bus := eventbus.New(eventbridge.NewFromConfig(awsCfg), cfg.EventBusName)
		deps.Events, deps.SweepEvents = bus, bus
	}
	fn, err := app.NewStatus(cfg, deps)
	if err != nil {
		fail(err)
	}
	lambda.Start(fn.Invoke)
}

// fail stops the cold start; Lambda reports it as an init error.
func fail(err error) {
	fmt.Fprintf(os.Stderr, "status: configuration: %v\n", err)
	os.Exit(1)
}
