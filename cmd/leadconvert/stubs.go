package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// The commands below are being built (issue 13); each moves to a file of
// its own.

func notYet(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short + " (not yet built)",
		RunE: func(*cobra.Command, []string) error { return errors.New(use + ": not yet built") }}
}

func newConnectCmd() *cobra.Command {
	return notYet("connect", "Turn a Zoho self-client's grant code into a working secret")
}
func newJobsCmd() *cobra.Command {
	return notYet("jobs", "List open, stale or recently finished jobs")
}
func newLeadCmd() *cobra.Command { return notYet("lead", "Show what became of one lead") }
func newRequestCmd() *cobra.Command {
	return notYet("request", "Show what became of the leads of one API request")
}
func newRedriveCmd() *cobra.Command {
	return notYet("redrive", "Show dead letters by reason, and move them back to the conversion queue")
}
func newSubmitCmd() *cobra.Command {
	return notYet("submit", "Send a conversion request to the queue or the API")
}
