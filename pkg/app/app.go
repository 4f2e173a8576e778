// Package app wires the functions together: it builds every dependency once,
// at cold start, from validated configuration, and exposes one Lambda
// handler per function. The same wiring serves Lambda (AWS clients) and the
// local run (embedded stores, the simulator).
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/queue"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// Deps are the outside things a function talks to.
type Deps struct {
	Secret     secret.Reader
	TokenStore oauth.Store
	Jobs       jobs.Store
	DeadLetter queue.DeadLetter
	HTTPClient *http.Client     // for Zoho; default zoho.NewHTTPClient()
	Now        func() time.Time // default time.Now; the local run uses the simulator's clock
	Out        io.Writer        // logs and EMF metrics (stdout in Lambda)
}

// AWSDeps builds the AWS-backed dependencies.
func AWSDeps(awsCfg aws.Config, cfg config.Shared, deadLetterURL string, out io.Writer) Deps {
	ddb := jobs.NewDynamoDB(awsCfg)
	return Deps{
		Secret:     secret.NewCache(secretsmanager.NewFromConfig(awsCfg), cfg.SecretID, 5*time.Minute),
		TokenStore: oauth.NewDynamoStore(ddb, cfg.JobsTable),
		Jobs:       jobs.NewDynamoStore(ddb, cfg.JobsTable),
		DeadLetter: queue.NewSQSDeadLetter(sqs.NewFromConfig(awsCfg), deadLetterURL),
		Out:        out,
	}
}

// zohoClient builds the token source and the Zoho client both functions use.
func zohoClient(cfg config.Shared, d Deps, log *slog.Logger) (*oauth.Source, *zoho.Client, error) {
	hc := d.HTTPClient
	if hc == nil {
		hc = zoho.NewHTTPClient()
	}
	tokens, err := oauth.NewSource(oauth.Config{
		Secret: d.Secret, Store: d.TokenStore, HTTPClient: hc,
		DataCenter: cfg.DataCenter, Environment: cfg.Environment, AccountsURL: cfg.AccountsURL,
		Now: d.Now, Logger: log,
		OnRefresh: func(err error) {
			m := obs.NewMetrics("token")
			m.Count("TokenRefreshes", 1)
			if err != nil {
				m.Count("TokenRefreshErrors", 1)
			}
			_ = m.Flush(d.Out, time.Now())
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("token source: %w", err)
	}
	client, err := zoho.New(zoho.Config{HTTPClient: hc, Tokens: tokens, APIVersion: cfg.APIVersion, APIURL: cfg.APIURL, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("zoho client: %w", err)
	}
	return tokens, client, nil
}

// webhookKey reads the API key from the Zoho secret, through its cache.
func webhookKey(tokens *oauth.Source) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		c, err := tokens.Credentials(ctx)
		if err != nil {
			return "", err
		}
		return c.WebhookKey, nil
	}
}

// EmbeddedDeps are dependencies that need no AWS account: in-memory stores,
// a fixed secret and an in-memory dead-letter queue (the local run, tests).
func EmbeddedDeps(secretJSON string, now func() time.Time, out io.Writer) Deps {
	return Deps{
		Secret:     secret.Static(secretJSON),
		TokenStore: oauth.NewMemoryStore(),
		Jobs:       jobs.NewMemoryStore(),
		DeadLetter: &queue.MemoryDeadLetter{},
		Now:        now,
		Out:        out,
	}
}
