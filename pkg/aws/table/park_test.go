package table_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

func sourcesFor(ids []string, src string) []string {
	out := make([]string, len(ids))
	for i := range out {
		out[i] = src
	}
	return out
}

func readAcc(t *testing.T, st testkit.JobStore, fp string) jobs.Acc {
	t.Helper()
	a, err := st.Acc(context.Background(), fp)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestParkAndTake: leads of several invocations fill one accumulator; a
// stale read changes nothing; taking it starts the next generation.
func TestParkAndTake(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		ctx, fp, exp := context.Background(), "fp-park", t0.Add(24*time.Hour)
		a := readAcc(t, st, fp)
		if a.Gen != 0 || len(a.LeadIDs) != 0 {
			t.Fatalf("a new accumulator: %+v", a)
		}
		a.Options, a.APIVersion = `{"assign_to":{"id":"1"}}`, "v7"
		first := leadIDs(5000, 30)
		parked, held, err := st.Park(ctx, "me", a, first, sourcesFor(first, "m1"), t0, exp)
		if err != nil || len(parked) != 30 || len(held) != 0 {
			t.Fatalf("first park: %d parked, %d held, %v", len(parked), len(held), err)
		}
		if _, _, err := st.Park(ctx, "me", a, leadIDs(5100, 1), []string{"m2"}, t0, exp); !errors.Is(err, jobs.ErrChanged) {
			t.Fatalf("park on a stale read: %v, want ErrChanged", err)
		}
		claim(t, st, "someone", leadIDs(5200, 1), t0) // a lead another invocation holds
		a = readAcc(t, st, fp)
		second := append(leadIDs(5100, 19), leadIDs(5200, 1)...)
		parked, held, err = st.Park(ctx, "me", a, second, sourcesFor(second, "m2"), t0.Add(time.Second), exp)
		if err != nil || len(parked) != 19 || len(held) != 1 || held[0].LeadID != leadIDs(5200, 1)[0] {
			t.Fatalf("second park: %d parked, held %v, %v", len(parked), held, err)
		}
		a = readAcc(t, st, fp)
		if len(a.LeadIDs) != 49 || len(a.Sources) != 49 || a.Sources[48] != "m2" || !a.OpenedAt.Equal(t0) || a.Options != `{"assign_to":{"id":"1"}}` {
			t.Fatalf("accumulator %d leads, %d sources, opened %v, options %q", len(a.LeadIDs), len(a.Sources), a.OpenedAt, a.Options)
		}
		if _, _, err := st.Park(ctx, "me", a, leadIDs(5300, 2), []string{"m3", "m3"}, t0, exp); err == nil {
			t.Fatal("51 leads parked in one accumulator")
		}
		claims, err := st.Claims(ctx, first[:1])
		if err != nil || len(claims) != 1 || claims[0].State != jobs.Parked || claims[0].Owner != a.Key().Owner() {
			t.Fatalf("claim of a parked lead: %+v, %v", claims, err)
		}

		stale := a
		stale.LeadIDs = stale.LeadIDs[:48]
		if _, err := st.Take(ctx, stale, "taker", t0.Add(time.Minute)); !errors.Is(err, jobs.ErrChanged) {
			t.Fatalf("take on a stale read: %v", err)
		}
		b, err := st.Take(ctx, a, "taker", t0.Add(time.Minute))
		if err != nil || !slices.Equal(b.LeadIDs, a.LeadIDs) || b.Taker != "taker" || b.Gen != 0 {
			t.Fatalf("take: %+v, %v", b, err)
		}
		if _, err := st.Take(ctx, a, "other", t0.Add(time.Minute)); !errors.Is(err, jobs.ErrChanged) {
			t.Fatalf("a second take: %v", err)
		}
		if next := readAcc(t, st, fp); next.Gen != 1 || len(next.LeadIDs) != 0 {
			t.Fatalf("after the take: %+v", next)
		}
		got, err := st.Batch(ctx, a.Key())
		if err != nil || !slices.Equal(got.LeadIDs, a.LeadIDs) || !slices.Equal(got.Sources, a.Sources) || got.Options != a.Options {
			t.Fatalf("batch as read: %+v, %v", got, err)
		}
	})
}

