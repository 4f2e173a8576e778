// Package shareddeps builds what the convert and status functions share on
// AWS (app.Shared): the secret through its cache, the token shared in the
// table and sealed with the token key, the budget's slots and the credit
// figure. convertdeps and statusdeps, one a function, call it.
package shareddeps

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/aws/secretstore"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
)

// New fills in shared, which carries what a rig sets (the clock, where logs
// go, default os.Stdout, Zoho's HTTP client), and returns it with the
// table's client it used: ddb, if not nil, wraps that client.
func New(awsCfg aws.Config, cfg config.Shared, shared app.Shared, ddb func(table.API) table.API) (app.Shared, table.API) {
	if shared.Out == nil {
		shared.Out = os.Stdout // Lambda's log stream
	}
	var api table.API = table.NewClient(awsCfg)
	if ddb != nil {
		api = ddb(api)
	}
	shared.Secret = secret.NewCache(secretstore.New(secretsmanager.NewFromConfig(awsCfg), cfg.SecretID),
		secret.CacheConfig{Logger: obs.NewLogger(shared.Out, cfg.LogLevel)})
	shared.Tokens = table.NewTokenStore(api, cfg.JobsTable, kmsseal.New(kms.NewFromConfig(awsCfg), cfg.TokenKeyID))
	shared.Slots, shared.Credits = table.NewSlots(api, cfg.JobsTable), table.NewJobStore(api, cfg.JobsTable)
	return shared, api
}
