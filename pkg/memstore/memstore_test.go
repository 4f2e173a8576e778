package memstore_test

import (
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
)

// The memory store is the protocol tables' reference implementation: every
// pair of both tables, here on its own (pkg/aws/table runs the same suite
// on both stores).
func TestLeadProtocol(t *testing.T) {
	testkit.LeadProtocolSuite(t, func() testkit.JobStore { return memstore.New() })
}

func TestBatchProtocol(t *testing.T) {
	testkit.BatchProtocolSuite(t, func() testkit.JobStore { return memstore.New() })
}
