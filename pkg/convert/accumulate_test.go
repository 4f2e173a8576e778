package convert_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// timer records the wake-ups the service asks for.
type timer struct {
	mu    sync.Mutex
	wakes []wake
}

type wake struct {
	key   jobs.BatchKey
	after time.Duration
	try   int
}

func (tm *timer) Wake(_ context.Context, w convert.Wakeup, after time.Duration) error {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.wakes = append(tm.wakes, wake{w.Key, after, w.Try})
	return nil
}

func (tm *timer) last() wake {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.wakes[len(tm.wakes)-1]
}

func (tm *timer) keys() []jobs.BatchKey {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	var out []jobs.BatchKey
	for _, w := range tm.wakes {
		if !slices.Contains(out, w.key) {
			out = append(out, w.key)
		}
	}
	return out
}

// refusals records the batches whose options Zoho refused.
type refusals struct {
	mu      sync.Mutex
	sources [][]string
	ids     [][]string
	// sent, when set, runs once a letter is sent (an operator's redrive,
	// at once), or fails it with its error (the dead-letter queue down).
	sent func(req *zoho.ConvertRequest) error
}

func (rf *refusals) add(_ context.Context, req *zoho.ConvertRequest, sources []string, _, _ string) error {
	rf.mu.Lock()
	sent := rf.sent
	rf.mu.Unlock()
	if sent != nil {
		if err := sent(req); err != nil {
			return err
		}
	}
	rf.mu.Lock()
	defer rf.mu.Unlock()
	rf.sources, rf.ids = append(rf.sources, sources), append(rf.ids, req.IDs)
	return nil
}

type accRig struct {
	*rig
	clock   *zohosim.ManualClock
	timer   *timer
	refused *refusals
	client  *zoho.Client // the simulator's client, for another integration's calls
}

const maxWait = time.Minute

func newAccRig(t *testing.T, store jobs.Store) *accRig {
	t.Helper()
	z := zohotest.Start(t, zohosim.Options{}, 1)
	tm, rf := &timer{}, &refusals{}
	svc, err := convert.New(convert.Config{Zoho: z.Client, Store: store, Now: z.Clock.Now, APIVersion: "v7",
		Leads: z.Client, Timer: tm, MaxWait: maxWait, WakeEarly: 20 * time.Second, Refused: rf.add})
	if err != nil {
		t.Fatal(err)
	}
	return &accRig{rig: &rig{sim: z.Sim, store: store, svc: svc, metrics: obs.NewMetrics("convert")},
		clock: z.Clock, timer: tm, refused: rf, client: z.Client}
}

func (r *accRig) accumulate(subs []convert.Submission) []convert.Result {
	return r.svc.Accumulate(obs.WithMetrics(context.Background(), r.metrics), subs)
}

func (r *accRig) wake(keys ...jobs.BatchKey) []convert.Verdict {
	return r.svc.Wake(obs.WithMetrics(context.Background(), r.metrics), wakeups(keys...))
}

func wakeups(keys ...jobs.BatchKey) []convert.Wakeup {
	out := make([]convert.Wakeup, len(keys))
	for i, k := range keys {
		out[i] = convert.Wakeup{Key: k}
	}
	return out
}

// checkOnce fails unless every lead went to Zoho in exactly one call.
func (r *accRig) checkOnce(t *testing.T, leads int) {
	t.Helper()
	if st := r.sim.Stats(); st.DuplicateSubmissions != 0 || st.IDsSubmitted != leads {
		t.Fatalf("%d ids submitted (%d twice); want %d, each once", st.IDsSubmitted, st.DuplicateSubmissions, leads)
	}
}

