// Package statusdeps builds the status function's dependencies on AWS
// from its configuration: the one place its adapters are put together,
// for its main and for the rigs that run it against moto (convertdeps has
// the convert function's).
package statusdeps

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/eventbus"
	"github.com/zoho-bridge/leadconvert/pkg/aws/shareddeps"
	"github.com/zoho-bridge/leadconvert/pkg/aws/sqsqueue"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
)

// New returns the status function's dependencies: the table (jobs and
// their checks, the shared token sealed with the token key, the budget's
// slots, the credit figure, sweeps), the secret through its cache, the
// conversion queue (resends, sweeps' messages, the safety net's
// wake-ups) and the event bus when cfg names them. shared carries what a
// rig sets (the clock, where logs go, Zoho's HTTP client); ddb, if not
// nil, wraps the table's client.
func New(awsCfg aws.Config, cfg config.Status, shared app.Shared, ddb func(table.API) table.API) app.StatusDeps {
	shared, api := shareddeps.New(awsCfg, cfg.Shared, shared, ddb)
	jobStore := table.NewJobStore(api, cfg.JobsTable)
	deps := app.StatusDeps{Shared: shared, Jobs: jobStore, Sweeps: jobStore}
	if cfg.ConversionQueueURL != "" {
		q := sqsqueue.NewQueue(sqs.NewFromConfig(awsCfg), cfg.ConversionQueueURL)
		deps.Resend, deps.Wakes = q, q
	}
	if cfg.EventBusName != "" {
		bus := eventbus.New(eventbridge.NewFromConfig(awsCfg), cfg.EventBusName)
		deps.Events, deps.SweepEvents = bus, bus
	}
	return deps
}
