package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// TestSweepRowRuns runs row 8 at a tiny size and checks what the full run
// reports: our calls at their floors, nothing converted twice or sent
// converted, no lead that does not match; the producer's calls one per
// lead, the claimed leads converted again and the Pre-Qualified ones
// converted; every figure there.
func TestSweepRowRuns(t *testing.T) {
	s := smallSettings()
	const n = 400
	s.sweep = sweepSettings{sizes: []int{n}, scale: 50}
	rows, err := run(context.Background(), s, []int{8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]row{}
	for _, r := range rows {
		byKey[r.Key] = r
		if len(r.Problems) > 0 {
			t.Errorf("%s: %v", r.Key, r.Problems)
		}
	}
	claimed, decoys := n*sweepClaimedPct/100, n*sweepDecoyPct/100
	convertible := n - claimed - n*sweepConvertedPct/100
	checks := map[string]func(r row) string{
		"coql-calls": func(r row) string {
			return want(val(r.Ours) == val(r.Floor) && val(r.Floor) == 1 && val(r.Baseline) >= 2, "ours %v, floor %v, Search %v", r)
		},
		"get-records-calls": func(r row) string {
			return want(val(r.Ours) == val(r.Floor) && val(r.Floor) == n/50, "ours %v, floor %v, baseline %v", r)
		},
		"convert-calls": func(r row) string {
			return want(val(r.Ours) == val(r.Floor) && val(r.Floor) == float64((convertible+49)/50) && val(r.Baseline) == float64(convertible+claimed+decoys),
				"ours %v, floor %v, Convert Lead %v", r)
		},
		"converted-twice": func(r row) string {
			return want(val(r.Ours) == 0 && val(r.Baseline) == float64(claimed), "ours %v, floor %v, the producer %v", r)
		},
		"converted-sent": func(r row) string { return want(val(r.Ours) == 0, "ours %v, floor %v, the producer %v", r) },
		"wrong-leads": func(r row) string {
			return want(val(r.Ours) == 0 && val(r.Baseline) == float64(decoys), "ours %v, floor %v, the producer %v", r)
		},
		"time": func(r row) string {
			return want(val(r.Ours) >= val(r.Floor) && val(r.Floor) > 0 && val(r.Baseline) > 0, "ours %v, floor %v, the producer %v", r)
		},
		"heap": func(r row) string {
			return want(r.Ours != nil && r.Baseline != nil, "ours %v, floor %v, the producer %v", r)
		},
		"dynamodb": func(r row) string { return want(val(r.Ours) > 0, "ours %v, floor %v, the producer %v", r) },
		"sqs":      func(r row) string { return want(val(r.Ours) > 0, "ours %v, floor %v, the producer %v", r) },
	}
	for k, check := range checks {
		key := fmt.Sprintf("sweep/%d/%s", n, k)
		r, ok := byKey[key]
		if !ok {
			t.Errorf("%s: no such line", key)
			continue
		}
		if msg := check(r); msg != "" {
			t.Errorf("%s: %s (%s)", key, msg, r.Note)
		}
	}
}

// want is "" when ok, else the line's figures in format (ours, floor, baseline).
func want(ok bool, format string, r row) string {
	if ok {
		return ""
	}
	return fmt.Sprintf(format, val(r.Ours), val(r.Floor), val(r.Baseline))
}

// The workload's shares: disjoint, and as many as the issue says.
func TestSeedSweep(t *testing.T) {
	sim := newSweepSim(newClock())
	const n = 1000
	w, err := seedSweep(context.Background(), sim, sim.Clock(), oauth.NewMemoryStore(), nil, n, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if len(w.matching) != n || len(w.converted) != n/10 || len(w.claimed) != n/20 || len(w.convertible) != n-n/10-n/20 || len(w.decoys) != n/20 {
		t.Fatalf("matching %d, converted %d, claimed %d, convertible %d, decoys %d", len(w.matching), len(w.converted), len(w.claimed), len(w.convertible), len(w.decoys))
	}
	seen := map[string]bool{}
	for _, id := range slices.Concat(w.converted, w.claimed, w.convertible, w.decoys) {
		if seen[id] {
			t.Fatalf("lead %s in two shares", id)
		}
		seen[id] = true
	}
	if len(w.seedJobs) != (n/20+49)/50 {
		t.Errorf("%d jobs hold the claimed leads", len(w.seedJobs))
	}
	for _, id := range w.claimed {
		if sim.HasLead(id) {
			t.Fatalf("claimed lead %s is not in a job", id)
		}
	}
}

// The scaled clock runs scale times faster than real time.
func TestScaledClock(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	before := time.Now()
	var c zohosim.Clock = newScaledClock(start, 10)
	got := c.Now()
	real := time.Since(before)
	if got.Before(start) || got.Sub(start) > 10*real {
		t.Errorf("%s after the start, %s of real time", got.Sub(start), real)
	}
}
