package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/rie"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// The bootstraps row 6 starts: the two functions and the baseline, a
// hello-world aws-lambda-go function built the same way.
const (
	bootHello   = "hello"
	bootConvert = "convert"
	bootStatus  = "status"
)

// helloMain is the baseline function. It is written into a module of its
// own, next to nothing else, which requires the aws-lambda-go version this
// module requires.
const helloMain = `package main

import "github.com/aws/aws-lambda-go/lambda"

func main() { lambda.Start(func() (string, error) { return "ok", nil }) }
`

// bootstraps are the binaries, built once per bench run: path[arch][name].
type bootstraps struct {
	dir  string
	path map[string]map[string]string
	size map[string]map[string]int64
}

var built struct {
	mu sync.Mutex
	b  *bootstraps
}

// buildBootstraps builds the three bootstraps as the Makefile builds the
// functions (static, stripped, -tags lambda.norpc) for the host's
// architecture and, when arm64 is set, for arm64 (what Lambda runs).
func buildBootstraps(arm64 bool) (*bootstraps, error) {
	built.mu.Lock()
	defer built.mu.Unlock()
	archs := []string{runtime.GOARCH}
	if arm64 && runtime.GOARCH != "arm64" {
		archs = append(archs, "arm64")
	}
	if b := built.b; b != nil && len(b.path) == len(archs) {
		return b, nil
	}
	root, err := awstest.RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "leadconvert-bench-")
	if err != nil {
		return nil, err
	}
	b := &bootstraps{dir: dir, path: map[string]map[string]string{}, size: map[string]map[string]int64{}}
	hello, err := writeHello(root, filepath.Join(dir, "hello-src"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for _, arch := range archs {
		b.path[arch], b.size[arch] = map[string]string{}, map[string]int64{}
		for _, name := range []string{bootHello, bootConvert, bootStatus} {
			out := filepath.Join(dir, arch, name)
			if err := os.MkdirAll(out, 0o755); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			var bin string
			if name == bootHello {
				bin, err = rie.BuildIn(hello, ".", out, arch, "GOFLAGS=-mod=mod", "GOWORK=off")
			} else {
				bin, err = rie.BuildIn(root, "./functions/"+name, out, arch)
			}
			if err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			fi, err := os.Stat(bin)
			if err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			b.path[arch][name], b.size[arch][name] = bin, fi.Size()
		}
	}
	if built.b != nil {
		os.RemoveAll(built.b.dir)
	}
	built.b = b
	return b, nil
}

// removeBootstraps deletes what buildBootstraps built.
func removeBootstraps() {
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.b != nil {
		os.RemoveAll(built.b.dir)
		built.b = nil
	}
}

// writeHello writes the hello-world module into dir: main.go, a go.mod
// requiring this module's aws-lambda-go version, and its go.sum lines, so
// that the build needs nothing but the module cache.
func writeHello(root, dir string) (string, error) {
	const mod = "github.com/aws/aws-lambda-go"
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", mod)
	cmd.Dir = root
	v, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", mod, err)
	}
	version := strings.TrimSpace(string(v))
	sums, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return "", err
	}
	var sum strings.Builder
	for line := range strings.Lines(string(sums)) {
		if strings.HasPrefix(line, mod+" "+version) {
			sum.WriteString(line)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	goVersion, err := moduleGoVersion(root)
	if err != nil {
		return "", err
	}
	files := map[string]string{
		"main.go": helloMain,
		"go.mod":  fmt.Sprintf("module hello\n\ngo %s\n\nrequire %s %s\n", goVersion, mod, version),
		"go.sum":  sum.String(),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// moduleGoVersion is the go directive of this module's go.mod.
func moduleGoVersion(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "go "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("go.mod has no go directive")
}

// coldStart is one fresh process: its init and its first invocation.
type coldStart struct {
	init    time.Duration // the emulator's INIT REPORT
	first   time.Duration // wall time of the first invocation, init included
	handler time.Duration // the emulator's INVOKE RTDONE duration: the handler alone
}

var (
	initReport   = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	invokeReport = regexp.MustCompile(`INVOKE RTDONE\([^)\n]*duration: ([0-9.]+)ms\)`)
)

// reportMS reads the first figure re finds in the emulator's output.
func reportMS(re *regexp.Regexp, output string) (time.Duration, error) {
	m := re.FindStringSubmatch(output)
	if m == nil {
		return 0, fmt.Errorf("no %q in the emulator's output:\n%s", re, output)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return time.Duration(v * float64(time.Millisecond)), err
}

// startCold runs bootstrap under the emulator with env, invokes it once
// with event and returns the figures and the answer.
func startCold(bootstrap string, env []string, event []byte) (coldStart, []byte, error) {
	fn, err := rie.StartProcess(bootstrap, env)
	if err != nil {
		return coldStart{}, nil, err
	}
	defer fn.Close()
	t0 := time.Now()
	out, err := fn.Call(event)
	first := time.Since(t0)
	if err != nil {
		return coldStart{}, nil, fmt.Errorf("%w\n--- output ---\n%s", err, fn.Output())
	}
	// The emulator may write its lines just after the answer.
	for wait := time.Now().Add(2 * time.Second); !invokeReport.MatchString(fn.Output()) && time.Now().Before(wait); {
		time.Sleep(5 * time.Millisecond)
	}
	c := coldStart{first: first}
	if c.init, err = reportMS(initReport, fn.Output()); err != nil {
		return c, nil, err
	}
	if c.handler, err = reportMS(invokeReport, fn.Output()); err != nil {
		return c, nil, err
	}
	return c, out, nil
}

// coldHello starts the hello-world function.
func coldHello(b *bootstraps) (coldStart, error) {
	c, out, err := startCold(b.path[runtime.GOARCH][bootHello], nil, []byte(`{}`))
	if err == nil && string(out) != `"ok"` {
		err = fmt.Errorf("hello answered %s", out)
	}
	return c, err
}

// world is what a function's cold start talks to: a fresh table in moto
// (with the shared token a running deployment has), the secret and queue,
// and a fresh simulator served on loopback.
type world struct {
	m          *motoServer
	table, url string
	sim        *zohosim.Server
	clock      *zohosim.ManualClock
	stopSim    func()
}

func newWorld(ctx context.Context, m *motoServer) (*world, error) {
	w := &world{m: m, clock: zohosim.NewManualClock(time.Now())}
	w.sim = zohosim.New(zohosim.Options{Clock: w.clock})
	var err error
	if w.table, err = m.createJobsTable(ctx); err != nil {
		return nil, err
	}
	w.url, w.stopSim = w.sim.Start()
	// The shared token, stored under the key the functions look for (it
	// names the accounts URL they are configured with).
	tokens, err := oauth.NewSource(oauth.Config{Secret: secret.Static(simSecret), Store: table.NewTokenStore(m.dynamo(), w.table),
		HTTPClient: simHTTPClient(w.sim), AccountsURL: w.url, Now: w.clock.Now})
	if err == nil {
		_, err = tokens.Token(ctx)
	}
	if err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *world) close() {
	if w.stopSim != nil {
		w.stopSim()
	}
	w.m.deleteTable(w.table)
}

// env is the function's environment, as template.yaml sets it, pointed at
// moto and the simulator.
func (w *world) env(ctx context.Context, timeout time.Duration) ([]string, error) {
	secretARN, queueURL, err := w.m.secretAndQueue(ctx)
	if err != nil {
		return nil, err
	}
	return append(w.m.functionEnv(), "JOBS_TABLE="+w.table, "ZOHO_SECRET_ID="+secretARN, "DEAD_LETTER_QUEUE_URL="+queueURL,
		"ZOHO_ACCOUNTS_URL="+w.url, "ZOHO_API_URL="+w.url,
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(timeout/time.Second))), nil
}

// coldConvert starts the convert function and sends it the sample SQS
// batch, its leads seeded in the simulator (SeedLeadRange(8) makes the ids
// of the sample events). It also returns the Zoho calls the invocation
// made and the leads they scheduled.
func coldConvert(ctx context.Context, b *bootstraps, m *motoServer, event []byte) (coldStart, zohosim.Stats, error) {
	w, err := newWorld(ctx, m)
	if err != nil {
		return coldStart{}, zohosim.Stats{}, err
	}
	defer w.close()
	w.sim.SeedLeadRange(8)
	env, err := w.env(ctx, lambdaTimeout)
	if err != nil {
		return coldStart{}, zohosim.Stats{}, err
	}
	c, out, err := startCold(b.path[runtime.GOARCH][bootConvert], env, event)
	if err != nil {
		return c, zohosim.Stats{}, err
	}
	var answer struct {
		BatchItemFailures []any `json:"batchItemFailures"`
	}
	st := w.sim.Stats()
	if err := json.Unmarshal(out, &answer); err != nil || len(answer.BatchItemFailures) > 0 || st.IDsSubmitted == 0 || len(w.sim.Jobs()) != st.JobsScheduled {
		return c, st, fmt.Errorf("convert answered %s; the simulator scheduled %d ids", out, st.IDsSubmitted)
	}
	return c, st, nil
}

// coldStatus starts the status function and sends it the schedule's
// event, with one job due.
func coldStatus(ctx context.Context, b *bootstraps, m *motoServer, event []byte) (coldStart, error) {
	w, err := newWorld(ctx, m)
	if err != nil {
		return coldStart{}, err
	}
	defer w.close()
	client, _, err := newZohoClient(w.sim, w.clock, oauth.NewMemoryStore(), zoho.RetryPolicy{Attempts: 1})
	if err != nil {
		return coldStart{}, err
	}
	leads := w.sim.SeedLeadRange(1)
	id, err := client.MassConvert(ctx, &zoho.ConvertRequest{IDs: leads})
	if err != nil {
		return coldStart{}, err
	}
	now := time.Now()
	j := jobs.Job{ID: id, State: jobs.Scheduled, LeadIDs: leads, CreatedAt: now, UpdatedAt: now, NextCheckAt: now.Add(-time.Minute)}
	if err := table.NewJobStore(m.dynamo(), w.table).RecordJob(ctx, j, now.Add(time.Hour)); err != nil {
		return coldStart{}, err
	}
	env, err := w.env(ctx, statusTimeout)
	if err != nil {
		return coldStart{}, err
	}
	c, out, err := startCold(b.path[runtime.GOARCH][bootStatus], env, event)
	if err != nil {
		return c, err
	}
	var rep jobcheck.Report
	if err := json.Unmarshal(out, &rep); err != nil || rep.Checked != 1 || rep.Errors != 0 {
		return c, fmt.Errorf("status answered %s, want one job checked", out)
	}
	return c, nil
}

// rowColdStart is row 6: s.coldStarts fresh processes of each bootstrap,
// taken in turn, under the Runtime Interface Emulator; the median of each
// figure; and the binaries' sizes.
func rowColdStart(ctx context.Context, s settings, _ int) ([]sample, error) {
	const title = "Cold start"
	if runtime.GOOS != "linux" {
		return []sample{skipped("coldstart/skipped", title, "the emulator runs linux binaries")}, nil
	}
	if _, err := rie.Emulator(); errors.Is(err, rie.ErrNoEmulator) {
		return []sample{skipped("coldstart/skipped", title, "no .bin/aws-lambda-rie")}, nil
	}
	m, err := sharedMoto()
	if errors.Is(err, errSkipped) {
		return []sample{skipped("coldstart/skipped", title, "no .venv/bin/moto_server")}, nil
	}
	if err != nil {
		return nil, err
	}
	b, err := buildBootstraps(s.arm64Sizes)
	if err != nil {
		return nil, err
	}
	root, err := awstest.RepoRoot()
	if err != nil {
		return nil, err
	}
	sqsEvent, err := os.ReadFile(filepath.Join(root, "events", "sqs-batch.json"))
	if err != nil {
		return nil, err
	}
	scheduleEvent, err := os.ReadFile(filepath.Join(root, "events", "schedule.json"))
	if err != nil {
		return nil, err
	}
	runs := map[string][]coldStart{}
	var convertStats zohosim.Stats
	for range s.coldStarts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := coldHello(b)
		if err != nil {
			return nil, fmt.Errorf("hello world: %w", err)
		}
		runs[bootHello] = append(runs[bootHello], c)
		if c, convertStats, err = coldConvert(ctx, b, m, sqsEvent); err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		runs[bootConvert] = append(runs[bootConvert], c)
		if c, err = coldStatus(ctx, b, m, scheduleEvent); err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
		runs[bootStatus] = append(runs[bootStatus], c)
	}
	med := func(name string, f func(coldStart) time.Duration) float64 {
		var xs []float64
		for _, c := range runs[name] {
			xs = append(xs, ms(f(c)))
		}
		return *median(xs)
	}
	initOf := func(c coldStart) time.Duration { return c.init }
	firstOf := func(c coldStart) time.Duration { return c.first }
	handlerOf := func(c coldStart) time.Duration { return c.handler }
	procs := fmt.Sprintf("median of %d fresh processes", s.coldStarts)
	out := []sample{
		{key: "coldstart/init-convert", measure: "init duration: convert", unit: "ms",
			ours: med(bootConvert, initOf), baseline: med(bootHello, initOf), floor: none,
			note: "the emulator's INIT REPORT: start to the first request for work; config, AWS SDK config and clients before lambda.Start; " + procs + "; baseline: hello world built the same way"},
		{key: "coldstart/first-convert", measure: "first invocation: convert, events/sqs-batch.json", unit: "ms",
			ours: med(bootConvert, firstOf), baseline: med(bootHello, firstOf), floor: none,
			note: fmt.Sprintf("wall time, init included; the handler %.1f ms (INVOKE RTDONE; hello %.1f ms): reads the secret and the shared token, claims %d leads, %d Zoho calls, records %d jobs; moto and the simulator on loopback, no latency; %s",
				med(bootConvert, handlerOf), med(bootHello, handlerOf), convertStats.IDsSubmitted, convertStats.Calls[zohosim.EndpointMassConvert], convertStats.JobsScheduled, procs)},
		{key: "coldstart/init-status", measure: "init duration: status", unit: "ms",
			ours: med(bootStatus, initOf), baseline: med(bootHello, initOf), floor: none,
			note: "as for convert; " + procs},
		{key: "coldstart/first-status", measure: "first invocation: status, events/schedule.json", unit: "ms",
			ours: med(bootStatus, firstOf), baseline: med(bootHello, firstOf), floor: none,
			note: fmt.Sprintf("wall time, init included; the handler %.1f ms: reads the secret and the shared token, checks 1 due job (1 Zoho call, 1 Query, 1 BatchGetItem, 1 UpdateItem); %s",
				med(bootStatus, handlerOf), procs)},
	}
	archs := slices.Sorted(func(yield func(string) bool) {
		for a := range b.size {
			if !yield(a) {
				return
			}
		}
	})
	for _, name := range []string{bootConvert, bootStatus} {
		for _, arch := range archs {
			out = append(out, sample{key: "coldstart/size-" + name + "-" + arch, measure: fmt.Sprintf("binary size: %s, linux/%s", name, arch), unit: "MB",
				ours: float64(b.size[arch][name]) / (1 << 20), baseline: float64(b.size[arch][bootHello]) / (1 << 20), floor: none,
				note: "CGO_ENABLED=0 -tags lambda.norpc -trimpath -ldflags='-s -w -buildid=' (the Makefile's build); baseline: hello world"})
		}
	}
	return out, nil
}
