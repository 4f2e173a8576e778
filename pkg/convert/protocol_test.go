package convert_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// hookStore runs a hook before some of its store's operations, to put
// another actor's step exactly where a schedule found by reading put it.
// The schedule explorer (internal/explore) finds these by itself; these
// tests keep each finding's schedule as a plain regression test.
type hookStore struct {
	testkit.JobStore
	mu    sync.Mutex
	hooks map[string]func() error // by operation; run once, before it
}

func (h *hookStore) before(op string) error {
	h.mu.Lock()
	f := h.hooks[op]
	delete(h.hooks, op)
	h.mu.Unlock()
	if f != nil {
		return f()
	}
	return nil
}

func (h *hookStore) on(op string, f func() error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hooks == nil {
		h.hooks = map[string]func() error{}
	}
	h.hooks[op] = f
}

func (h *hookStore) Take(ctx context.Context, acc jobs.Acc, taker string, until time.Time) (jobs.Batch, error) {
	if err := h.before("take"); err != nil {
		return jobs.Batch{}, err
	}
	return h.JobStore.Take(ctx, acc, taker, until)
}

func (h *hookStore) Letter(ctx context.Context, owner jobs.Owner, id, reason string, exp time.Time) error {
	if err := h.before("letter"); err != nil {
		return err
	}
	return h.JobStore.Letter(ctx, owner, id, reason, exp)
}

func (h *hookStore) Reject(ctx context.Context, owner jobs.Owner, id, reason string, exp time.Time) error {
	if err := h.before("reject"); err != nil {
		return err
	}
	return h.JobStore.Reject(ctx, owner, id, reason, exp)
}

func (h *hookStore) RecordJob(ctx context.Context, job jobs.Job, exp time.Time) error {
	op := "record"
	if job.State == jobs.InDoubt {
		op = "record-doubt"
	}
	if err := h.before(op); err != nil {
		return err
	}
	return h.JobStore.RecordJob(ctx, job, exp)
}

// TestWakeRacingAParkSendsTheGeneration (finding 1): a lead parked between
// a wake-up's read of the accumulator and its take makes the take fail;
// the wake-up reads again and sends all the generation's leads, instead of
// answering done and leaving them without a timer.
func TestWakeRacingAParkSendsTheGeneration(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		store := &hookStore{JobStore: st}
		r := newAccRig(t, store)
		ids := r.sim.SeedLeadRange(4)
		r.accumulate(singles(ids[:3], nil))
		key := r.timer.keys()[0]
		store.on("take", func() error {
			res := r.accumulate(singles(ids[3:], nil)) // another invocation parks one more
			if res[0].Verdict != convert.Done {
				t.Errorf("the racing park: %s %s", res[0].Verdict, res[0].Reason)
			}
			return nil
		})
		if v := r.wake(key); v[0] != convert.Done {
			t.Fatalf("wake: %v", v)
		}
		if n := r.calls(); n != 1 {
			t.Fatalf("%d calls; want the generation's 4 leads sent in one", n)
		}
		r.checkOnce(t, 4)
		acc, err := store.Acc(context.Background(), key.Fingerprint)
		if err != nil || acc.Gen != key.Gen+1 || len(acc.LeadIDs) != 0 {
			t.Fatalf("accumulator after the wake-up: %+v %v; want the next generation, empty", acc, err)
		}
	})
}

