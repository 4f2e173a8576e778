package jobs

import (
	"fmt"
	"time"
)

// The lead protocol as data. Every store implements these tables: the
// memory store looks each step up here, and the DynamoDB adapter writes
// them as condition expressions, which the contract suite generated from
// the tables holds to the same answers (internal/testkit.ProtocolSuite).
// docs/architecture.md draws them.

// LeadState is where a lead's claim stands, as seen by the actor about to
// act on it: the states that hold the lead for someone are told apart by
// whether that someone is the actor (its run, its batch, its job).
type LeadState string

// Lead states. The claimable ones (Free, Expired, Lapsed, Retry, Lettered)
// hold the lead for nobody.
const (
	LeadFree               LeadState = "free"                // no claim
	LeadExpired            LeadState = "expired"             // a claim past its expiry, held by nobody
	LeadPendingMine        LeadState = "pending-mine"        // claimed by the actor's run
	LeadPendingOther       LeadState = "pending-other"       // claimed by another run, live
	LeadLapsed             LeadState = "lapsed"              // claimed by another run that ran out of time
	LeadParkedHere         LeadState = "parked-here"         // waiting in the actor's batch
	LeadParkedElsewhere    LeadState = "parked-elsewhere"    // waiting in another batch
	LeadScheduled          LeadState = "scheduled"           // in the actor's job
	LeadScheduledElsewhere LeadState = "scheduled-elsewhere" // in another job
	LeadInDoubt            LeadState = "in-doubt"            // in the actor's call in doubt
	LeadInDoubtElsewhere   LeadState = "in-doubt-elsewhere"  // in another call in doubt
	LeadRetry              LeadState = "retry"               // its job did not convert it: to be sent again
	LeadRejected           LeadState = "rejected"            // Zoho's verdict, remembered for a while
	LeadLettered           LeadState = "lettered"            // its request was dead-lettered: its letter may send it again
)

// LeadStates lists every lead state.
var LeadStates = []LeadState{LeadFree, LeadExpired, LeadPendingMine, LeadPendingOther, LeadLapsed,
	LeadParkedHere, LeadParkedElsewhere, LeadScheduled, LeadScheduledElsewhere, LeadInDoubt,
	LeadInDoubtElsewhere, LeadRetry, LeadRejected, LeadLettered}

// LeadOp is one store operation on a lead's claim, by an actor.
type LeadOp string

// Lead operations, with the Store method that performs each.
const (
	OpClaim         LeadOp = "claim"          // Claim, by the actor's run
	OpPark          LeadOp = "park"           // Park into the actor's batch
	OpRelease       LeadOp = "release"        // Release, by the actor's run
	OpReleaseParked LeadOp = "release-parked" // Release, by the actor's batch
	OpReject        LeadOp = "reject"         // Reject, by the actor's run
	OpRejectParked  LeadOp = "reject-parked"  // Reject, by the actor's batch
	OpLetter        LeadOp = "letter"         // Letter, by the actor's batch: Zoho refused its options
	OpRecord        LeadOp = "record"         // RecordJob: Zoho scheduled the actor's job
	OpRecordDoubt   LeadOp = "record-doubt"   // RecordJob of a call in doubt that carried the lead
	OpHoldDoubt     LeadOp = "hold-doubt"     // RecordJob of a call in doubt that did not (NoAttempt)
	OpSettleRetry   LeadOp = "settle-retry"   // SettleLeads: not converted, attempts left
	OpSettleReject  LeadOp = "settle-reject"  // SettleLeads: not found, or no attempts left
	OpSettleDone    LeadOp = "settle-done"    // SettleLeads: converted
)

// LeadOps lists every lead operation.
var LeadOps = []LeadOp{OpClaim, OpPark, OpRelease, OpReleaseParked, OpReject, OpRejectParked, OpLetter,
	OpRecord, OpRecordDoubt, OpHoldDoubt, OpSettleRetry, OpSettleReject, OpSettleDone}

// Count is what a step does to a lead's count of attempts and of calls in
// doubt.
type Count string

// Counts.
const (
	CountKeep    Count = "keep"     // both as they were
	CountReset   Count = "reset"    // both to zero: a verdict starts the count again
	CountAttempt Count = "+attempt" // one more call carried the lead
	CountDoubt   Count = "+doubt"   // one more call in doubt that may not have carried it
)

