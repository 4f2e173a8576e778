// Package convertdeps builds the convert function's dependencies on AWS
// from its configuration: the one place its adapters are put together,
// for its main and for the rigs that run it against moto, so that a rig
// cannot drift from what the function deploys with. (The status
// function's are in statusdeps: a package each keeps each binary linking
// only the AWS clients it uses.)
package convertdeps

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/shareddeps"
	"github.com/zoho-bridge/leadconvert/pkg/aws/sqsqueue"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
)

// New returns the convert function's dependencies: the table (jobs,
// claims, accumulators, the shared token sealed with the token key, the
// budget's slots, the credit figure, sweeps for GET /sweeps), the secret
// through its cache, the dead-letter queue, and the conversion and wake-up
// queues when cfg names them. shared carries what a rig sets (the clock,
// where logs go, Zoho's HTTP client); ddb, if not nil, wraps the table's
// client.
func New(awsCfg aws.Config, cfg config.Convert, shared app.Shared, ddb func(table.API) table.API) app.ConvertDeps {
	shared, api := shareddeps.New(awsCfg, cfg.Shared, shared, ddb)
	sqsClient := sqs.NewFromConfig(awsCfg)
	jobStore := table.NewJobStore(api, cfg.JobsTable)
	deps := app.ConvertDeps{
		Shared:     shared,
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
	return deps
}
