package table_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

func TestRequests(t *testing.T) {
	testkit.ForEachJobStore(t, func(t *testing.T, st testkit.JobStore) {
		ctx := context.Background()
		if _, err := st.Request(ctx, "r1"); !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("a request never recorded: %v", err)
		}
		r := jobs.Request{ID: "r1", LeadIDs: leadIDs(7000, 3), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		for range 2 { // recording twice is harmless
			if err := st.RecordRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.FailRequest(ctx, "r1", "INVALID_DATA", "the owner is not a user"); err != nil {
			t.Fatal(err)
		}
		if err := st.FailRequest(ctx, "nobody", "X", "y"); err != nil {
			t.Fatalf("failing an unknown request: %v", err)
		}
		got, err := st.Request(ctx, "r1")
		if err != nil || !slices.Equal(got.LeadIDs, r.LeadIDs) || !got.CreatedAt.Equal(t0) || got.FailCode != "INVALID_DATA" ||
			got.FailReason != "the owner is not a user" || got.ExpiresAt.Unix() != r.ExpiresAt.Unix() {
			t.Fatalf("request %+v, %v", got, err)
		}
	})
}
