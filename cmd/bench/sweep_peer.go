// Row 8's baseline, the producer a user would write without the bridge:
// Search Records pages of 200 and one Convert Lead call per lead found;
// and the peak heap of a run, ours and the producer's.

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// sweepCriteria is the sweep's condition as Search criteria: what a user
// writes, and what Search's "equals" widens to "contains".
const sweepCriteria = "((Lead_Status:equals:Qualified)and(Lead_Source:equals:Web))"

// peerSweep is what the producer's run showed.
type peerSweep struct {
	w                sweepWorkload
	searchCalls      int // LIMIT_REACHED answers included
	convertCalls     int
	passes           int           // searches from page 1: Search stops at 2,000, so it searches again
	time             time.Duration // computed from its calls, see runSweepPeer
	stats            zohosim.Stats
	decoysConverted  int
	claimedConverted int
	leftOver         int // matching leads neither converted before nor by it
	heap             heapUse
}

// runSweepPeer runs the producer over the row's workload on a simulator
// without latency, and computes its time at s.latency a call from the
// calls it made: its Search pages one after another, its Convert Lead
// calls zohoSubConcurrency at a time (Zoho's limit for the org, the best a
// one-call-per-lead producer can do). Search finds 2,000 leads at most, so
// the producer converts them and searches again from page 1 (converted
// leads drop out of Search) until nothing is found.
func runSweepPeer(ctx context.Context, s settings, n int, rng *rand.Rand) (peerSweep, error) {
	var r peerSweep
	clock := newClock()
	sim := newSweepSim(clock)
	tokens := oauth.NewMemoryStore()
	var err error
	if r.w, err = seedSweep(ctx, sim, clock, tokens, nil, n, rng); err != nil {
		return r, err
	}
	src, err := newTokenSource(sim, clock, tokens)
	if err != nil {
		return r, err
	}
	tok, err := src.Token(ctx)
	if err != nil {
		return r, err
	}
	p := &producer{hc: simHTTPClient(sim), auth: "Zoho-oauthtoken " + tok.AccessToken}
	sim.ResetStats()
	var rounds int // latency rounds: a Search page, or up to zohoSubConcurrency conversions at once
	r.heap, err = heapPeak(func() error {
		for r.passes = 1; ; r.passes++ {
			found, calls, err := p.search(ctx)
			r.searchCalls += calls
			rounds += calls
			if err != nil || len(found) == 0 {
				return err
			}
			converted, err := p.convertAll(ctx, found)
			r.convertCalls += len(found)
			rounds += (len(found) + zohoSubConcurrency - 1) / zohoSubConcurrency
			if err != nil {
				return err
			}
			if converted == 0 {
				return nil // Search returned only leads it cannot convert: searching again finds them again
			}
		}
	})
	if err != nil {
		return r, fmt.Errorf("producer: %w", err)
	}
	r.time = time.Duration(rounds) * s.latency
	r.stats = sim.Stats()
	conv := p.convertedIDs()
	for _, id := range r.w.decoys {
		if conv[id] {
			r.decoysConverted++
		}
	}
	for _, id := range r.w.claimed {
		if conv[id] {
			r.claimedConverted++
		}
	}
	for _, id := range r.w.convertible {
		if !conv[id] {
			r.leftOver++
		}
	}
	return r, nil
}

// producer is the user's code: plain HTTP, as Zoho's docs show it.
type producer struct {
	hc   *http.Client
	auth string

	mu        sync.Mutex
	converted map[string]bool
}