// TestTrickleFillsCalls: single-lead requests arriving ten per invocation
// meet in the accumulator: each 50th lead sends a full call at once, and
// the generation's timer sends the part-filled rest.
func TestTrickleFillsCalls(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, store testkit.JobStore) {
		r := newAccRig(t, store)
		ids := r.sim.SeedLeadRange(120)
		subs := singles(ids, nil)
		for i := 0; i < len(subs); i += 10 {
			for _, res := range r.accumulate(subs[i : i+10]) {
				if res.Verdict != convert.Done {
					t.Fatalf("%s: %s %s", res.Source, res.Verdict, res.Reason)
				}
			}
			r.clock.Advance(time.Second)
		}
		if n := r.calls(); n != 2 {
			t.Fatalf("%d calls after 120 leads; want 2 full ones", n)
		}
		keys := r.timer.keys()
		if len(keys) != 3 || r.timer.wakes[0].after != maxWait-20*time.Second {
			t.Fatalf("wake-ups %+v; want one per generation (3), each MaxWait less the batching window", r.timer.wakes)
		}
		if v := r.wake(keys[0], keys[1]); !slices.Equal(v, []convert.Verdict{convert.Done, convert.Done}) || r.calls() != 2 {
			t.Fatalf("waking sent generations: %v, %d calls; want done and no call", v, r.calls())
		}
		if v := r.wake(keys[2]); v[0] != convert.Done || r.calls() != 3 {
			t.Fatalf("waking the open generation: %v, %d calls; want done and a third call", v, r.calls())
		}
		r.checkOnce(t, 120)
		if v := r.wake(keys[2]); v[0] != convert.Done || r.calls() != 3 {
			t.Fatalf("a second wake-up: %v, %d calls", v, r.calls())
		}
	})
}

// TestBigBatchSendsFullCallsNow: a request of 130 leads sends two full calls
// at once and parks the other 30.
func TestBigBatchSendsFullCallsNow(t *testing.T) {
	r := newAccRig(t, memstore.New())
	ids := r.sim.SeedLeadRange(130)
	res := r.accumulate([]convert.Submission{{Source: "m1", Request: zohotest.Request(ids...)}})
	if res[0].Verdict != convert.Done || len(res[0].Queued) != 30 || r.calls() != 2 {
		t.Fatalf("%s, %d queued, %d calls; want done, 30 queued, 2 calls", res[0].Verdict, len(res[0].Queued), r.calls())
	}
	r.wake(r.timer.keys()...)
	r.checkOnce(t, 130)
}

// TestVanishedSenderIsTakenOver: a batch taken by an invocation that died
// is sent by a wake-up once its lease lapses, and only then.
func TestVanishedSenderIsTakenOver(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, store testkit.JobStore) {
		r := newAccRig(t, store)
		ids := r.sim.SeedLeadRange(10)
		r.accumulate(singles(ids, nil))
		ctx := context.Background()
		acc, err := store.Acc(ctx, r.timer.keys()[0].Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Take(ctx, acc, "ghost", r.clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if v := r.wake(acc.Key()); v[0] != convert.Done || r.calls() != 0 || r.timer.last().try != 1 {
			t.Fatalf("while the ghost's lease stands: %v, %d calls, last wake-up %+v; want a later wake-up and no call",
				v, r.calls(), r.timer.last())
		}
		r.clock.Advance(2 * time.Minute)
		if v := r.wake(acc.Key()); v[0] != convert.Done || r.calls() != 1 {
			t.Fatalf("after the lapse: %v, %d calls; want done and one", v, r.calls())
		}
		if _, err := store.Batch(ctx, acc.Key()); err == nil {
			t.Fatal("the batch is still there after its job")
		}
		r.checkOnce(t, 10)
	})
}

// TestRefusedBatchReachesEveryRequest: when Zoho refuses an accumulated
// call's options, every request in it is dead-lettered with the reason,
// and its leads are lettered: free for the letter's redrive.
func TestRefusedBatchReachesEveryRequest(t *testing.T) {
	store := memstore.New()
	r := newAccRig(t, store)
	ids := r.sim.SeedLeadRange(3)
	subs := singles(ids, func(req *zoho.ConvertRequest) { req.AssignTo = &zoho.Ref{ID: "3652397000000000404"} })
	r.accumulate(subs)
	if v := r.wake(r.timer.keys()...); v[0] != convert.Done {
		t.Fatalf("a refused batch: %v, want done (nothing a retry can mend)", v)
	}
	if len(r.refused.sources) != 1 || !slices.Equal(r.refused.sources[0], []string{"msg-0000", "msg-0001", "msg-0002"}) ||
		!slices.Equal(r.refused.ids[0], ids) {
		t.Fatalf("dead letters: sources %v ids %v", r.refused.sources, r.refused.ids)
	}
	claims, _ := store.Claims(context.Background(), ids)
	for _, c := range claims {
		if c.State != jobs.Lettered || c.Reason == "" || c.Live(r.clock.Now()) {
			t.Errorf("lead %s: %s %q, want lettered with the reason, free", c.LeadID, c.State, c.Reason)
		}
	}
}

