package explore_test

import (
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/explore"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
)

func TestMain(m *testing.M) { awstest.Main(m) }

var (
	seeds = flag.Int("explore.seeds", 20000, "random schedules of the larger configurations (make test-explore runs more)")
	seed  = flag.Int64("explore.seed", -1, "replay this one seed (of TestRandomSchedules) with its trace")
)

// small configurations: every schedule of each is run, up to a bound; the
// first is small enough that the bound covers all of its schedules (5,018:
// every order of its first 8 operations, the rest in order), and the test
// holds that it does.
var small = []struct {
	name     string
	cfg      explore.Config
	complete bool // every schedule fits the bound
}{
	{"two invocations, two leads, every schedule", explore.Config{Leads: 2, Invocations: 2, MaxSteps: 8}, true},
	{"two invocations, two leads", explore.Config{Leads: 2, Invocations: 2, MaxSteps: 40}, false},
	{"two invocations, a crash", explore.Config{Leads: 2, Invocations: 2, CrashRate: 0.1, MaxSteps: 12}, false},
	{"three invocations, a lost answer", explore.Config{Leads: 3, Invocations: 3, LostRate: 0.1, MaxSteps: 10}, false},
	{"two invocations, the owner refused", explore.Config{Leads: 2, Invocations: 2, RefuseRate: 0.1, MaxSteps: 14}, false},
	{"another job has a lead, a throttled table", explore.Config{Leads: 2, Invocations: 1, Foreign: 1, StoreFailRate: 0.1, MaxSteps: 14}, false},
	{"a lost answer, a throttled table, a status run", explore.Config{Leads: 2, Invocations: 2, LostRate: 0.1, StoreFailRate: 0.1, StatusRuns: 1, MaxSteps: 14}, false},
	// A lead Zoho refuses for good whose rejection the table fails, and a
	// lost answer for the rest of its call: within 20 schedules it finds
	// the lead answered done though only claimed (2690e21 reverted), or
	// stranded in a batch the call in doubt ended (the fix that
	// TestBatchLeadWhoseRejectionFailsIsSentAgain holds, reverted).
	{"a lead Zoho does not have, a lost answer, a throttled table", explore.Config{Leads: 2, Invocations: 2, Unknown: 1, LostRate: 0.1, StoreFailRate: 0.1, MaxSteps: 14}, false},
	// A wake-up that fails to be set, is set twice, or that SQS loses for
	// good: with the status function's safety net cut off, its 6th
	// schedule leaves a lead parked in a generation nobody wakes.
	{"two invocations, a lost wake-up", explore.Config{Leads: 2, Invocations: 2, LostWake: 0.1, MaxSteps: 8}, false},
	{"a write applied whose answer is lost, a status run", explore.Config{Leads: 2, Invocations: 2, StoreLostRate: 0.1, StatusRuns: 1, MaxSteps: 12}, false},
}

// large is the configuration of the random schedules: several
// invocations, every fault. A refused token reaches a call in doubt's
// read-back late in a schedule, which the small configurations' bounds
// never get to: with b8a9581 reverted these find it by seed 717 (seed
// 973, frugal). A wake-up SQS loses for good is made good by a status
// run's safety net alone: with the net's wake-ups cut off these find a
// lead stranded in its batch at seed 4.
var large = explore.Config{Leads: 8, Invocations: 3, CrashRate: 0.03, LostRate: 0.1, ThrottleRate: 0.1, DoubleWake: 0.2,
	RefuseRate: 0.05, StoreFailRate: 0.05, StatusRuns: 6, Foreign: 2, Unknown: 1, AuthRate: 0.05, FailRate: 0.1, ForgetRate: 0.1,
	LostWake: 0.1, Redrive: true}

