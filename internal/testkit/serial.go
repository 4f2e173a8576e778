package testkit

import (
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
)

// ForEachSerialStore is ForEachStore for a test that races writers
// (instances, goroutines) on one store: its "dynamodb" case runs on the
// moto that serves one request at a time (awstest.RequireSerial). A
// threaded moto may let two racing conditional writes both pass; DynamoDB
// and the serial moto apply each request atomically, so the races the test
// finds are the code's own.
func ForEachSerialStore(t *testing.T, test func(t *testing.T, s Stores)) {
	t.Helper()
	forEachStore(t, awstest.RequireSerial, test)
}

// ForEachSerialJobStore is ForEachSerialStore for a test that needs one
// store per case.
func ForEachSerialJobStore(t *testing.T, test func(t *testing.T, st JobStore)) {
	t.Helper()
	ForEachSerialStore(t, func(t *testing.T, s Stores) { test(t, s.New()) })
}