// TestThrottledBatchIsRetriedWithBackoff: a wake-up whose call Zoho
// throttles sets a later one, each later than the last; the wake-ups end in
// SQS's hands (TryLater) only after retryWakeups tries.
func TestThrottledBatchIsRetriedWithBackoff(t *testing.T) {
	r := newAccRig(t, memstore.New())
	ids := r.sim.SeedLeadRange(5)
	r.accumulate(singles(ids, nil))
	key := r.timer.keys()[0]
	var delays []time.Duration
	for try := range 12 {
		r.sim.Script(zohosim.EndpointMassConvert, zohosim.Fault{Kind: zohosim.TooManyRequestsLegacy})
		v := r.svc.Wake(obs.WithMetrics(context.Background(), r.metrics), []convert.Wakeup{{Key: key, Try: try}})
		if last := r.timer.last(); v[0] != convert.Done || last.try != try+1 {
			t.Fatalf("try %d throttled: %v, last wake-up %+v; want done and try %d set", try, v, last, try+1)
		}
		delays = append(delays, r.timer.last().after)
	}
	if !slices.IsSorted(delays) || delays[0] != 30*time.Second || delays[11] != 15*time.Minute {
		t.Fatalf("delays %v; want 30 s growing to 15 minutes", delays)
	}
	r.sim.Script(zohosim.EndpointMassConvert, zohosim.Fault{Kind: zohosim.TooManyRequestsLegacy})
	if v := r.svc.Wake(context.Background(), []convert.Wakeup{{Key: key, Try: 12}}); v[0] != convert.TryLater {
		t.Fatalf("the last try throttled: %v, want retry (SQS's redrive takes over)", v)
	}
	if v := r.wake(key); v[0] != convert.Done {
		t.Fatalf("once Zoho answers: %v, want done", v)
	}
	r.checkOnce(t, 5)
}

// TestRedeliveryOfParkedLeadsSetsTheTimerAgain: a message redelivered
// after its leads were parked is done, and wakes their generation again,
// in case the invocation that parked them died before setting the timer.
func TestRedeliveryOfParkedLeadsSetsTheTimerAgain(t *testing.T) {
	r := newAccRig(t, memstore.New())
	ids := r.sim.SeedLeadRange(4)
	r.accumulate(singles(ids, nil))
	res := r.accumulate(singles(ids, nil))
	if verdicts(res)[convert.Done] != 4 || len(r.timer.wakes) != 2 || r.timer.wakes[1].key != r.timer.wakes[0].key {
		t.Fatalf("redelivery: %v, wake-ups %+v", verdicts(res), r.timer.wakes)
	}
	if r.calls() != 0 {
		t.Fatalf("%d calls before the timer", r.calls())
	}
}

func TestWakeBodyRoundTrip(t *testing.T) {
	key := convert.Wakeup{Key: jobs.BatchKey{Fingerprint: "ab12", Gen: 7}, Try: 3}
	if got, ok := convert.ParseWake(convert.WakeBody(key)); !ok || got != key {
		t.Fatalf("ParseWake(WakeBody) = %v, %v", got, ok)
	}
	for _, body := range []string{`{"ids":["1"]}`, `{"wake":{}}`, `{"wake":`, ``} {
		if _, ok := convert.ParseWake(body); ok {
			t.Errorf("ParseWake(%q) accepted", body)
		}
	}
}

// TestRacingInstancesShareTheAccumulator: two instances park into one
// accumulator at once; every lead goes to Zoho once, in full calls. (On
// the serial moto: a threaded one does not make conditional writes atomic
// under concurrency, while DynamoDB and the memory store do.)
func TestRacingInstancesShareTheAccumulator(t *testing.T) {
	testkit.ForEachSerialJobStore(t, testRacingInstancesShareTheAccumulator)
}

