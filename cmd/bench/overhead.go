package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// overheadOptions are the options of every message of row 4, the same as
// BenchmarkConvertBatch1000's: a deal and an owner.
func overheadOptions() zoho.ConvertRequest {
	req := optionSet(1)
	req.AssignTo = &zoho.Ref{ID: zohosim.DefaultUserID}
	return req
}

// overheadRun is one measured batch.
type overheadRun struct {
	cpu, wall     time.Duration
	allocs, bytes uint64
	eventBytes    int
}

// measureBatch times one s.batchLeads-message batch through a warm
// instance, with zero latency; everything is built before the clock starts.
// This is BenchmarkConvertBatch1000/handler (pkg/convert) as a loop.
func measureBatch(ctx context.Context, s settings) (overheadRun, error) {
	clock := newClock()
	sim := zohosim.New(zohosim.Options{Clock: clock})
	ids := sim.SeedLeadRange(s.batchLeads + 1)
	msgs := make([]message, len(ids))
	for i, id := range ids {
		req := overheadOptions()
		req.IDs = []string{id}
		body, err := json.Marshal(req)
		if err != nil {
			return overheadRun{}, err
		}
		msgs[i] = message{id: fmt.Sprintf("5b7f2c1e-8a4d-4e6f-9b3a-%012d", i), body: string(body)}
	}
	warmup, err := batches(msgs[s.batchLeads:])
	if err != nil {
		return overheadRun{}, err
	}
	measured, err := batches(msgs[:s.batchLeads])
	if err != nil || len(measured) != 1 {
		return overheadRun{}, fmt.Errorf("%d messages do not make one SQS batch (%v)", s.batchLeads, err)
	}
	fn, err := newFunction(sim, clock, s.concurrency, oauth.NewMemoryStore(), memstore.New())
	if err != nil {
		return overheadRun{}, err
	}
	// A warm instance: it has converted a lead, so it holds a token.
	if back, err := invoke(ctx, fn, warmup[0]); err != nil || len(back) > 0 {
		return overheadRun{}, fmt.Errorf("warm-up: %v, %d messages handed back", err, len(back))
	}
	sim.ResetStats()
	runtime.GC()

	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0, _ := processCPU()
	t0 := time.Now()
	back, err := invoke(ctx, fn, measured[0])
	wall := time.Since(t0)
	cpu1, _ := processCPU()
	runtime.ReadMemStats(&m1)
	if err != nil || len(back) > 0 {
		return overheadRun{}, fmt.Errorf("measured batch: %v, %d messages handed back", err, len(back))
	}
	want := (s.batchLeads + zoho.MaxIDsPerCall - 1) / zoho.MaxIDsPerCall
	if st := sim.Stats(); st.Calls[zohosim.EndpointMassConvert] != want || st.DuplicateSubmissions != 0 {
		return overheadRun{}, fmt.Errorf("measured batch: %d calls, %d duplicate submissions; want %d and 0",
			st.Calls[zohosim.EndpointMassConvert], st.DuplicateSubmissions, want)
	}
	return overheadRun{cpu: cpu1 - cpu0, wall: wall, allocs: m1.Mallocs - m0.Mallocs, bytes: m1.TotalAlloc - m0.TotalAlloc,
		eventBytes: len(measured[0].event)}, nil
}

// rowOverhead is row 4: CPU time and allocations per SQS batch of
// s.batchLeads single-lead messages, against one Zoho call timed on the
// simulator with the bench's latency.
func rowOverhead(ctx context.Context, s settings, _ int) ([]sample, error) {
	var sum overheadRun
	for range s.overheadIters {
		r, err := measureBatch(ctx, s)
		if err != nil {
			return nil, err
		}
		sum.cpu += r.cpu
		sum.wall += r.wall
		sum.allocs += r.allocs
		sum.bytes += r.bytes
		sum.eventBytes = r.eventBytes
	}
	call, err := zohoCallTime(ctx, s)
	if err != nil {
		return nil, err
	}
	n := float64(s.overheadIters)
	cpu, what := sum.cpu, "CPU"
	if _, ok := processCPU(); !ok {
		cpu, what = sum.wall, "wall time (no CPU clock here)"
	}
	size := fmt.Sprintf("per %s-msg SQS batch", thousands(int64(s.batchLeads)))
	return []sample{
		{key: "overhead/cpu", measure: "handler " + what + " " + size, unit: "ms",
			ours: ms(cpu) / n, baseline: ms(call), floor: none,
			note: fmt.Sprintf("1 lead per msg, same options; user+system CPU of the process (in-process simulator included), mean of %d warm batches; wall %.1f ms; baseline: one Zoho call at %s, timed (median of %d)",
				s.overheadIters, ms(sum.wall)/n, s.latency, zohoCallSamples)},
		{key: "overhead/allocs", measure: "allocations " + size, unit: "count",
			ours: float64(sum.allocs) / n, baseline: none, floor: none, note: "runtime.MemStats.Mallocs, simulator included"},
		{key: "overhead/bytes", measure: "bytes allocated " + size, unit: "MB",
			ours: float64(sum.bytes) / n / (1 << 20), baseline: none, floor: none, note: fmt.Sprintf("runtime.MemStats.TotalAlloc, simulator included; the event is %.1f MB", float64(sum.eventBytes)/(1<<20))},
	}, nil
}

// zohoCallSamples is how many calls zohoCallTime times.
const zohoCallSamples = 5

// zohoCallTime is the baseline of row 4: the wall time of one mass_convert
// call of one lead through the Zoho client against a simulator with the
// bench's latency, the median of zohoCallSamples calls made one after
// another with a token already held.
func zohoCallTime(ctx context.Context, s settings) (time.Duration, error) {
	clock := newClock()
	sim := zohosim.New(zohosim.Options{Clock: clock, Latency: s.latency})
	ids := sim.SeedLeadRange(zohoCallSamples)
	client, tokens, err := newZohoClient(sim, clock, oauth.NewMemoryStore(), zoho.RetryPolicy{Attempts: 1})
	if err != nil {
		return 0, err
	}
	if _, err := tokens.Token(ctx); err != nil {
		return 0, fmt.Errorf("one Zoho call: first token: %w", err)
	}
	times := make([]float64, 0, len(ids))
	for _, id := range ids {
		t0 := time.Now()
		if _, err := client.MassConvert(ctx, owned(id)); err != nil {
			return 0, fmt.Errorf("one Zoho call: %w", err)
		}
		times = append(times, float64(time.Since(t0)))
	}
	return time.Duration(*median(times)), nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
