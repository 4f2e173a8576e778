// Command authorizer is the HTTP API's Lambda authorizer: it admits only
// requests that carry the webhook key in X-Webhook-Key, before the convert
// function runs.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/secretstore"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
)

func main() {
	cfg, err := config.LoadAuthorizer(os.Getenv)
	if err != nil {
		fail(err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		fail(err)
	}
	fn, err := app.NewAuthorizer(cfg, app.AuthorizerDeps{
		Secret: secret.NewCache(secretstore.New(secretsmanager.NewFromConfig(awsCfg), cfg.SecretID),
			secret.CacheConfig{Logger: obs.NewLogger(os.Stdout, cfg.LogLevel)}),
		Out: os.Stdout,
	})
	if err != nil {
		fail(err)
	}
	lambda.Start(fn.Invoke)
}

// fail stops the cold start; Lambda reports it as an init error.
func fail(err error) {
	fmt.Fprintf(os.Stderr, "authorizer: configuration: %v\n", err)
	os.Exit(1)
}
