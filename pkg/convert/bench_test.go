//go:build unix

// The benchmark reads the process's CPU time with getrusage, hence unix only.

package convert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// benchBatch is the size of the benchmarked SQS batch: 1,000 single-lead
// messages with identical options, the most SQS hands one invocation.
const benchBatch = 1000

// benchURL is never dialled: every request is served in process.
const benchURL = "http://127.0.0.1:1"

// BenchmarkConvertBatch1000 measures the CPU time and allocations of one
// 1,000-lead SQS batch with Zoho replaced by the in-process simulator (zero
// latency) and the in-memory job store. Each iteration gets a fresh
// simulator, store and warm function instance, built outside the timer.
//
//	go test -run '^$' -bench ConvertBatch -benchmem ./pkg/convert/
//
// ns/op is wall time; cpu-ns/op is user+system CPU time of the whole
// process, so it includes the simulator's own work for the 20 calls.
func BenchmarkConvertBatch1000(b *testing.B) {
	b.Run("handler", benchHandler)
	b.Run("service", benchService)
}

// benchHandler drives app.Convert.Invoke, the Lambda handler, with the raw
// SQS event: event detection, decoding, validation, grouping, claims, calls,
// job records, logs and metrics.
func benchHandler(b *testing.B) {
	event := benchEvent(b)
	var cpu cpuTimer
	b.ReportAllocs()
	b.StopTimer()
	for range b.N {
		sim, clock, _ := newBenchSim()
		fn := newBenchFunction(b, sim, clock)
		warm(b, fn)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		b.StartTimer()
		cpu.start()
		res, err := fn.Invoke(ctx, event)
		cpu.stop()
		b.StopTimer()
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if f := res.(events.SQSEventResponse).BatchItemFailures; len(f) != 0 {
			b.Fatalf("%d messages handed back", len(f))
		}
		checkCalls(b, sim, 1+benchBatch/zoho.MaxIDsPerCall)
	}
	cpu.report(b)
}