func (p *producer) do(ctx context.Context, method, path, body string) (int, []byte, error) {
	var rd io.Reader = http.NoBody // the in-process transport hands the body on as it is
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, simURL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", p.auth)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// search pages through Search from page 1 until more_records is false, a
// page is empty (204) or Search says LIMIT_REACHED; it returns the ids
// found and the calls made.
func (p *producer) search(ctx context.Context) ([]string, int, error) {
	var ids []string
	calls := 0
	for page := 1; ; page++ {
		q := url.Values{"criteria": {sweepCriteria}, "page": {strconv.Itoa(page)}, "per_page": {"200"}}
		status, raw, err := p.do(ctx, http.MethodGet, "/crm/v7/Leads/search?"+q.Encode(), "")
		calls++
		if err != nil {
			return ids, calls, err
		}
		var v struct {
			Data []struct {
				ID string `json:"id"`
			}
			Info struct {
				More bool `json:"more_records"`
			}
			Code string
		}
		switch {
		case status == http.StatusNoContent:
			return ids, calls, nil
		case json.Unmarshal(raw, &v) != nil:
			return ids, calls, fmt.Errorf("search page %d: %d %.200s", page, status, raw)
		case status == http.StatusBadRequest && v.Code == "LIMIT_REACHED":
			return ids, calls, nil
		case status != http.StatusOK:
			return ids, calls, fmt.Errorf("search page %d: %d %.200s", page, status, raw)
		}
		for _, d := range v.Data {
			ids = append(ids, d.ID)
		}
		if !v.Info.More {
			return ids, calls, nil
		}
	}
}

// convertAll converts ids one call each, zohoSubConcurrency at a time; a
// lead Zoho says is converted already is skipped. It returns how many it
// converted.
func (p *producer) convertAll(ctx context.Context, ids []string) (int, error) {
	body := `{"data":[{"assign_to":{"id":"` + zohosim.DefaultUserID + `"}}]}`
	work := make(chan string)
	var mu sync.Mutex
	var errs []error
	converted := 0
	var wg sync.WaitGroup
	for range zohoSubConcurrency {
		wg.Go(func() {
			for id := range work {
				status, raw, err := p.do(ctx, http.MethodPost, "/crm/v7/Leads/"+id+"/actions/convert", body)
				var v struct{ Code string }
				_ = json.Unmarshal(raw, &v)
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err)
				case status == http.StatusOK:
					converted++
					p.mu.Lock()
					if p.converted == nil {
						p.converted = map[string]bool{}
					}
					p.converted[id] = true
					p.mu.Unlock()
				case v.Code != "ID_ALREADY_CONVERTED":
					errs = append(errs, fmt.Errorf("lead %s: %d %.200s", id, status, raw))
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return converted, errors.Join(errs...)
}

func (p *producer) convertedIDs() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.converted
}

// sweepAloneHeap is the peak heap of our sweep's run alone: the status
// function over the row's workload on a simulator without latency, its
// messages counted and dropped, until the run ends.
func sweepAloneHeap(ctx context.Context, s settings, n int, rng *rand.Rand) (heapUse, sweep.Report, error) {
	clock := newClock()
	sim := newSweepSim(clock)
	deps := app.NewEmbedded(simSecret, clock.Now, io.Discard)
	deps.Shared.HTTPClient = simHTTPClient(sim)
	if err := warmTokens(ctx, sim, clock, deps.Tokens); err != nil {
		return heapUse{}, sweep.Report{}, err
	}
	if _, err := seedSweep(ctx, sim, clock, deps.Tokens, deps.Jobs, n, rng); err != nil {
		return heapUse{}, sweep.Report{}, err
	}
	if err := putSweep(ctx, deps.Jobs, n, clock.Now()); err != nil {
		return heapUse{}, sweep.Report{}, err
	}
	scfg, err := config.LoadStatus(sweepEnv(s))
	if err != nil {
		return heapUse{}, sweep.Report{}, err
	}
	statusFn, err := app.NewStatus(scfg, app.StatusDeps{Shared: deps.Shared, Jobs: deps.Jobs, Resend: dropQueue{}, Sweeps: deps.Jobs})
	if err != nil {
		return heapUse{}, sweep.Report{}, err
	}
	var rep sweep.Report
	peak, err := heapPeak(func() error {
		ictx, cancel := context.WithTimeout(ctx, statusTimeout)
		defer cancel()
		res, err := statusFn.Invoke(ictx, sweepEvent(clock.Now()))
		if err != nil {
			return err
		}
		var ok bool
		if rep, ok = res.(sweep.Report); !ok || rep.End != sweep.EndDone {
			return fmt.Errorf("sweep alone: %T %+v", res, res)
		}
		return nil
	})
	return peak, rep, err
}

// dropQueue takes messages and keeps none.
type dropQueue struct{}

func (dropQueue) Enqueue(context.Context, string, string) error { return nil }

// heapUse is a run's heap, above what was in use before it.
type heapUse struct {
	// live is the most live heap any collection during the run found: the
	// memory the run held, the sweep's pages, the producer's ids, the
	// simulator's answers in flight. The run is made under GOGC 25, so
	// that collections come often enough to see it.
	live uint64
	// inuse is the most heap in use sampled each millisecond: live data
	// and the garbage not yet collected, whose share grows with the
	// heap the simulator holds (100,000 leads), not with the run.
	inuse uint64
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// heapRunGOGC is the GC percentage during a measured run.
const heapRunGOGC = 25

// heapSamples: live heap at the last collection, and what HeapInuse adds
// up (objects live or not yet swept, and the free space of in-use spans).
var heapSamples = []string{"/gc/heap/live:bytes", "/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}

func readHeap() (live, inuse uint64) {
	s := make([]metrics.Sample, len(heapSamples))
	for i, name := range heapSamples {
		s[i].Name = name
	}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return v(0), v(1) + v(2)
}

// heapPeak runs f and returns the most heap it used above what was in use
// before it (after a collection), sampled every millisecond. The process
// holds the simulator too: its answers in flight count.
func heapPeak(f func() error) (heapUse, error) {
	defer debug.SetGCPercent(debug.SetGCPercent(heapRunGOGC))
	runtime.GC()
	baseLive, baseInuse := readHeap()
	var peak heapUse
	sample := func() {
		live, inuse := readHeap()
		peak.live, peak.inuse = max(peak.live, live), max(peak.inuse, inuse)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err := f()
	close(stop)
	<-done
	sample()
	peak.live -= min(peak.live, baseLive)
	peak.inuse -= min(peak.inuse, baseInuse)
	return peak, err
}