// TestEverySchedule runs every schedule of the small configurations on the
// memory store (up to a bound) and fails with the first broken promise's
// trace.
func TestEverySchedule(t *testing.T) {
	for _, tc := range small {
		t.Run(tc.name, func(t *testing.T) {
			bound := 5000
			if tc.complete {
				bound = 6000
			}
			runs, complete, failed := explore.All(tc.cfg, func() testkit.JobStore { return memstore.New() }, bound)
			if failed != nil {
				t.Fatalf("schedule %d of %s:\n%s", runs, tc.name, failed)
			}
			if tc.complete && !complete {
				t.Fatalf("%d schedules ran and more are left: the configuration outgrew the bound", runs)
			}
			t.Logf("%d schedules, all of them: %v", runs, complete)
		})
	}
}

// TestRandomSchedules runs seeded random schedules of the large
// configuration on the memory store; -explore.seed=N replays one.
func TestRandomSchedules(t *testing.T) {
	if *seed >= 0 {
		res := explore.Run(*seed, large, memstore.New())
		t.Logf("%s", res)
		if len(res.Violations) > 0 {
			t.Fail()
		}
		return
	}
	n := *seeds
	if testing.Short() {
		n = 1000
	}
	start := time.Now()
	unread, forgot, rewoken := 0, 0, 0
	for s := range n {
		res := explore.Run(int64(s), large, memstore.New())
		if len(res.Violations) > 0 {
			t.Fatalf("replay with -run TestRandomSchedules -explore.seed=%d:\n%s", s, res)
		}
		if readBackRefused(res.Trace) {
			unread++
		}
		if forgotAFailedJob(res.Trace) {
			forgot++
		}
		if rewokeALostWake(res.Trace) {
			rewoken++
		}
	}
	el := time.Since(start)
	// The faults that found b8a9581 and that a read-back alone can settle
	// are rare in a schedule: a change that stops drawing them must not go
	// unseen.
	if unread == 0 || forgot == 0 || rewoken == 0 {
		t.Fatalf("of %d schedules %d had a status run's read-back refused its token, %d a failed job Zoho forgot, %d a lost wake-up the safety net made good: a fault is not wired",
			n, unread, forgot, rewoken)
	}
	t.Logf("%d schedules in %s (%.0f a second); %d with a read-back's token refused, %d with a failed job Zoho forgot, %d with a lost wake-up the safety net made good",
		n, el.Round(time.Millisecond), float64(n)/el.Seconds(), unread, forgot, rewoken)
}

// forgotAFailedJob reports whether Zoho forgot, in trace, a job of ours
// that failed its leads: only a read-back tells they need sending again.
func forgotAFailedJob(trace []string) bool {
	failed := map[string]bool{}
	for _, l := range trace {
		l = strings.TrimSpace(l)
		if job, ok := strings.CutPrefix(l, "zoho: scheduled "); ok && strings.Contains(job, "(it will fail them)") {
			failed[strings.Fields(job)[0]] = true
		}
		if job, ok := strings.CutPrefix(l, "zoho: no longer knows job "); ok && failed[job] {
			return true
		}
	}
	return false
}

// rewokeALostWake reports whether, in trace, SQS lost a wake-up for good
// and a status run's safety net then woke a batch again.
func rewokeALostWake(trace []string) bool {
	lost := false
	for _, l := range trace {
		switch {
		case strings.Contains(l, "will dead-letter it unreceived"):
			lost = true
		case lost && strings.HasPrefix(l, "status#") && strings.Contains(l, ": wake again "):
			return true
		}
	}
	return false
}

// readBackRefused reports whether Zoho refused the token to a status
// run's read-back in trace.
func readBackRefused(trace []string) bool {
	for i := 1; i < len(trace); i++ {
		if strings.Contains(trace[i], "401 INVALID_TOKEN") && strings.HasPrefix(strings.TrimSpace(trace[i-1]), "status#") &&
			strings.Contains(trace[i-1], "zoho get leads") {
			return true
		}
	}
	return false
}

