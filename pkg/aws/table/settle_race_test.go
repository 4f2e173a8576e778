package table_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// beforeWrite runs do once, just before the first UpdateItem of the item
// pk: a writer that slips in between a store's read of that item and its
// conditional write.
type beforeWrite struct {
	table.API
	pk    string
	do    func(ctx context.Context)
	once  sync.Once
	fired bool
}

func (b *beforeWrite) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if pk, ok := in.Key["pk"].(*types.AttributeValueMemberS); ok && pk.Value == b.pk {
		b.once.Do(func() { b.do(ctx); b.fired = true })
	}
	return b.API.UpdateItem(ctx, in, opts...)
}

// TestSettleLeavesAClaimThatMovedOn: the read-back of job A reads a lead's
// claim (scheduled in A), and before it writes the claim another writer
// re-points it: the lead was sent again into job B, or its claim expired
// and an invocation claimed it again. The claim then belongs to its new
// holder: job A's read-back neither marks it for retry nor rejects it, and
// does not send it again (it would go out twice). This is the gap that
// moveClaim's condition "claim_state = :seen AND job_id = :job" guards.
func TestSettleLeavesAClaimThatMovedOn(t *testing.T) {
	const jobA = "3652397000009666666"
	policy := jobs.SettlePolicy{MaxAttempts: 3, RetryUntil: t0.Add(time.Hour), RejectUntil: t0.Add(2 * time.Hour)}
	jobB := jobs.Job{ID: "3652397000009777777", State: jobs.Scheduled, CreatedAt: t0, UpdatedAt: t0, NextCheckAt: t0}
	tests := []struct {
		name    string
		outcome jobs.Conversion // job A's read-back: what Settle would make of the claim
		// meanwhile re-points the claim of lead, through st.
		meanwhile func(ctx context.Context, t *testing.T, st jobs.Store, lead string)
		want      func(c jobs.Claim) bool
		wantRetry bool // job A's read-back sends the lead again
	}{
		{"sent again into job B, A would retry it", jobs.NotConverted, recordInB(jobB),
			func(c jobs.Claim) bool { return c.State == jobs.ClaimScheduled && c.JobID == jobB.ID }, false},
		{"sent again into job B, A would reject it", jobs.NotFound, recordInB(jobB),
			func(c jobs.Claim) bool { return c.State == jobs.ClaimScheduled && c.JobID == jobB.ID }, false},
		{"claimed again once expired, A would retry it", jobs.NotConverted, claimAgain,
			func(c jobs.Claim) bool { return c.State == jobs.Pending && c.JobID == "" }, false},
		// Two status runs settle job A at once; the other one moved the
		// claim to retry and may die before it sends the lead: this run
		// sends it (a second copy is claimed once).
		{"moved to retry by another run settling A, A retries it too", jobs.NotConverted, settledByAnotherRun(jobA, policy),
			func(c jobs.Claim) bool { return c.State == jobs.Retry && c.JobID == jobA }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
				if !s.Dynamo {
					t.Skip("the memory store settles under one lock: nothing can write between its read and its write")
				}
				ctx := context.Background()
				other := s.New()
				a := jobs.Job{ID: jobA, State: jobs.Scheduled, LeadIDs: leadIDs(9100, 1),
					Sources: []string{"msg"}, APIVersion: "v7", CreatedAt: t0, UpdatedAt: t0, NextCheckAt: t0}
				// The claims of A expire an hour after t0, so that claimAgain may take one.
				if err := other.RecordJob(ctx, a, t0.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				lead := a.LeadIDs[0]
				w := &beforeWrite{pk: "LEAD#" + lead, do: func(ctx context.Context) { tt.meanwhile(ctx, t, other, lead) }}
				st := s.Wrapped(func(api table.API) table.API { w.API = api; return w })

				a.State = jobs.Completed
				retry, err := st.SettleLeads(ctx, a, []jobs.LeadResult{{LeadID: lead, Conversion: tt.outcome}}, policy)
				if err != nil {
					t.Fatal(err)
				}
				if !w.fired {
					t.Fatal("the read-back wrote no claim: nothing slipped in between")
				}
				if slices.Contains(retry, lead) != tt.wantRetry {
					t.Errorf("job A's read-back: retry %v; want %s in it: %v", retry, lead, tt.wantRetry)
				}
				got, err := other.Claims(ctx, []string{lead})
				if err != nil || len(got) != 1 || !tt.want(got[0]) {
					t.Fatalf("the claim after job A's read-back: %+v, %v; it should be its new holder's", got, err)
				}
			})
		})
	}
}

// recordInB records job B with the lead: the lead was sent again.
func recordInB(b jobs.Job) func(ctx context.Context, t *testing.T, st jobs.Store, lead string) {
	return func(ctx context.Context, t *testing.T, st jobs.Store, lead string) {
		b.LeadIDs = []string{lead}
		if err := st.RecordJob(ctx, b, t0.Add(30*24*time.Hour)); err != nil {
			t.Errorf("recording job B: %v", err)
		}
	}
}

// claimAgain claims the lead once its claim in job A expired.
func claimAgain(ctx context.Context, t *testing.T, st jobs.Store, lead string) {
	now := t0.Add(2 * time.Hour)
	claimed, held, err := st.Claim(ctx, "invocation-c", []string{lead}, now, now.Add(5*time.Minute))
	if err != nil || len(claimed) != 1 {
		t.Errorf("claiming the expired lead again: %v held %+v, %v", claimed, held, err)
	}
}

// settledByAnotherRun settles job a's lead as not converted: another status
// run's read-back of the same job, first.
func settledByAnotherRun(a string, p jobs.SettlePolicy) func(ctx context.Context, t *testing.T, st jobs.Store, lead string) {
	return func(ctx context.Context, t *testing.T, st jobs.Store, lead string) {
		t.Helper()
		cs, ok := st.(jobs.CheckStore)
		if !ok {
			t.Fatal("the store does not settle")
		}
		j := jobs.Job{ID: a, State: jobs.Completed, LeadIDs: []string{lead}}
		if _, err := cs.SettleLeads(ctx, j, []jobs.LeadResult{{LeadID: lead, Conversion: jobs.NotConverted}}, p); err != nil {
			t.Fatal(err)
		}
	}
}
