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

	"github.com/zoho-bridge/leadconvert/pkg/zohosim"
)

// smallSettings keep every row to a second or two, under -race too.
func smallSettings() settings {
	return settings{
		latency: 5 * time.Millisecond, reps: 1, concurrency: defaultConcurrency(),
		leads: 2000, naiveSample: 8,
		instances: 20, traffic: 2 * time.Hour, step: 5 * time.Minute,
		batchLeads: 100, overheadIters: 1,
		statusJobs: []int{100, 300},
		coldStarts: 1, arm64Sizes: false,
	}
}

// TestRowsRun runs every row small and checks the claims the full run
// reports: calls at most a few above the floor, the shared token at its
// floor while separate stores get throttled, calls in flight within the cap.
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
	for _, c := range matrix {
		r := byKey["calls/"+c.key()]
		if r.Ours == nil || val(r.Ours) < val(r.Floor) || val(r.Ours) > val(r.Floor)+float64(c.optionSets*2) {
			t.Errorf("%s: %v calls, floor %v", c, val(r.Ours), val(r.Floor))
		}
	}
	if r := byKey["tokens/refreshes"]; val(r.Ours) != val(r.Floor) {
		t.Errorf("shared token: %v refreshes, floor %v", val(r.Ours), val(r.Floor))
	}
	if r := byKey["tokens/access_denied"]; val(r.Baseline) == 0 {
		t.Errorf("%d instances with their own stores were never refused: the baseline does not show the problem", s.instances)
	}
	if r := byKey["concurrency/max_in_flight"]; val(r.Ours) > val(r.Floor) || val(r.Ours) < 1 {
		t.Errorf("%v calls in flight, cap %v", val(r.Ours), val(r.Floor))
	}
	if r := byKey["overhead/cpu"]; val(r.Ours) <= 0 {
		t.Errorf("overhead: %v ms", val(r.Ours))
	}
	for _, n := range s.statusJobs {
		calls, rcu, tm := byKey[fmt.Sprintf("status/calls-%d", n)], byKey[fmt.Sprintf("status/rcu-%d", n)], byKey[fmt.Sprintf("status/time-%d", n)]
		if val(calls.Ours) != float64(n) || val(calls.Floor) != float64(n) {
			t.Errorf("%d due jobs: %v status calls for %v checked", n, val(calls.Ours), val(calls.Floor))
		}
		if val(rcu.Ours) < val(rcu.Floor) || val(rcu.Floor) < float64(n)/2 {
			t.Errorf("%d due jobs: %v read units, floor %v", n, val(rcu.Ours), val(rcu.Floor))
		}
		if val(tm.Ours) <= 0 || val(tm.Ours) > val(tm.Floor) {
			t.Errorf("%d due jobs: a run of %v s, budget %v s", n, val(tm.Ours), val(tm.Floor))
		}
	}
	// Rows 5 and 6 need moto and the emulator; without them their lines
	// say so, and only those lines lack figures. CI installs both.
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	for _, r := range rows {
		if r.Ours != nil {
			continue
		}
		if !strings.HasPrefix(r.Note, errSkipped.Error()) || ci {
			t.Errorf("row %d %s has no figure: %s", r.Row, r.Key, r.Note)
		}
	}
	if r, ok := byKey["coldstart/init-convert"]; ok {
		for _, k := range []string{"coldstart/init-convert", "coldstart/first-convert", "coldstart/init-status", "coldstart/first-status"} {
			if r := byKey[k]; val(r.Ours) <= 0 || val(r.Baseline) <= 0 {
				t.Errorf("%s: %v ms, hello world %v ms", k, val(r.Ours), val(r.Baseline))
			}
		}
		size := byKey["coldstart/size-convert-"+runtime.GOARCH]
		if val(size.Ours) <= val(size.Baseline) || val(size.Baseline) <= 0 {
			t.Errorf("convert is %v MB, hello world %v MB", val(size.Ours), val(size.Baseline))
		}
	} else if _, skipped := byKey["coldstart/skipped"]; !skipped {
		t.Errorf("row 6 has neither figures nor a skipped line: %v", r)
	}

	var buf bytes.Buffer
	if err := printTable(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != len(rows)+1 {
		t.Errorf("table has %d lines for %d rows", lines, len(rows))
	}
	if _, err := json.Marshal(report{Rows: rows}); err != nil {
		t.Fatal(err)
	}
}

func val(p *figure) float64 {
	if p == nil {
		return -1
	}
	return float64(*p)
}

func TestWorkloadLaysOutEveryLead(t *testing.T) {
	for _, c := range matrix {
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
				t.Fatalf("%s: message with %d ids", c, len(req.IDs))
			}
			inMsg := map[string]bool{}
			for _, id := range req.IDs {
				if inMsg[id] {
					t.Fatalf("%s: %s twice in one message", c, id)
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
			t.Errorf("%s: %d ids, %d distinct, %d repeated; want 1000, %d, %d", c, total, len(count), twice, len(w.ids), w.duplicates)
		}
	}
}

func TestBatchesRespectSizeAndPayload(t *testing.T) {
	small := make([]message, 2500)
	for i := range small {
		small[i] = message{id: fmt.Sprint(i), body: `{"ids":["1"]}`}
	}
	bs, err := batches(small)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 || len(bs[0].msgs) != sqsBatchSize || len(bs[2].msgs) != 500 {
		t.Fatalf("%d batches", len(bs))
	}
	if bs[0].msgs[0].receives != 1 || !json.Valid(bs[0].event) {
		t.Fatal("first delivery not counted, or invalid event")
	}

	big := make([]message, 30)
	for i := range big {
		big[i] = message{id: fmt.Sprint(i), body: strings.Repeat("x", 1<<20)}
	}
	if bs, err = batches(big); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range bs {
		n += len(b.msgs)
		if len(b.event) > maxPayloadBytes {
			t.Fatalf("event of %d bytes", len(b.event))
		}
	}
	if n != len(big) || len(bs) < 5 {
		t.Fatalf("%d messages in %d batches", n, len(bs))
	}
}

func TestMedianAndFormat(t *testing.T) {
	if m := median([]float64{3, 1, 2}); *m != 2 {
		t.Error(*m)
	}
	if m := median([]float64{4, 1, none, 2, 3}); *m != 2.5 {
		t.Error(*m)
	}
	if median([]float64{none}) != nil {
		t.Error("median of nothing")
	}
	v := figure(10000)
	if got := format(&v, "calls"); got != "10,000" {
		t.Error(got)
	}
	if got := human(2 * time.Hour); got != "2 h" {
		t.Error(got)
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
