// Row 6's fresh processes under the Runtime Interface Emulator, and the
// world (moto, the simulator on loopback) their first invocation talks to.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/rie"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

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
	if err := w.shareToken(ctx); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// shareToken stores the shared token, sealed, under the key the functions
// look for (it names the accounts URL they are configured with).
func (w *world) shareToken(ctx context.Context) error {
	store, err := w.m.tokenStore(ctx, w.m.dynamo(), w.table)
	if err != nil {
		return err
	}
	tokens, err := oauth.NewSource(oauth.Config{Secret: secret.Static(simSecret), Store: store,
		HTTPClient: simHTTPClient(w.sim), AccountsURL: w.url, Now: w.clock.Now})
	if err != nil {
		return err
	}
	_, err = tokens.Token(ctx)
	return err
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
	key, err := w.m.tokenKey(ctx)
	if err != nil {
		return nil, err
	}
	return append(w.m.functionEnv(), "JOBS_TABLE="+w.table, "TOKEN_KEY_ID="+key, "ZOHO_SECRET_ID="+secretARN, "DEAD_LETTER_QUEUE_URL="+queueURL,
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
	id, err := client.MassConvert(ctx, owned(leads...))
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
