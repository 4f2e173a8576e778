package awstest

import (
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"gopkg.in/yaml.v3"
)

func TestMain(m *testing.M) { Main(m) }

// testTemplate is shaped like a SAM template: a transform, parameters, conditions and
// intrinsic short forms in properties CreateTableFromTemplate ignores.
const testTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Resources:
  Leads:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    Properties:
      TableName: !Sub "${AWS::StackName}-leads"
      BillingMode: PAY_PER_REQUEST
      DeletionProtectionEnabled: !If [IsProd, true, false]
      AttributeDefinitions:
        - AttributeName: pk
          AttributeType: S
        - AttributeName: sk
          AttributeType: S
        - AttributeName: status
          AttributeType: S
        - AttributeName: updatedAt
          AttributeType: N
      KeySchema:
        - AttributeName: pk
          KeyType: HASH
        - AttributeName: sk
          KeyType: RANGE
      GlobalSecondaryIndexes:
        - IndexName: byStatus
          KeySchema:
            - AttributeName: status
              KeyType: HASH
            - AttributeName: updatedAt
              KeyType: RANGE
          Projection:
            ProjectionType: INCLUDE
            NonKeyAttributes: [leadId, owner]
      TimeToLiveSpecification:
        AttributeName: expiresAt
        Enabled: true
      Tags:
        - Key: stage
          Value: !Ref Stage
  Queue:
    Type: AWS::SQS::Queue
  Func:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          TABLE: !Ref Leads
          ARN: !GetAtt Leads.Arn
`

func writeTemplate(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	seen := map[string]bool{}
	for _, prefix := range []string{"leads", "", "we!rd pre/fix", strings.Repeat("p", 100)} {
		for range 20 {
			n := UniqueName(t, prefix)
			if len(n) > MaxNameLen || len(n) < 3 || !valid.MatchString(n) {
				t.Errorf("UniqueName(%q) = %q: bad length or characters", prefix, n)
			}
			if seen[n] {
				t.Errorf("UniqueName(%q) repeated %q", prefix, n)
			}
			seen[n] = true
		}
	}
	if n := UniqueName(t, "leads"); !strings.HasPrefix(n, "leads-TestUniqueName-") {
		t.Errorf("UniqueName = %q, want prefix and test name first", n)
	}
	t.Run("a very long subtest name / with spaces and #symbols that must be cut down to size", func(t *testing.T) {
		if n := UniqueName(t, "queue"); len(n) > MaxNameLen || !valid.MatchString(n) {
			t.Errorf("UniqueName = %q", n)
		}
	})
}

func TestParseTableTemplate(t *testing.T) {
	spec, err := parseTableTemplate(writeTemplate(t, testTemplate), "Leads")
	if err != nil {
		t.Fatal(err)
	}
	in := spec.create
	if in.BillingMode != ddbtypes.BillingModePayPerRequest || in.ProvisionedThroughput != nil {
		t.Errorf("billing = %q, %v", in.BillingMode, in.ProvisionedThroughput)
	}
	if got := keys(in.KeySchema); got != "pk:HASH sk:RANGE" {
		t.Errorf("KeySchema = %s", got)
	}
	if len(in.AttributeDefinitions) != 4 || aws.ToString(in.AttributeDefinitions[3].AttributeName) != "updatedAt" ||
		in.AttributeDefinitions[3].AttributeType != ddbtypes.ScalarAttributeTypeN {
		t.Errorf("AttributeDefinitions = %+v", in.AttributeDefinitions)
	}
	if len(in.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("GSIs = %+v", in.GlobalSecondaryIndexes)
	}
	g := in.GlobalSecondaryIndexes[0]
	if aws.ToString(g.IndexName) != "byStatus" || keys(g.KeySchema) != "status:HASH updatedAt:RANGE" ||
		g.Projection.ProjectionType != ddbtypes.ProjectionTypeInclude ||
		strings.Join(g.Projection.NonKeyAttributes, ",") != "leadId,owner" {
		t.Errorf("GSI = %+v, projection %+v", g, g.Projection)
	}
	if spec.ttlAttribute != "expiresAt" {
		t.Errorf("ttl = %q", spec.ttlAttribute)
	}
	if in.TableName != nil {
		t.Errorf("TableName = %q, want it left for the caller", *in.TableName)
	}
}

func TestParseTableTemplateProvisioned(t *testing.T) {
	path := writeTemplate(t, `Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 2}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: false}