// TestBatchLeaseAndRecord: a batch's lease passes on only once it lapsed;
// recording its job ends it and schedules its leads; a parked lead can be
// rejected by its batch.
func TestBatchLeaseAndRecord(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		ctx, fp, exp := context.Background(), "fp-lease", t0.Add(24*time.Hour)
		a := readAcc(t, st, fp)
		ids := leadIDs(6000, 3)
		if _, _, err := st.Park(ctx, "me", a, ids, sourcesFor(ids, "m1"), t0, exp); err != nil {
			t.Fatal(err)
		}
		b, err := st.Take(ctx, readAcc(t, st, fp), "a", t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		key := b.Key()
		if err := st.Lease(ctx, key, "b", t0.Add(30*time.Second), t0.Add(2*time.Minute)); !errors.Is(err, jobs.ErrChanged) {
			t.Fatalf("lease before the lapse: %v", err)
		}
		if err := st.Lease(ctx, key, "a", t0.Add(30*time.Second), t0.Add(2*time.Minute)); err != nil {
			t.Fatalf("the taker renews: %v", err)
		}
		if err := st.Lease(ctx, key, "b", t0.Add(3*time.Minute), t0.Add(4*time.Minute)); err != nil {
			t.Fatalf("lease after the lapse: %v", err)
		}
		if err := st.Lease(ctx, jobs.BatchKey{Fingerprint: fp, Gen: 9}, "b", t0, t0); !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("lease of no batch: %v", err)
		}
		if err := st.Reject(ctx, key.Owner(), ids[0], "INVALID_DATA", exp); err != nil {
			t.Fatal(err)
		}
		job := jobs.Job{ID: "3652397000009860001", State: jobs.Scheduled, LeadIDs: ids[1:], Sources: []string{"m1"},
			Fingerprint: fp, Batch: key, CreatedAt: t0, UpdatedAt: t0, NextCheckAt: t0.Add(time.Minute)}
		if err := st.RecordJob(ctx, job, exp); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Batch(ctx, key); !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("the batch after its job: %v", err)
		}
		claims, err := st.Claims(ctx, ids)
		if err != nil || len(claims) != 3 {
			t.Fatal(claims, err)
		}
		for _, c := range claims {
			want := jobs.ClaimScheduled
			if c.LeadID == ids[0] {
				want = jobs.Rejected
			}
			if c.State != want {
				t.Errorf("lead %s: %s, want %s", c.LeadID, c.State, want)
			}
		}
		if j, err := st.Job(ctx, job.ID); err != nil || j.Batch != key {
			t.Fatalf("job's batch %v, %v", j.Batch, err)
		}
		if err := st.DropBatch(ctx, key); err != nil {
			t.Fatalf("dropping a batch already gone: %v", err)
		}
	})
}

// cancelTakes cancels the next n transactions with reason code on the
// accumulator's item, as DynamoDB does when a transaction meets another
// on its items (TransactionConflict) or is throttled.
type cancelTakes struct {
	table.API
	code string
	n    int
}

func (c *cancelTakes) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if c.n > 0 {
		c.n--
		reasons := make([]types.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("None")
		}
		reasons[0].Code = aws.String(c.code)
		return nil, &types.TransactionCanceledException{Message: aws.String("cancelled: " + c.code), CancellationReasons: reasons}
	}
	return c.API.TransactWriteItems(ctx, in, opts...)
}

// TestTakeCancelled: only a failed condition means the accumulator moved on
// (ErrChanged, read it again). A transaction that met another is tried
// again; one cancelled for anything else is an error, never ErrChanged: a
// wake-up that read it so would read again and again, and a run would
// leave a full accumulator to its timer as if another had taken it.
func TestTakeCancelled(t *testing.T) {
	tests := []struct {
		code    string
		n       int
		wantErr bool // an error, and not ErrChanged
	}{
		{"TransactionConflict", 1, false},
		{"TransactionConflict", 100, true},
		{"ThrottlingError", 1, true},
		{"ValidationError", 1, true},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s×%d", tt.code, tt.n), func(t *testing.T) {
			testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
				if !s.Dynamo {
					t.Skip("the memory store has no transactions to cancel")
				}
				ctx, fp := context.Background(), fmt.Sprintf("fp-cancel-%d", i)
				st := s.New()
				ids := leadIDs(7000+10*i, 2)
				if _, _, err := st.Park(ctx, "me", readAcc(t, st, fp), ids, sourcesFor(ids, "m1"), t0, t0.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				acc := readAcc(t, st, fp)
				c := &cancelTakes{code: tt.code, n: tt.n}
				_, err := s.Wrapped(func(api table.API) table.API { c.API = api; return c }).Take(ctx, acc, "taker", t0.Add(time.Minute))
				if tt.wantErr {
					if err == nil || errors.Is(err, jobs.ErrChanged) {
						t.Fatalf("take cancelled by %s: %v; want an error, not ErrChanged", tt.code, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("take after one %s: %v; want it tried again and taken", tt.code, err)
				}
				if b, err := st.Batch(ctx, acc.Key()); err != nil || !slices.Equal(b.LeadIDs, ids) {
					t.Fatalf("the batch after the take: %+v, %v", b, err)
				}
			})
		})
	}
}
