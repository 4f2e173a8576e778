// Command leadconvert is the operator's tool for a deployed bridge, and the
// developer's for a local one:
//
//	leadconvert connect   turn a Zoho self-client's grant code into a working secret
//	leadconvert doctor    check a deployed stack, one line per check
//	leadconvert jobs      list open, stale or recently finished jobs
//	leadconvert lead ID   what became of one lead
//	leadconvert request ID  what became of the leads of one API request
//	leadconvert redrive   show dead letters by reason, and move them back
//	leadconvert submit    send a conversion request to the queue or the API
//	leadconvert sweep     define, run and follow scheduled sweeps (create, list, show, run, pause, resume, delete)
//	leadconvert run       the whole flow on embedded defaults (make run)
//
// Exit codes scripts may rely on: 0 success; 1 the operation failed, or a
// check found a problem; 2 the command line is wrong; 3 what was asked for
// does not exist (a lead, a request, a stack). Secrets are never printed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	// The time zones a sweep's schedule may name are checked here, before
	// Scheduler sees them: with the database built in, the answer does not
	// depend on the operator's machine having one.
	_ "time/tzdata"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(execute(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// execute runs the command line args and returns the process's exit code.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "leadconvert:", err)
	}
	return exitCode(err)
}

// exitCode is the process's exit code for a command's error.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case isUsageError(err):
		return exitUsage
	}
	return exitFailed
}

// newRoot is the command tree. Each command lives in its own file.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "leadconvert",
		Short:         "Operate a Zoho lead conversion bridge: connect Zoho, check a stack, follow leads, redrive",
		SilenceUsage:  true, // errors say what is wrong; --help shows the usage
		SilenceErrors: true, // execute prints them once, with the exit code
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newConnectCmd(), newDoctorCmd(), newJobsCmd(), newLeadCmd(), newRequestCmd(),
		newRedriveCmd(), newRotateKeyCmd(), newSubmitCmd(), newSweepCmd(), newRunCmd())
	return root
}
