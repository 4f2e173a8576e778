// Command convert is the convert Lambda function: Zoho lead conversions
// requested through API Gateway or SQS become batched mass_convert calls.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/convertdeps"
	"github.com/zoho-bridge/leadconvert/pkg/aws/httpclient"
	"github.com/zoho-bridge/leadconvert/pkg/config"
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
	awsCfg.HTTPClient = httpclient.Wrap(awsCfg.HTTPClient)
	fn, err := app.NewConvert(cfg, convertdeps.New(awsCfg, cfg, app.Shared{Out: os.Stdout}, nil))
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
