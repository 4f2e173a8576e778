package awstest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"
)

const (
	startReadyTimeout    = 60 * time.Second // moto_server normally answers within a second
	externalReadyTimeout = 15 * time.Second
	stopTimeout          = 5 * time.Second
	pollInterval         = 50 * time.Millisecond
	startAttempts        = 3 // a new free port each time, in case another process took the last one
)

var errExited = errors.New("moto exited before it answered")

// serialLauncher serves moto one request at a time (see the file, and RequireSerial).
const serialLauncher = "internal/awstest/moto_serial.py"

// repoRoot walks up from the working directory (the package directory under go test) to the
// directory holding go.mod.
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
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

// motoServerPath returns the moto_server to start, or an error saying why there is none.
func motoServerPath() (string, error) {
	bin := os.Getenv(envMotoServer)
	if bin == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		bin = filepath.Join(root, ".venv", "bin", "moto_server")
	}
	return bin, checkExecutable(bin)
}

// serialCommand returns the command that serves moto one request at a time, but for its port:
// the Python of moto_server's virtual environment running serialLauncher.
func serialCommand() ([]string, error) {
	bin, err := motoServerPath()
	if err != nil {
		return nil, err
	}
	python := filepath.Join(filepath.Dir(bin), "python")
	if err := checkExecutable(python); err != nil {
		return nil, err
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	launcher := filepath.Join(root, filepath.FromSlash(serialLauncher))
	if _, err := os.Stat(launcher); err != nil {
		return nil, fmt.Errorf("%s is not there", launcher)
	}
	return []string{python, launcher}, nil
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s is not there", path)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// StartMoto starts the project's moto_server (.venv/bin/moto_server) on a
// free loopback port for a program (the emulated local run, benchmarks) and
// returns its endpoint and how to stop it. Tests use Main instead.
func StartMoto() (endpoint string, stop func(), err error) {
	bin, err := motoServerPath()
	if err != nil {
		return "", nil, fmt.Errorf("%v: run `make venv` first", err)
	}
	p, err := startMoto(bin, threadedArgs(bin))
	if err != nil {
		return "", nil, err
	}
	return p.endpoint, p.stop, nil
}

// threadedArgs is the command of moto_server bin, but for its port.
func threadedArgs(bin string) func(port int) []string {
	return func(port int) []string { return []string{bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port)} }
}

// serialArgs is serialCommand's command with its port.
func serialArgs(cmd []string) func(port int) []string {
	return func(port int) []string { return append(slices.Clone(cmd), strconv.Itoa(port)) }
}

// RepoRoot is the directory of go.mod above the working directory.
func RepoRoot() (string, error) { return repoRoot() }

type motoProc struct {
	cmd      *exec.Cmd
	exited   chan error // receives cmd.Wait's result once
	log      *os.File
	endpoint string
}

// startMoto starts the command args gives for a free loopback port, in its own process group,
// and waits until it answers HTTP. name says which moto it is in errors.
func startMoto(name string, args func(port int) []string) (*motoProc, error) {
	// The child gets a parent-death signal where the OS has one (Linux), so moto dies with the
	// test binary even when a test timeout panics past Main's cleanup. That signal fires when
	// the OS thread that started the child ends: keep the main goroutine on this thread.
	runtime.LockOSThread()

	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		p, err := startMotoOnce(name, args)
		if err == nil {
			return p, nil
		}
		lastErr = err
		if !errors.Is(err, errExited) {
			break
		}
	}
	return nil, fmt.Errorf("could not start %s: %w", name, lastErr)
}

func startMotoOnce(name string, args func(port int) []string) (*motoProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.CreateTemp("", "awstest-moto-*.log")
	if err != nil {
		return nil, err
	}
	argv := args(port)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.Remove(logf.Name())
		return nil, err
	}
	p := &motoProc{
		cmd:      cmd,
		exited:   make(chan error, 1),
		log:      logf,
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
	}
	go func() { p.exited <- cmd.Wait() }()

	if err := waitReady(p.endpoint, p.exited, startReadyTimeout); err != nil {
		p.stop() // reads p.exited: fine, waitReady only consumed it if the process had exited
		return nil, fmt.Errorf("%w\n--- %s output ---\n%s", err, name, p.output())
	}
	return p, nil
}

// output returns the tail of moto's log (only read after the process is gone).
func (p *motoProc) output() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// stop ends moto's whole process group: SIGTERM, then SIGKILL after stopTimeout.
func (p *motoProc) stop() {
	defer func() {
		p.log.Close()
		os.Remove(p.log.Name())
	}()
	select {
	case <-p.exited:
		return
	default:
	}
	terminateGroup(p.cmd)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		killGroup(p.cmd)
		<-p.exited
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls endpoint until it gives any HTTP response, the process reports its exit on
// exited (nil: no process to watch) or the timeout passes.
func waitReady(endpoint string, exited chan error, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		resp, err := client.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %v: %v", timeout, lastErr)
		}
		select {
		case err := <-exited:
			exited <- err // keep it for stop
			return fmt.Errorf("%w (%v)", errExited, err)
		case <-time.After(pollInterval):
		}
	}
}

// checkLoopbackURL accepts only http(s) URLs on a loopback host: tests must never leave the
// machine.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https")
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("host %q is not a loopback address", host)
}