// LeadStep is one row of the lead protocol: op on a lead in state From.
type LeadStep struct {
	From LeadState
	Op   LeadOp
	// To is the state after the step. Held says the op did not take the
	// lead, because another holds it: the store returns its claim to the
	// caller. A step that leaves From unchanged without Held is a no-op.
	To    LeadState
	Held  bool
	Count Count
}

// claimable are the states that hold the lead for nobody.
var claimable = []LeadState{LeadFree, LeadExpired, LeadLapsed, LeadRetry, LeadLettered}

// LeadProtocol is every (state, op) pair. Built once from the rules below,
// so each rule is stated once; tests and docs read the table.
var LeadProtocol = buildLeadProtocol()

func buildLeadProtocol() map[LeadState]map[LeadOp]LeadStep {
	t := make(map[LeadState]map[LeadOp]LeadStep, len(LeadStates))
	for _, s := range LeadStates {
		t[s] = make(map[LeadOp]LeadStep, len(LeadOps))
		for _, op := range LeadOps {
			t[s][op] = LeadStep{From: s, Op: op, To: s, Count: CountKeep} // no-op unless a rule says
		}
	}
	set := func(op LeadOp, to LeadState, c Count, from ...LeadState) {
		for _, s := range from {
			t[s][op] = LeadStep{From: s, Op: op, To: to, Count: c}
		}
	}
	held := func(op LeadOp, except ...LeadState) {
		for _, s := range LeadStates {
			if !contains(except, s) {
				t[s][op] = LeadStep{From: s, Op: op, To: s, Held: true, Count: CountKeep}
			}
		}
	}
	// A run claims and parks only leads nobody holds; its own claim
	// counts as taken (a retried call), and parking a lead already in the
	// batch counts as parked.
	held(OpClaim, append(claimable, LeadPendingMine)...)
	set(OpClaim, LeadPendingMine, CountKeep, append(claimable, LeadPendingMine)...)
	held(OpPark, append(claimable, LeadPendingMine, LeadParkedHere)...)
	set(OpPark, LeadParkedHere, CountKeep, append(claimable, LeadPendingMine, LeadParkedHere)...)
	// Only the holder releases, rejects or letters.
	set(OpRelease, LeadFree, CountKeep, LeadPendingMine)
	set(OpReleaseParked, LeadFree, CountKeep, LeadParkedHere)
	set(OpReject, LeadRejected, CountReset, LeadPendingMine)
	set(OpRejectParked, LeadRejected, CountReset, LeadParkedHere)
	set(OpLetter, LeadLettered, CountReset, LeadParkedHere)
	// Zoho has the leads of a recorded job or call in doubt, whatever
	// became of their claims meanwhile: recording is unconditional.
	// Recording the actor's own job again is a write whose answer was
	// lost: it changes nothing.
	others := without(LeadStates, LeadScheduled, LeadInDoubt)
	set(OpRecord, LeadScheduled, CountAttempt, others...)
	set(OpRecordDoubt, LeadInDoubt, CountAttempt, others...)
	set(OpHoldDoubt, LeadInDoubt, CountDoubt, others...)
	// Settling moves only a claim still in the job settled: a lead sent
	// again since belongs to its new job. A converted lead keeps its claim.
	set(OpSettleRetry, LeadRetry, CountKeep, LeadScheduled, LeadInDoubt)
	set(OpSettleReject, LeadRejected, CountReset, LeadScheduled, LeadInDoubt)
	return t
}

