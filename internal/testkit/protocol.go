package testkit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// The contract suite generated from the lead protocol's tables: every
// (state, operation) pair of jobs.LeadProtocol and jobs.BatchProtocol runs
// on a store, which must give the table's next state, its refusal and its
// counts. Each pair brings its state about with the store's own operations
// (never by writing items), on a lead, fingerprint and job of its own, so
// one store serves every pair.

// protoT0 is the instant every pair's operation runs at.
var protoT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// pairSeq numbers the pairs of a test binary, so that pairs never share a
// lead, a fingerprint or a job, even across subtests on one table.
var pairSeq atomic.Int64

// pair is one (state, operation) case: the actor's run, batch and job, and
// another actor's. A run claims as its owner and takes batches by its id.
type pair struct {
	lead       string
	me         jobs.Actor
	run        string
	otherOwner jobs.Owner
	otherRun   string
	otherBatch jobs.BatchKey
	otherJob   string
	now        time.Time
	acc        jobs.Acc // the accumulator as read while the pair's generation was open
}

func newPair() pair {
	n := pairSeq.Add(1)
	run, otherRun := fmt.Sprintf("run-a-%d", n), fmt.Sprintf("run-b-%d", n)
	return pair{
		lead:       fmt.Sprintf("36523970%011d", n),
		me:         jobs.Actor{Owner: jobs.RunOwner(run), Batch: jobs.BatchKey{Fingerprint: fmt.Sprintf("fp-a-%d", n)}, Job: fmt.Sprintf("36523971%011d", n)},
		run:        run,
		otherOwner: jobs.RunOwner(otherRun),
		otherRun:   otherRun,
		otherBatch: jobs.BatchKey{Fingerprint: fmt.Sprintf("fp-b-%d", n)},
		otherJob:   fmt.Sprintf("36523972%011d", n),
		now:        protoT0,
	}
}

// LeadProtocolSuite runs every pair of jobs.LeadProtocol on the stores
// newStore makes (one per pair or one for all: pairs do not share keys).
func LeadProtocolSuite(t *testing.T, newStore func() JobStore) {
	t.Helper()
	for _, from := range jobs.LeadStates {
		for _, op := range jobs.LeadOps {
			want := jobs.Step(from, op)
			t.Run(string(from)+"/"+string(op), func(t *testing.T) {
				st, p := newStore(), newPair()
				ctx := context.Background()
				p.reach(ctx, t, st, from)
				before, existed := p.claim(ctx, t, st)
				if got := jobs.Classify(before, existed, p.me, p.now); got != from {
					t.Fatalf("set-up reached %s (%+v), not %s", got, before, from)
				}
				held := p.do(ctx, t, st, op)
				after, exists := p.claim(ctx, t, st)
				if got := jobs.Classify(after, exists, p.me, p.now); got != want.To || held != want.Held {
					t.Fatalf("%s on a %s lead: %s (held %v), want %s (held %v); claim %+v", op, from, got, held, want.To, want.Held, after)
				}
				if want.To == jobs.LeadFree || want.To == jobs.LeadExpired {
					return
				}
				wa, wd := before.Attempts, before.Doubts
				switch want.Count {
				case jobs.CountReset:
					wa, wd = 0, 0
				case jobs.CountAttempt:
					wa++
				case jobs.CountDoubt:
					wd++
				}
				if after.Attempts != wa || after.Doubts != wd {
					t.Fatalf("%s on a %s lead: %d attempts, %d doubts; want %d, %d (%s)", op, from, after.Attempts, after.Doubts, wa, wd, want.Count)
				}
			})
		}
	}
}

func (p *pair) claim(ctx context.Context, t *testing.T, st JobStore) (jobs.Claim, bool) {
	t.Helper()
	cs, err := st.Claims(ctx, []string{p.lead})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		return jobs.Claim{}, false
	}
	return cs[0], true
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// park parks the pair's lead in batch k, by a run of its own.
func (p *pair) park(ctx context.Context, t *testing.T, st JobStore, owner jobs.Owner, k jobs.BatchKey, now time.Time) []jobs.Claim {
	t.Helper()
	acc, err := st.Acc(ctx, k.Fingerprint)
	must(t, err)
	acc.Options, acc.APIVersion = "{}", "v7"
	_, held, err := st.Park(ctx, owner, acc, []string{p.lead}, []string{"src-" + string(owner)}, now, now.Add(time.Hour))
	must(t, err)
	return held
}

