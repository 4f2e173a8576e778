package faults

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// seed fixes every random choice of the suite: leads, messages, batches,
// duplicate deliveries, fault rates and the proxy's refusals.
const seed = 20261128

// TestFaultSuiteEmbedded runs thousands of leads through the convert and
// status functions on the embedded in-memory stores (the same semantics as
// the DynamoDB store: both pass the store contract tests of pkg/jobs), so
// that the run is large and fast.
func TestFaultSuiteEmbedded(t *testing.T) {
	t.Parallel()
	s := suite{name: "embedded", leads: 3000, seed: seed, arrivals: 8, maxBatch: 40, maxIDs: 50, slow: true}
	if testing.Short() {
		s.leads, s.slow = 600, false
	}
	runSuite(t, s)
}

// TestFaultSuiteMoto runs a few hundred leads on DynamoDB, Secrets Manager
// and SQS (moto) reached through a fault-injecting proxy, so that AWS
// outages are part of the faults. moto is slow with transactions, hence
// the smaller run.
func TestFaultSuiteMoto(t *testing.T) {
	t.Parallel()
	s := suite{name: "moto", leads: 400, seed: seed + 1, arrivals: 6, maxBatch: 10, maxIDs: 20}
	if testing.Short() {
		s.leads = 80
	}
	runSuite(t, s)
}

func runSuite(t *testing.T, s suite) {
	r := newRig(t, s)
	start := time.Now()
	round := 0
	for {
		for round < s.arrivals || r.q.more(round) {
			round++
			if round > 80 {
				t.Fatalf("messages still in flight after %d rounds", round-1)
			}
			r.roundNow = round
			r.playRound(round)
			r.clock.Advance(visibilityTimeout)
		}
		// Ended jobs send the leads Zoho did not convert back: deliver them.
		if !r.settleJobs(round) {
			break
		}
	}
	res := r.check(context.Background())
	res.wall = time.Since(start)
	r.report(res)
}

// playRound applies the round's scripted faults, delivers its messages and
// runs the status function; the fault rates apply throughout.
func (r *rig) playRound(n int) {
	timeout, stTimeout := convertTimeout, statusTimeout
	mc := zohosim.EndpointMassConvert
	ok := zohosim.Fault{}
	switch n {
	case 2:
		// 401 INVALID_TOKEN in the middle of the round's calls.
		r.sim.Script(mc, ok, ok, fault(zohosim.Unauthorized), ok, ok, ok, fault(zohosim.Unauthorized))
		r.events["401 INVALID_TOKEN mid-batch (scripted)"] += 2
	case 3:
		// The bridge's token stops working, then Zoho throttles in a burst
		// of both 429 shapes and fails with 500s.
		if tok := r.bridgeToken(); tok != "" {
			r.sim.InvalidateToken(tok)
			r.events["bridge's token invalidated (InvalidateToken)"]++
		}
		r.sim.Script(mc, fault(zohosim.TooManyRequests), fault(zohosim.TooManyRequestsLegacy),
			fault(zohosim.TooManyRequests), fault(zohosim.TooManyRequestsLegacy), fault(zohosim.InternalError),
			fault(zohosim.TooManyRequests), fault(zohosim.TooManyRequestsLegacy), fault(zohosim.InternalError),
			fault(zohosim.TooManyRequests), fault(zohosim.TooManyRequestsLegacy))
		r.events["429/500 burst of 10 (scripted)"]++
	case 4:
		if r.s.slow {
			// Zoho holds the first calls longer than the invocation has left.
			timeout = 9 * time.Second
			slow := zohosim.Fault{Kind: zohosim.Slow, Delay: time.Minute}
			r.sim.Script(mc, slow, slow, slow, slow)
			r.events["answers slower than the remaining time (4 x Slow 1m, 9 s invocations)"]++
			// And the status function's, in 11 s invocations.
			stTimeout = 11 * time.Second
			r.sim.Script(zohosim.EndpointStatus, slow, slow)
			r.events["status answers slower than the remaining time (2 x Slow 1m, 11 s invocations)"]++
			defer func() {
				// Slow faults the round did not use must not hold later rounds.
				r.sim.ClearFaults()
				r.setFaultRates(uint64(n))
			}()
		}
	case 5:
		// Zoho drops connections after accepting the call.
		r.sim.Script(mc, fault(zohosim.DropAfterAccept), ok, fault(zohosim.DropAfterAccept), ok, ok, fault(zohosim.DropAfterAccept))
		r.events["DropAfterAccept burst of 3 (scripted)"]++
	case 6:
		if r.proxy != nil {
			r.proxy.SetDown(true)
			defer r.proxy.SetDown(false)
			r.events["moto unreachable for a whole round (convert and status)"]++
		}
	case 7:
		// The 16th-token rule: 15 tokens minted elsewhere displace the
		// bridge's (and the status function's).
		for range 15 {
			r.myTokens[r.sim.IssueToken()] = true
		}
		r.events["16th-token rule (15 x IssueToken)"]++
		if r.proxy != nil {
			r.proxy.SetFlaky(0.3)
			defer r.proxy.SetFlaky(0)
			r.events["moto flaky for a round (30% of requests 500/503)"]++
		}
	case 8:
		// Access Denied from the token endpoint: refreshing pauses for
		// 15 minutes, longer than two visibility timeouts.
		r.sim.Script(zohosim.EndpointToken, fault(zohosim.AccessDenied))
		if tok := r.bridgeToken(); tok != "" {
			r.sim.InvalidateToken(tok)
		}
		r.events["Access Denied on the next refresh (scripted, token invalidated)"]++
	}
	debugf("== round %d at %s", n, r.clock.Now().Format(time.TimeOnly))
	r.round(n, timeout, stTimeout)
}

func fault(k zohosim.FaultKind) zohosim.Fault { return zohosim.Fault{Kind: k} }

// settleJobs runs the status function, two instances at a time and five
// simulated minutes apart, until no job is open. The fault rates stay.
// settleJobs runs the status function until no job is open, or until it
// has put leads back on the queue (it reports true: deliver them first).
func (r *rig) settleJobs(round int) bool {
	ctx := context.Background()
	for i := range 40 {
		if r.q.more(round) {
			return true
		}
		open, err := r.store.CountDue(ctx, r.clock.Now().Add(365*24*time.Hour), "")
		if err != nil {
			r.t.Fatal(err)
		}
		if open == 0 {
			return false
		}
		if i == 39 {
			r.t.Errorf("%d jobs still open after %d status rounds", open, i)
			return false
		}
		r.clock.Advance(5 * time.Minute)
		r.statusRound(statusTimeout)
	}
	return false
}

// debugf writes to stderr when FAULTS_DEBUG is set, as do the functions'
// WARN log lines: what to read when the suite fails.
func debugf(format string, args ...any) {
	if os.Getenv("FAULTS_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

// printf writes to stdout under -v, for the table.
func printf(format string, args ...any) {
	if testing.Verbose() {
		fmt.Fprintf(os.Stdout, format, args...)
	}
}
