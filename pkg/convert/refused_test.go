package convert_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
)

// readingRig is a rig whose service reads refused leads back, as the
// deployed function does.
func readingRig(t *testing.T) (*rig, *zohotest.Zoho) {
	t.Helper()
	z := zohotest.Start(t, zohosim.Options{}, 2)
	store := memstore.New()
	svc, err := convert.New(convert.Config{Zoho: z.Client, Store: store, Leads: z.Client, Now: z.Clock.Now, APIVersion: "v7"})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{sim: z.Sim, store: store, svc: svc, metrics: obs.NewMetrics("convert")}, z
}

// TestRefusedLeadsCostFewCalls: Zoho names one refused id per answer. The
// first refusal reads the chunk back, so a chunk costs at most three
// mass_convert calls (and one read) whatever number of its ids are bad.
func TestRefusedLeadsCostFewCalls(t *testing.T) {
	unknown := func(n int) []string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("36523970001%08d", i)
		}
		return ids
	}
	for _, tc := range []struct {
		name                 string
		good, bad            int
		maxCalls, reads      int
		rejected, doneInJobs int
	}{
		{"three unknown among 47", 47, 3, 2, 1, 3, 47},
		{"a whole chunk unknown", 0, 50, 1, 1, 50, 0},
		{"1,000 unknown ids", 0, 1000, 20, 20, 1000, 0},
		{"1,000 unknown after 1,000", 1000, 1000, 40, 20, 1000, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := readingRig(t)
			ids := append(r.sim.SeedLeadRange(tc.good), unknown(tc.bad)...)
			res := r.convert([]convert.Submission{{Source: "req", Request: zohotest.Request(ids...)}})[0]
			inJobs := 0
			for _, j := range res.Jobs {
				inJobs += len(j.LeadIDs)
			}
			st := r.sim.Stats()
			if res.Verdict != convert.Done || len(res.Rejected) != tc.rejected || inJobs != tc.doneInJobs {
				t.Fatalf("verdict %s, %d rejected, %d in jobs", res.Verdict, len(res.Rejected), inJobs)
			}
			if calls, reads := st.Calls[zohosim.EndpointMassConvert], st.Calls[zohosim.EndpointGetLeads]; calls > tc.maxCalls || reads != tc.reads {
				t.Fatalf("%d mass_convert calls and %d reads; want at most %d and %d", calls, reads, tc.maxCalls, tc.reads)
			}
		})
	}
}

// TestLeadsHeldByAnotherJobAreHeldInDoubt: Zoho refuses leads that a job it
// is still running holds (a job nobody recorded), though it has them and
// has not converted them. After three calls the chunk's refused leads are
// held in doubt, for the status function to read back, not rejected.
func TestLeadsHeldByAnotherJobAreHeldInDoubt(t *testing.T) {
	r, z := readingRig(t)
	ids := r.sim.SeedLeadRange(10)
	if _, err := z.Client.MassConvert(context.Background(), zohotest.Request(ids[:5]...)); err != nil {
		t.Fatal(err) // a job the bridge never heard of, still running
	}
	res := r.convert([]convert.Submission{{Source: "req", Request: zohotest.Request(ids...)}})[0]
	if res.Verdict != convert.Done || len(res.Rejected) != 0 {
		t.Fatalf("result %+v", res)
	}
	held, scheduled := 0, 0
	for _, j := range res.Jobs {
		if strings.HasPrefix(j.JobID, jobs.DoubtPrefix) {
			held += len(j.LeadIDs)
		} else {
			scheduled += len(j.LeadIDs)
		}
	}
	// 1 call for the other job, at most 3 for the chunk. Zoho's refusals
	// cannot tell the leads the other job holds from the rest, so what the
	// three calls did not schedule is held, and sent again once read back.
	if calls := r.sim.Stats().Calls[zohosim.EndpointMassConvert]; calls > 4 || held < 5 || held+scheduled != 10 {
		t.Fatalf("%d calls, %d held in doubt, %d scheduled", calls, held, scheduled)
	}
}

// TestRefusedLeadUnreadForNowIsHeldInDoubt: when Zoho refuses leads another
// job holds and the read that would tell them apart fails, only a refusal
// for good (a grant without leads.READ) leaves Zoho's refusal final. A
// read that fails for now holds the refused leads in doubt: the other job
// may fail them later, and rejecting them would lose them.
func TestRefusedLeadUnreadForNowIsHeldInDoubt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		read     []zohosim.Fault // the read-back's answers, the client's retry or refresh included
		rejected int
	}{
		{"the token refused after a refresh", []zohosim.Fault{{Kind: zohosim.Unauthorized}, {Kind: zohosim.Unauthorized}}, 0},
		{"Zoho busy", []zohosim.Fault{{Kind: zohosim.InternalError}, {Kind: zohosim.InternalError}}, 0},
		{"no leads.READ scope", []zohosim.Fault{{Kind: zohosim.ScopeMismatch}}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, z := readingRig(t)
			ids := r.sim.SeedLeadRange(10)
			if _, err := z.Client.MassConvert(context.Background(), zohotest.Request(ids[:5]...)); err != nil {
				t.Fatal(err) // a job the bridge never heard of, still running
			}
			r.sim.Script(zohosim.EndpointGetLeads, tc.read...)
			res := r.convert([]convert.Submission{{Source: "req", Request: zohotest.Request(ids...)}})[0]
			accounted := len(res.Rejected)
			for _, j := range res.Jobs {
				accounted += len(j.LeadIDs)
			}
			if res.Verdict != convert.Done || len(res.Rejected) != tc.rejected || accounted != len(ids) {
				t.Fatalf("verdict %s, %d rejected (want %d), %d leads accounted for", res.Verdict, len(res.Rejected), tc.rejected, accounted)
			}
			for _, id := range ids[:5] {
				c, err := r.store.Claims(context.Background(), []string{id})
				if err != nil {
					t.Fatal(err)
				}
				want := jobs.ClaimInDoubt
				if tc.rejected > 0 {
					want = jobs.Rejected
				}
				if got := c[0].State; got != want {
					t.Errorf("lead %s held by the other job: %s; want %s", id, got, want)
				}
			}
		})
	}
}
