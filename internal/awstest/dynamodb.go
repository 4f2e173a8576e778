package awstest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"gopkg.in/yaml.v3"
)

// TemplateFile is the SAM/CloudFormation template at the repository root.
const TemplateFile = "template.yaml"

// CreateTableFromTemplate creates, in moto, a table with a unique name shaped like the
// AWS::DynamoDB::Table resource logicalID of the repository's template.yaml: the same
// KeySchema, AttributeDefinitions, GlobalSecondaryIndexes and LocalSecondaryIndexes (with their
// Projection), BillingMode (with ProvisionedThroughput when PROVISIONED) and StreamSpecification,
// then turns TTL on if TimeToLiveSpecification enables it. Other properties (TableName, SSE,
// tags, ...) are ignored. The table is deleted when the test ends. It returns the table name.
//
// The properties it copies must be literals: an intrinsic function there (!Ref, !If, Fn::...)
// fails the test, since it cannot be resolved without deploying.
func CreateTableFromTemplate(t testing.TB, cfg aws.Config, logicalID string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("awstest: %v", err)
	}
	return createTableFromTemplate(t, cfg, filepath.Join(root, TemplateFile), logicalID)
}

func createTableFromTemplate(t testing.TB, cfg aws.Config, templatePath, logicalID string) string {
	t.Helper()
	name := UniqueName(t, logicalID)
	client := dynamodb.NewFromConfig(cfg)
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		var notFound *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &notFound) {
			t.Errorf("awstest: delete table %s: %v", name, err)
		}
	})
	if err := CreateTable(t.Context(), cfg, templatePath, logicalID, name); err != nil {
		t.Fatalf("awstest: %v", err)
	}
	return name
}

// CreateTable creates table name shaped like the table resource logicalID of
// the template at templatePath (see CreateTableFromTemplate), waits until it
// is active and enables TTL as the template does. It is for programs (the
// emulated local run, benchmarks); tests use CreateTableFromTemplate.
func CreateTable(ctx context.Context, cfg aws.Config, templatePath, logicalID, name string) error {
	spec, err := parseTableTemplate(templatePath, logicalID)
	if err != nil {
		return err
	}
	spec.create.TableName = aws.String(name)
	client := dynamodb.NewFromConfig(cfg)
	// The SDK retries a request whose connection moto dropped; when the first
	// try had created the table, the retry finds it. The name is unique to
	// the caller, so an existing table is this one.
	var inUse *types.ResourceInUseException
	if _, err := client.CreateTable(ctx, spec.create); err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s (from %s in %s): %w", name, logicalID, templatePath, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		return fmt.Errorf("table %s did not become ACTIVE: %w", name, err)
	}
	if spec.ttlAttribute == "" {
		return nil
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(spec.ttlAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", name, err)
	}
	return nil
}

// tableSpec is what a template's table resource says, ready for CreateTable (without a name).
type tableSpec struct {
	create       *dynamodb.CreateTableInput
	ttlAttribute string // "" when TTL is not enabled
}

func parseTableTemplate(path, logicalID string) (*tableSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty template", path)
	}
	p := &tmplParser{}
	res := p.get(doc.Content[0], "Resources")
	if res == nil {
		return nil, fmt.Errorf("%s: no Resources", path)
	}
	r := p.get(res, logicalID)
	if r == nil {
		return nil, fmt.Errorf("%s: no resource %q", path, logicalID)
	}
	p.path = "Resources." + logicalID
	if typ := p.str(p.get(r, "Type"), "Type"); p.err == nil && typ != "AWS::DynamoDB::Table" {
		return nil, fmt.Errorf("%s: %s is a %s, not an AWS::DynamoDB::Table", path, logicalID, typ)
	}
	props := p.get(r, "Properties")
	p.path += ".Properties"
	spec := p.table(props)
	if p.err != nil {
		return nil, fmt.Errorf("%s: %v", path, p.err)
	}
	return spec, nil
}

// tmplParser walks yaml.Nodes of a CloudFormation template, keeping the first error.
type tmplParser struct {
	path string // of the resource, for messages
	err  error
}

func (p *tmplParser) fail(field, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%s.%s: %s", p.path, field, fmt.Sprintf(format, args...))
	}
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// intrinsic tells whether n is a CloudFormation function: a short-form tag (!Ref, !Sub, !If,
// ...) or a one-key mapping {Ref: ...} / {"Fn::...": ...}.
func intrinsic(n *yaml.Node) bool {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return true
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// get returns the value of key in mapping n, or nil (also when the value is null, or n is nil
// or not a mapping).
func (p *tmplParser) get(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := deref(n.Content[i+1])
			if v != nil && v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				return nil
			}
			return v
		}
	}
	return nil
}

func (p *tmplParser) literal(n *yaml.Node, field string) bool {
	if n != nil && intrinsic(n) {
		p.fail(field, "intrinsic function %s cannot be resolved locally: use a literal", describe(n))
		return false
	}
	return true
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.MappingNode {
		return n.Content[0].Value
	}
	return n.Tag
}

// str returns the scalar n; "" with an error if n is missing, not a scalar or an intrinsic.
func (p *tmplParser) str(n *yaml.Node, field string) string {
	switch {
	case n == nil:
		p.fail(field, "missing")
	case !p.literal(n, field):
	case n.Kind != yaml.ScalarNode:
		p.fail(field, "must be a scalar")
	default:
		return n.Value
	}
	return ""
}

// list returns the items of sequence n (nil if n is nil).
func (p *tmplParser) list(n *yaml.Node, field string) []*yaml.Node {
	if n == nil || !p.literal(n, field) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(field, "must be a list")
		return nil
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = deref(c)
		p.literal(items[i], fmt.Sprintf("%s[%d]", field, i))
	}
	return items
}