func (p *pair) record(ctx context.Context, t *testing.T, st JobStore, id string, state jobs.State, noAttempt bool) {
	t.Helper()
	j := jobs.Job{ID: id, State: state, LeadIDs: []string{p.lead}, CreatedAt: protoT0, UpdatedAt: protoT0,
		NextCheckAt: protoT0.Add(time.Minute), NoAttempt: noAttempt}
	must(t, st.RecordJob(ctx, j, protoT0.Add(48*time.Hour)))
}

func (p *pair) settle(ctx context.Context, t *testing.T, st JobStore, id string, o jobs.Conversion) {
	t.Helper()
	pol := jobs.SettlePolicy{MaxAttempts: 10, RetryUntil: p.now.Add(time.Hour), RejectUntil: p.now.Add(2 * time.Hour)}
	_, err := st.SettleLeads(ctx, jobs.Job{ID: id, LeadIDs: []string{p.lead}}, []jobs.LeadResult{{LeadID: p.lead, Conversion: o}}, pol)
	must(t, err)
}

// history gives the lead a past: a call in doubt and a job, neither of
// which converted it, so that it has one attempt and one doubt, and a step
// that keeps, resets or adds to them shows which.
func (p *pair) history(ctx context.Context, t *testing.T, st JobStore) {
	t.Helper()
	for i, doubt := range []bool{true, false} {
		id := fmt.Sprintf("365239730%s%d", p.otherJob[len(p.otherJob)-9:], i) // not the pair's jobs
		p.record(ctx, t, st, id, jobs.InDoubt, doubt)
		p.settle(ctx, t, st, id, jobs.NotConverted)
	}
	if c, _ := p.claim(ctx, t, st); c.Attempts != 1 || c.Doubts != 1 || c.State != jobs.Retry {
		t.Fatalf("the lead's history: %+v; want retry with 1 attempt and 1 doubt", c)
	}
}

// reach brings the pair's lead into state s at p.now.
func (p *pair) reach(ctx context.Context, t *testing.T, st JobStore, s jobs.LeadState) {
	t.Helper()
	now := p.now
	claim := func(owner jobs.Owner, at, until time.Time) {
		_, held, err := st.Claim(ctx, owner, []string{p.lead}, at, until)
		must(t, err)
		if len(held) > 0 {
			t.Fatalf("set-up: the claim is held: %+v", held)
		}
	}
	if s != jobs.LeadFree {
		p.history(ctx, t, st)
	}
	switch s {
	case jobs.LeadFree:
	case jobs.LeadExpired:
		// A verdict that expires at now exactly: only its expiry frees it
		// (a pending claim's lapse would free it earlier, so a pending
		// claim past its expiry cannot tell the expiry's rule apart).
		claim(p.otherOwner, now, now.Add(time.Minute))
		must(t, st.Reject(ctx, p.otherOwner, p.lead, "refused", now))
	case jobs.LeadPendingMine:
		claim(p.me.Owner, now, now.Add(time.Minute))
	case jobs.LeadPendingOther:
		claim(p.otherOwner, now, now.Add(time.Minute))
	case jobs.LeadLapsed:
		claim(p.otherOwner, now.Add(-time.Minute), now) // lapses at now exactly
	case jobs.LeadParkedHere:
		p.park(ctx, t, st, p.otherOwner, p.me.Batch, now)
	case jobs.LeadParkedElsewhere:
		p.park(ctx, t, st, p.otherOwner, p.otherBatch, now)
	case jobs.LeadScheduled:
		p.record(ctx, t, st, p.me.Job, jobs.Scheduled, false)
	case jobs.LeadScheduledElsewhere:
		p.record(ctx, t, st, p.otherJob, jobs.Scheduled, false)
	case jobs.LeadInDoubt:
		p.record(ctx, t, st, p.me.Job, jobs.InDoubt, false)
	case jobs.LeadInDoubtElsewhere:
		p.record(ctx, t, st, p.otherJob, jobs.InDoubt, false)
	case jobs.LeadRetry:
		p.record(ctx, t, st, p.otherJob, jobs.Scheduled, false)
		p.settle(ctx, t, st, p.otherJob, jobs.NotConverted)
	case jobs.LeadRejected:
		claim(p.otherOwner, now, now.Add(time.Minute))
		must(t, st.Reject(ctx, p.otherOwner, p.lead, "refused", now.Add(time.Hour)))
	case jobs.LeadLettered:
		p.park(ctx, t, st, p.otherOwner, p.otherBatch, now)
		must(t, st.Letter(ctx, p.otherBatch.Owner(), p.lead, "INVALID_DATA: refused", now.Add(time.Hour)))
	default:
		t.Fatalf("no set-up for %s", s)
	}
}