func without[T comparable](s []T, drop ...T) []T {
	var out []T
	for _, v := range s {
		if !contains(drop, v) {
			out = append(out, v)
		}
	}
	return out
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Actor is who acts on a claim: a run (Owner), the batch it sends (Batch),
// the job or call in doubt it records or settles (Job). Any may be empty.
type Actor struct {
	Owner Owner // a RunOwner
	Batch BatchKey
	Job   string
}

// Classify tells the state of claim c (exists: there is one) for actor at
// now. States held for the actor come first: its own claim stays its own
// past the claim's expiry, and settling looks only at the job.
func Classify(c Claim, exists bool, actor Actor, now time.Time) LeadState {
	if !exists {
		return LeadFree
	}
	switch {
	case c.State == Pending && actor.Owner != "" && c.Owner == actor.Owner:
		return LeadPendingMine
	case c.State == Parked && actor.Batch != (BatchKey{}) && c.Owner == actor.Batch.Owner():
		return LeadParkedHere
	case c.State == ClaimScheduled && actor.Job != "" && c.JobID == actor.Job:
		return LeadScheduled
	case c.State == ClaimInDoubt && actor.Job != "" && c.JobID == actor.Job:
		return LeadInDoubt
	case Lapsed(c.ExpiresAt, now):
		return LeadExpired
	}
	switch c.State {
	case Pending:
		if Lapsed(c.Until, now) {
			return LeadLapsed
		}
		return LeadPendingOther
	case Parked:
		return LeadParkedElsewhere
	case ClaimScheduled:
		return LeadScheduledElsewhere
	case ClaimInDoubt:
		return LeadInDoubtElsewhere
	case Retry:
		return LeadRetry
	case Rejected:
		return LeadRejected
	case Lettered:
		return LeadLettered
	}
	// A state this version does not know (a newer one wrote it): it holds
	// the lead, as every unknown state should, until it expires.
	return LeadPendingOther
}

// Lapsed is the one rule for when a lease, a claim or an expiry runs out:
// something that holds until until has lapsed at now when now is not before
// until. The zero until never lapses. Stores keep until to the millisecond
// (claims, leases) or the second (expiries) and compare `until <= now`.
func Lapsed(until, now time.Time) bool { return !until.IsZero() && !now.Before(until) }

// Step looks up op on a lead in state from; it panics on a pair outside
// the table, which would be a programming error.
func Step(from LeadState, op LeadOp) LeadStep {
	s, ok := LeadProtocol[from][op]
	if !ok {
		panic(fmt.Sprintf("jobs: no step for %s on a %s lead", op, from))
	}
	return s
}

// ClaimState is where a lead stands in the store. Claim states. A pending
// claim belongs to one invocation until it lapses; a parked one waits in a
// batch; a scheduled claim points at the job that converts the lead; a
// rejected claim remembers Zoho's verdict for a while so redeliveries do
// not ask again. An in-doubt claim points at a call in doubt and holds the
// lead until the read-back decides. A retry claim holds nothing: Zoho did
// not convert the lead in its job (JobID), which is being sent again. A
// lettered claim holds nothing either: Zoho refused the options of the
// call that carried it, and the request went to the dead-letter queue,
// whose redrive sends it again.
type ClaimState string

// Claim states as stored.
const (
	Pending        ClaimState = "PENDING"
	Parked         ClaimState = "PARKED"
	ClaimScheduled ClaimState = "SCHEDULED"
	Rejected       ClaimState = "REJECTED"
	ClaimInDoubt   ClaimState = "IN_DOUBT"
	Retry          ClaimState = "RETRY"
	Lettered       ClaimState = "DEAD_LETTERED"
)

// DoubtsPerAttempt is how many calls in doubt that may not have carried a
// lead (a lost answer, a chunk Zoho kept refusing for other leads) count as
// one of its attempts: a payload that always gets an ambiguous answer
// still ends after MaxAttempts.
const DoubtsPerAttempt = 3

// BatchState is where one generation of an option set's accumulator
// stands, as seen by the actor about to act on it.
type BatchState string

// Batch states.
const (
	BatchEmpty  BatchState = "empty"        // the accumulator is at this generation and holds no lead
	BatchOpen   BatchState = "open"         // the accumulator is at this generation and holds leads
	BatchMine   BatchState = "taken-mine"   // taken; the actor holds its lease
	BatchOther  BatchState = "taken-other"  // taken; another holds a live lease
	BatchLapsed BatchState = "taken-lapsed" // taken; its lease lapsed
	BatchGone   BatchState = "gone"         // its job is recorded, or it was dropped
)

// BatchStates lists every batch state.
var BatchStates = []BatchState{BatchEmpty, BatchOpen, BatchMine, BatchOther, BatchLapsed, BatchGone}

// BatchOp is one store operation on a generation.
type BatchOp string

// Batch operations.
const (
	OpTake         BatchOp = "take"          // Take of the accumulator as read while the generation was open
	OpLease        BatchOp = "lease"         // Lease by the actor
	OpLeaseRelease BatchOp = "lease-release" // Lease by the actor until now: let the next wake-up take it
	OpRecordBatch  BatchOp = "record-batch"  // RecordJob of a job sent from the batch
	OpDropBatch    BatchOp = "drop"          // DropBatch
)

// BatchOps lists every batch operation.
var BatchOps = []BatchOp{OpTake, OpLease, OpLeaseRelease, OpRecordBatch, OpDropBatch}

// BatchResult is what a batch operation answers.
type BatchResult string

// Batch results.
const (
	BatchOK       BatchResult = "ok"
	BatchChanged  BatchResult = "changed"   // ErrChanged: read again
	BatchNotFound BatchResult = "not-found" // ErrNotFound
)

// BatchStep is one row of the batch protocol.
type BatchStep struct {
	From   BatchState
	Op     BatchOp
	To     BatchState
	Result BatchResult
}

// BatchProtocol is every (state, op) pair of a generation.
var BatchProtocol = buildBatchProtocol()

func buildBatchProtocol() map[BatchState]map[BatchOp]BatchStep {
	t := make(map[BatchState]map[BatchOp]BatchStep, len(BatchStates))
	for _, s := range BatchStates {
		t[s] = map[BatchOp]BatchStep{}
		for _, op := range BatchOps {
			t[s][op] = BatchStep{From: s, Op: op, To: s, Result: BatchOK}
		}
	}
	set := func(op BatchOp, to BatchState, res BatchResult, from ...BatchState) {
		for _, s := range from {
			t[s][op] = BatchStep{From: s, Op: op, To: to, Result: res}
		}
	}
	taken := []BatchState{BatchMine, BatchOther, BatchLapsed}
	untaken := []BatchState{BatchEmpty, BatchOpen, BatchGone}
	// Only an accumulator exactly as read is taken (or parked into: a lead
	// parked meanwhile would be lost from the batch, or overfill it), and
	// only with leads in it.
	set(OpTake, BatchMine, BatchOK, BatchOpen)
	set(OpTake, BatchEmpty, BatchChanged, BatchEmpty)
	for _, s := range append(taken, BatchGone) {
		set(OpTake, s, BatchChanged, s)
	}
	// A lease is taken over only once it lapsed; the holder renews it.
	set(OpLease, BatchMine, BatchOK, BatchMine, BatchLapsed)
	set(OpLease, BatchOther, BatchChanged, BatchOther)
	set(OpLeaseRelease, BatchLapsed, BatchOK, BatchMine, BatchLapsed)
	set(OpLeaseRelease, BatchOther, BatchChanged, BatchOther)
	for _, s := range untaken {
		set(OpLease, s, BatchNotFound, s)
		set(OpLeaseRelease, s, BatchNotFound, s)
	}
	// Recording its job ends the batch, as dropping it does.
	set(OpRecordBatch, BatchGone, BatchOK, taken...)
	set(OpDropBatch, BatchGone, BatchOK, taken...)
	return t
}

// ClassifyBatch tells the state of generation key from the accumulator as
// read (acc) and the batch, if one is stored (found), for taker at now.
func ClassifyBatch(key BatchKey, acc Acc, b Batch, found bool, taker string, now time.Time) BatchState {
	switch {
	case found && Lapsed(b.LeaseUntil, now):
		return BatchLapsed // anyone's, the last taker's too
	case found && b.Taker == taker:
		return BatchMine
	case found:
		return BatchOther
	case acc.Gen == key.Gen && len(acc.LeadIDs) > 0:
		return BatchOpen
	case acc.Gen == key.Gen:
		return BatchEmpty
	}
	return BatchGone
}

// JobMoves are the states a job may go to from each state: the checker
// moves an open job as Zoho's status says, and a call in doubt ends
// settled once its leads are read back. Terminal states go nowhere.
var JobMoves = map[State][]State{
	Scheduled:     {Scheduled, InProgress, Completed, Failed, UnknownToZoho, Stale},
	InProgress:    {Scheduled, InProgress, Completed, Failed, UnknownToZoho, Stale},
	InDoubt:       {InDoubt, Settled},
	Completed:     nil,
	Failed:        nil,
	UnknownToZoho: nil,
	Stale:         nil,
	Settled:       nil,
}

// CanMove reports whether a job may go from one state to another.
func CanMove(from, to State) bool { return contains(JobMoves[from], to) }
