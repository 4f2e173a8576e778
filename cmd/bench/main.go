// Command bench measures the claims the project makes against its naive
// peers and prints one table (also written as JSON):
//
//	go run ./cmd/bench [-latency 300ms] [-peer-latency 30ms] [-reps 3] [-rows 1,2,3,4] [-out docs/bench/latest.json]
//
// Every row drives the real code (the Lambda handlers, the status checker,
// the token source, the Zoho client) against the Zoho simulator. Rows 1 to
// 5 serve it in process: no sockets. Row 5 also checks its DynamoDB
// estimate, and row 6 runs the built bootstraps under the Runtime Interface
// Emulator, against moto (.venv) and the simulator on 127.0.0.1; without
// moto or the emulator those lines print "skipped". Nothing leaves the
// machine. Each row is measured -reps times and the median is reported; a
// ratio is computed within each repetition (ours and its baseline side by
// side) before taking the median. Every baseline is run, in the same run
// and harness as ours; only floors and caps are computed, and the notes
// say so. docs/performance.md explains every row.
//
// It stays one package main: a file (or a few) per row (calls.go,
// tokens.go, concurrency.go, overhead.go, status*.go with meter.go and
// readunits.go, coldstart*.go) over a shared harness (harness.go: the
// simulator and the function instances; sqs.go: SQS delivery;
// workload.go; naive.go: the one-call-per-lead peer; moto.go; report.go:
// the table and the JSON). Row packages under internal/ would have to
// export that harness and the sample type to each other, and nothing
// outside the command uses them: the split would add API, not clarity.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// settings are the sizes of the rows. The flags set the first two; the
// rest are the sizes, made smaller by the tests.
type settings struct {
	latency     time.Duration // simulated Zoho latency per call (real time)
	reps        int
	concurrency int // MAX_ZOHO_CONCURRENCY of every instance

	leads       int           // rows 1 and 3: leads per burst
	peerLatency time.Duration // row 1: the latency ours and the naive peer race at

	instances int           // row 2: function instances
	traffic   time.Duration // row 2: simulated time covered
	step      time.Duration // row 2: simulated time between rounds of calls

	batchLeads    int // row 4: single-lead messages per SQS batch
	overheadIters int // row 4: batches measured per repetition

	statusJobs []int // row 5: due jobs of each measured status run

	coldStarts int  // row 6: fresh processes of each bootstrap per repetition
	arm64Sizes bool // row 6: also build for arm64, for its binary sizes

	fleetLeads   int           // row 7: leads per cell at least (the span is fleetLeads/rate)
	fleetMinSpan time.Duration // row 7: simulated time leads arrive for, at least
	largestMsgs  int           // row 7: messages of 1,000 ids offered to the largest batch (it takes what fits 6 MB)
	claimDelay   time.Duration // row 7: DynamoDB's latency per claim transaction, for the largest batch

	sweep sweepSettings // row 8 (sweep.go)
}

// peerLatencyScale is how much shorter than -latency the head-to-head run
// of row 1 is by default: at 300 ms the peer's 10,000 calls, 10 at a time,
// would take 5 minutes per repetition; at 30 ms, 30 s.
const peerLatencyScale = 10

func defaultSettings() settings {
	return settings{
		latency: 300 * time.Millisecond, reps: 3, concurrency: defaultConcurrency(),
		leads: 10_000, peerLatency: 300 * time.Millisecond / peerLatencyScale,
		instances: 50, traffic: 2 * time.Hour, step: time.Minute,
		batchLeads: 1000, overheadIters: 10,
		statusJobs: []int{1000, 10_000},
		coldStarts: 9, arm64Sizes: true,
		fleetLeads: 720, fleetMinSpan: 5 * time.Minute,
		largestMsgs: 400, claimDelay: 25 * time.Millisecond,
		sweep: defaultSweepSettings(),
	}
}

// A rowSpec is one row of the table. run measures it once: rep
// numbers the repetition from 0, for seeds.
type rowSpec struct {
	n     int
	title string
	run   func(ctx context.Context, s settings, rep int) ([]sample, error)
}

// rowSpecs are the rows in table order.
var rowSpecs = []rowSpec{
	{n: 1, title: "Zoho calls per lead", run: rowCalls},
	{n: 2, title: "Token refreshes", run: rowTokens},
	{n: 3, title: "Zoho concurrency", run: rowConcurrency},
	{n: 4, title: "Handler overhead", run: rowOverhead},
	{n: 5, title: "Status checking", run: rowStatus},
	{n: 6, title: "Cold start", run: rowColdStart},
	{n: 7, title: "Fleet-wide batching", run: rowFleet},
	{n: 8, title: "Scheduled sweeps", run: rowSweep},
	{n: 9, title: "Credits per converted lead", run: rowCredits},
}

