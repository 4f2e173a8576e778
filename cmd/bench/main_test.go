package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
)

// smallSettings keep every row to a second or two, under -race too.
func smallSettings() settings {
	return settings{
		latency: 5 * time.Millisecond, reps: 1, concurrency: defaultConcurrency(),
		leads: 2000, peerLatency: time.Millisecond,
		instances: 20, traffic: 2 * time.Hour, step: 5 * time.Minute,
		batchLeads: 100, overheadIters: 1,
		statusJobs: []int{100, 300},
		coldStarts: 1, arm64Sizes: false,
		fleetLeads: 60, fleetMinSpan: 0,
		largestMsgs: 3, claimDelay: 0,
		sweep: sweepSettings{sizes: []int{300}, scale: 50},
	}
}

// A lineCheck is one claim about one line of the table: "" when it holds.
type lineCheck struct {
	key  string
	want func(r row) string
}

// TestRowsRun runs every row small and checks what the full run reports:
// calls at most a few above the floor while the peer's are one per lead,
// the peer's duplicates counted by its simulator, the shared token at its
// floor while separate stores get throttled, calls in flight within the
// cap, every baseline measured. Times are only checked to be there: their
// size depends on the machine.
func TestRowsRun(t *testing.T) {
	s := smallSettings()
	all, err := parseRows("")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := run(context.Background(), s, all, nil)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]row{}
	for _, r := range rows {
		byKey[r.Key] = r
		if len(r.Problems) > 0 {
			t.Errorf("row %d %s: %v", r.Row, r.Key, r.Problems)
		}
	}

	measured := func(fields ...string) func(r row) string {
		return func(r row) string {
			for _, f := range fields {
				p := map[string]*figure{"ours": r.Ours, "baseline": r.Baseline, "floor": r.Floor, "ours/baseline": r.OursPerBase}[f]
				if p == nil || val(p) <= 0 {
					return fmt.Sprintf("%s is %v", f, val(p))
				}
			}
			return ""
		}
	}
	var checks []lineCheck
	wantDup := 0
	for _, c := range matrix {
		dups := s.leads * c.dupPercent / 100
		wantDup += dups
		checks = append(checks, lineCheck{"calls/" + c.key(), func(r row) string {
			if val(r.Ours) < val(r.Floor) || val(r.Ours) > val(r.Floor)+float64(c.optionSets*2) {
				return fmt.Sprintf("%v calls, floor %v", val(r.Ours), val(r.Floor))
			}
			if val(r.Baseline) != float64(s.leads) {
				return fmt.Sprintf("the peer made %v calls for %d leads", val(r.Baseline), s.leads)
			}
			return ""
		}})
	}
	checks = append(checks,
		lineCheck{"calls/duplicates", func(r row) string {
			if val(r.Ours) != 0 || val(r.Baseline) != float64(wantDup) {
				return fmt.Sprintf("ours %v, the peer %v; want 0 and %d", val(r.Ours), val(r.Baseline), wantDup)
			}
			return ""
		}},
		lineCheck{"calls/once", func(r row) string {
			if val(r.Ours) != 0 || val(r.Baseline) != 0 {
				return fmt.Sprintf("ours %v, the peer %v", val(r.Ours), val(r.Baseline))
			}
			return ""
		}},
		lineCheck{"time/" + timedCell.key(), func(r row) string {
			if r.Baseline != nil {
				return "a baseline the line does not run"
			}
			return measured("ours", "floor")(r)
		}},
		lineCheck{"time/vs-peer-" + timedCell.key(), measured("ours", "baseline", "floor", "ours/baseline")},
		lineCheck{"tokens/refreshes", func(r row) string {
			if val(r.Ours) != val(r.Floor) {
				return fmt.Sprintf("shared token: %v refreshes, floor %v", val(r.Ours), val(r.Floor))
			}
			return ""
		}},
		lineCheck{"tokens/access_denied", func(r row) string {
			if val(r.Baseline) <= 0 {
				return fmt.Sprintf("%d instances with their own stores were never refused: the baseline does not show the problem", s.instances)
			}
			return ""
		}},
		lineCheck{"concurrency/max_in_flight", func(r row) string {
			if val(r.Ours) > val(r.Floor) || val(r.Ours) < 1 {
				return fmt.Sprintf("%v calls in flight, cap %v", val(r.Ours), val(r.Floor))
			}
			return ""
		}},
		lineCheck{"overhead/cpu", measured("ours", "baseline")},
		lineCheck{"fleet/not-once", func(r row) string {
			if val(r.Ours) != 0 || val(r.Baseline) != 0 {
				return fmt.Sprintf("cells with a lead sent twice or lost: ours %v, per-invocation %v", val(r.Ours), val(r.Baseline))
			}
			return ""
		}},
	)
	for _, c := range fleetMatrix {
		checks = append(checks,
			lineCheck{c.key() + "/leads-per-call", func(r row) string {
				if val(r.Ours) < val(r.Baseline) || val(r.Baseline) < 1 || val(r.Floor) < 1 {
					return fmt.Sprintf("ours %v leads per call, per-invocation %v, floor %v", val(r.Ours), val(r.Baseline), val(r.Floor))
				}
				return ""
			}},
			lineCheck{c.key() + "/wait-p99", measured("floor")})
		if c.wcuReported() {
			checks = append(checks, lineCheck{c.key() + "/wcu-per-lead", func(r row) string {
				// Every lead costs at least its claim, a transaction: 2 units.
				if val(r.Ours) < 2 || val(r.Baseline) < 2 {
					return fmt.Sprintf("ours %v write units per lead, per-invocation %v", val(r.Ours), val(r.Baseline))
				}
				return ""
			}})
		}
	}
	checks = append(checks,
		lineCheck{"fleet/budget/max-in-flight", func(r row) string {
			if val(r.Ours) > val(r.Floor) || val(r.Ours) < 2 || val(r.Baseline) <= val(r.Floor) {
				return fmt.Sprintf("%v calls in flight with the budget (%v), %v without: the baseline must exceed it", val(r.Ours), val(r.Floor), val(r.Baseline))
			}
			return ""
		}},
		lineCheck{"fleet/budget/wait-write-units", func(r row) string {
			// The sweep writes every slot every step; ours at most once a step.
			if val(r.Baseline) <= 0 || val(r.Ours) >= val(r.Baseline) {
				return fmt.Sprintf("%v write units per waiter-second, the sweep %v", val(r.Ours), val(r.Baseline))
			}
			return ""
		}},
		lineCheck{"fleet/budget/wait-read-units", measured("ours")},
		lineCheck{"fleet/budget/time-to-slot", measured("ours", "baseline")},
		lineCheck{"fleet/largest-batch/answer", measured("ours", "floor")})
	for _, n := range s.statusJobs {
		checks = append(checks,
			lineCheck{fmt.Sprintf("status/calls-%d", n), func(r row) string {
				if val(r.Ours) != float64(n) || val(r.Floor) != float64(n) {
					return fmt.Sprintf("%v status calls for %v checked", val(r.Ours), val(r.Floor))
				}
				return ""
			}},
			lineCheck{fmt.Sprintf("status/rcu-%d", n), func(r row) string {
				if val(r.Ours) < val(r.Floor) || val(r.Floor) < float64(n)/2 {
					return fmt.Sprintf("%v read units, floor %v", val(r.Ours), val(r.Floor))
				}
				return ""
			}},
			lineCheck{fmt.Sprintf("status/time-%d", n), measured("ours", "floor")},
		)
	}
	if byKey["status/moto_check"].Ours != nil {
		// The goal: at most 2 write units per check, index included,
		// where the previous layout paid 6.
		for _, d := range []string{"3m", "30m"} {
			checks = append(checks,
				lineCheck{"status/check_wcu-" + d, func(r row) string {
					if val(r.Ours) > 2 || val(r.Ours) <= 0 || val(r.Baseline) != 6 {
						return fmt.Sprintf("%v write units per check, the previous layout %v", val(r.Ours), val(r.Baseline))
					}
					return ""
				}},
				lineCheck{"status/job_wcu-" + d, func(r row) string {
					if val(r.Ours) >= val(r.Baseline) {
						return fmt.Sprintf("%v write units per job, the previous layout %v", val(r.Ours), val(r.Baseline))
					}
					return ""
				}},
				lineCheck{"status/job_rcu-" + d, measured("ours", "baseline")},
				lineCheck{"status/check_rcu-" + d, measured("ours", "baseline")})
		}
	}
	if _, ok := byKey["coldstart/init-convert"]; ok {
		for _, k := range []string{"coldstart/init-convert", "coldstart/first-convert", "coldstart/init-status", "coldstart/first-status"} {
			checks = append(checks, lineCheck{k, measured("ours", "baseline")})
		}
		checks = append(checks, lineCheck{"coldstart/size-convert-" + runtime.GOARCH, func(r row) string {
			if val(r.Ours) <= val(r.Baseline) || val(r.Baseline) <= 0 {
				return fmt.Sprintf("convert is %v MB, hello world %v MB", val(r.Ours), val(r.Baseline))
			}
			return ""
		}})
	} else {
		checks = append(checks, lineCheck{"coldstart/skipped", func(row) string { return "" }})
	}
	for _, c := range checks {
		r, ok := byKey[c.key]
		if !ok {
			t.Errorf("%s: no such line", c.key)
			continue
		}
		if msg := c.want(r); msg != "" {
			t.Errorf("%s: %s", c.key, msg)
		}
	}

	// Rows 5 and 6 need moto and the emulator; without them their lines
	// say so, and only those lines lack figures. CI installs both.
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	for _, r := range rows {
		if r.Ours == nil && (!strings.HasPrefix(r.Note, errSkipped.Error()) || ci) {
			t.Errorf("row %d %s has no figure: %s", r.Row, r.Key, r.Note)
		}
	}

	var buf bytes.Buffer
	if err := printTable(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != len(rows)+1 {
		t.Errorf("table has %d lines for %d rows", lines, len(rows))
	}
	if err := writeJSON(filepath.Join(t.TempDir(), "latest.json"), report{Rows: rows}); err != nil {
		t.Fatal(err)
	}
}

