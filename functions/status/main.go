// Command status is the status Lambda function: on a schedule, it follows
// every open Zoho mass-convert job to its end, and runs the sweeps.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/httpclient"
	"github.com/zoho-bridge/leadconvert/pkg/aws/statusdeps"
	"github.com/zoho-bridge/leadconvert/pkg/config"
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
	awsCfg.HTTPClient = httpclient.Wrap(awsCfg.HTTPClient)
	fn, err := app.NewStatus(cfg, statusdeps.New(awsCfg, cfg, app.Shared{Out: os.Stdout}, nil))
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