`)
	spec, err := parseTableTemplate(path, "T")
	if err != nil {
		t.Fatal(err)
	}
	in := spec.create
	if in.BillingMode != ddbtypes.BillingModeProvisioned || aws.ToInt64(in.ProvisionedThroughput.ReadCapacityUnits) != 5 ||
		aws.ToInt64(in.ProvisionedThroughput.WriteCapacityUnits) != 2 {
		t.Errorf("billing = %q, %+v", in.BillingMode, in.ProvisionedThroughput)
	}
	if in.StreamSpecification == nil || in.StreamSpecification.StreamViewType != ddbtypes.StreamViewTypeNewAndOldImages {
		t.Errorf("stream = %+v", in.StreamSpecification)
	}
	if spec.ttlAttribute != "" {
		t.Errorf("ttl = %q, want none (Enabled: false)", spec.ttlAttribute)
	}
}

func TestParseTableTemplateErrors(t *testing.T) {
	const table = `Resources:
  Q:
    Type: AWS::SQS::Queue
  T:
    Type: AWS::DynamoDB::Table
    Properties:
`
	for _, tc := range []struct{ name, body, id, want string }{
		{"missing resource", testTemplate, "Nope", `no resource "Nope"`},
		{"wrong type", table, "Q", "is a AWS::SQS::Queue"},
		{"no properties", table, "T", "Properties: missing"},
		{"short-form intrinsic", table + `      AttributeDefinitions: [{AttributeName: !Ref Key, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
`, "T", "AttributeDefinitions[0].AttributeName: intrinsic function !Ref"},
		{"long-form intrinsic", table + `      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      BillingMode: {"Fn::If": [C, PAY_PER_REQUEST, PROVISIONED]}
`, "T", "BillingMode: intrinsic function Fn::If"},
		{"provisioned without throughput", table + `      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
`, "T", "ProvisionedThroughput: missing"},
		{"not yaml", "Resources: [", "T", "yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseTableTemplate(writeTemplate(t, tc.body), tc.id)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func keys(ks []ddbtypes.KeySchemaElement) string {
	var s []string
	for _, k := range ks {
		s = append(s, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	return strings.Join(s, " ")
}

// TestEnvIsolation runs with and without moto (see TestWithoutMoto, which also plants
// variables that must be gone).
func TestEnvIsolation(t *testing.T) {
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_SQS", "AWS_ROLE_ARN"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%q survived Main", k, v)
		}
	}
	for k, want := range map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		if got := os.Getenv(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if err := checkLoopbackURL(os.Getenv("AWS_ENDPOINT_URL")); err != nil {
		t.Errorf("AWS_ENDPOINT_URL=%q: %v", os.Getenv("AWS_ENDPOINT_URL"), err)
	}
}

func TestRequireConfig(t *testing.T) {
	cfg := Require(t)
	if cfg.Region != Region {
		t.Errorf("Region = %q", cfg.Region)
	}
	if err := checkLoopbackURL(aws.ToString(cfg.BaseEndpoint)); err != nil {
		t.Errorf("BaseEndpoint = %q: %v", aws.ToString(cfg.BaseEndpoint), err)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != AccessKeyID {
		t.Errorf("credentials = %+v, %v", creds, err)
	}
}

func TestCheckLoopbackURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"http://127.0.0.1:5000": true, "http://localhost:1": true, "http://[::1]:9": true,
		"https://dynamodb.us-east-1.amazonaws.com": false, "http://10.0.0.1:5000": false, "ftp://127.0.0.1": false, "": false,
	} {
		if err := checkLoopbackURL(u); (err == nil) != ok {
			t.Errorf("checkLoopbackURL(%q) = %v", u, err)
		}
	}
}

// TestWithoutMoto re-runs this test binary with no moto to be found: AWS tests must skip
// with directions, other tests run, and under CI=true the run fails.
func TestWithoutMoto(t *testing.T) {
	if os.Getenv("AWSTEST_CHILD") != "" {
		t.Skip("already the child")
	}
	run := func(ci bool) (string, error) {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.v", "-test.count=1",
			"-test.run", "^(TestRequireConfig|TestRequireSerialConfig|TestEnvIsolation|TestWithoutMoto)$")
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); k != envMotoEndpoint && k != envMotoSerialEndpoint && k != "CI" {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "AWSTEST_CHILD=1", envMotoServer+"="+filepath.Join(t.TempDir(), "no-moto_server"),
			"AWS_PROFILE=leak", "AWS_SESSION_TOKEN=leak", "AWS_ENDPOINT_URL_SQS=https://sqs.us-east-1.amazonaws.com",
			"AWS_ROLE_ARN=arn:aws:iam::123456789012:role/leak")
		if ci {
			cmd.Env = append(cmd.Env, "CI=true")
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := run(false)
	if err != nil {
		t.Fatalf("without moto, outside CI: %v\n%s", err, out)
	}
	for _, want := range []string{"--- SKIP: TestRequireConfig", "--- SKIP: TestRequireSerialConfig", "make venv", "--- PASS: TestEnvIsolation"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, err = run(true)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "moto is required when CI=true") ||
		strings.Contains(out, "--- PASS") {
		t.Errorf("without moto, CI=true: err=%v, want exit 1 before any test\n%s", err, out)
	}
}

func TestCreateTableFromTemplate(t *testing.T) {
	t.Parallel()
	cfg := Require(t)
	path := writeTemplate(t, testTemplate)
	db := dynamodb.NewFromConfig(cfg)
	ctx := t.Context()

	name := createTableFromTemplate(t, cfg, path, "Leads")
	if !strings.HasPrefix(name, "Leads-TestCreateTableFromTemplate-") {
		t.Errorf("name = %q", name)
	}

	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	tbl := d.Table
	if keys(tbl.KeySchema) != "pk:HASH sk:RANGE" {
		t.Errorf("KeySchema = %s", keys(tbl.KeySchema))
	}
	if tbl.BillingModeSummary == nil || tbl.BillingModeSummary.BillingMode != ddbtypes.BillingModePayPerRequest {
		t.Errorf("BillingModeSummary = %+v", tbl.BillingModeSummary)
	}
	if len(tbl.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("GSIs = %+v", tbl.GlobalSecondaryIndexes)
	}
	g := tbl.GlobalSecondaryIndexes[0]
	if aws.ToString(g.IndexName) != "byStatus" || keys(g.KeySchema) != "status:HASH updatedAt:RANGE" ||
		g.Projection == nil || g.Projection.ProjectionType != ddbtypes.ProjectionTypeInclude ||
		strings.Join(g.Projection.NonKeyAttributes, ",") != "leadId,owner" {
		t.Errorf("GSI = %+v", g)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != "expiresAt" {
		t.Errorf("TTL = %s on %q", d.TimeToLiveStatus, aws.ToString(d.AttributeName))
	}

	// A conditional put: the first succeeds, the second fails its condition.
	put := func() error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(name),
			Item: map[string]ddbtypes.AttributeValue{
				"pk":        &ddbtypes.AttributeValueMemberS{Value: "lead#1"},
				"sk":        &ddbtypes.AttributeValueMemberS{Value: "meta"},
				"status":    &ddbtypes.AttributeValueMemberS{Value: "converting"},
				"updatedAt": &ddbtypes.AttributeValueMemberN{Value: "1700000000"},
				"leadId":    &ddbtypes.AttributeValueMemberS{Value: "1"},
			},
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		})
		return err
	}
	if err := put(); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	var ccf *ddbtypes.ConditionalCheckFailedException
	if err := put(); !errors.As(err, &ccf) {
		t.Fatalf("second conditional put: %v, want ConditionalCheckFailedException", err)
	}

	q, err := db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(name),
		IndexName:                 aws.String("byStatus"),
		KeyConditionExpression:    aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: "converting"}},
	})
	if err != nil || len(q.Items) != 1 {
		t.Fatalf("GSI query: %v, %d items", err, len(q.Items))
	}
}

func TestCleanupDeletes(t *testing.T) {
	t.Parallel()
	cfg := Require(t)
	path := writeTemplate(t, testTemplate)
	var table, secret, queue string
	t.Run("create", func(t *testing.T) {
		table = createTableFromTemplate(t, cfg, path, "Leads")
		secret = CreateSecret(t, cfg, "s")
		queue = CreateQueue(t, cfg)
	})
	ctx := t.Context()

	var ddbNotFound *ddbtypes.ResourceNotFoundException
	if _, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); !errors.As(err, &ddbNotFound) {
		t.Errorf("table %s after cleanup: %v", table, err)
	}
	var smNotFound *smtypes.ResourceNotFoundException
	if _, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secret)}); !errors.As(err, &smNotFound) {
		t.Errorf("secret %s after cleanup: %v", secret, err)
	}
	u, _ := url.Parse(queue)
	var noQueue *sqstypes.QueueDoesNotExist
	if _, err := sqs.NewFromConfig(cfg).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(filepath.Base(u.Path))}); !errors.As(err, &noQueue) {
		t.Errorf("queue %s after cleanup: %v", queue, err)
	}
}

func TestCreateSecret(t *testing.T) {
	t.Parallel()
	cfg := Require(t)
	const value = `{"client_id":"id","client_secret":"shh","refresh_token":"r"}`
	arn := CreateSecret(t, cfg, value)
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:") {
		t.Errorf("ARN = %q", arn)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	out, err := sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil || aws.ToString(out.SecretString) != value {
		t.Fatalf("GetSecretValue = %v, %v", out, err)
	}
	if _, err := sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	out, err = sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil || aws.ToString(out.SecretString) != "v2" {
		t.Fatalf("after PutSecretValue: %v, %v", out, err)
	}
}

func TestCreateQueue(t *testing.T) {
	t.Parallel()
	cfg := Require(t)
	queueURL := CreateQueue(t, cfg)
	if err := checkLoopbackURL(queueURL); err != nil {
		t.Errorf("queue URL %q: %v", queueURL, err)
	}
	q := sqs.NewFromConfig(cfg)
	ctx := t.Context()
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(queueURL),
		MessageBody: aws.String(`{"leadId":"42"}`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"kind": {DataType: aws.String("String"), StringValue: aws.String("convert")},
		},
	}); err != nil {
		t.Fatal(err)
	}
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:              aws.String(queueURL),
		WaitTimeSeconds:       1,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("ReceiveMessage = %d messages, %v", len(out.Messages), err)
	}
	m := out.Messages[0]
	if aws.ToString(m.Body) != `{"leadId":"42"}` || aws.ToString(m.MessageAttributes["kind"].StringValue) != "convert" {
		t.Errorf("message = %q, attributes %+v", aws.ToString(m.Body), m.MessageAttributes)
	}
}

// TestSDKDefaultConfig checks that code under test that builds its own config the usual way
// (config.LoadDefaultConfig) also lands on moto.
func TestSDKDefaultConfig(t *testing.T) {
	t.Parallel()
	Require(t)
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables with the default config: %v", err)
	}
}

// TestRepoTemplateTables creates every AWS::DynamoDB::Table of the repository's template.yaml
// through the public CreateTableFromTemplate, so a template change that the test support
// cannot follow shows up here first.
func TestRepoTemplateTables(t *testing.T) {
	t.Parallel()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, TemplateFile))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no %s yet", TemplateFile)
	} else if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	p := &tmplParser{}
	res := p.get(doc.Content[0], "Resources")
	var tables []string
	for i := 0; res != nil && i+1 < len(res.Content); i += 2 {
		if typ := p.get(res.Content[i+1], "Type"); typ != nil && typ.Value == "AWS::DynamoDB::Table" {
			tables = append(tables, res.Content[i].Value)
		}
	}
	if len(tables) == 0 {
		t.Skipf("%s has no AWS::DynamoDB::Table", TemplateFile)
	}
	cfg := Require(t)
	db := dynamodb.NewFromConfig(cfg)
	for _, id := range tables {
		t.Run(id, func(t *testing.T) {
			name := CreateTableFromTemplate(t, cfg, id)
			if _, err := db.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
