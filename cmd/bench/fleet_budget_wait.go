// Row 7, waiting for a slot of the Zoho concurrency budget (issue 18): what
// a caller costs in DynamoDB units while every slot is held (Zoho slow),
// and how soon a slot that frees is taken, for the waiting policy as
// deployed and for the sweep before it (budget.Config.Sweep), run the same
// way in the same repetition.

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/budget"
)

const (
	waitWaiters = 45              // callers waiting at once (the figure)
	waitWarmUp  = time.Second     // before the cost window: both policies reach their longest delay
	waitWindow  = 3 * time.Second // the cost window, every slot held
	waitFrees   = 5               // slots freed one at a time after it, each timed
	waitGap     = 500 * time.Millisecond
)

// meteredSlots bills what reaches the slots as DynamoDB would bill
// pkg/aws/table's Slots: TryTake and Free an UpdateItem of a small item,
// one write unit each, failed conditions included; Vacant one eventually
// consistent BatchGetItem of every slot, half a read unit each. The memory
// slots decide every outcome. It notes when a waiter takes a slot.
type meteredSlots struct {
	budget.Slots
	writes, reads atomic.Int64 // write units, read units x2
	taken         chan time.Time
}

func (m *meteredSlots) TryTake(ctx context.Context, slot int, holder string, now, until time.Time) (bool, error) {
	m.writes.Add(1)
	ok, err := m.Slots.TryTake(ctx, slot, holder, now, until)
	if ok {
		select {
		case m.taken <- time.Now():
		default:
		}
	}
	return ok, err
}

func (m *meteredSlots) Free(ctx context.Context, slot int, holder string) error {
	m.writes.Add(1)
	return m.Slots.Free(ctx, slot, holder)
}

func (m *meteredSlots) Vacant(ctx context.Context, n int, now time.Time) ([]int, error) {
	m.reads.Add(int64(n))
	return m.Slots.Vacant(ctx, n, now)
}

// waitRun is one policy's figures.
type waitRun struct {
	writeUnits, readUnits float64         // per waiter-second, from the warm-up's end to the last take
	takes                 []time.Duration // from a slot's freeing to a waiter's taking it
}

// runWait has waitWaiters callers (a Limiter each, as instances) wait on a
// budget of templateBudget slots, all held, for a window; then frees slots
// one at a time and times how soon each is taken (the taker keeps it, the
// others keep waiting). The units are metered from the warm-up's end to
// the last take: the window shows a full budget, the frees the rush of
// waiters on a slot that frees.
func runWait(ctx context.Context, sweep bool, rng *rand.Rand) (waitRun, error) {
	var r waitRun
	slots := &meteredSlots{Slots: budget.NewMemorySlots(), taken: make(chan time.Time, 1)}
	now := time.Now()
	for k := range templateBudget {
		if ok, err := slots.Slots.TryTake(ctx, k, fmt.Sprintf("zoho-%d", k), now, now.Add(time.Hour)); !ok || err != nil {
			return r, fmt.Errorf("holding slot %d: %v, %v", k, ok, err)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for range waitWaiters {
		l, err := budget.New(budget.Config{Slots: slots, Size: templateBudget, Sweep: sweep})
		if err != nil {
			return r, err
		}
		wg.Go(func() { _, _ = l.Acquire(wctx) }) // a taker holds its slot to the end
	}
	if err := pause(ctx, waitWarmUp); err != nil {
		return r, err
	}
	w0, r0 := slots.writes.Load(), slots.reads.Load()
	start := time.Now()
	if err := pause(ctx, waitWindow); err != nil {
		return r, err
	}
	waiterSeconds := float64(waitWaiters) * time.Since(start).Seconds()
	for k := range waitFrees {
		last := time.Now() // waitWaiters-k wait from here to the next take
		// A random gap, so that frees do not fall in step with the waiters.
		if err := pause(ctx, time.Duration(rng.Int64N(int64(waitGap)))); err != nil {
			return r, err
		}
		freed := time.Now()
		if err := slots.Slots.Free(ctx, k, fmt.Sprintf("zoho-%d", k)); err != nil {
			return r, err
		}
		select {
		case at := <-slots.taken:
			r.takes = append(r.takes, at.Sub(freed))
			waiterSeconds += float64(waitWaiters-k) * at.Sub(last).Seconds()
		case <-time.After(10 * time.Second):
			return r, fmt.Errorf("a freed slot stayed free for 10 s (sweep %v)", sweep)
		case <-ctx.Done():
			return r, ctx.Err()
		}
	}
	r.writeUnits = float64(slots.writes.Load()-w0) / waiterSeconds
	r.readUnits = float64(slots.reads.Load()-r0) / 2 / waiterSeconds
	return r, nil
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// budgetWaitSamples are the lines: write units and read units per
// waiter-second, and the median time to take a freed slot, ours against
// the sweep before issue 18.
func budgetWaitSamples(ctx context.Context, rep int) ([]sample, error) {
	ours, err := runWait(ctx, false, rand.New(rand.NewPCG(uint64(rep)+1, 18)))
	if err != nil {
		return nil, fmt.Errorf("budget wait: %w", err)
	}
	before, err := runWait(ctx, true, rand.New(rand.NewPCG(uint64(rep)+1, 18)))
	if err != nil {
		return nil, fmt.Errorf("budget wait, the sweep: %w", err)
	}
	setup := fmt.Sprintf("%d waiters (a Limiter each) on %d slots all held, real time, metered over %s (after a %s warm-up) and %d frees; billed as pkg/aws/table's Slots would be (an UpdateItem 1 write unit, failed or not; Vacant an eventually consistent BatchGetItem, 0.5 read unit a slot)",
		waitWaiters, templateBudget, waitWindow, waitWarmUp, waitFrees)
	var problem string
	if oursTake := medianDuration(ours.takes); oursTake > time.Second+100*time.Millisecond {
		problem = fmt.Sprintf("a freed slot took %s to be taken, over the 1 s bound", oursTake)
	}
	return []sample{
		{key: "fleet/budget/wait-write-units", measure: "budget full: write units per waiter-second", unit: "count",
			ours: ours.writeUnits, baseline: before.writeUnits, floor: none,
			note: fmt.Sprintf("ours %.3f, the sweep %.1f; %d waiters for an hour: ours %s write units, the sweep %s; baseline: the sweep before issue 18 (budget.Config.Sweep: every slot every step, 10ms doubling to 250ms) in the same run; %s",
				ours.writeUnits, before.writeUnits, waitWaiters, thousands(int64(ours.writeUnits*waitWaiters*3600)), thousands(int64(before.writeUnits*waitWaiters*3600)), setup)},
		{key: "fleet/budget/wait-read-units", measure: "budget full: read units per waiter-second", unit: "count",
			ours: ours.readUnits, baseline: before.readUnits, floor: none,
			note: "the reads that spare the writes; the sweep reads nothing; " + setup},
		{key: "fleet/budget/time-to-slot", measure: "budget full: time from a slot's freeing to its taking (median)", unit: "ms",
			ours: float64(medianDuration(ours.takes)) / 1e6, baseline: float64(medianDuration(before.takes)) / 1e6, floor: none, problem: problem,
			note: fmt.Sprintf("median of %d slots freed one at a time (%s random gaps) after the window, %d waiters waiting; ours waits at most 1 s a step (Config.Poll), the sweep 250 ms: ours %v, sweep %v",
				waitFrees, waitGap, waitWaiters, roundAll(ours.takes), roundAll(before.takes))},
	}, nil
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
