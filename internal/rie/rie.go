// Package rie runs a function's built bootstrap binary under the AWS Lambda
// Runtime Interface Emulator, which speaks the same runtime API as Lambda,
// so that tests exercise main, the cold start and the handler as deployed.
//
// Tests use the testing.TB API:
//
//	bin := rie.Build(t, "./functions/status")
//	fn := rie.Start(t, bin, "JOBS_TABLE=...", "AWS_LAMBDA_FUNCTION_TIMEOUT=60")
//	out := fn.Invoke(t, payload)
//
// Other programs (cmd/bench) use the same steps returning errors:
// BuildBinary or BuildIn, StartProcess, Call and Close.
//
// The emulator is .bin/aws-lambda-rie (`make tools`), or aws-lambda-rie on
// PATH. Without it a test is skipped, or fails when CI=true; StartProcess
// returns ErrNoEmulator.
package rie

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
)

const (
	readyTimeout  = 10 * time.Second
	stopTimeout   = 5 * time.Second
	invokeTimeout = 2 * time.Minute
	startAttempts = 3 // fresh ports each time, in case another process took one
)

// ErrNoEmulator is returned when aws-lambda-rie is neither in the
// repository's .bin nor on PATH.
var ErrNoEmulator = errors.New("rie: aws-lambda-rie is not in .bin or on PATH: run `make tools` (or `make test`)")

// buildFlags are the flags of the Makefile's Lambda build (GO_BUILD_LAMBDA).
var buildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w -buildid="}

// Build compiles the main package pkg (relative to the repository root,
// e.g. "./functions/status") as the Makefile does for Lambda: a static,
// stripped linux binary named bootstrap with -tags lambda.norpc, for the
// host's architecture. It returns the binary's path in a temporary directory.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	requireLinux(t)
	emulator(t) // skip before building when there is nothing to run it
	out, err := BuildBinary(pkg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// BuildBinary compiles the main package pkg (relative to the repository
// root) into dir/bootstrap as the Makefile does for Lambda, for the host's
// architecture, and returns the binary's path.
func BuildBinary(pkg, dir string) (string, error) {
	root, err := awstest.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("rie: %w", err)
	}
	return BuildIn(root, pkg, dir, runtime.GOARCH)
}

// BuildIn compiles the main package pkg of the module in moduleDir into
// dir/bootstrap as the Makefile builds the functions (CGO_ENABLED=0,
// GOOS=linux, -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='),
// for goarch, with env (KEY=VALUE) added to the environment of go build.
// It returns the binary's path.
func BuildIn(moduleDir, pkg, dir, goarch string, env ...string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("rie: no go command on PATH: %w", err)
	}
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.Command(goBin, append(append([]string{"build"}, buildFlags...), "-o", out, pkg)...)
	cmd.Dir = moduleDir
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("rie: go build %s (GOARCH=%s): %v\n%s", pkg, goarch, err, b)
	}
	return out, nil
}

// Function is a bootstrap running under the emulator.
type Function struct {
	url    string
	cmd    *exec.Cmd
	exited chan error
	out    *syncBuffer
}

// Start runs bootstrap under the emulator on free loopback ports, with env
// (KEY=VALUE) added to the test's environment, which the emulator hands on
// to the function. The function is stopped when the test ends, and its
// output is logged if the test failed.
func Start(t testing.TB, bootstrap string, env ...string) *Function {
	t.Helper()
	requireLinux(t)
	emulator(t)
	f, err := StartProcess(bootstrap, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if t.Failed() {
			t.Logf("rie: output of %s:\n%s", filepath.Base(bootstrap), f.Output())
		}
	})
	return f
}

