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

func newDoctorCmd() *cobra.Command { return notYet("doctor", "Check a deployed stack") }
