package faults

import (
	"encoding/json"
	"math/rand/v2"
	"slices"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
)

// Deployment facts of template.yaml the queue model follows.
const (
	maxReceiveCount = 10 // RedrivePolicy.maxReceiveCount of the conversion queue (template.yaml)
)

// msgKind is what a message was made to be.
type msgKind int

const (
	validMsg     msgKind = iota // a request the bridge can serve
	malformedMsg                // not JSON: refused locally
	badDealMsg                  // a deal without Stage: refused locally
	badOwnerMsg                 // assign_to names no user: refused by Zoho
)

var msgKindNames = [...]string{"valid", "malformed", "deal without Stage", "unknown assign_to user"}

func (k msgKind) String() string { return msgKindNames[k] }

// verdict is what one delivery of a message ended as.
type verdict int

const (
	acked        verdict = iota // done: not listed in batchItemFailures, no dead letter
	deadLettered                // the bridge sent it to the dead-letter queue
	handedBack                  // listed in batchItemFailures: SQS delivers it again
)

// message is one SQS message: one conversion request.
type message struct {
	id     string
	body   string
	attrs  map[string]string // message attributes: a wake-up's kind
	kind   msgKind
	leads  []string // the ids of the request (also for refused ones)
	arrive int      // the round of its first delivery
	ghosts []int    // rounds of duplicate deliveries (SQS's at-least-once)

	receives  int
	visible   bool // handed back: delivered again in the next round
	deleted   bool // acknowledged, dead-lettered, or redriven by SQS
	exhausted bool // handed back on its maxReceiveCount-th receive: SQS redrove it to the DLQ
	verdicts  []verdict
	letters   []sqsbatch.Letter
}

func (m *message) ended(v verdict) bool { return slices.Contains(m.verdicts, v) }

// delivery is one message in one batch.
type delivery struct {
	msg       *message
	duplicate bool // a duplicate delivery (SQS delivered a message twice)
}

// sqsModel delivers messages as the SQS event source mapping would, round
// by round: a round is one visibility timeout. Messages handed back are
// visible again in the next round, until their maxReceiveCount-th receive;
// on top of that, chosen messages are delivered more than once.
type sqsModel struct {
	msgs []*message
	rng  *rand.Rand

	// counters
	deliveries, redeliveries, duplicates, handedBack int
}

// due returns the deliveries of a round, shuffled: messages arriving,
// messages handed back in the last round, and duplicate deliveries.
func (q *sqsModel) due(round int) []delivery {
	var out []delivery
	for _, m := range q.msgs {
		switch {
		case m.arrive == round:
			out = append(out, delivery{msg: m})
		case m.visible:
			m.visible = false
			q.redeliveries++
			out = append(out, delivery{msg: m})
		}
		for _, g := range m.ghosts {
			if g == round && m.arrive <= round && !m.exhausted {
				q.duplicates++
				out = append(out, delivery{msg: m, duplicate: true})
			}
		}
	}
	for i := range out {
		out[i].msg.receives++
	}
	q.deliveries += len(out)
	q.rng.Shuffle(len(out), func(i, k int) { out[i], out[k] = out[k], out[i] })
	return out
}

// more reports whether any delivery is still to come after round.
func (q *sqsModel) more(round int) bool {
	for _, m := range q.msgs {
		if m.visible || m.arrive > round {
			return true
		}
		for _, g := range m.ghosts {
			if g > round && !m.exhausted {
				return true
			}
		}
	}
	return false
}

// batches cuts a round's deliveries into SQS events of varying size.
func (q *sqsModel) batches(ds []delivery, maxSize int) [][]delivery {
	var out [][]delivery
	for len(ds) > 0 {
		n := min(len(ds), 1+q.rng.IntN(maxSize))
		out = append(out, ds[:n])
		ds = ds[n:]
	}
	return out
}

// event encodes a batch as the SQS event the function receives.
func event(batch []delivery) json.RawMessage {
	msgs := make([]testkit.SQSMessage, len(batch))
	for i, d := range batch {
		msgs[i] = testkit.SQSMessage{ID: d.msg.id, Body: d.msg.body, Receives: d.msg.receives, MessageAttributes: d.msg.attrs}
	}
	return testkit.SQSEvent(msgs...)
}

// settle applies the verdicts of a round, acknowledgements first: a
// message that one delivery acknowledged is gone whatever its duplicates
// answered.
func (q *sqsModel) settle(results []deliveryResult) {
	for _, r := range results {
		r.msg.verdicts = append(r.msg.verdicts, r.verdict)
		if r.verdict == deadLettered {
			r.msg.letters = append(r.msg.letters, r.letter)
		}
		if r.verdict != handedBack {
			r.msg.deleted = true
		}
	}
	for _, r := range results {
		if r.verdict != handedBack {
			continue
		}
		q.handedBack++
		m := r.msg
		switch {
		case m.deleted || m.visible:
		case m.receives >= maxReceiveCount:
			m.exhausted, m.deleted = true, true
		default:
			m.visible = true
		}
	}
}

// deliveryResult is what became of one delivery.
type deliveryResult struct {
	msg     *message
	verdict verdict
	letter  sqsbatch.Letter
}