// StartProcess runs bootstrap under the emulator on free loopback ports,
// with env (KEY=VALUE) added to the process's environment, which the
// emulator hands on to the function. It returns once the emulator listens;
// the emulator starts the bootstrap on the first Call (its cold start).
// Close stops it. Without the emulator the error is ErrNoEmulator.
func StartProcess(bootstrap string, env []string) (*Function, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("rie: the emulator runs linux binaries; this is %s", runtime.GOOS)
	}
	bin, err := Emulator()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range startAttempts {
		f, err := start(bin, bootstrap, env)
		if err == nil {
			return f, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("rie: %w", lastErr)
}

func start(bin, bootstrap string, env []string) (*Function, error) {
	rieAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	f := &Function{url: "http://" + rieAddr + "/2015-03-31/functions/function/invocations",
		exited: make(chan error, 1), out: &syncBuffer{}}
	f.cmd = exec.Command(bin, "--runtime-interface-emulator-address", rieAddr,
		"--runtime-api-address", apiAddr, "./"+filepath.Base(bootstrap))
	f.cmd.Dir = filepath.Dir(bootstrap)
	f.cmd.Env = append(os.Environ(), env...)
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	setProcAttrs(f.cmd)
	if err := f.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { f.exited <- f.cmd.Wait() }()
	if err := f.waitReady(rieAddr); err != nil {
		f.Close()
		return nil, fmt.Errorf("%v\n--- emulator output ---\n%s", err, f.out.String())
	}
	return f, nil
}

// waitReady polls until the emulator accepts connections, it exits, or
// the deadline passes. The bootstrap itself starts on the first invoke.
func (f *Function) waitReady(addr string) error {
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-f.exited:
			f.exited <- err // for stop
			return fmt.Errorf("the emulator exited at start: %v", err)
		case <-deadline.C:
			return fmt.Errorf("the emulator did not listen on %s within %s", addr, readyTimeout)
		case <-tick.C:
		}
	}
}

// Invoke sends payload as the invocation event and returns the function's
// answer. A status other than 200 fails the test; a function error comes
// back as Lambda returns it, {"errorMessage":...,"errorType":...}.
func (f *Function) Invoke(t testing.TB, payload []byte) []byte {
	t.Helper()
	body, err := f.Call(payload)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// Call sends payload as the invocation event and returns the function's
// answer: a function error comes back as Lambda returns it,
// {"errorMessage":...,"errorType":...}; an HTTP status other than 200 from
// the emulator is an error.
func (f *Function) Call(payload []byte) ([]byte, error) {
	client := &http.Client{Timeout: invokeTimeout}
	resp, err := client.Post(f.url, "application/json", bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("rie: invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("rie: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("rie: invoke: HTTP %d: %s", resp.StatusCode, body)
	}
	return body, nil
}

// Output returns what the emulator and the function have written so far.
func (f *Function) Output() string { return f.out.String() }

// Close ends the emulator's process group (the bootstrap with it):
// SIGTERM, then SIGKILL. It may be called more than once.
func (f *Function) Close() {
	select {
	case err := <-f.exited:
		f.exited <- err
		return
	default:
	}
	signalGroup(f.cmd, syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case err := <-f.exited:
		f.exited <- err
	case <-t.C:
		signalGroup(f.cmd, syscall.SIGKILL)
		f.exited <- <-f.exited
	}
}

func requireLinux(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("rie: the emulator runs linux binaries; this is %s", runtime.GOOS)
	}
}

// emulator finds the emulator, or skips the test without it (fails it
// when CI=true).
func emulator(t testing.TB) string {
	t.Helper()
	bin, err := Emulator()
	if err == nil {
		return bin
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(err.Error() + "; it is required when CI=true")
	}
	t.Skip(err.Error())
	return ""
}

// Emulator returns the path of aws-lambda-rie: the repository's .bin
// first, then PATH; ErrNoEmulator when it is in neither.
func Emulator() (string, error) {
	if root, err := awstest.RepoRoot(); err == nil {
		bin := filepath.Join(root, ".bin", "aws-lambda-rie")
		if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
			return bin, nil
		}
	}
	if bin, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return bin, nil
	}
	return "", ErrNoEmulator
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// syncBuffer collects the emulator's output from its two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