// TestRefusedBatchLetterConverts (finding 2): the letter of a batch whose
// options Zoho refused is the only copy of its request; sent again once
// the cause is mended, it converts its leads.
func TestRefusedBatchLetterConverts(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, store testkit.JobStore) {
		r := newAccRig(t, store)
		ids := r.sim.SeedLeadRange(3)
		const owner = "3652397000000000404"
		subs := singles(ids, func(req *zoho.ConvertRequest) { req.AssignTo = &zoho.Ref{ID: owner} })
		r.accumulate(subs)
		r.wake(r.timer.keys()...)
		if len(r.refused.ids) != 1 {
			t.Fatalf("%d letters; want the refused batch's one", len(r.refused.ids))
		}
		r.sim.AddUser(owner) // the operator mends the cause, then redrives
		letter := zohotest.Request(r.refused.ids[0]...)
		letter.AssignTo = &zoho.Ref{ID: owner}
		res := r.accumulate([]convert.Submission{{Source: "redriven", Request: letter}})
		r.wake(r.timer.keys()[1:]...)
		if res[0].Verdict != convert.Done {
			t.Fatalf("the redriven letter: %s %s", res[0].Verdict, res[0].Reason)
		}
		claims, err := store.Claims(context.Background(), ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range claims {
			if c.State != jobs.ClaimScheduled {
				t.Errorf("lead %s: %s %q; want scheduled by the redriven letter", c.LeadID, c.State, c.Reason)
			}
		}
		if len(claims) != len(ids) {
			t.Errorf("%d claims of %d leads", len(claims), len(ids))
		}
	})
}

// TestRefusedBatchLeadWhoseLetterFailsIsSentAgain (found by the schedule
// explorer): Zoho refuses a batch's options and the letter of one of its
// leads cannot be written. That lead is still parked in the batch, and the
// redriven letter leaves it there (parked: on its way), so the batch must
// survive the refusal, released, for the next wake-up to send the lead.
func TestRefusedBatchLeadWhoseLetterFailsIsSentAgain(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		store := &hookStore{JobStore: st}
		r := newAccRig(t, store)
		ids := r.sim.SeedLeadRange(3)
		ctx := context.Background()
		const owner = "3652397000000000404"
		r.accumulate(singles(ids, func(req *zoho.ConvertRequest) { req.AssignTo = &zoho.Ref{ID: owner} }))
		key := r.timer.keys()[0]
		store.on("letter", func() error { return errors.New("the table is throttling") })
		if v := r.wake(key); v[0] != convert.Done {
			t.Fatalf("the refusing wake-up: %v; want done, a later wake-up set", v)
		}
		c := claimOf(t, store, ids[0])
		if c.State != jobs.Parked || c.Owner != key.Owner() {
			t.Fatalf("the lead whose letter failed: %+v; want still parked in its batch", c)
		}
		if _, err := store.Batch(ctx, key); err != nil {
			t.Fatalf("the batch of a lead still parked: %v; want it kept", err)
		}
		if w := r.timer.last(); w.key != key || w.try != 1 {
			t.Fatalf("the last wake-up set: %+v; want the batch's next try", w)
		}
		r.sim.AddUser(owner) // the operator mends the cause
		if v := r.wake(key); v[0] != convert.Done {
			t.Fatalf("the next wake-up: %v", v)
		}
		if c := claimOf(t, store, ids[0]); c.State != jobs.ClaimScheduled {
			t.Fatalf("the lead after the next wake-up: %+v; want scheduled", c)
		}
		if _, err := store.Batch(ctx, key); !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("the batch once every lead is settled: %v; want it gone", err)
		}
	})
}

// TestBatchLeadWhoseHoldFailsIsSentAgain (finding 3): in a woken batch Zoho
// refuses one lead that a running job holds and schedules the rest. The
// job is recorded, but the refused lead's hold in doubt fails: the batch
// must survive its job, so that the next wake-up sends that lead.
func TestBatchLeadWhoseHoldFailsIsSentAgain(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		store := &hookStore{JobStore: st}
		r := newAccRig(t, store)
		ids := r.sim.SeedLeadRange(3)
		ctx := context.Background()
		// Another integration's job holds ids[0] in Zoho.
		if _, err := r.client.MassConvert(ctx, zohotest.Request(ids[0])); err != nil {
			t.Fatal(err)
		}
		r.accumulate(singles(ids, nil))
		key := r.timer.keys()[0]
		store.on("record-doubt", func() error { return errors.New("the table is throttling") })
		r.wake(key)
		// The next wake-up takes the released batch over and holds the lead.
		outlivesItsChunk(t, r, store, key, ids[0], jobs.ClaimInDoubt)
	})
}

