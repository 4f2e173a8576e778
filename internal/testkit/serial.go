package testkit

import (
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
)

// ForEachSerialStore is ForEachStore for a test that races writers
// (instances, goroutines) on one store: its "dynamodb" case runs on the
// moto that serves one request at a time (awstest.RequireSerial). A
// threaded moto may let two racing conditional writes both pass; DynamoDB
// and the serial moto apply each request atomically, so the races the test
// finds are the code's own.
func ForEachSerialStore(t *testing.T, test func(t *testing.T, s Stores)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) { test(t, Stores{}) })
	t.Run("dynamodb", func(t *testing.T) {
		cfg := awstest.RequireSerial(t)
		test(t, Stores{Dynamo: true, api: awstest.CheckExpressions(t, table.NewClient(cfg)), table: awstest.CreateTableFromTemplate(t, cfg, "JobsTable")})
	})
}

// ForEachSerialJobStore is ForEachSerialStore for a test that needs one
// store per case.
func ForEachSerialJobStore(t *testing.T, test func(t *testing.T, st JobStore)) {
	t.Helper()
	ForEachSerialStore(t, func(t *testing.T, s Stores) { test(t, s.New()) })
}
