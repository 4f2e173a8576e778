package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/httpclient"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
)

// Rows 5 and 6 run against moto, a local emulation of the AWS APIs: one
// moto_server for the whole bench (awstest.StartMoto), started on first
// use, or the one MOTO_ENDPOINT names as `make test` sets it, and stopped
// when the bench ends. Nothing talks to real AWS: the clients carry dummy
// credentials and moto's loopback endpoint, and read no AWS configuration.

// errSkipped is the error of a row whose tools are not installed.
var errSkipped = errors.New("skipped: run make venv tools")

const (
	motoRegion    = awstest.Region
	motoKeyID     = awstest.AccessKeyID
	motoSecretKey = awstest.SecretAccessKey
)

// motoServer is the running moto.
type motoServer struct {
	endpoint string
	stopFn   func()

	secretOnce sync.Once
	secretARN  string
	queueURL   string
	secretErr  error

	keyOnce sync.Once
	keyARN  string
	keyErr  error
}

// shared is the bench's moto, started by the first row that needs it.
var shared struct {
	mu   sync.Mutex
	moto *motoServer
}

// sharedMoto returns the bench's moto, starting it on first use. Without
// moto_server it returns errSkipped.
func sharedMoto() (*motoServer, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.moto != nil {
		return shared.moto, nil
	}
	m, err := startMoto()
	if err != nil {
		return nil, err
	}
	shared.moto = m
	return m, nil
}

// closeShared stops what sharedMoto started.
func closeShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.moto != nil {
		shared.moto.stopFn()
		shared.moto = nil
	}
}

func startMoto() (*motoServer, error) {
	if ep := os.Getenv("MOTO_ENDPOINT"); ep != "" {
		u, err := url.Parse(ep)
		if err != nil || u.Scheme != "http" || (u.Hostname() != "localhost" && !net.ParseIP(u.Hostname()).IsLoopback()) {
			return nil, fmt.Errorf("MOTO_ENDPOINT=%q: want an http URL on a loopback host", ep)
		}
		return &motoServer{endpoint: ep, stopFn: func() {}}, nil
	}
	if os.Getenv("AWSTEST_MOTO_SERVER") == "" {
		root, err := awstest.RepoRoot()
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(root, ".venv", "bin", "moto_server")); err != nil {
			return nil, errSkipped
		}
	}
	ep, stop, err := awstest.StartMoto()
	if err != nil {
		return nil, err
	}
	return &motoServer{endpoint: ep, stopFn: stop}, nil
}

// config is an AWS configuration for moto: dummy credentials, moto's
// endpoint, and nothing read from the environment or the shared files.
func (m *motoServer) config() aws.Config {
	return aws.Config{
		Region:       motoRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(motoKeyID, motoSecretKey, ""),
		BaseEndpoint: aws.String(m.endpoint),
		HTTPClient:   httpclient.Wrap(nil),
	}
}

func (m *motoServer) dynamo() *dynamodb.Client { return table.NewClient(m.config()) }

// functionEnv is the environment a function process needs to reach moto
// and only moto: every AWS_ variable of this process is blanked first.
func (m *motoServer) functionEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			env = append(env, k+"=")
		}
	}
	return append(env,
		"AWS_ENDPOINT_URL="+m.endpoint, "AWS_REGION="+motoRegion, "AWS_DEFAULT_REGION="+motoRegion,
		"AWS_ACCESS_KEY_ID="+motoKeyID, "AWS_SECRET_ACCESS_KEY="+motoSecretKey,
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull, "AWS_EC2_METADATA_DISABLED=true")
}

var tableSeq atomic.Int64

// createJobsTable creates a table shaped like template.yaml's JobsTable,
// with a fresh name.
func (m *motoServer) createJobsTable(ctx context.Context) (string, error) {
	root, err := awstest.RepoRoot()
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("bench-jobs-%d-%d", os.Getpid(), tableSeq.Add(1))
	return name, awstest.CreateTable(ctx, m.config(), filepath.Join(root, awstest.TemplateFile), "JobsTable", name)
}

func (m *motoServer) deleteTable(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = m.dynamo().DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
}

// tokenKey creates, once, the KMS key that seals the shared token, and
// returns its ARN.
func (m *motoServer) tokenKey(ctx context.Context) (string, error) {
	m.keyOnce.Do(func() {
		out, err := kms.NewFromConfig(m.config()).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("bench token key")})
		if err != nil {
			m.keyErr = fmt.Errorf("creating the token key: %w", err)
			return
		}
		m.keyARN = aws.ToString(out.KeyMetadata.Arn)
	})
	return m.keyARN, m.keyErr
}

// tokenStore is the shared token on tableName through api, sealed as the
// functions seal it.
func (m *motoServer) tokenStore(ctx context.Context, api table.API, tableName string) (*table.TokenStore, error) {
	key, err := m.tokenKey(ctx)
	if err != nil {
		return nil, err
	}
	return table.NewTokenStore(api, tableName, kmsseal.New(kms.NewFromConfig(m.config()), key)), nil
}

// secretAndQueue creates, once, the Zoho secret (the simulator's
// credentials) and a dead-letter queue, and returns the secret's ARN and
// the queue's URL.
func (m *motoServer) secretAndQueue(ctx context.Context) (string, string, error) {
	m.secretOnce.Do(func() {
		suffix := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
		sec, err := secretsmanager.NewFromConfig(m.config()).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String("bench-zoho-" + suffix), SecretString: aws.String(simSecret)})
		if err != nil {
			m.secretErr = fmt.Errorf("creating the secret: %w", err)
			return
		}
		q, err := sqs.NewFromConfig(m.config()).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench-dlq-" + suffix)})
		if err != nil {
			m.secretErr = fmt.Errorf("creating the queue: %w", err)
			return
		}
		m.secretARN, m.queueURL = aws.ToString(sec.ARN), aws.ToString(q.QueueUrl)
	})
	return m.secretARN, m.queueURL, m.secretErr
}
