package main

import (
	"cmp"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
)

// requestRules are the settings the convert function validates a request
// with: judging a request here with other settings than the deployment's
// would let through what the function dead-letters, or hold back what it
// takes.
type requestRules struct {
	APIVersion   string // ZOHO_API_VERSION: stack parameter ZohoApiVersion
	DefaultOwner string // DEFAULT_OWNER_ID: stack parameter DefaultOwnerId
}

// defaultAPIVersion is the template's default ZohoApiVersion.
const defaultAPIVersion = "v7"

func (r *requestRules) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&r.APIVersion, "api-version", "", "Zoho API version the function validates for, v7 or v8 (default: the stack's ZohoApiVersion, else "+defaultAPIVersion+")")
	f.StringVar(&r.DefaultOwner, "default-owner", "", "owner the function gives a request without assign_to (default: the stack's DefaultOwnerId)")
}

// decoder returns the convert function's own decoder with the deployment's
// settings: those of the flags, else the stack's parameters.
func (r *requestRules) decoder(ctx context.Context, cfg aws.Config, stack string) (*convert.Decoder, error) {
	if stack != "" && (r.APIVersion == "" || r.DefaultOwner == "") {
		out, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
		if err != nil {
			return nil, notFound("stack %s: %w", stack, err)
		}
		for _, s := range out.Stacks {
			for _, p := range s.Parameters {
				switch v := aws.ToString(p.ParameterValue); aws.ToString(p.ParameterKey) {
				case "ZohoApiVersion":
					r.APIVersion = cmp.Or(r.APIVersion, v)
				case "DefaultOwnerId":
					r.DefaultOwner = cmp.Or(r.DefaultOwner, v)
				}
			}
		}
	}
	r.APIVersion = cmp.Or(r.APIVersion, defaultAPIVersion)
	if r.APIVersion != "v7" && r.APIVersion != "v8" {
		return nil, usageError{fmt.Errorf("--api-version %q: want v7 or v8", r.APIVersion)}
	}
	return &convert.Decoder{APIVersion: r.APIVersion, DefaultOwner: r.DefaultOwner}, nil
}