// benchService drives convert.Service.Convert with decoded submissions: the
// handler without the event decoding, the SQS answer and the logs.
func benchService(b *testing.B) {
	subs := make([]convert.Submission, benchBatch)
	_, _, ids := newBenchSim()
	for i, id := range ids[:benchBatch] {
		req := benchOptions()
		req.IDs = []string{id}
		subs[i] = convert.Submission{Source: fmt.Sprintf("msg-%04d", i), Request: req}
	}
	var cpu cpuTimer
	b.ReportAllocs()
	b.StopTimer()
	for range b.N {
		sim, clock, _ := newBenchSim()
		hc := &http.Client{Transport: sim.Transport()}
		tokens, err := oauth.NewSource(oauth.Config{Secret: secret.Static(benchSecret()), Store: oauth.NewMemoryStore(),
			HTTPClient: hc, AccountsURL: benchURL, Now: clock.Now})
		if err != nil {
			b.Fatal(err)
		}
		client, err := zoho.New(zoho.Config{HTTPClient: hc, Tokens: tokens, APIURL: benchURL})
		if err != nil {
			b.Fatal(err)
		}
		svc, err := convert.New(convert.Config{Zoho: client, Store: memstore.New(), Now: clock.Now, APIVersion: "v7"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tokens.Token(context.Background()); err != nil { // a warm instance holds a token
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		m := obs.NewMetrics("convert")
		b.StartTimer()
		cpu.start()
		results := svc.Convert(obs.WithMetrics(ctx, m), subs)
		cpu.stop()
		b.StopTimer()
		cancel()
		for _, r := range results {
			if r.Verdict != convert.Done || len(r.Jobs) != 1 {
				b.Fatalf("%s: %s %s %s", r.Source, r.Verdict, r.Code, r.Reason)
			}
		}
		checkCalls(b, sim, benchBatch/zoho.MaxIDsPerCall)
	}
	cpu.report(b)
}

// newBenchSim returns a simulator holding the benchmark's leads plus one
// for warming up, and their ids, which are the same on every call.
func newBenchSim() (*zohosim.Server, *zohosim.ManualClock, []string) {
	clock := zohosim.NewManualClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	sim := zohosim.New(zohosim.Options{Clock: clock})
	return sim, clock, sim.SeedLeadRange(benchBatch + 1)
}

// benchOptions are the options of every benchmarked request: a deal and
// an owner, so that validation and grouping have something to look at.
func benchOptions() *zoho.ConvertRequest {
	deal := zoho.Deal{}
	deal.SetString(zoho.DealName, "Website enquiry")
	deal.SetString(zoho.DealStage, "Qualification")
	deal.SetString(zoho.DealClosingDate, "2026-12-31")
	return &zoho.ConvertRequest{Deals: &deal, AssignTo: &zoho.Ref{ID: zohosim.DefaultUserID}}
}

// benchEvent is the SQS event of the benchmarked batch, as Lambda sends it.
func benchEvent(b *testing.B) json.RawMessage {
	_, _, ids := newBenchSim()
	return sqsEvent(b, ids[:benchBatch])
}

// sqsEvent is the SQS event of one single-lead request per id, all with
// benchOptions, each delivered for the first time.
func sqsEvent(b *testing.B, ids []string) json.RawMessage {
	msgs := make([]testkit.SQSMessage, len(ids))
	for i, id := range ids {
		req := benchOptions()
		req.IDs = []string{id}
		body, err := json.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = testkit.SQSMessage{ID: fmt.Sprintf("5b7f2c1e-8a4d-4e6f-9b3a-%012d", i), Body: string(body)}
	}
	return testkit.SQSEvent(msgs...)
}

func benchSecret() string {
	return zohotest.SecretJSON("bench-webhook-key")
}

// newBenchFunction builds the convert function as functions/convert does,
// with embedded dependencies, the default configuration (INFO logs,
// MAX_ZOHO_CONCURRENCY 4) and the simulator served in process.
func newBenchFunction(b *testing.B, sim *zohosim.Server, clock *zohosim.ManualClock) *app.Convert {
	cfg, err := config.LoadConvert(func(k string) string {
		return map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
			"ZOHO_ACCOUNTS_URL": benchURL, "ZOHO_API_URL": benchURL}[k]
	})
	if err != nil {
		b.Fatal(err)
	}
	deps := app.ConvertDeps{
		Shared: app.Shared{
			Secret:     secret.Static(benchSecret()),
			Tokens:     oauth.NewMemoryStore(),
			HTTPClient: &http.Client{Transport: sim.Transport()},
			Now:        clock.Now,
			Out:        io.Discard,
		},
		Jobs:       memstore.New(),
		DeadLetter: &sqsbatch.MemoryDeadLetter{},
	}
	fn, err := app.NewConvert(cfg, deps)
	if err != nil {
		b.Fatal(err)
	}
	return fn
}

// warm makes fn a warm instance: it has converted one lead, so it holds an
// access token, as every instance but a cold one does.
func warm(b *testing.B, fn *app.Convert) {
	_, _, ids := newBenchSim()
	res, err := fn.Invoke(context.Background(), sqsEvent(b, ids[benchBatch:]))
	if err != nil {
		b.Fatal(err)
	}
	if f := res.(events.SQSEventResponse).BatchItemFailures; len(f) != 0 {
		b.Fatalf("warm-up: %d messages handed back", len(f))
	}
}

func checkCalls(b *testing.B, sim *zohosim.Server, want int) {
	st := sim.Stats()
	if n := st.Calls[zohosim.EndpointMassConvert]; n != want || st.DuplicateSubmissions != 0 {
		b.Fatalf("%d mass_convert calls, %d duplicate submissions; want %d and 0", n, st.DuplicateSubmissions, want)
	}
}

// cpuTimer adds up the process's CPU time (user and system) between start
// and stop.
type cpuTimer struct {
	t0    time.Duration
	total time.Duration
	n     int
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuTimer) start() { c.t0 = cpuNow() }

func (c *cpuTimer) stop() {
	c.total += cpuNow() - c.t0
	c.n++
}

func (c *cpuTimer) report(b *testing.B) {
	if c.n > 0 {
		b.ReportMetric(float64(c.total.Nanoseconds())/float64(c.n), "cpu-ns/op")
	}
}
