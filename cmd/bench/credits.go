// Row 9: Zoho calls and credits per 50 converted leads, end to end: the
// mass_convert call, the status calls and the read-back of one job of 50
// leads, sent by the real convert function and followed by the real
// checker at the template's status schedule (rate(5 minutes)) on a
// virtual clock, for jobs Zoho finishes in 30 s, 3 and 30 minutes. The
// baseline is the previous check schedule (status first at 1, 2, 5, 10,
// then every 15 minutes, nothing learned) in the same harness and run.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// creditDurations are how long Zoho takes over the measured jobs.
var creditDurations = []time.Duration{30 * time.Second, 3 * time.Minute, 30 * time.Minute}

// statusEvery is the template's StatusSchedule default, rate(5 minutes).
const statusEvery = 5 * time.Minute

// creditPhases are when each measured job is sent after a status run: a
// job's first check depends on where it falls between two runs.
var creditPhases = []time.Duration{0, 50 * time.Second, 100 * time.Second, 150 * time.Second, 200 * time.Second, 250 * time.Second}

// massConvertCredits is the cost row 9 assumes for a mass_convert call:
// Zoho's is unconfirmed (zoho-crm-api.md section 4); a single-lead
// Convert Lead costs 5. Every other call costs 1. A deployment reads the
// real costs with doctor (GET /crm/v8/__apis).
const massConvertCredits = 5

// creditCost is what one mode spent per job, on average.
type creditCost struct {
	calls, credits        float64
	status, reads, resent float64
	first                 []time.Duration // the first Zoho call after each job's record
}

// measureCredits sends warm-up jobs (for the statistic to learn from, in
// both modes alike) and then one job per phase, each on its own until it
// ends, and returns the mean per measured job.
func measureCredits(ctx context.Context, d time.Duration, learn bool) (creditCost, error) {
	var c creditCost
	clock := newClock()
	sim := zohosim.New(zohosim.Options{Clock: clock, ScheduledFor: d / 3, InProgressFor: d - d/3,
		DailyCredits: 1 << 30, Credits: map[zohosim.Endpoint]int{zohosim.EndpointMassConvert: massConvertCredits}})
	store := memstore.New()
	tokens := oauth.NewMemoryStore()
	fn, err := newFunction(sim, clock, 0, tokens, store)
	if err != nil {
		return c, err
	}
	client, _, err := newZohoClient(sim, clock, tokens, zoho.RetryPolicy{Attempts: 1})
	if err != nil {
		return c, err
	}
	resent := &resentBodies{}
	cfg := jobcheck.Config{Zoho: client, Store: store, Resend: resent, Now: clock.Now}
	if learn {
		cfg.Leases, cfg.Completions = store, store
	}
	checker, err := jobcheck.New(cfg)
	if err != nil {
		return c, err
	}
	// The status runs fall on multiples of statusEvery from the start.
	start := clock.Now()
	warm := jobcheck.MinCompletionSamples + 1
	for k := range warm + len(creditPhases) {
		phase := creditPhases[k%len(creditPhases)]
		tick := start.Add(clock.Now().Sub(start).Truncate(statusEvery) + statusEvery)
		clock.Set(tick.Add(-statusEvery + phase))
		before := sim.Stats()
		sent := clock.Now()
		id, err := sendJob(ctx, fn, sim, k)
		if err != nil {
			return c, fmt.Errorf("job %d: %w", k+1, err)
		}
		var first time.Duration
		for runs := 0; ; runs++ {
			if runs > 40 {
				return c, fmt.Errorf("job %d still open after %d status runs", k+1, runs)
			}
			clock.Set(tick)
			calls := sim.Stats().Calls
			rep := checker.Run(ctx, jobcheck.Request{})
			if rep.Errors > 0 {
				return c, fmt.Errorf("job %d: status run %+v", k+1, rep)
			}
			now := sim.Stats().Calls
			if first == 0 && now[zohosim.EndpointStatus]+now[zohosim.EndpointGetLeads] > calls[zohosim.EndpointStatus]+calls[zohosim.EndpointGetLeads] {
				first = tick.Sub(sent)
			}
			j, err := store.Job(ctx, id)
			if err != nil {
				return c, err
			}
			if !j.State.Open() {
				if j.State != jobs.Completed || len(j.Results) != zoho.MaxIDsPerCall {
					return c, fmt.Errorf("job %d ended %s with %d outcomes", k+1, j.State, len(j.Results))
				}
				break
			}
			tick = tick.Add(statusEvery)
		}
		if k < warm {
			continue
		}
		after := sim.Stats()
		crm := func(s zohosim.Stats) int {
			return s.Calls[zohosim.EndpointMassConvert] + s.Calls[zohosim.EndpointStatus] + s.Calls[zohosim.EndpointGetLeads]
		}
		c.calls += float64(crm(after) - crm(before))
		c.credits += float64(after.CreditsUsed - before.CreditsUsed)
		c.status += float64(after.Calls[zohosim.EndpointStatus] - before.Calls[zohosim.EndpointStatus])
		c.reads += float64(after.Calls[zohosim.EndpointGetLeads] - before.Calls[zohosim.EndpointGetLeads])
		c.first = append(c.first, first)
	}
	n := float64(len(creditPhases))
	c.calls, c.credits, c.status, c.reads = c.calls/n, c.credits/n, c.status/n, c.reads/n
	c.resent = float64(resent.count())
	return c, nil
}