// TestFrugalSchedules runs random schedules of the large configuration
// with the status function of issue 19: every first check reads back
// first, read-backs and resends are leased. Every lead must still end with
// Zoho's verdict.
func TestFrugalSchedules(t *testing.T) {
	cfg := large
	cfg.Frugal = true
	leased := runMany(t, cfg, "frugal", func(trace []string) bool {
		return slices.ContainsFunc(trace, func(l string) bool { return strings.Contains(l, "lease the check of") })
	})
	if leased == 0 {
		t.Fatal("no schedule took a check lease: the frugal checker is not wired")
	}
	t.Logf("%d schedules took a check lease", leased)
}

// TestLostWriteSchedules runs random schedules of the large configuration
// in which store writes also go through with their answers lost for good
// (StoreLostRate): every actor's error path after a write the table holds.
// (Kept apart from large, whose seeds the notes above name.)
func TestLostWriteSchedules(t *testing.T) {
	cfg := large
	cfg.StoreLostRate = 0.1
	lost := runMany(t, cfg, "lost writes", func(trace []string) bool {
		return slices.Contains(trace, "    table: applied, answer lost")
	})
	if lost == 0 {
		t.Fatal("no schedule lost a write's answer: StoreLostRate is not wired")
	}
	t.Logf("%d schedules lost a write's answer", lost)
}

// runMany runs a quarter of -explore.seeds random schedules of cfg (500
// with -short) on the memory store, fails with the first broken promise's
// trace, and returns in how many saw held of their trace.
func runMany(t *testing.T, cfg explore.Config, name string, saw func(trace []string) bool) int {
	t.Helper()
	n := *seeds / 4
	if testing.Short() {
		n = 500
	}
	seen := 0
	for s := range n {
		res := explore.Run(int64(s), cfg, memstore.New())
		if len(res.Violations) > 0 {
			t.Fatalf("seed %d, %s:\n%s", s, name, res)
		}
		if saw(res.Trace) {
			seen++
		}
	}
	t.Logf("%d schedules, %s", n, name)
	return seen
}

// TestSchedulesOnTheTable runs random schedules on the table adapter over
// the moto that serves one request at a time.
func TestSchedulesOnTheTable(t *testing.T) {
	testkit.ForEachSerialStore(t, func(t *testing.T, s testkit.Stores) {
		if !s.Dynamo {
			t.Skip("the memory store is explored above")
		}
		for sd := range 10 {
			if res := explore.Run(int64(sd), large, s.New()); len(res.Violations) > 0 {
				t.Fatalf("seed %d on the table:\n%s", sd, res)
			}
		}
		// Answers lost both ways: the SDK's retry of every single-item
		// write, and writes whose answers stay lost. (Seeds of their own:
		// a seed names its leads, and the table keeps the seeds above.)
		lost := large
		lost.StoreLostRate = 0.1
		for sd := int64(1000); sd < 1005; sd++ {
			if res := explore.Run(sd, lost, s.Wrapped(testkit.RetriedWrites)); len(res.Violations) > 0 {
				t.Fatalf("seed %d on the table, lost answers:\n%s", sd, res)
			}
		}
	})
}

// TestSeedReplays: a seed's schedule is its own, to the letter of its
// trace, whatever ran before it.
func TestSeedReplays(t *testing.T) {
	for _, sd := range []int64{3, 161, 4242} {
		a, b := explore.Run(sd, large, memstore.New()), explore.Run(sd, large, memstore.New())
		if a.String() != b.String() {
			t.Fatalf("seed %d ran two ways:\n%s\n%s", sd, a, b)
		}
	}
}

// TestRedriveRacingARefusal: a redrive may come at any point, also while
// the refusal that wrote its letter is still under way (the explorer found
// it consuming the letter while the leads were still parked, before
// refuseBatch lettered the leads first and sent the letter after).
func TestRedriveRacingARefusal(t *testing.T) {
	cfg := explore.Config{Leads: 2, Invocations: 2, RefuseRate: 0.1, Redrive: true, MaxSteps: 14}
	if _, _, failed := explore.All(cfg, func() testkit.JobStore { return memstore.New() }, 5000); failed != nil {
		t.Fatalf("%s", failed)
	}
}