// do performs op as the pair's actor and reports whether the store said
// the lead is held by another.
func (p *pair) do(ctx context.Context, t *testing.T, st JobStore, op jobs.LeadOp) (held bool) {
	t.Helper()
	now, until := p.now, p.now.Add(time.Minute)
	switch op {
	case jobs.OpClaim:
		claimed, h, err := st.Claim(ctx, p.me.Owner, []string{p.lead}, now, until)
		must(t, err)
		if len(claimed)+len(h) != 1 {
			t.Fatalf("claim answered %v claimed and %v held for one lead", claimed, h)
		}
		return len(h) > 0
	case jobs.OpPark:
		return len(p.park(ctx, t, st, p.me.Owner, p.me.Batch, now)) > 0
	case jobs.OpRelease:
		must(t, st.Release(ctx, p.me.Owner, []string{p.lead}))
	case jobs.OpReleaseParked:
		must(t, st.Release(ctx, p.me.Batch.Owner(), []string{p.lead}))
	case jobs.OpReject:
		must(t, st.Reject(ctx, p.me.Owner, p.lead, "refused", now.Add(time.Hour)))
	case jobs.OpRejectParked:
		must(t, st.Reject(ctx, p.me.Batch.Owner(), p.lead, "refused", now.Add(time.Hour)))
	case jobs.OpLetter:
		must(t, st.Letter(ctx, p.me.Batch.Owner(), p.lead, "INVALID_DATA: refused", now.Add(time.Hour)))
	case jobs.OpRecord:
		p.record(ctx, t, st, p.me.Job, jobs.Scheduled, false)
	case jobs.OpRecordDoubt:
		p.record(ctx, t, st, p.me.Job, jobs.InDoubt, false)
	case jobs.OpHoldDoubt:
		p.record(ctx, t, st, p.me.Job, jobs.InDoubt, true)
	case jobs.OpSettleRetry:
		p.settle(ctx, t, st, p.me.Job, jobs.NotConverted)
	case jobs.OpSettleReject:
		p.settle(ctx, t, st, p.me.Job, jobs.NotFound)
	case jobs.OpSettleDone:
		p.settle(ctx, t, st, p.me.Job, jobs.Converted)
	default:
		t.Fatalf("no operation %s", op)
	}
	return false
}

// BatchProtocolSuite runs every pair of jobs.BatchProtocol.
func BatchProtocolSuite(t *testing.T, newStore func() JobStore) {
	t.Helper()
	for _, from := range jobs.BatchStates {
		for _, op := range jobs.BatchOps {
			want := jobs.BatchProtocol[from][op]
			t.Run(string(from)+"/"+string(op), func(t *testing.T) {
				st, p := newStore(), newPair()
				ctx := context.Background()
				key := p.me.Batch
				p.reachBatch(ctx, t, st, from)
				if got := p.batchState(ctx, t, st, key); got != from {
					t.Fatalf("set-up reached %s, not %s", got, from)
				}
				res := p.doBatch(ctx, t, st, op)
				if got := p.batchState(ctx, t, st, key); got != want.To || res != want.Result {
					t.Fatalf("%s on a %s batch: %s (%s), want %s (%s)", op, from, got, res, want.To, want.Result)
				}
			})
		}
	}
}

func (p *pair) batchState(ctx context.Context, t *testing.T, st JobStore, key jobs.BatchKey) jobs.BatchState {
	t.Helper()
	acc, err := st.Acc(ctx, key.Fingerprint)
	must(t, err)
	b, err := st.Batch(ctx, key)
	if err != nil && !errors.Is(err, jobs.ErrNotFound) {
		t.Fatal(err)
	}
	return jobs.ClassifyBatch(key, acc, b, err == nil, p.run, p.now)
}

func (p *pair) reachBatch(ctx context.Context, t *testing.T, st JobStore, s jobs.BatchState) {
	t.Helper()
	key := p.me.Batch
	if s == jobs.BatchEmpty {
		acc, err := st.Acc(ctx, key.Fingerprint)
		must(t, err)
		p.acc = acc
		return
	}
	p.park(ctx, t, st, p.otherOwner, key, p.now)
	acc, err := st.Acc(ctx, key.Fingerprint)
	must(t, err)
	p.acc = acc
	take := func(taker string, until time.Time) {
		_, err := st.Take(ctx, acc, taker, until)
		must(t, err)
	}
	switch s {
	case jobs.BatchOpen:
	case jobs.BatchMine:
		take(p.run, p.now.Add(time.Minute))
	case jobs.BatchOther:
		take(p.otherRun, p.now.Add(time.Minute))
	case jobs.BatchLapsed:
		take(p.otherRun, p.now) // lapses at now exactly
	case jobs.BatchGone:
		take(p.otherRun, p.now.Add(time.Minute))
		must(t, st.DropBatch(ctx, key))
	default:
		t.Fatalf("no set-up for %s", s)
	}
}