// TestBatchLeadWhoseRejectionFailsIsSentAgain: in a woken batch Zoho
// refuses a lead it does not have, but the rejection cannot be written:
// the refusal would be nowhere, so the lead stays parked, the batch
// outlives the rest of the chunk however that ends, and the next wake-up
// sends the lead again, which Zoho refuses again and the table then
// records.
func TestBatchLeadWhoseRejectionFailsIsSentAgain(t *testing.T) {
	for _, tc := range []struct {
		name string
		rest []zohosim.Fault // mass_convert's answers, its refusal of the unknown lead first
		want jobs.ClaimState // the rest's claims after the first wake-up
	}{
		{"the rest scheduled", nil, jobs.ClaimScheduled},
		// The schedule explorer found the call in doubt ending the batch
		// the refused lead was still parked in, once it modelled leads
		// Zoho does not have.
		{"the rest's answer lost", []zohosim.Fault{{}, {Kind: zohosim.DropAfterAccept}}, jobs.ClaimInDoubt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
				store := &hookStore{JobStore: st}
				r := newAccRig(t, store)
				ids := append(r.sim.SeedLeadRange(2), "3652397000008000001") // Zoho has no such lead
				r.accumulate(singles(ids, nil))
				key := r.timer.keys()[0]
				store.on("reject", func() error { return errors.New("the table is throttling") })
				r.sim.Script(zohosim.EndpointMassConvert, tc.rest...)
				r.wake(key) // it sets itself a later wake-up: the batch is not done
				for _, id := range ids[:2] {
					if c := claimOf(t, store, id); c.State != tc.want {
						t.Fatalf("lead %s of the rest: %+v; want %s", id, c, tc.want)
					}
				}
				outlivesItsChunk(t, r, store, key, ids[2], jobs.Rejected)
			})
		})
	}
}

// outlivesItsChunk checks that lead id is still parked in batch key, which
// is kept for it, and that the next wake-up settles the lead as want and
// then ends the batch.
func outlivesItsChunk(t *testing.T, r *accRig, store testkit.JobStore, key jobs.BatchKey, id string, want jobs.ClaimState) {
	t.Helper()
	ctx := context.Background()
	if c := claimOf(t, store, id); c.State != jobs.Parked || c.Owner != key.Owner() {
		t.Fatalf("the refused lead: %+v; want still parked in its batch", c)
	}
	if _, err := store.Batch(ctx, key); err != nil {
		t.Fatalf("the batch of a lead still parked: %v; want it kept", err)
	}
	if v := r.wake(key); v[0] != convert.Done {
		t.Fatalf("the next wake-up: %v", v)
	}
	if c := claimOf(t, store, id); c.State != want {
		t.Fatalf("the refused lead after the next wake-up: %+v; want %s", c, want)
	}
	if _, err := store.Batch(ctx, key); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("the batch once every lead is settled: %v; want it gone", err)
	}
}

func claimOf(t *testing.T, store jobs.Store, id string) jobs.Claim {
	t.Helper()
	cs, err := store.Claims(context.Background(), []string{id})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim of %s: %v %v", id, cs, err)
	}
	return cs[0]
}