func main() {
	s := defaultSettings()
	flag.DurationVar(&s.latency, "latency", s.latency, "simulated Zoho latency per call")
	flag.IntVar(&s.reps, "reps", s.reps, "repetitions of every row; the median is reported")
	flag.DurationVar(&s.peerLatency, "peer-latency", 0, "simulated Zoho latency per call when ours and the one-call-per-lead peer run head to head (row 1); default -latency/10")
	rowsFlag := flag.String("rows", "", "rows to run, e.g. 1,2 (default: all)")
	flag.Func("sweep-leads", "row 8: matching leads of each run, e.g. 1000,10000 (default 1000,10000,100000)", s.sweep.parseSizes)
	out := flag.String("out", filepath.Join("docs", "bench", "latest.json"), "where to write the JSON (empty: nowhere)")
	flag.Parse()
	if s.peerLatency == 0 {
		s.peerLatency = s.latency / peerLatencyScale
	}
	if s.reps < 1 || s.latency < 0 || s.peerLatency < 0 {
		fail(errors.New("-reps must be at least 1, -latency and -peer-latency not negative"))
	}
	selected, err := parseRows(*rowsFlag)
	if err != nil {
		fail(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	rows, err := run(ctx, s, selected, os.Stderr)
	if err != nil {
		fail(err)
	}
	elapsed := time.Since(start)

	fmt.Printf("leadconvert bench: latency %s per simulated Zoho call (%s when ours and the naive peer race), median of %d repetitions, MAX_ZOHO_CONCURRENCY %d, %s %s/%s, %d CPUs, took %s\n\n",
		s.latency, s.peerLatency, s.reps, s.concurrency, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), elapsed.Round(time.Second))
	if err := printTable(os.Stdout, rows); err != nil {
		fail(err)
	}
	if *out != "" {
		rep := report{
			Generated: time.Now().UTC().Format(time.RFC3339), Command: strings.TrimSpace("go run ./cmd/bench " + strings.Join(os.Args[1:], " ")),
			GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU(),
			LatencyMS: figure(ms(s.latency)), PeerLatencyMS: figure(ms(s.peerLatency)), Reps: s.reps, ElapsedS: figure(elapsed.Seconds()), Rows: rows,
		}
		if err := writeJSON(*out, rep); err != nil {
			fail(err)
		}
		fmt.Printf("\nwritten to %s\n", *out)
	}
	if failed := problems(rows); len(failed) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d invariant(s) broken:\n  %s\n", len(failed), strings.Join(failed, "\n  "))
		os.Exit(1)
	}
}

// run measures the selected rows, each s.reps times, logging progress to log.
func run(ctx context.Context, s settings, selected []int, log *os.File) ([]row, error) {
	defer closeShared()      // moto, if a row started it
	defer removeBootstraps() // row 6's binaries
	var rows []row
	for _, spec := range rowSpecs {
		if !slices.Contains(selected, spec.n) {
			continue
		}
		reps := make([][]sample, 0, s.reps)
		for i := range s.reps {
			t0 := time.Now()
			ss, err := spec.run(ctx, s, i)
			if err != nil {
				return nil, fmt.Errorf("row %d (%s), repetition %d: %w", spec.n, spec.title, i+1, err)
			}
			if log != nil {
				fmt.Fprintf(log, "row %d (%s): repetition %d/%d took %s\n", spec.n, spec.title, i+1, s.reps, time.Since(t0).Round(100*time.Millisecond))
			}
			reps = append(reps, ss)
		}
		rows = append(rows, aggregate(spec.n, reps)...)
	}
	return rows, nil
}

// parseRows reads -rows: a comma-separated list of row numbers.
func parseRows(v string) ([]int, error) {
	var all []int
	for _, spec := range rowSpecs {
		all = append(all, spec.n)
	}
	if strings.TrimSpace(v) == "" {
		return all, nil
	}
	var sel []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || !slices.Contains(all, n) {
			return nil, fmt.Errorf("-rows: %q is not a row (rows are %v)", f, all)
		}
		sel = append(sel, n)
	}
	return sel, nil
}

func problems(rows []row) []string {
	var out []string
	for _, r := range rows {
		for _, p := range r.Problems {
			out = append(out, fmt.Sprintf("row %d %s: %s", r.Row, r.Key, p))
		}
	}
	return out
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(2)
}
