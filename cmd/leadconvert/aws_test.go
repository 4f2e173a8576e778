package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
)

// TestStackOutputsNameTheParts: --stack fills in what the flags leave out,
// from the stack's outputs on moto; a flag wins; a missing stack exits 3.
func TestStackOutputsNameTheParts(t *testing.T) {
	cfg := awstest.Require(t)
	ctx := context.Background()
	const body = `{"Resources":{"Q":{"Type":"AWS::SQS::Queue"}},"Outputs":{
		"JobsTableName":{"Value":"jobs-table"},"SecretArn":{"Value":"arn:aws:secretsmanager:us-east-1:123456789012:secret:zoho"},
		"QueueUrl":{"Value":"https://sqs/q"},"DeadLetterQueueUrl":{"Value":"https://sqs/dlq"},"ApiUrl":{"Value":"https://api"}}}`
	stack := awstest.UniqueName(t, "lc")
	if _, err := cloudformation.NewFromConfig(cfg).CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(stack), TemplateBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
	// As a command sees it: the flags, then the AWS configuration they name.
	var d deployment
	cmd := &cobra.Command{Use: "x"}
	d.addAWSFlags(cmd)
	if err := cmd.ParseFlags([]string{"--stack", stack, "--table", "mine", "--region", cfg.Region,
		"--endpoint-url", aws.ToString(cfg.BaseEndpoint)}); err != nil {
		t.Fatal(err)
	}
	fromFlags, err := d.awsConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.resolve(ctx, fromFlags); err != nil {
		t.Fatal(err)
	}
	if d.Table != "mine" || d.QueueURL != "https://sqs/q" || d.DLQURL != "https://sqs/dlq" || d.APIURL != "https://api" || d.Secret == "" {
		t.Fatalf("resolved %+v", d)
	}
	if err := d.require("table", "secret", "queue-url"); err != nil {
		t.Fatal(err)
	}
	if err := (&deployment{}).require("table"); exitCode(err) != exitUsage {
		t.Fatalf("require without a table: %v", err)
	}
	missing := deployment{Stack: "no-such-stack"}
	if err := missing.resolve(ctx, cfg); exitCode(err) != exitNotFound {
		t.Fatalf("a missing stack: %v (exit %d)", err, exitCode(err))
	}
}

// TestStackOutputsExist: every stack output the commands read is one the
// template declares, so --stack finds what the commands need.
func TestStackOutputsExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, outputs, ok := strings.Cut(string(b), "\nOutputs:\n")
	if !ok {
		t.Fatal("template.yaml has no Outputs")
	}
	for name := range stackOutputs {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + `:$`).MatchString(outputs) {
			t.Errorf("the commands read stack output %s, which template.yaml does not declare", name)
		}
	}
}
