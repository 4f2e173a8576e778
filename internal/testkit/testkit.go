// Package testkit holds the helpers the tests of several packages share:
// SQS events as Lambda delivers them, a reader of the EMF metric lines
// pkg/obs writes, the loop that runs a store test on both job stores, and
// the sample events of the repository's events/ folder.
//
// The Zoho side lives in internal/zohotest (the simulator's secret and a
// client wired to it) and moto in internal/awstest.
//
// Import it only from tests and from cmd/bench: pkg/ and functions/ never
// import internal/ (internal/layers checks it). It imports pkg/aws/table,
// so a package table, jobs or obs depends on cannot use it from an
// in-package test (package x, as opposed to x_test).
package testkit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
)

// SampleEvent returns the file name of the repository's events/ folder.
func SampleEvent(t testing.TB, name string) []byte {
	t.Helper()
	root, err := awstest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
