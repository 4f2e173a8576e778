package testkit

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
)

// JobStore is what both job stores offer: the convert function's store,
// the checker's, and reading claims back.
type JobStore interface {
	jobs.Store
	jobs.CheckStore
	Claims(ctx context.Context, leadIDs []string) ([]jobs.Claim, error)
	Parked(ctx context.Context) ([]jobs.ParkedBatch, error)
}

var (
	_ JobStore = (*memstore.Store)(nil)
	_ JobStore = (*table.JobStore)(nil)
)

// Stores is one case of ForEachStore: it makes the stores of that case.
type Stores struct {
	// Dynamo is true in the DynamoDB case (moto), false in the memory case.
	Dynamo bool
	api    table.API
	table  string
}

// New returns a store: in the memory case a fresh, empty one; in the
// DynamoDB case one on the case's table (every store of a case shares it).
func (s Stores) New() JobStore { return s.Wrapped(nil) }

// Wrapped is New, with the DynamoDB store's client going through wrap
// (when wrap is not nil); the memory case has no client and ignores wrap.
func (s Stores) Wrapped(wrap func(table.API) table.API) JobStore {
	if !s.Dynamo {
		return memstore.New()
	}
	api := s.api
	if retriedWrites {
		api = RetriedWrites(api)
	}
	if wrap != nil {
		api = wrap(api)
	}
	return table.NewJobStore(api, s.table)
}

// retriedWrites runs every DynamoDB case with RetriedWrites: set
// TESTKIT_RETRIED_WRITES=1 (make test-retried) and every test of the
// stores must pass as it does without.
var retriedWrites = os.Getenv("TESTKIT_RETRIED_WRITES") == "1"

// ForEachStore runs test as subtest "memory" on memstore.Store and as
// "dynamodb" on table.JobStore over a table made from template.yaml's
// JobsTable on moto, so that both keep the same semantics. The package needs
// `func TestMain(m *testing.M) { awstest.Main(m) }`.
func ForEachStore(t *testing.T, test func(t *testing.T, s Stores)) {
	t.Helper()
	forEachStore(t, awstest.Require, test)
}

// forEachStore runs test on the memory store and on a table of the moto
// that require gives.
func forEachStore(t *testing.T, require func(testing.TB) aws.Config, test func(t *testing.T, s Stores)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) { test(t, Stores{}) })
	t.Run("dynamodb", func(t *testing.T) {
		cfg := require(t)
		test(t, Stores{Dynamo: true, api: awstest.CheckExpressions(t, table.NewClient(cfg)), table: awstest.CreateTableFromTemplate(t, cfg, "JobsTable")})
	})
}

// ForEachJobStore is ForEachStore for a test that needs one store per case.
func ForEachJobStore(t *testing.T, test func(t *testing.T, st JobStore)) {
	t.Helper()
	ForEachStore(t, func(t *testing.T, s Stores) { test(t, s.New()) })
}
