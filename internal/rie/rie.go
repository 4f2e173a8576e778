// Package rie runs a function's built bootstrap binary under the AWS Lambda
// Runtime Interface Emulator, which speaks the same runtime API as Lambda,
// so that tests exercise main, the cold start and the handler as deployed.
//
// Import it only from _test.go files:
//
//	bin := rie.Build(t, "./functions/status")
//	fn := rie.Start(t, bin, "JOBS_TABLE=...", "AWS_LAMBDA_FUNCTION_TIMEOUT=60")
//	out := fn.Invoke(t, payload)
//
// The emulator is .bin/aws-lambda-rie (`make tools`), or aws-lambda-rie on
// PATH. Without it the test is skipped, or fails when CI=true.
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
)

const (
	readyTimeout  = 10 * time.Second
	stopTimeout   = 5 * time.Second
	invokeTimeout = 2 * time.Minute
	startAttempts = 3 // fresh ports each time, in case another process took one
)

// Build compiles the main package pkg (relative to the repository root,
// e.g. "./functions/status") as the Makefile does for Lambda: a static
// linux binary named bootstrap with -tags lambda.norpc, for the host's
// architecture. It returns the binary's path in a temporary directory.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	requireLinux(t)
	emulator(t) // skip before building when there is nothing to run it
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("rie: %v", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("rie: no go command on PATH: %v", err)
	}
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command(goBin, "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rie: go build %s: %v\n%s", pkg, err, b)
	}
	return out
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
	bin := emulator(t)
	var lastErr error
	for range startAttempts {
		f, err := start(bin, bootstrap, env)
		if err == nil {
			t.Cleanup(func() {
				f.stop()
				if t.Failed() {
					t.Logf("rie: output of %s:\n%s", filepath.Base(bootstrap), f.out.String())
				}
			})
			return f
		}
		lastErr = err
	}
	t.Fatalf("rie: %v", lastErr)
	return nil
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
		f.stop()
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
	client := &http.Client{Timeout: invokeTimeout}
	resp, err := client.Post(f.url, "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("rie: invoke: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("rie: reading the answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rie: invoke: HTTP %d: %s", resp.StatusCode, body)
	}
	return body
}

// Output returns what the emulator and the function have written so far.
func (f *Function) Output() string { return f.out.String() }

// stop ends the emulator's process group: SIGTERM, then SIGKILL.
func (f *Function) stop() {
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

// emulator finds aws-lambda-rie: the repository's .bin first, then PATH.
func emulator(t testing.TB) string {
	t.Helper()
	if root, err := repoRoot(); err == nil {
		bin := filepath.Join(root, ".bin", "aws-lambda-rie")
		if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
			return bin
		}
	}
	if bin, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return bin
	}
	const msg = "rie: aws-lambda-rie is not in .bin or on PATH: run `make tools` (or `make test`)"
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg + "; it is required when CI=true")
	}
	t.Skip(msg)
	return ""
}

// repoRoot walks up from the working directory to the one holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
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