// sendJob sends 50 fresh leads through the convert function, one SQS
// message each in one batch: one full mass_convert call, one job.
func sendJob(ctx context.Context, fn function, sim *zohosim.Server, k int) (string, error) {
	leads := sim.SeedLeadRange(zoho.MaxIDsPerCall)
	msgs := make([]message, len(leads))
	for i, id := range leads {
		req := optionSet(1)
		req.IDs = []string{id}
		body, err := json.Marshal(req)
		if err != nil {
			return "", err
		}
		msgs[i] = message{id: messageID(k, i), body: string(body)}
	}
	bs, err := batches(msgs)
	if err != nil {
		return "", err
	}
	before := len(sim.Jobs())
	if back, err := invoke(ctx, fn, bs[0]); err != nil || len(back) > 0 || len(fn.dead.Letters()) > 0 {
		return "", fmt.Errorf("convert: %v, %d messages handed back, %d dead-lettered", err, len(back), len(fn.dead.Letters()))
	}
	all := sim.Jobs()
	if len(all) != before+1 {
		return "", fmt.Errorf("the convert function made %d jobs of %d leads, want 1", len(all)-before, len(leads))
	}
	return all[len(all)-1].ID, nil
}

// resentBodies counts what the checker puts back on the queue: nothing,
// when Zoho converts every lead.
type resentBodies struct {
	mu sync.Mutex
	n  int
}

func (r *resentBodies) Enqueue(context.Context, string, string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	return nil
}

func (r *resentBodies) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// creditsGoal is the goal where Zoho finishes within the first
// check: at most 2.2 calls per 50 leads.
const creditsGoal = 2.2

func rowCredits(ctx context.Context, _ settings, _ int) ([]sample, error) {
	var out []sample
	for _, d := range creditDurations {
		base, err := measureCredits(ctx, d, false)
		if err != nil {
			return nil, fmt.Errorf("previous schedule, jobs of %s: %w", human(d), err)
		}
		ours, err := measureCredits(ctx, d, true)
		if err != nil {
			return nil, fmt.Errorf("learned schedule, jobs of %s: %w", human(d), err)
		}
		var problems []string
		if ours.calls > base.calls {
			problems = append(problems, fmt.Sprintf("%.2f calls per 50 leads, above the previous schedule's %.2f", ours.calls, base.calls))
		}
		if d <= 30*time.Second && ours.calls > creditsGoal {
			problems = append(problems, fmt.Sprintf("%.2f calls per 50 leads where Zoho finishes before the first check, goal %.1f", ours.calls, creditsGoal))
		}
		if ours.resent+base.resent > 0 {
			problems = append(problems, "leads were sent again, though Zoho converted every one")
		}
		problem := ""
		if len(problems) > 0 {
			problem = problems[0]
		}
		key := "-" + human(d)
		size := fmt.Sprintf("(jobs of 50 leads Zoho finishes in %s, status every %s)", human(d), human(statusEvery))
		out = append(out,
			sample{key: "credits/calls" + key, measure: "Zoho calls per 50 converted leads " + size, unit: "calls/50 leads",
				ours: ours.calls, baseline: base.calls, floor: 2, problem: problem,
				note: fmt.Sprintf("mass_convert 1, status %.2f, Get Records %.2f (previous: status %.2f, Get Records %.2f); first look after %v (previous %v); mean of %d jobs, one per phase of the schedule, after %d to learn from",
					ours.status, ours.reads, base.status, base.reads, ours.first, base.first, len(creditPhases), jobcheck.MinCompletionSamples+1)},
			sample{key: "credits/credits" + key, measure: "Zoho credits per 50 converted leads " + size, unit: "credits/50 leads",
				ours: ours.credits, baseline: base.credits, floor: massConvertCredits + 1,
				note: fmt.Sprintf("assumed: mass_convert %d credits (unconfirmed; a Convert Lead costs 5), every other call 1; doctor shows the org's real costs from __apis", massConvertCredits)},
		)
	}
	return out, nil
}