func val(p *figure) float64 {
	if p == nil {
		return -1
	}
	return float64(*p)
}

// TestNaivePeer checks that the peer is run, not computed: one call per
// lead sent, its repeats counted by the simulator and refused by it, every
// lead in exactly one job, never more calls in flight than Zoho allows.
func TestNaivePeer(t *testing.T) {
	const leads = 300
	for _, c := range []cell{{1, 0, 1}, {5, 10, 3}, {50, 10, 1}} {
		t.Run(c.key(), func(t *testing.T) {
			w, err := newWorkload(zohosim.New(zohosim.Options{}), c, leads, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			clock := newClock()
			sim := rowSim(clock, 0)
			sim.SeedLeads(w.ids...)
			n, err := runNaive(context.Background(), sim, clock, w.msgs, w.ids, peerInFlight)
			if err != nil {
				t.Fatal(err)
			}
			if n.calls != leads || n.dupSubmitted != w.duplicates || n.refused != w.duplicates || n.notOnce != 0 {
				t.Errorf("%d calls, %d duplicates, %d refused, %d leads not once; want %d, %d, %d, 0",
					n.calls, n.dupSubmitted, n.refused, n.notOnce, leads, w.duplicates, w.duplicates)
			}
			if n.maxInFlight > peerInFlight || n.rejected > 0 {
				t.Errorf("%d calls in flight, %d refused with 429", n.maxInFlight, n.rejected)
			}
		})
	}
}

func TestWorkloadLaysOutEveryLead(t *testing.T) {
	for _, c := range matrix {
		t.Run(c.key(), func(t *testing.T) {
			sim := zohosim.New(zohosim.Options{})
			w, err := newWorkload(sim, c, 1000, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, m := range w.msgs {
				var req struct{ IDs []string }
				if err := json.Unmarshal([]byte(m.body), &req); err != nil {
					t.Fatal(err)
				}
				if len(req.IDs) == 0 || len(req.IDs) > c.idsPerMsg {
					t.Fatalf("message with %d ids", len(req.IDs))
				}
				inMsg := map[string]bool{}
				for _, id := range req.IDs {
					if inMsg[id] {
						t.Fatalf("%s twice in one message", id)
					}
					inMsg[id] = true
					count[id]++
				}
			}
			total, twice := 0, 0
			for _, n := range count {
				total += n
				if n > 1 {
					twice++
				}
			}
			if total != 1000 || len(count) != len(w.ids) || twice != w.duplicates || len(w.ids)+w.duplicates != 1000 {
				t.Errorf("%d ids, %d distinct, %d repeated; want 1000, %d, %d", total, len(count), twice, len(w.ids), w.duplicates)
			}
		})
	}
}

func TestBatchesRespectSizeAndPayload(t *testing.T) {
	for _, c := range []struct {
		name       string
		msgs, body int
		want       []int // messages per batch
	}{
		{"batch size", 2500, len(`{"ids":["1"]}`), []int{sqsBatchSize, sqsBatchSize, 500}},
		{"payload", 30, 1 << 20, []int{5, 5, 5, 5, 5, 5}},
		{"one", 1, 10, []int{1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			msgs := make([]message, c.msgs)
			for i := range msgs {
				msgs[i] = message{id: fmt.Sprint(i), body: strings.Repeat("x", c.body)}
			}
			bs, err := batches(msgs)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, b := range bs {
				got = append(got, len(b.msgs))
				if len(b.event) > maxPayloadBytes || !json.Valid(b.event) || b.msgs[0].receives != 1 {
					t.Errorf("event of %d bytes, valid %v, first receive counted as %d", len(b.event), json.Valid(b.event), b.msgs[0].receives)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("batches of %v messages, want %v", got, c.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64 // -1: none
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, none, 2, 3}, 2.5},
		{[]float64{none}, -1},
		{[]float64{math.Inf(1), 7}, 7},
		{nil, -1},
	} {
		if got := val(median(c.in)); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestFormat(t *testing.T) {
	fig := func(v float64) *figure { f := figure(v); return &f }
	for _, c := range []struct {
		v          *figure
		unit, want string
	}{
		{fig(10000), "calls", "10,000"},
		{fig(-1234567), "count", "-1,234,567"},
		{fig(12.34), "s", "12.3 s"},
		{fig(0.5), "RCU", "0.5"},
		{nil, "s", "-"},
		{fig(none), "calls", "-"},
	} {
		if got := format(c.v, c.unit); got != c.want {
			t.Errorf("format(%v, %q) = %q, want %q", val(c.v), c.unit, got, c.want)
		}
	}
	for _, c := range []struct {
		v    *figure
		want string
	}{{fig(0), "0"}, {fig(1.5), "1.50"}, {fig(0.0212), "0.0212"}, {nil, "-"}, {fig(math.Inf(1)), "-"}} {
		if got := formatRatio(c.v); got != c.want {
			t.Errorf("formatRatio(%v) = %q, want %q", val(c.v), got, c.want)
		}
	}
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{2 * time.Hour, "2 h"}, {55 * time.Minute, "55 min"}, {90 * time.Second, "1m30s"}} {
		if got := human(c.d); got != c.want {
			t.Errorf("human(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestParseRows(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		err  bool
	}{
		{"", []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, false},
		{"1, 2", []int{1, 2}, false},
		{"8", []int{8}, false},
		{"0", nil, true},
		{"x", nil, true},
	} {
		got, err := parseRows(c.in)
		if (err != nil) != c.err || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseRows(%q) = %v, %v", c.in, got, err)
		}
	}
}

// TestReadUnits checks the sizing rules against DynamoDB's documented
// examples: numbers by significant digits, lists with their overhead, and
// reads rounded up to 4 KB, halved when eventually consistent.
func TestReadUnits(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "7": 2, "12": 2, "123": 3, "1779614047": 6, "-1.50": 2, "1000": 2} {
		if got := numberSize(in); got != want {
			t.Errorf("numberSize(%q) = %d, want %d", in, got, want)
		}
	}
	it := map[string]types.AttributeValue{
		"pk":  &types.AttributeValueMemberS{Value: "JOB#1"},                                                           // 2 + 5
		"n":   &types.AttributeValueMemberN{Value: "42"},                                                              // 1 + 2
		"ids": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "ab"}}}, // 3 + 3 + 1 + 2
	}
	if got := itemSize(it); got != 7+3+9 {
		t.Errorf("itemSize = %d, want 19", got)
	}
	for _, c := range []struct {
		size       int
		consistent bool
		want       float64
	}{{0, false, 0.5}, {0, true, 1}, {4096, false, 0.5}, {4097, false, 1}, {4097, true, 2}, {12 << 10, true, 3}} {
		if got := readUnits(c.size, c.consistent); got != c.want {
			t.Errorf("readUnits(%d, %v) = %v, want %v", c.size, c.consistent, got, c.want)
		}
	}
}

// TestReportWritesMissingFiguresAsNull: a line without a figure (a row
// skipped for want of moto, a baseline of 0, an infinite ratio) must reach
// the JSON as null. encoding/json refuses NaN, and a skipped line's
// repetitions once made the whole bench fail after printing its table.
func TestReportWritesMissingFiguresAsNull(t *testing.T) {
	for _, c := range []struct {
		name     string
		reps     [][]sample
		wantOurs any // as decoded from the JSON
		wantReps any
	}{
		{"skipped", [][]sample{{skipped("coldstart/skipped", "Cold start", "no .bin/aws-lambda-rie")}}, nil, nil},
		{"skipped in one repetition", [][]sample{
			{{key: "k", measure: "m", ours: 2, baseline: none, floor: none}},
			{{key: "k", measure: "m", ours: none, baseline: none, floor: none}},
		}, 2.0, []any{2.0, nil}},
		{"zero baseline, infinite figures", [][]sample{
			{{key: "k", measure: "m", ours: math.Inf(1), baseline: 0, floor: math.Inf(-1)}},
		}, nil, nil},
		{"measured", [][]sample{{{key: "k", measure: "m", ours: 3, baseline: 4, floor: 1}}}, 3.0, []any{3.0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows := aggregate(1, c.reps)
			path := filepath.Join(t.TempDir(), "bench", "latest.json")
			if err := writeJSON(path, report{LatencyMS: figure(none), ElapsedS: figure(math.Inf(1)), Rows: rows}); err != nil {
				t.Fatalf("writeJSON: %v", err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				LatencyMS any `json:"latency_ms"`
				Rows      []map[string]any
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%v:\n%s", err, b)
			}
			if len(got.Rows) != 1 || got.LatencyMS != nil {
				t.Fatalf("%d rows, latency %v:\n%s", len(got.Rows), got.LatencyMS, b)
			}
			r := got.Rows[0]
			if ours, ok := r["ours"]; !ok || !reflect.DeepEqual(ours, c.wantOurs) {
				t.Errorf("ours = %v (present %v), want %v", ours, ok, c.wantOurs)
			}
			if !reflect.DeepEqual(r["ours_reps"], c.wantReps) {
				t.Errorf("ours_reps = %v, want %v", r["ours_reps"], c.wantReps)
			}
			var buf bytes.Buffer
			if err := printTable(&buf, rows); err != nil || strings.Contains(buf.String(), "NaN") || strings.Contains(buf.String(), "Inf") {
				t.Errorf("table (%v):\n%s", err, buf.String())
			}
		})
	}
}

func TestFloorCalls(t *testing.T) {
	s := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Second
		}
		return out
	}
	many := func(n int, every time.Duration) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(i) * every
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		times []time.Duration
		wait  time.Duration
		want  int
	}{
		{"none", nil, time.Minute, 0},
		{"one", s(5), time.Minute, 1},
		{"within the wait", s(0, 30, 60), time.Minute, 1},
		{"just past the wait", s(0, 30, 61), time.Minute, 2},
		{"each call starts at its first lead", s(0, 61, 100, 121, 122), time.Minute, 3},
		{"the first lead's wait bounds the call", s(0, 61, 100, 120, 121), time.Minute, 2},
		{"far apart", s(0, 100, 200, 300), time.Minute, 4},
		{"capped at 50", many(120, 0), time.Minute, 3},
		{"a lead a second, 60 s wait: 50 per call", many(200, time.Second), time.Minute, 4},
		{"a lead every 2 s, 60 s wait: 31 per call", many(62, 2*time.Second), time.Minute, 2},
	} {
		if got := floorCalls(tc.times, tc.wait, 50); got != tc.want {
			t.Errorf("%s: floorCalls = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // unsorted on purpose
	}
	for _, tc := range []struct {
		name string
		xs   []float64
		p    float64
		want float64
	}{
		{"one", []float64{7}, 99, 7},
		{"median of odd", []float64{3, 1, 2}, 50, 2},
		{"median of even: the lower (nearest rank)", []float64{4, 1, 3, 2}, 50, 2},
		{"p99 of 100", hundred, 99, 99},
		{"p100 is the largest", hundred, 100, 100},
		{"p1 of 100", hundred, 1, 1},
	} {
		if got := percentile(tc.xs, tc.p); got != tc.want {
			t.Errorf("%s: percentile(%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("percentile of nothing = %v, want none", got)
	}
}

func TestArrivals(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		span time.Duration
		sets int
	}{
		{0.1, 2 * time.Hour, 1},
		{10, 5 * time.Minute, 3},
	} {
		arr := arrivals(rand.New(rand.NewPCG(1, 2)), tc.rate, tc.span, tc.sets)
		want := tc.rate * tc.span.Seconds()
		// A Poisson count is within 5 standard deviations of its mean.
		if n := float64(len(arr)); math.Abs(n-want) > 5*math.Sqrt(want) {
			t.Errorf("rate %v over %s: %d arrivals, want about %v", tc.rate, tc.span, len(arr), want)
		}
		hooks := 0
		for i, a := range arr {
			if a.at < 0 || a.at >= tc.span || (i > 0 && a.at < arr[i-1].at) {
				t.Fatalf("arrival %d at %s: out of order or outside the span", i, a.at)
			}
			if a.set < 0 || a.set >= tc.sets {
				t.Fatalf("arrival %d of option set %d", i, a.set)
			}
			if a.webhook {
				hooks++
			}
		}
		if hooks != (len(arr)+1)/2 {
			t.Errorf("%d webhooks of %d arrivals; want every other one", hooks, len(arr))
		}
	}
}

func TestFleetGoalApplies(t *testing.T) {
	for _, tc := range []struct {
		c    fleetCell
		want bool
	}{
		{fleetCell{1, time.Minute, 1}, true},        // 60 per wait
		{fleetCell{3, time.Minute, 1}, false},       // 20 per set
		{fleetCell{3, 5 * time.Minute, 1}, true},    // 100 per set
		{fleetCell{1, 5 * time.Minute, 0.1}, false}, // 30
	} {
		if got := tc.c.goalApplies(); got != tc.want {
			t.Errorf("%s: goalApplies = %v, want %v", tc.c, got, tc.want)
		}
	}
}

// TestWriteUnits: DynamoDB bills writes in 1 KB steps, at least one unit,
// on the larger of the item before and after; a transaction twice.
func TestWriteUnits(t *testing.T) {
	for _, c := range []struct{ before, after, want int }{
		{0, 0, 1}, {0, 100, 1}, {0, 1024, 1}, {0, 1025, 2}, {3000, 100, 3}, {100, 3000, 3}, {3073, 0, 4},
	} {
		if got := writeUnits(c.before, c.after); got != c.want {
			t.Errorf("writeUnits(%d, %d) = %d, want %d", c.before, c.after, got, c.want)
		}
	}
	for _, c := range []struct {
		items [][2]int
		want  int
	}{
		{nil, 0},
		{[][2]int{{0, 100}}, 2},
		{[][2]int{{2900, 3100}, {0, 90}, {120, 90}}, 2*4 + 2 + 2},  // a Park: the accumulator grows past 3 KB, two claims
		{[][2]int{{0, 3300}, {110, 95}, {2800, 0}}, 2*4 + 2 + 2*3}, // a RecordJob: job, claim, the batch deleted
	} {
		if got := transactUnits(c.items...); got != c.want {
			t.Errorf("transactUnits(%v) = %d, want %d", c.items, got, c.want)
		}
	}
}

// TestDeployedSource: in-memory message and request ids are sized as SQS
// and API Gateway's, which the items carry.
func TestDeployedSource(t *testing.T) {
	for in, want := range map[string]int{"mem-000042": 36, "api:hook-000042": 20, "hook-000042": 16, "m0": 2} {
		if got := len(deployedSource(in)); got != want {
			t.Errorf("len(deployedSource(%q)) = %d, want %d", in, got, want)
		}
	}
}
