package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
)

// TestExitCodes: scripts rely on them (see the package comment).
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{[]string{"--help"}, exitOK, "Available Commands"},
		{[]string{"run", "--help"}, exitOK, "--emulated"},
		{[]string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{[]string{"run", "--no-such-flag"}, exitUsage, "unknown flag"},
		{[]string{"run", "extra"}, exitUsage, "accepts 0 arg"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := execute(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.out) {
				t.Fatalf("exit %d, want %d; output:\n%s%s", code, tc.code, out.String(), errOut.String())
			}
		})
	}
}

func TestExitCodeOfErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, exitOK},
		{errors.New("zoho said no"), exitFailed},
		{checksFailed, exitFailed},
		{fmt.Errorf("lead: %w", notFound("no record of lead %s", "1")), exitNotFound},
		{usageError{errors.New("no --table")}, exitUsage},
	} {
		if got := exitCode(tc.err); got != tc.code {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}

func TestPrintTable(t *testing.T) {
	var b bytes.Buffer
	if err := printTable(&b, []string{"JOB", "STATE"}, [][]string{{"3652397000009835001", "COMPLETED"}, {"doubt-1", "IN_DOUBT"}}); err != nil {
		t.Fatal(err)
	}
	want := "JOB                  STATE\n3652397000009835001  COMPLETED\ndoubt-1              IN_DOUBT\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestMain(m *testing.M) { awstest.Main(m) }
