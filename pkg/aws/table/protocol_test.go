package table_test

import (
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
)

// TestLeadProtocol holds both stores to every pair of jobs.LeadProtocol.
func TestLeadProtocol(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		testkit.LeadProtocolSuite(t, s.New)
	})
}

// TestBatchProtocol holds both stores to every pair of jobs.BatchProtocol.
func TestBatchProtocol(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		testkit.BatchProtocolSuite(t, s.New)
	})
}

func TestParkInput(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) { testkit.ParkInputSuite(t, s.New()) })
}

// TestParkedListing: the safety net's listing holds an accumulator from
// its first lead, its batch once taken, and neither once the job is
// recorded.
func TestParkedListing(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) { testkit.ParkedListingSuite(t, s.New()) })
}

// TestProtocolWithRetriedWrites: every pair of both protocols gives the
// same answer and the same next state when each write's first answer is
// lost and the SDK sends it again.
func TestProtocolWithRetriedWrites(t *testing.T) {
	testkit.ForEachStore(t, func(t *testing.T, s testkit.Stores) {
		if !s.Dynamo {
			t.Skip("the memory store has no lost answers")
		}
		newStore := func() testkit.JobStore { return s.Wrapped(testkit.RetriedWrites) }
		t.Run("lead", func(t *testing.T) { testkit.LeadProtocolSuite(t, newStore) })
		t.Run("batch", func(t *testing.T) { testkit.BatchProtocolSuite(t, newStore) })
	})
}
