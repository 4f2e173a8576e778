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
// A test that races writers on DynamoDB (several instances, goroutines) starts with
//
//	cfg := awstest.RequireSerial(t)
//
// instead: a second moto that serves one request at a time. moto_server serves each request on
// a thread of its own and its DynamoDB backend takes no locks, so two racing conditional writes
// can both pass their conditions, which DynamoDB never allows. Served one at a time, each
// request is atomic, as on DynamoDB, and the races a test finds are the code's own.
//
// Where moto comes from:
//   - MOTO_ENDPOINT and MOTO_SERIAL_ENDPOINT (set by `make test`, whose .ci/with-moto runs both
//     for the whole `go test ./...`): used as they are; each must be a loopback http URL and
//     answer.
//   - otherwise Main starts, for the package's test binary, `moto_server -H 127.0.0.1 -p <free
//     port>` from the repository's .venv (or AWSTEST_MOTO_SERVER, a path to a moto_server
//     executable) for the one it lacks, and for the serial one moto_serial.py (beside this
//     file) under that virtual environment's python; it stops them after the tests.
//   - if there is no moto_server: with CI=true the test binary fails; otherwise the tests
//     that call Require or RequireSerial skip (run `make venv`, or just `make test`, to get
//     them) and all other tests run.
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
	"os"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/zoho-bridge/leadconvert/pkg/aws/httpclient"
)

const (
	// Region is the region every test config uses.
	Region = "us-east-1"
	// AccessKeyID and SecretAccessKey are the dummy credentials moto accepts.
	AccessKeyID     = "testing"
	SecretAccessKey = "testing"

	envMotoEndpoint       = "MOTO_ENDPOINT"        // endpoint of an already running moto (set by make test)
	envMotoSerialEndpoint = "MOTO_SERIAL_ENDPOINT" // the same for the moto that serves one request at a time
	envMotoServer         = "AWSTEST_MOTO_SERVER"  // path of the moto_server executable to start
	// deadEndpoint is where AWS_ENDPOINT_URL points when there is no moto: a loopback port
	// nothing listens on, so stray SDK calls fail at once instead of leaving the machine.
	deadEndpoint = "http://127.0.0.1:1"
)

// State set by Main before m.Run and only read afterwards.
var (
	mainCalled        bool
	endpoint          string // moto base URL when available
	unavailable       string // why moto is not available, when it is not
	serialEndpoint    string // base URL of the moto that serves one request at a time
	serialUnavailable string // why that one is not available, when it is not
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
	defer stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "awstest: %v\n", err)
		return 1
	}

	if unavailable != "" {
		os.Setenv("AWS_ENDPOINT_URL", deadEndpoint)
	} else {
		os.Setenv("AWS_ENDPOINT_URL", endpoint)
	}
	for _, why := range []string{unavailable, serialUnavailable} {
		if why != "" && isCI() {
			fmt.Fprintf(os.Stderr, "awstest: moto is required when CI=true, but %s.\n"+
				"awstest: run `make venv` (or `make test`, which creates .venv) first.\n", why)
			return 1
		}
	}
	return m.Run()
}

// setup finds or starts both motos. It sets endpoint and serialEndpoint, or unavailable and
// serialUnavailable, and returns how to stop what it started. An error means a broken setup
// that must not be skipped over.
func setup() (stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, s := range stops {
			s()
		}
	}
	for _, m := range []struct {
		env     string
		ep, why *string
		command func() (name string, args func(port int) []string, err error)
	}{
		{envMotoEndpoint, &endpoint, &unavailable, func() (string, func(int) []string, error) {
			bin, err := motoServerPath()
			return bin, threadedArgs(bin), err
		}},
		{envMotoSerialEndpoint, &serialEndpoint, &serialUnavailable, func() (string, func(int) []string, error) {
			cmd, err := serialCommand()
			return serialLauncher, serialArgs(cmd), err
		}},
	} {
		if ep := os.Getenv(m.env); ep != "" {
			if err := checkLoopbackURL(ep); err != nil {
				return stop, fmt.Errorf("%s=%q: %v", m.env, ep, err)
			}
			if err := waitReady(ep, nil, externalReadyTimeout); err != nil {
				return stop, fmt.Errorf("%s=%q does not answer: %v", m.env, ep, err)
			}
			*m.ep = ep
			continue
		}
		name, args, err := m.command()
		if err != nil {
			*m.why = err.Error()
			continue
		}
		p, err := startMoto(name, args)
		if err != nil {
			return stop, err
		}
		stops = append(stops, p.stop)
		*m.ep = p.endpoint
	}
	return stop, nil
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
	return require(t, "Require", endpoint, unavailable)
}

// RequireSerial is Require for a test that races writers: its config reaches a moto that serves
// one request at a time, so that each request is atomic, as on DynamoDB (see the package
// comment). Resources the test uses must be made with this config: the two motos share
// nothing. Ask it nothing that blocks (an SQS long poll holds every other request), and expect
// it to be slower under load than Require's.
//
// Code under test that loads its own config (config.LoadDefaultConfig) reaches Require's moto
// through AWS_ENDPOINT_URL, not this one.
func RequireSerial(t testing.TB) aws.Config {
	t.Helper()
	return require(t, "RequireSerial", serialEndpoint, serialUnavailable)
}

func require(t testing.TB, fn, endpoint, unavailable string) aws.Config {
	t.Helper()
	switch {
	case !mainCalled:
		t.Fatalf("awstest.%s: the package has no `func TestMain(m *testing.M) { awstest.Main(m) }`", fn)
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
	// As the functions do: without it, the SDK now and then loses the
	// answer of a write moto applied and sends it again.
	cfg.HTTPClient = httpclient.Wrap(cfg.HTTPClient)
	return cfg
}