func result(err error) jobs.BatchResult {
	switch {
	case errors.Is(err, jobs.ErrChanged):
		return jobs.BatchChanged
	case errors.Is(err, jobs.ErrNotFound):
		return jobs.BatchNotFound
	case err != nil:
		return jobs.BatchResult("error: " + err.Error())
	}
	return jobs.BatchOK
}

func (p *pair) doBatch(ctx context.Context, t *testing.T, st JobStore, op jobs.BatchOp) jobs.BatchResult {
	t.Helper()
	key := p.me.Batch
	switch op {
	case jobs.OpTake:
		_, err := st.Take(ctx, p.acc, p.run, p.now.Add(time.Minute))
		return result(err)
	case jobs.OpLease:
		return result(st.Lease(ctx, key, p.run, p.now, p.now.Add(time.Minute)))
	case jobs.OpLeaseRelease:
		return result(st.Lease(ctx, key, p.run, p.now, p.now))
	case jobs.OpRecordBatch:
		j := jobs.Job{ID: p.me.Job, State: jobs.Scheduled, LeadIDs: []string{p.lead}, Batch: key,
			CreatedAt: protoT0, UpdatedAt: protoT0, NextCheckAt: protoT0.Add(time.Minute)}
		return result(st.RecordJob(ctx, j, protoT0.Add(48*time.Hour)))
	case jobs.OpDropBatch:
		return result(st.DropBatch(ctx, key))
	}
	t.Fatalf("no operation %s", op)
	return ""
}

// ParkInputSuite: both stores refuse to park leads without one source each.
func ParkInputSuite(t *testing.T, st JobStore) {
	t.Helper()
	p := newPair()
	acc, err := st.Acc(context.Background(), p.me.Batch.Fingerprint)
	must(t, err)
	if _, _, err := st.Park(context.Background(), p.me.Owner, acc, []string{p.lead, p.lead + "1"}, []string{"one source"}, p.now, p.now.Add(time.Hour)); err == nil {
		t.Fatal("two leads parked with one source")
	}
}

// ParkedListingSuite: jobs.ParkedStore lists an accumulator from its first
// lead (with the time that lead was accepted), its batch once taken, and
// neither once the batch's job is recorded.
func ParkedListingSuite(t *testing.T, st JobStore) {
	t.Helper()
	ctx, p := context.Background(), newPair()
	key := p.me.Batch
	find := func() (acc, batch *jobs.ParkedBatch) {
		t.Helper()
		all, err := st.Parked(ctx)
		must(t, err)
		for i, b := range all {
			if b.Fingerprint == key.Fingerprint && !b.Taken {
				acc = &all[i]
			}
			if b.Fingerprint == key.Fingerprint && b.Taken && b.Gen == key.Gen {
				batch = &all[i]
			}
		}
		return acc, batch
	}
	accepted := p.now.Add(-20 * time.Second)
	acc, err := st.Acc(ctx, key.Fingerprint)
	must(t, err)
	acc.Options, acc.OpenedAt = "{}", accepted
	_, _, err = st.Park(ctx, p.me.Owner, acc, []string{p.lead}, []string{"src"}, p.now, p.now.Add(time.Hour))
	must(t, err)
	if a, b := find(); a == nil || b != nil || !a.OpenedAt.Equal(accepted.Truncate(time.Second)) {
		t.Fatalf("after the first park: accumulator %+v, batch %+v; want the accumulator, opened %s", a, b, accepted)
	}
	acc, err = st.Acc(ctx, key.Fingerprint)
	must(t, err)
	_, err = st.Take(ctx, acc, p.run, p.now.Add(time.Minute))
	must(t, err)
	if a, b := find(); a != nil || b == nil || !b.OpenedAt.Equal(accepted.Truncate(time.Second)) {
		t.Fatalf("after the take: accumulator %+v, batch %+v; want the batch alone", a, b)
	}
	j := jobs.Job{ID: p.me.Job, State: jobs.Scheduled, LeadIDs: []string{p.lead}, Batch: key,
		CreatedAt: protoT0, UpdatedAt: protoT0, NextCheckAt: protoT0.Add(time.Minute)}
	must(t, st.RecordJob(ctx, j, protoT0.Add(48*time.Hour)))
	if a, b := find(); a != nil || b != nil {
		t.Fatalf("after the job: accumulator %+v, batch %+v; want neither", a, b)
	}
}
