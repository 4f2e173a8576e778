// Package awstest is test support for code that talks to DynamoDB, Secrets Manager, SQS,
// EventBridge and KMS: it points the AWS SDK at a local moto server (never at real AWS) and creates
// throwaway resources that are removed when the test ends.
//
// Import it only from _test.go files. A package whose tests need AWS declares
//
//	func TestMain(m *testing.M) { awstest.Main(m) }
//
// and each such test starts with
//
//	cfg := awstest.Require(t)
//
// Where moto comes from:
//   - MOTO_ENDPOINT (set by `make test`, which runs one moto_server for the whole
//     `go test ./...`): used as is; it must be a loopback http URL and answer.
//   - otherwise Main starts one `moto_server -H 127.0.0.1 -p <free port>` from the repository's
//     .venv (or AWSTEST_MOTO_SERVER, a path to a moto_server executable) for the package's
//     test binary and stops it after the tests.
//   - if there is no moto_server: with CI=true the test binary fails; otherwise the tests
//     that call Require skip (run `make venv`, or just `make test`, to get them) and all
//     other tests run.
//
// Main also isolates the process from any real AWS account: it removes profile, credential,
// role and endpoint variables from the environment, points the shared config and credentials
// files at the null device, disables the EC2 metadata client and sets AWS_ENDPOINT_URL,
// AWS_REGION=us-east-1, AWS_ACCESS_KEY_ID=testing and AWS_SECRET_ACCESS_KEY=testing, so that
// code under test that calls config.LoadDefaultConfig reaches moto too.
package awstest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

const (
	// Region is the region every test config uses.
	Region = "us-east-1"
	// AccessKeyID and SecretAccessKey are the dummy credentials moto accepts.
	AccessKeyID     = "testing"
	SecretAccessKey = "testing"

	envMotoEndpoint = "MOTO_ENDPOINT"       // endpoint of an already running moto (set by make test)
	envMotoServer   = "AWSTEST_MOTO_SERVER" // path of the moto_server executable to start
	// deadEndpoint is where AWS_ENDPOINT_URL points when there is no moto: a loopback port
	// nothing listens on, so stray SDK calls fail at once instead of leaving the machine.
	deadEndpoint = "http://127.0.0.1:1"
)

// State set by Main before m.Run and only read afterwards.
var (
	mainCalled  bool
	endpoint    string // moto base URL when available
	unavailable string // why moto is not available, when it is not
)

// Main runs the package's tests with a moto server available (see the package comment) and
// exits with their result. Call it from TestMain and do nothing after it.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	isolateEnv()
	mainCalled = true

	stop, err := setup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "awstest: %v\n", err)
		return 1
	}
	defer stop()

	if unavailable != "" {
		os.Setenv("AWS_ENDPOINT_URL", deadEndpoint)
		if isCI() {
			fmt.Fprintf(os.Stderr, "awstest: moto is required when CI=true, but %s.\n"+
				"awstest: run `make venv` (or `make test`, which creates .venv) first.\n", unavailable)
			return 1
		}
	} else {
		os.Setenv("AWS_ENDPOINT_URL", endpoint)
	}
	return m.Run()
}

// setup finds or starts moto. It sets endpoint, or unavailable, and returns how to stop what it
// started. An error means a broken setup that must not be skipped over.
func setup() (stop func(), err error) {
	noop := func() {}
	if ep := os.Getenv(envMotoEndpoint); ep != "" {
		if err := checkLoopbackURL(ep); err != nil {
			return noop, fmt.Errorf("%s=%q: %v", envMotoEndpoint, ep, err)
		}
		if err := waitReady(ep, nil, externalReadyTimeout); err != nil {
			return noop, fmt.Errorf("%s=%q does not answer: %v", envMotoEndpoint, ep, err)
		}
		endpoint = ep
		return noop, nil
	}

	bin, err := motoServerPath()
	if err != nil {
		unavailable = err.Error()
		return noop, nil
	}
	p, err := startMoto(bin)
	if err != nil {
		return noop, err
	}
	endpoint = p.endpoint
	return p.stop, nil
}

func isCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Require returns an aws.Config for moto: region us-east-1, static dummy credentials and
// BaseEndpoint set to moto's URL, reading no shared config files and no instance metadata.
// Without moto it skips the test (or fails it under CI=true). The package's TestMain must
// call Main.
func Require(t testing.TB) aws.Config {
	t.Helper()
	switch {
	case !mainCalled:
		t.Fatal("awstest.Require: the package has no `func TestMain(m *testing.M) { awstest.Main(m) }`")
	case unavailable != "" && isCI():
		t.Fatalf("awstest: moto is required when CI=true, but %s", unavailable)
	case unavailable != "":
		t.Skipf("awstest: skipped, needs moto but %s: run `make test` (creates .venv with moto "+
			"and runs all tests) or `make venv`, then go test again", unavailable)
	}

	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
		config.WithBaseEndpoint(endpoint),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	)
	if err != nil {
		t.Fatalf("awstest: load AWS config: %v", err)
	}
	return cfg
}

// Serial returns cfg whose requests reach moto one at a time. moto does not
// apply a conditional write atomically when requests race, as DynamoDB
// does; a test of racing writers whose correctness rests on that atomicity
// uses it, so it tests our conditions and not moto's locking.
func Serial(cfg aws.Config) aws.Config {
	c := cfg.Copy()
	next := c.HTTPClient
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	c.HTTPClient = &serialClient{next: next}
	return c
}

type serialClient struct {
	mu   sync.Mutex
	next aws.HTTPClient
}

// Do holds the lock until moto has answered: it applied the request before.
func (s *serialClient) Do(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next.Do(r)
}