func testRacingInstancesShareTheAccumulator(t *testing.T, store testkit.JobStore) {
	r := newAccRig(t, store)
	ids := r.sim.SeedLeadRange(200)
	subs := singles(ids, nil)
	var wg sync.WaitGroup
	for half := range 2 {
		wg.Go(func() {
			for i := half * 100; i < (half+1)*100; i += 5 {
				for _, res := range r.accumulate(subs[i : i+5]) {
					if res.Verdict != convert.Done {
						t.Errorf("%s: %s %s", res.Source, res.Verdict, res.Reason)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := r.calls(); n != 4 {
		t.Fatalf("%d calls for 200 leads from two racing instances; want 4 full ones", n)
	}
	r.wake(r.timer.keys()...)
	if n := r.calls(); n != 4 {
		t.Fatalf("wake-ups after full calls made %d calls in all", n)
	}
	r.checkOnce(t, 200)
}

// losingTimer accepts wake-ups and loses them, as a wake-up message lost
// with a dead invocation would be.
type losingTimer struct{}

func (losingTimer) Wake(context.Context, convert.Wakeup, time.Duration) error { return nil }

// TestLostTimerIsMadeGoodByTheNextLead: a generation whose wake-up never
// comes is sent by the next invocation that parks, once its wait ran out.
func TestLostTimerIsMadeGoodByTheNextLead(t *testing.T) {
	z := zohotest.Start(t, zohosim.Options{}, 1)
	svc, err := convert.New(convert.Config{Zoho: z.Client, Store: memstore.New(), Now: z.Clock.Now, APIVersion: "v7",
		Timer: losingTimer{}, MaxWait: maxWait})
	if err != nil {
		t.Fatal(err)
	}
	ids := z.Sim.SeedLeadRange(5)
	ctx := obs.WithMetrics(context.Background(), obs.NewMetrics("convert"))
	calls := func() int { return z.Sim.Stats().Calls[zohosim.EndpointMassConvert] }
	svc.Accumulate(ctx, singles(ids[:3], nil))
	z.Clock.Advance(maxWait)
	svc.Accumulate(ctx, singles(ids[3:4], nil))
	if n := calls(); n != 0 {
		t.Fatalf("%d calls within the grace of a late timer", n)
	}
	z.Clock.Advance(time.Minute)
	svc.Accumulate(ctx, singles(ids[4:], nil))
	if n := calls(); n != 1 {
		t.Fatalf("%d calls; want the overdue generation sent by the next lead", n)
	}
	if jobs := z.Sim.Jobs(); len(jobs[0].IDs) != 4 {
		t.Fatalf("the overdue call held %d leads, want all 4", len(jobs[0].IDs))
	}
}

// TestUnrecordedBatchIsFollowed: when Zoho scheduled an accumulated call
// but the job cannot be recorded, the job is kept for an operator and the
// batch outlives it: the next wake-up sends its leads again, Zoho refuses
// them while its job holds them, and the read-back holds them in doubt,
// for the status function to follow, in at most maxCallsPerChunk calls.
func TestUnrecordedBatchIsFollowed(t *testing.T) {
	z := zohotest.Start(t, zohosim.Options{}, 1)
	store := memstore.New()
	var kept []jobs.Job
	tm := &timer{}
	down := true
	svc, err := convert.New(convert.Config{Zoho: z.Client, Leads: z.Client, Store: failingRecords{store, &down}, Now: z.Clock.Now, APIVersion: "v7",
		Timer: tm, MaxWait: maxWait, Unrecorded: func(_ context.Context, j jobs.Job) { kept = append(kept, j) }})
	if err != nil {
		t.Fatal(err)
	}
	ids := z.Sim.SeedLeadRange(3)
	ctx := obs.WithMetrics(context.Background(), obs.NewMetrics("convert"))
	svc.Accumulate(ctx, singles(ids, nil))
	key := tm.keys()[0]
	svc.Wake(ctx, wakeups(key))
	if len(kept) != 1 || len(kept[0].LeadIDs) != 3 {
		t.Fatalf("jobs kept for an operator: %+v", kept)
	}
	if _, err := store.Batch(ctx, key); err != nil {
		t.Fatalf("the batch of an unrecorded job: %v; want it kept", err)
	}
	down = false
	if v := svc.Wake(ctx, wakeups(key)); v[0] != convert.Done {
		t.Fatalf("the next wake-up: %v", v)
	}
	if n := z.Sim.Stats().Calls[zohosim.EndpointMassConvert]; n > 4 {
		t.Fatalf("%d mass_convert calls; want at most the first and maxCallsPerChunk more", n)
	}
	cs, _ := store.Claims(ctx, ids)
	for _, c := range cs {
		if c.State != jobs.ClaimInDoubt {
			t.Errorf("lead %s: %s %q; want held in doubt, followed", c.LeadID, c.State, c.Reason)
		}
	}
	if len(cs) != 3 {
		t.Fatalf("%d claims", len(cs))
	}
}

// slowStore is a store whose claims stop keeping up: claim transaction
// number stallAt does not return until the invocation's claiming time is
// used up (stalled is done), as a batch too large for one invocation ends.
// It notes any write that starts after stop.
type slowStore struct {
	jobs.Store
	stallAt int
	stalled <-chan struct{}
	stop    time.Time

	mu     sync.Mutex
	claims int
	late   int
	first  time.Time
}

func (s *slowStore) note() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Now().After(s.stop) {
		s.late++
	}
}

func (s *slowStore) Claim(ctx context.Context, owner jobs.Owner, ids []string, now, until time.Time) ([]string, []jobs.Claim, error) {
	s.note()
	s.mu.Lock()
	s.claims++
	if s.claims == 1 {
		s.first = time.Now()
	}
	stall := s.claims == s.stallAt
	s.mu.Unlock()
	if stall {
		<-s.stalled
	}
	return s.Store.Claim(ctx, owner, ids, now, until)
}

func (s *slowStore) Park(ctx context.Context, owner jobs.Owner, acc jobs.Acc, ids, sources []string, now, exp time.Time) ([]string, []jobs.Claim, error) {
	s.note()
	return s.Store.Park(ctx, owner, acc, ids, sources, now, exp)
}

// TestLargestBatchEndsInTime: the largest batch SQS can deliver (6 MB:
// about 270 messages of 1,000 ids) cannot be claimed within one
// invocation. Calls start with the first claims, claiming stops at the
// margin, and the answer is right: a message is done only if all its leads
// are scheduled, the rest come back, and no lead goes to Zoho twice.
func TestLargestBatchEndsInTime(t *testing.T) {
	z := zohotest.Start(t, zohosim.Options{}, 1)
	const messages, per = 270, 1000
	ids := z.Sim.SeedLeadRange(messages * per)
	// answerReserve (3 s) and four seconds of work: the first claims have
	// seconds to start even on a loaded machine under -race.
	invocation := 7 * time.Second
	deadline := time.Now().Add(invocation)
	margin := 300 * time.Millisecond
	// The calls' deadline is the invocation's less answerReserve; claiming
	// stops margin before it. The fifth claim returns halfway into the margin.
	callsDeadline := deadline.Add(-3 * time.Second)
	stalled, unstall := context.WithDeadline(context.Background(), callsDeadline.Add(-margin/2))
	defer unstall()
	store := &slowStore{Store: memstore.New(), stallAt: 5, stalled: stalled.Done(), stop: callsDeadline}
	svc, err := convert.New(convert.Config{Zoho: z.Client, Store: store, Now: z.Clock.Now, APIVersion: "v7",
		Timer: &timer{}, MaxWait: maxWait, StopMargin: margin})
	if err != nil {
		t.Fatal(err)
	}
	subs := make([]convert.Submission, messages)
	for i := range subs {
		subs[i] = convert.Submission{Source: fmt.Sprintf("m%03d", i), Request: zohotest.Request(ids[i*per : (i+1)*per]...)}
	}
	ctx, cancel := context.WithDeadline(obs.WithMetrics(context.Background(), obs.NewMetrics("convert")), deadline)
	defer cancel()
	results := svc.Accumulate(ctx, subs)

	if store.late != 0 {
		t.Errorf("%d claims or parks started after the calls' deadline", store.late)
	}
	scheduled := map[string]bool{}
	for _, j := range z.Sim.Jobs() {
		for _, id := range j.IDs {
			scheduled[id] = true
		}
	}
	done, retry := 0, 0
	for i, res := range results {
		switch res.Verdict {
		case convert.Done:
			done++
			for _, id := range subs[i].Request.IDs {
				if !scheduled[id] {
					t.Fatalf("%s is done but lead %s is in no job", res.Source, id)
				}
			}
		case convert.TryLater:
			retry++
		default:
			t.Fatalf("%s: %s %s", res.Source, res.Verdict, res.Reason)
		}
	}
	if retry == 0 || len(scheduled) == 0 {
		t.Fatalf("%d done, %d handed back, %d leads scheduled: want some of each (the batch cannot fit one invocation)", done, retry, len(scheduled))
	}
	if st := z.Sim.Stats(); st.DuplicateSubmissions != 0 {
		t.Fatalf("%d leads sent twice", st.DuplicateSubmissions)
	}
	t.Logf("%d messages done, %d handed back; %d leads in %d calls; first claim %v before the calls' deadline",
		done, retry, len(scheduled), len(z.Sim.Jobs()), callsDeadline.Sub(store.first).Round(time.Millisecond))
}

// TestDoubledWakeupInOneBatchSendsOnce: a wake-up delivered twice can come
// twice in one batch; the batch still goes to Zoho once.
func TestDoubledWakeupInOneBatchSendsOnce(t *testing.T) {
	for range 20 { // the two wake-ups race; give the race its chances
		testkit.ForEachSerialJobStore(t, testDoubledWakeupInOneBatchSendsOnce)
	}
}

// testDoubledWakeupInOneBatchSendsOnce is one round, on a store of its own:
// each round's simulator hands out the same lead ids.
func testDoubledWakeupInOneBatchSendsOnce(t *testing.T, store testkit.JobStore) {
	r := newAccRig(t, store)
	ids := r.sim.SeedLeadRange(7)
	r.accumulate(singles(ids, nil))
	key := r.timer.keys()[0]
	if v := r.wake(key, key); v[0] != convert.Done || v[1] != convert.Done {
		t.Fatalf("verdicts %v", v)
	}
	if n := r.calls(); n != 1 {
		t.Fatalf("%d calls for one batch woken twice at once", n)
	}
}

// TestWaitCountsFromAcceptance: a lead's wait starts when its request was
// accepted, not when it reached the function; a lead accepted well before
// its generation's first one sets the timer again, for itself.
func TestWaitCountsFromAcceptance(t *testing.T) {
	r := newAccRig(t, memstore.New())
	ids := r.sim.SeedLeadRange(2)
	now := r.clock.Now()
	first := singles(ids[:1], nil)
	first[0].Accepted = now.Add(-15 * time.Second) // 15 s in the gatherer
	r.accumulate(first)
	if got, want := r.timer.wakes[0].after, maxWait-20*time.Second-15*time.Second; got != want {
		t.Fatalf("timer after %s; want MaxWait less WakeEarly less the 15 s already waited, %s", got, want)
	}
	late := singles(ids[1:], nil)
	late[0].Source, late[0].Accepted = "late", now.Add(-25*time.Second) // a slower gatherer
	r.accumulate(late)
	if len(r.timer.wakes) != 2 || r.timer.wakes[1].after != maxWait-20*time.Second-25*time.Second {
		t.Fatalf("wake-ups %+v; want a second one for the earlier lead", r.timer.wakes)
	}
	// Less than earlierLead (5 s) before the generation's first lead: the
	// timer set for that one serves it too, and no wake-up more is sent.
	near := singles(r.sim.SeedLeadRange(1), nil)
	near[0].Source, near[0].Accepted = "near", now.Add(-17*time.Second)
	r.accumulate(near)
	if len(r.timer.wakes) != 2 {
		t.Fatalf("wake-ups %+v; want none for a lead accepted 2 s before the first", r.timer.wakes)
	}
}

// TestAddedWaitIsMeasured: a part-filled batch sent by its wake-up reports
// how long its first lead waited, for the dashboard's "added wait".
func TestAddedWaitIsMeasured(t *testing.T) {
	r := newAccRig(t, memstore.New())
	r.accumulate(singles(r.sim.SeedLeadRange(7), nil))
	r.clock.Advance(maxWait)
	if v := r.wake(r.timer.keys()[0]); v[0] != convert.Done {
		t.Fatalf("verdicts %v", v)
	}
	if got := r.metrics.Value("AddedWait"); got != float64(maxWait.Milliseconds()) {
		t.Fatalf("AddedWait %v ms, want %v", got, maxWait.Milliseconds())
	}
}
