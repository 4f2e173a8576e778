package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/pkg/aws/httpclient"
)

// deployment names the parts of a deployed stack a command works on: from
// --stack (its outputs), or one by one; a name given by flag wins over the
// stack's.
type deployment struct {
	Stack, Region, Profile, Endpoint string

	Table, Secret, QueueURL, DLQURL, APIURL, TokenKey string

	// The sweeps' parts (addSweepFlags).
	StatusFunction, ScheduleGroup, SchedulerRole string

	// Params are the stack's parameters, read with its outputs (nil
	// without --stack): the settings the functions were deployed with.
	Params map[string]string
}

// addAWSFlags adds the flags that reach AWS and name the stack's parts.
func (d *deployment) addAWSFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&d.Stack, "stack", "", "CloudFormation stack of the deployment (its outputs name the parts below)")
	f.StringVar(&d.Region, "region", "", "AWS region (default: the AWS CLI's)")
	f.StringVar(&d.Profile, "profile", "", "AWS profile (default: the AWS CLI's)")
	f.StringVar(&d.Endpoint, "endpoint-url", "", "AWS endpoint for every service (a local emulator such as moto)")
	f.StringVar(&d.Table, "table", "", "jobs table name (stack output JobsTableName)")
	f.StringVar(&d.Secret, "secret", "", "Zoho secret name or ARN (stack output SecretArn)")
	f.StringVar(&d.QueueURL, "queue-url", "", "conversion queue URL (stack output QueueUrl)")
	f.StringVar(&d.DLQURL, "dlq-url", "", "dead-letter queue URL (stack output DeadLetterQueueUrl)")
	f.StringVar(&d.APIURL, "api-url", "", "HTTP API URL (stack output ApiUrl)")
}

// addSweepFlags adds the flags naming what the sweep commands use besides
// the table.
func (d *deployment) addSweepFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&d.StatusFunction, "function", "", "status function name or ARN, which runs sweeps (stack output StatusFunctionArn)")
	f.StringVar(&d.ScheduleGroup, "schedule-group", "", "EventBridge Scheduler group of the sweeps' schedules (stack output SweepScheduleGroupName)")
	f.StringVar(&d.SchedulerRole, "scheduler-role", "", "role ARN the schedules invoke the function as (stack output SweepSchedulerRoleArn)")
}

// awsConfig loads the AWS configuration as the AWS CLI would, with the
// region, profile and endpoint of the flags.
func (d *deployment) awsConfig(ctx context.Context) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if d.Region != "" {
		opts = append(opts, awsconfig.WithRegion(d.Region))
	}
	if d.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(d.Profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	cfg.HTTPClient = httpclient.Wrap(cfg.HTTPClient)
	if d.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(d.Endpoint)
	}
	if cfg.Region == "" {
		return aws.Config{}, usageError{errors.New("no AWS region: pass --region or set AWS_REGION")}
	}
	return cfg, nil
}

// stackOutputs maps the stack's outputs to the deployment's parts.
var stackOutputs = map[string]func(*deployment) *string{
	"JobsTableName":      func(d *deployment) *string { return &d.Table },
	"SecretArn":          func(d *deployment) *string { return &d.Secret },
	"QueueUrl":           func(d *deployment) *string { return &d.QueueURL },
	"DeadLetterQueueUrl": func(d *deployment) *string { return &d.DLQURL },
	"ApiUrl":             func(d *deployment) *string { return &d.APIURL },
	"TokenKeyArn":        func(d *deployment) *string { return &d.TokenKey },

	"StatusFunctionArn":      func(d *deployment) *string { return &d.StatusFunction },
	"SweepScheduleGroupName": func(d *deployment) *string { return &d.ScheduleGroup },
	"SweepSchedulerRoleArn":  func(d *deployment) *string { return &d.SchedulerRole },
}

// resolve fills the parts not named by flag from the stack's outputs.
func (d *deployment) resolve(ctx context.Context, cfg aws.Config) error {
	if d.Stack == "" {
		return nil
	}
	out, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(d.Stack)})
	if err != nil {
		return notFound("stack %s: %w", d.Stack, err)
	}
	if len(out.Stacks) == 0 {
		return notFound("stack %s: not found", d.Stack)
	}
	for _, o := range out.Stacks[0].Outputs {
		if field, ok := stackOutputs[aws.ToString(o.OutputKey)]; ok && *field(d) == "" {
			*field(d) = aws.ToString(o.OutputValue)
		}
	}
	d.Params = map[string]string{}
	for _, p := range out.Stacks[0].Parameters {
		d.Params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	return nil
}

// require reports the first of the named parts that is still unknown.
func (d *deployment) require(parts ...string) error {
	have := map[string]string{"table": d.Table, "secret": d.Secret, "queue-url": d.QueueURL, "dlq-url": d.DLQURL, "api-url": d.APIURL,
		"function": d.StatusFunction, "schedule-group": d.ScheduleGroup, "scheduler-role": d.SchedulerRole}
	for _, p := range parts {
		if have[p] == "" {
			return usageError{fmt.Errorf("no --%s: pass it, or --stack of a deployment", p)}
		}
	}
	return nil
}