func (p *tmplParser) integer(n *yaml.Node, field string) int64 {
	s := p.str(n, field)
	if p.err != nil {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		p.fail(field, "not an integer: %q", s)
	}
	return v
}

func (p *tmplParser) table(props *yaml.Node) *tableSpec {
	if props == nil {
		p.fail("Properties", "missing")
		return nil
	}
	p.literal(props, "Properties")
	in := &dynamodb.CreateTableInput{}

	in.KeySchema = p.keySchema(p.get(props, "KeySchema"), "KeySchema")
	for i, a := range p.list(p.get(props, "AttributeDefinitions"), "AttributeDefinitions") {
		f := fmt.Sprintf("AttributeDefinitions[%d]", i)
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(p.str(p.get(a, "AttributeName"), f+".AttributeName")),
			AttributeType: types.ScalarAttributeType(p.str(p.get(a, "AttributeType"), f+".AttributeType")),
		})
	}
	if len(in.AttributeDefinitions) == 0 {
		p.fail("AttributeDefinitions", "missing")
	}

	billing := "PROVISIONED" // CloudFormation's default
	if b := p.get(props, "BillingMode"); b != nil {
		billing = p.str(b, "BillingMode")
	}
	in.BillingMode = types.BillingMode(billing)
	provisioned := billing == "PROVISIONED"
	if provisioned {
		in.ProvisionedThroughput = p.throughput(p.get(props, "ProvisionedThroughput"), "ProvisionedThroughput")
	}

	for i, g := range p.list(p.get(props, "GlobalSecondaryIndexes"), "GlobalSecondaryIndexes") {
		f := fmt.Sprintf("GlobalSecondaryIndexes[%d]", i)
		gsi := types.GlobalSecondaryIndex{
			IndexName:  aws.String(p.str(p.get(g, "IndexName"), f+".IndexName")),
			KeySchema:  p.keySchema(p.get(g, "KeySchema"), f+".KeySchema"),
			Projection: p.projection(p.get(g, "Projection"), f+".Projection"),
		}
		if provisioned {
			gsi.ProvisionedThroughput = p.throughput(p.get(g, "ProvisionedThroughput"), f+".ProvisionedThroughput")
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	for i, l := range p.list(p.get(props, "LocalSecondaryIndexes"), "LocalSecondaryIndexes") {
		f := fmt.Sprintf("LocalSecondaryIndexes[%d]", i)
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, types.LocalSecondaryIndex{
			IndexName:  aws.String(p.str(p.get(l, "IndexName"), f+".IndexName")),
			KeySchema:  p.keySchema(p.get(l, "KeySchema"), f+".KeySchema"),
			Projection: p.projection(p.get(l, "Projection"), f+".Projection"),
		})
	}

	if s := p.get(props, "StreamSpecification"); s != nil && p.literal(s, "StreamSpecification") {
		in.StreamSpecification = &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewType(p.str(p.get(s, "StreamViewType"), "StreamSpecification.StreamViewType")),
		}
	}

	spec := &tableSpec{create: in}
	if ttl := p.get(props, "TimeToLiveSpecification"); ttl != nil && p.literal(ttl, "TimeToLiveSpecification") {
		enabled := p.str(p.get(ttl, "Enabled"), "TimeToLiveSpecification.Enabled")
		on, err := strconv.ParseBool(enabled)
		if p.err == nil && err != nil {
			p.fail("TimeToLiveSpecification.Enabled", "not a boolean: %q", enabled)
		}
		if on {
			spec.ttlAttribute = p.str(p.get(ttl, "AttributeName"), "TimeToLiveSpecification.AttributeName")
		}
	}
	return spec
}

func (p *tmplParser) keySchema(n *yaml.Node, field string) []types.KeySchemaElement {
	if n == nil {
		p.fail(field, "missing")
		return nil
	}
	var ks []types.KeySchemaElement
	for i, k := range p.list(n, field) {
		f := fmt.Sprintf("%s[%d]", field, i)
		ks = append(ks, types.KeySchemaElement{
			AttributeName: aws.String(p.str(p.get(k, "AttributeName"), f+".AttributeName")),
			KeyType:       types.KeyType(p.str(p.get(k, "KeyType"), f+".KeyType")),
		})
	}
	return ks
}

func (p *tmplParser) projection(n *yaml.Node, field string) *types.Projection {
	if n == nil {
		p.fail(field, "missing")
		return nil
	}
	if !p.literal(n, field) {
		return nil
	}
	proj := &types.Projection{}
	if pt := p.get(n, "ProjectionType"); pt != nil {
		proj.ProjectionType = types.ProjectionType(p.str(pt, field+".ProjectionType"))
	}
	for i, a := range p.list(p.get(n, "NonKeyAttributes"), field+".NonKeyAttributes") {
		proj.NonKeyAttributes = append(proj.NonKeyAttributes, p.str(a, fmt.Sprintf("%s.NonKeyAttributes[%d]", field, i)))
	}
	return proj
}

func (p *tmplParser) throughput(n *yaml.Node, field string) *types.ProvisionedThroughput {
	if n == nil {
		p.fail(field, "missing (BillingMode is PROVISIONED)")
		return nil
	}
	if !p.literal(n, field) {
		return nil
	}
	return &types.ProvisionedThroughput{
		ReadCapacityUnits:  aws.Int64(p.integer(p.get(n, "ReadCapacityUnits"), field+".ReadCapacityUnits")),
		WriteCapacityUnits: aws.Int64(p.integer(p.get(n, "WriteCapacityUnits"), field+".WriteCapacityUnits")),
	}
}
