package jobcheck_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
)

type wakes struct {
	mu   sync.Mutex
	keys []jobs.BatchKey
}

func (w *wakes) Wake(_ context.Context, k jobs.BatchKey) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keys = append(w.keys, k)
	return nil
}

// TestSafetyNetWakesOverdueBatches: a status run wakes again an
// accumulator and a taken batch whose first lead waited past MaxWait and
// the grace (their timers lost), leaves a younger one alone, and reports
// the oldest parked lead's age.
func TestSafetyNetWakesOverdueBatches(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		z := zohotest.Start(t, zohosim.Options{}, 1)
		ctx, now := context.Background(), z.Clock.Now()
		const maxWait = time.Minute
		park := func(fp, lead string, accepted time.Time) jobs.Acc {
			t.Helper()
			acc, err := st.Acc(ctx, fp)
			if err != nil {
				t.Fatal(err)
			}
			acc.Options, acc.OpenedAt = "{}", accepted
			if _, _, err := st.Park(ctx, "run", acc, []string{lead}, []string{"src"}, accepted, accepted.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			acc, err = st.Acc(ctx, fp)
			if err != nil {
				t.Fatal(err)
			}
			return acc
		}
		late := now.Add(-maxWait - jobcheck.SafetyGrace - time.Second)
		park("fp-lost-timer", "3652397000000881001", late)
		taken := park("fp-dead-sender", "3652397000000881002", late.Add(-time.Minute))
		if _, err := st.Take(ctx, taken, "ghost", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		park("fp-young", "3652397000000881003", now.Add(-30*time.Second))

		w := &wakes{}
		c, err := jobcheck.New(jobcheck.Config{Zoho: z.Client, Store: st, Parked: st, Wake: w, MaxWait: maxWait, Now: z.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		m := obs.NewMetrics("status")
		rep := c.Run(obs.WithMetrics(ctx, m), jobcheck.Request{})
		want := []jobs.BatchKey{{Fingerprint: "fp-dead-sender", Gen: 0}, {Fingerprint: "fp-lost-timer", Gen: 0}}
		slices.SortFunc(w.keys, func(a, b jobs.BatchKey) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
		if !slices.Equal(w.keys, want) || rep.Parked != 3 || rep.Rewoken != 2 {
			t.Fatalf("woke %v (report: %d parked, %d rewoken); want %v, 3 parked", w.keys, rep.Parked, rep.Rewoken, want)
		}
		oldest := now.Sub(late.Add(-time.Minute).Truncate(time.Second))
		if got := m.Value("OldestParkedLeadAge"); got != float64(oldest.Milliseconds()) {
			t.Fatalf("OldestParkedLeadAge %v ms; want %v", got, oldest.Milliseconds())
		}
	})
}

// TestOutOfAttemptsIsCounted: a lead rejected by settling, its attempts
// used up by calls in doubt, counts in LeadsOutOfAttempts, and under the
// cause IN_DOUBT.
func TestOutOfAttemptsIsCounted(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		z := zohotest.Start(t, zohosim.Options{}, 1)
		ctx, now := context.Background(), z.Clock.Now()
		lead := z.Sim.SeedLeadRange(1)[0]
		var last jobs.Job
		for i := range jobs.DoubtsPerAttempt * 2 { // MaxLeadAttempts 2, by doubts alone
			last = jobs.Job{ID: fmt.Sprintf("%s%016x", jobs.DoubtPrefix, i+1), State: jobs.InDoubt, LeadIDs: []string{lead},
				CreatedAt: now, UpdatedAt: now, NextCheckAt: now, NoAttempt: true}
			if err := st.RecordJob(ctx, last, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if i < jobs.DoubtsPerAttempt*2-1 {
				_, err := st.SettleLeads(ctx, last, []jobs.LeadResult{{LeadID: lead, Conversion: jobs.NotConverted}},
					jobs.SettlePolicy{MaxAttempts: 2, RetryUntil: now.Add(time.Hour), RejectUntil: now.Add(time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		z.Clock.Advance(time.Hour) // past the doubt window: the read-back settles it
		c, err := jobcheck.New(jobcheck.Config{Zoho: z.Client, Store: st, Now: z.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		m := obs.NewMetrics("status")
		c.Run(obs.WithMetrics(ctx, m), jobcheck.Request{JobIDs: []string{last.ID}})
		if got := m.Value("LeadsOutOfAttempts"); got != 1 {
			t.Fatalf("LeadsOutOfAttempts %v; want 1", got)
		}
		cs, err := st.Claims(ctx, []string{lead})
		if err != nil || len(cs) != 1 || cs[0].State != jobs.Rejected || !strings.Contains(cs[0].Reason, "answers were lost") {
			t.Fatalf("the lead: %+v %v; want rejected, saying why", cs, err)
		}
	})
}