// TestInDoubtLoopEnds (finding 4): a lead whose every call gets an
// ambiguous answer is held in doubt, read back not converted and sent
// again; every DoubtsPerAttempt such calls count as an attempt, so the
// loop ends rejected after MaxAttempts, with a reason that says why.
func TestInDoubtLoopEnds(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, store testkit.JobStore) {
		ctx := context.Background()
		const lead, maxAttempts = "3652397000000777001", 2
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		p := jobs.SettlePolicy{MaxAttempts: maxAttempts, RetryUntil: t0.Add(time.Hour), RejectUntil: t0.Add(time.Hour)}
		for round := 1; ; round++ {
			doubt := jobs.Job{ID: jobs.DoubtPrefix + strings.Repeat("0", 15) + string(rune('0'+round%10)), State: jobs.InDoubt,
				LeadIDs: []string{lead}, CreatedAt: t0.Add(time.Duration(round) * time.Minute), NoAttempt: true}
			if err := store.RecordJob(ctx, doubt, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			retry, err := store.SettleLeads(ctx, doubt, []jobs.LeadResult{{LeadID: lead, Conversion: jobs.NotConverted}}, p)
			if err != nil {
				t.Fatal(err)
			}
			if len(retry) == 0 {
				if want := maxAttempts * jobs.DoubtsPerAttempt; round != want {
					t.Fatalf("rejected after %d calls in doubt; want %d", round, want)
				}
				break
			}
			if round > 20 {
				t.Fatal("the in-doubt loop does not end")
			}
		}
		c := claimOf(t, store, lead)
		if c.State != jobs.Rejected || !strings.Contains(c.Reason, "answers were lost") {
			t.Fatalf("the lead at the end: %+v", c)
		}
	})
}

// TestRedriveRacingTheRefusalConverts: the letter of a refused batch is
// redriven at once, before the sender that wrote it has finished: its
// leads are lettered before the letter exists, so the redriven request
// claims them and converts them (the explorer found the other order
// consuming the letter while the leads were still parked).
func TestRedriveRacingTheRefusalConverts(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, store testkit.JobStore) {
		r := newAccRig(t, store)
		ids := r.sim.SeedLeadRange(2)
		const owner = "3652397000000000404"
		r.accumulate(singles(ids, func(req *zoho.ConvertRequest) { req.AssignTo = &zoho.Ref{ID: owner} }))
		var redriven []convert.Result
		r.refused.sent = func(req *zoho.ConvertRequest) error {
			r.refused.sent = nil
			r.sim.AddUser(owner) // mended as fast as can be
			redriven = r.accumulate([]convert.Submission{{Source: "redriven", Request: req}})
			return nil
		}
		r.wake(r.timer.keys()[0])
		if len(redriven) != 1 || redriven[0].Verdict != convert.Done {
			t.Fatalf("the redriven letter: %+v", redriven)
		}
		r.wake(r.timer.keys()[1:]...)
		for _, id := range ids {
			if c := claimOf(t, store, id); c.State != jobs.ClaimScheduled {
				t.Errorf("lead %s: %s %q; want scheduled by the redriven letter", id, c.State, c.Reason)
			}
		}
	})
}

// TestLetterNotSentIsSentByTheNextWakeup: when the dead-letter queue
// refuses a refused batch's letter, its leads are lettered but nobody has
// their options: the batch is kept, and the wake-up that takes it over
// sends the letter.
func TestLetterNotSentIsSentByTheNextWakeup(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, store testkit.JobStore) {
		r := newAccRig(t, store)
		ids := r.sim.SeedLeadRange(2)
		r.accumulate(singles(ids, func(req *zoho.ConvertRequest) { req.AssignTo = &zoho.Ref{ID: "3652397000000000404"} }))
		key := r.timer.keys()[0]
		r.refused.sent = func(*zoho.ConvertRequest) error {
			r.refused.sent = nil
			return errors.New("the dead-letter queue is throttling")
		}
		if v := r.wake(key); v[0] != convert.Done { // a later wake-up is set
			t.Fatalf("wake: %v", v)
		}
		if len(r.refused.ids) != 0 {
			t.Fatalf("letters %v; want none sent yet", r.refused.ids)
		}
		if _, err := store.Batch(context.Background(), key); err != nil {
			t.Fatalf("the batch of leads without a letter: %v; want it kept", err)
		}
		r.wake(key)
		if len(r.refused.ids) != 1 || !slices.Equal(sortedCopy(r.refused.ids[0]), sortedCopy(ids)) {
			t.Fatalf("letters %v; want one for %v", r.refused.ids, ids)
		}
		if _, err := store.Batch(context.Background(), key); !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("the batch once its letter is sent: %v; want it gone", err)
		}
	})
}

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }
