package convert_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// rig is a convert service wired to the simulator, as a Lambda would be.
type rig struct {
	sim     *zohosim.Server
	store   jobs.Store
	svc     *convert.Service
	metrics *obs.Metrics
}

func newRig(t *testing.T, store jobs.Store, simOpts zohosim.Options, maxConcurrency int) *rig {
	t.Helper()
	z := zohotest.Start(t, simOpts, 2)
	svc, err := convert.New(convert.Config{Zoho: z.Client, Store: store, MaxConcurrency: maxConcurrency, Now: z.Clock.Now, APIVersion: "v7"})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{sim: z.Sim, store: store, svc: svc, metrics: obs.NewMetrics("convert")}
}

func (r *rig) convert(subs []convert.Submission) []convert.Result {
	return r.svc.Convert(obs.WithMetrics(context.Background(), r.metrics), subs)
}

func (r *rig) calls() int { return r.sim.Stats().Calls[zohosim.EndpointMassConvert] }

// singles makes one single-lead submission per id, all with the same options.
func singles(ids []string, opts func(*zoho.ConvertRequest)) []convert.Submission {
	subs := make([]convert.Submission, len(ids))
	for i, id := range ids {
		req := zohotest.Request(id)
		if opts != nil {
			opts(req)
		}
		subs[i] = convert.Submission{Source: fmt.Sprintf("msg-%04d", i), Request: req}
	}
	return subs
}

func verdicts(results []convert.Result) map[convert.Verdict]int {
	out := map[convert.Verdict]int{}
	for _, r := range results {
		out[r.Verdict]++
	}
	return out
}

// TestThousandSinglesMakeTwentyCalls is the performance lever: 1,000
// single-lead requests with identical options cost ceil(1000/50) calls.
// (moto copies its tables on every transaction, so the DynamoDB variant
// runs a smaller batch; the arithmetic is the same.)
func TestThousandSinglesMakeTwentyCalls(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		leads, wantCalls := 1000, 20
		if s.Dynamo {
			leads, wantCalls = 150, 3
		}
		r := newRig(t, s.New(), zohosim.Options{}, 4)
		ids := r.sim.SeedLeadRange(leads)
		results := r.convert(singles(ids, nil))
		if got := r.calls(); got != wantCalls {
			t.Fatalf("%d mass_convert calls for %d leads, want %d", got, leads, wantCalls)
		}
		if v := verdicts(results); v[convert.Done] != leads {
			t.Fatalf("verdicts %v, want all done", v)
		}
		st := r.sim.Stats()
		if st.IDsSubmitted != leads || st.DuplicateSubmissions != 0 || st.JobsScheduled != wantCalls {
			t.Fatalf("simulator saw %+v", st)
		}
		job, err := r.store.Job(context.Background(), results[leads-1].Jobs[0].JobID)
		if err != nil || len(job.LeadIDs) != 50 || job.State != jobs.Scheduled || len(job.Sources) != 50 {
			t.Fatalf("job of the last lead: %+v, %v", job, err)
		}
	})
}

func TestDuplicatesSubmittedOnce(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{}, 4)
	ids := r.sim.SeedLeadRange(900)
	withDups := append(ids, ids[:100]...) // 10% duplicates
	results := r.convert(singles(withDups, nil))
	st := r.sim.Stats()
	if st.IDsSubmitted != 900 || st.DuplicateSubmissions != 0 || r.calls() != 18 {
		t.Fatalf("submitted %d ids (%d duplicates) in %d calls; want 900 in 18", st.IDsSubmitted, st.DuplicateSubmissions, r.calls())
	}
	if v := verdicts(results); v[convert.Done] != 1000 {
		t.Fatalf("verdicts %v", v)
	}
	if results[900].Jobs[0].JobID != results[0].Jobs[0].JobID {
		t.Fatal("a duplicate was not given its lead's job")
	}
}

func TestInvalidIDsAreDroppedAndRecorded(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		r := newRig(t, s.New(), zohosim.Options{}, 4)
		ids := r.sim.SeedLeadRange(47)
		unknown := []string{"3652397000099999001", "3652397000099999002", "3652397000099999003"}
		chunk := append(append(append([]string{}, ids[:10]...), unknown[0]), ids[10:]...)
		chunk = append(chunk, unknown[1:]...)
		results := r.convert([]convert.Submission{{Source: "req-1", Request: zohotest.Request(chunk...)}})
		if got := r.calls(); got != 4 {
			t.Fatalf("%d calls, want 4 (3 rejections, then the schedule)", got)
		}
		res := results[0]
		if res.Verdict != convert.Done || len(res.Rejected) != 3 || len(res.Jobs) != 1 || len(res.Jobs[0].LeadIDs) != 47 {
			t.Fatalf("result %+v", res)
		}
		// A redelivery asks Zoho nothing: the rejections are remembered.
		again := r.convert([]convert.Submission{{Source: "req-1", Request: zohotest.Request(chunk...)}})
		if r.calls() != 4 || len(again[0].Rejected) != 3 || !again[0].Jobs[0].Earlier {
			t.Fatalf("redelivery: %d calls, result %+v", r.calls(), again[0])
		}
	})
}

func TestRedeliveryMakesNoCalls(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		r := newRig(t, s.New(), zohosim.Options{}, 4)
		subs := singles(r.sim.SeedLeadRange(120), nil)
		r.convert(subs)
		before := r.calls()
		results := r.convert(subs)
		if r.calls() != before {
			t.Fatalf("the redelivered batch made %d new calls", r.calls()-before)
		}
		if v := verdicts(results); v[convert.Done] != 120 {
			t.Fatalf("verdicts %v", v)
		}
	})
}

// TestThrottledGroupOnlyIsRetried: a 429 for one group's call hands back only
// that group's submissions.
func TestThrottledGroupOnlyIsRetried(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{}, 1) // one call at a time: both 429s hit one group
	ids := r.sim.SeedLeadRange(20)
	withDeal := func(req *zoho.ConvertRequest) {
		d := zoho.Deal{}
		d.SetString(zoho.DealName, "Renewal")
		d.SetString(zoho.DealStage, "Qualification")
		d.SetString(zoho.DealClosingDate, "2026-06-30")
		req.Deals = &d
	}
	subs := append(singles(ids[:10], nil), singles(ids[10:], withDeal)...)
	// The client tries twice: both shapes of 429 for the first call.
	r.sim.Script(zohosim.EndpointMassConvert,
		zohosim.Fault{Kind: zohosim.TooManyRequests}, zohosim.Fault{Kind: zohosim.TooManyRequestsLegacy})
	results := r.convert(subs)
	throttled := results[0].Verdict
	for i, res := range results {
		want := throttled
		if i >= 10 {
			want = map[convert.Verdict]convert.Verdict{convert.TryLater: convert.Done, convert.Done: convert.TryLater}[throttled]
		}
		if res.Verdict != want {
			t.Fatalf("submission %d: %v (%s), want %v: one group retried, the other done", i, res.Verdict, res.Reason, want)
		}
		if res.Verdict == convert.TryLater && res.Code != "TOO_MANY_REQUESTS" {
			t.Errorf("code %q", res.Code)
		}
	}
	// The handed-back leads are free again: the retry schedules them.
	if res := r.convert(subs); verdicts(res)[convert.Done] != 20 {
		t.Fatalf("retry: %v", verdicts(res))
	}
}

func TestPermanentRefusalFailsTheGroup(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{}, 2)
	ids := r.sim.SeedLeadRange(120)
	subs := singles(ids, func(req *zoho.ConvertRequest) { req.AssignTo = &zoho.Ref{ID: "3652397000000000404"} })
	results := r.convert(subs)
	if v := verdicts(results); v[convert.Permanent] != 120 {
		t.Fatalf("verdicts %v", v)
	}
	if got := r.calls(); got > 2 {
		t.Fatalf("%d calls; once Zoho refuses the options, the group's other chunks are not sent", got)
	}
	if results[0].Code != "INVALID_DATA" {
		t.Errorf("code %q", results[0].Code)
	}
}

func TestDeadlineHandsLeadsBack(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{}, 4)
	subs := singles(r.sim.SeedLeadRange(10), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // under the 5s margin
	defer cancel()
	results := r.svc.Convert(obs.WithMetrics(ctx, r.metrics), subs)
	if v := verdicts(results); v[convert.TryLater] != 10 || results[0].Code != "DEADLINE" || r.calls() != 0 {
		t.Fatalf("verdicts %v, code %q, %d calls", v, results[0].Code, r.calls())
	}
	if res := r.convert(subs); verdicts(res)[convert.Done] != 10 {
		t.Fatal("claims were not released")
	}
}

// TestAmbiguousCallIsHeld: Zoho scheduled the job but the answer was lost.
// The leads are held in doubt, recorded for the status function to read
// back, and not sent again: a redelivery finds them held.
func TestAmbiguousCallIsHeld(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		r := newRig(t, s.New(), zohosim.Options{}, 4)
		ids := r.sim.SeedLeadRange(2)
		subs := singles(ids, nil)
		r.sim.Script(zohosim.EndpointMassConvert, zohosim.Fault{Kind: zohosim.DropAfterAccept})
		res := r.convert(subs)
		if v := verdicts(res); v[convert.Done] != 2 || !strings.HasPrefix(res[0].Jobs[0].JobID, jobs.DoubtPrefix) {
			t.Fatalf("verdicts %v, %+v", v, res[0])
		}
		doubt, err := r.store.Job(context.Background(), res[0].Jobs[0].JobID)
		if err != nil || doubt.State != jobs.InDoubt || !slices.Equal(doubt.LeadIDs, ids) || doubt.NextCheckAt.IsZero() {
			t.Fatalf("call in doubt %+v, %v", doubt, err)
		}
		again := r.convert(subs)
		if v := verdicts(again); v[convert.Done] != 2 || !again[0].Jobs[0].Earlier || r.calls() != 1 {
			t.Fatalf("redelivery: %v, %+v, %d calls", v, again[0], r.calls())
		}
		if st := r.sim.Stats(); st.DuplicateSubmissions != 0 {
			t.Fatalf("%d leads sent twice", st.DuplicateSubmissions)
		}
	})
}

func TestConcurrencyIsBounded(t *testing.T) {
	r := newRig(t, memstore.New(), zohosim.Options{Latency: 20 * time.Millisecond}, 3)
	r.convert(singles(r.sim.SeedLeadRange(500), nil))
	if st := r.sim.Stats(); st.MaxInFlight > 3 || st.MaxInFlight < 1 || r.calls() != 10 {
		t.Fatalf("max in flight %d with a cap of 3, %d calls", st.MaxInFlight, r.calls())
	}
}

func TestLeadBusyElsewhereIsRetried(t *testing.T) {
	store := memstore.New()
	r := newRig(t, store, zohosim.Options{}, 4)
	ids := r.sim.SeedLeadRange(3)
	if _, _, err := store.Claim(context.Background(), "other-invocation", ids[:1], r.sim.Clock().Now(), r.sim.Clock().Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	res := r.convert([]convert.Submission{{Source: "m", Request: zohotest.Request(ids...)}})
	if res[0].Verdict != convert.TryLater || res[0].Code != "LEAD_BUSY" || len(res[0].Jobs) != 1 || len(res[0].Jobs[0].LeadIDs) != 2 {
		t.Fatalf("result %+v", res[0])
	}
}

// failingRecords fails the recording of jobs while down is set, as when
// DynamoDB goes down right after Zoho scheduled a job.
type failingRecords struct {
	jobs.Store
	down *bool
}

func (f failingRecords) RecordJob(ctx context.Context, j jobs.Job, exp time.Time) error {
	if *f.down {
		return errors.New("dynamodb: service unavailable")
	}
	return f.Store.RecordJob(ctx, j, exp)
}

// TestUnrecordedJobIsFollowed: Zoho scheduled the leads but the job cannot
// be recorded. The job goes to the Unrecorded hook (the DLQ in Lambda) for
// an operator, and the message is handed back: its redelivery, once the
// claims lapse, finds Zoho refusing the leads its job holds, reads them
// back, and holds them in doubt, so the status function follows them to an
// outcome (a job that fails a lead no longer goes unnoticed).
func TestUnrecordedJobIsFollowed(t *testing.T) {
	z := zohotest.Start(t, zohosim.Options{}, 1)
	ids := z.Sim.SeedLeadRange(3)
	var kept []jobs.Job
	down := true
	store := memstore.New()
	svc, err := convert.New(convert.Config{Zoho: z.Client, Leads: z.Client, Store: failingRecords{store, &down}, Now: z.Clock.Now,
		Unrecorded: func(_ context.Context, j jobs.Job) { kept = append(kept, j) }})
	if err != nil {
		t.Fatal(err)
	}
	m := obs.NewMetrics("convert")
	sub := []convert.Submission{{Source: "m1", Request: zohotest.Request(ids...)}}
	res := svc.Convert(obs.WithMetrics(context.Background(), m), sub)
	if res[0].Verdict != convert.TryLater || res[0].Code != "JOB_NOT_RECORDED" {
		t.Fatalf("result %+v; want the message handed back", res[0])
	}
	if len(kept) != 1 || len(kept[0].LeadIDs) != 3 || m.Value("JobsNotRecorded") != 1 {
		t.Fatalf("kept %+v, metric %v", kept, m.Value("JobsNotRecorded"))
	}
	down = false
	z.Clock.Advance(time.Hour) // the claims lapse; SQS delivers the message again
	if res := svc.Convert(obs.WithMetrics(context.Background(), m), sub); res[0].Verdict != convert.Done {
		t.Fatalf("the redelivery: %+v", res[0])
	}
	cs, err := store.Claims(context.Background(), ids)
	if err != nil || len(cs) != 3 {
		t.Fatalf("claims %+v %v", cs, err)
	}
	for _, c := range cs {
		followed := c.State == jobs.ClaimInDoubt || c.State == jobs.Rejected && strings.HasPrefix(c.Reason, convert.ConvertedElsewhere)
		if !followed {
			t.Errorf("lead %s after the redelivery: %s %q; want held in doubt or found converted", c.LeadID, c.State, c.Reason)
		}
	}
}

// TestConvertedLeadIsNotRejected: Zoho refuses a lead it converted already
// (a job whose answer was lost) just as an unknown one. Read back, the
// first is done as converted; the second stays rejected. Without a reader
// both are rejected, as before.
func TestConvertedLeadIsNotRejected(t *testing.T) {
	for _, read := range []bool{true, false} {
		t.Run(fmt.Sprintf("read back %v", read), func(t *testing.T) {
			z := zohotest.Start(t, zohosim.Options{}, 2)
			cfg := convert.Config{Zoho: z.Client, Store: memstore.New(), Now: z.Clock.Now, APIVersion: "v7"}
			if read {
				cfg.Leads = z.Client
			}
			svc, err := convert.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ids := z.Sim.SeedLeadRange(3)
			// ids[0] converted by a job the bridge never heard of.
			if _, err := z.Client.MassConvert(context.Background(), zohotest.Request(ids[:1]...)); err != nil {
				t.Fatal(err)
			}
			z.Clock.Advance(time.Hour)
			const unknown = "3652397000099999001"
			m := obs.NewMetrics("convert")
			res := svc.Convert(obs.WithMetrics(context.Background(), m),
				[]convert.Submission{{Source: "req-1", Request: zohotest.Request(append(ids, unknown)...)}})[0]
			wantConverted, wantRejected := []string{ids[0]}, []string{ids[0], unknown}
			if read {
				wantRejected = wantRejected[1:]
			} else {
				wantConverted = nil
			}
			var rejected []string
			for _, rj := range res.Rejected {
				rejected = append(rejected, rj.LeadID)
			}
			if res.Verdict != convert.Done || len(res.Jobs) != 1 || !slices.Equal(res.Jobs[0].LeadIDs, ids[1:]) ||
				!slices.Equal(res.AlreadyConverted, wantConverted) || !slices.Equal(rejected, wantRejected) {
				t.Fatalf("result %+v", res)
			}
			// A redelivery remembers the verdict without asking Zoho.
			calls := z.Sim.Stats().Calls
			again := svc.Convert(context.Background(), []convert.Submission{{Source: "req-1", Request: zohotest.Request(append(ids, unknown)...)}})[0]
			if !slices.Equal(again.AlreadyConverted, wantConverted) || len(again.Rejected) != len(wantRejected) {
				t.Errorf("redelivery %+v", again)
			}
			if after := z.Sim.Stats().Calls; after[zohosim.EndpointMassConvert] != calls[zohosim.EndpointMassConvert] ||
				after[zohosim.EndpointGetLeads] != calls[zohosim.EndpointGetLeads] {
				t.Errorf("redelivery called Zoho: %v then %v", calls, after)
			}
			got := testkit.FlushEMF(t, m)
			if read && (got["LeadsFoundConverted"] != 1 || got["LeadsRejected"] != 1) || !read && got["LeadsRejected"] != 2 {
				t.Errorf("metrics %v", got)
			}
		})
	}
}

// committedButFailed is a store whose first job write commits and then
// answers an error, as DynamoDB may when the connection drops after it
// applied the transaction.
type committedButFailed struct {
	jobs.Store
	mu    sync.Mutex
	tries int
}

func (s *committedButFailed) RecordJob(ctx context.Context, j jobs.Job, exp time.Time) error {
	s.mu.Lock()
	s.tries++
	first := s.tries == 1
	s.mu.Unlock()
	err := s.Store.RecordJob(ctx, j, exp)
	if first && err == nil {
		return errors.New("dynamodb: connection reset by peer")
	}
	return err
}

// TestAlreadyRecordedIsSuccess: a retry that finds the job it just wrote
// is a recorded job, not JOB_NOT_RECORDED (which tells an operator to
// record by hand a job that is stored).
func TestAlreadyRecordedIsSuccess(t *testing.T) {
	z := zohotest.Start(t, zohosim.Options{}, 1)
	ids := z.Sim.SeedLeadRange(3)
	unrecorded := 0
	store := &committedButFailed{Store: memstore.New()}
	svc, err := convert.New(convert.Config{Zoho: z.Client, Store: store, Now: z.Clock.Now,
		Unrecorded: func(context.Context, jobs.Job) { unrecorded++ }})
	if err != nil {
		t.Fatal(err)
	}
	m := obs.NewMetrics("convert")
	res := svc.Convert(obs.WithMetrics(context.Background(), m), []convert.Submission{{Source: "m1", Request: zohotest.Request(ids...)}})
	if res[0].Verdict != convert.Done || len(res[0].Jobs) != 1 || store.tries != 2 {
		t.Fatalf("result %+v after %d writes", res[0], store.tries)
	}
	if unrecorded != 0 || m.Value("JobsNotRecorded") != 0 {
		t.Fatalf("a stored job reported not recorded: hook %d, metric %v", unrecorded, m.Value("JobsNotRecorded"))
	}
}
