// Command leadconvert is the developer CLI. `leadconvert run` shows the
// whole flow on embedded defaults, with no AWS account and no network: a
// Zoho simulator on 127.0.0.1, in-memory stores and secret, and the sample
// events of events/ fed through the functions' real Lambda handlers.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "run":
		fs := flag.NewFlagSet("run", flag.ExitOnError)
		events := fs.String("events", "events", "folder of sample events")
		leads := fs.Int("leads", 200, "extra single-lead SQS messages to convert (10% duplicates)")
		verbose := fs.Bool("v", false, "print the functions' JSON logs to stderr")
		emulated := fs.Bool("emulated", false, "run the built bootstraps under the Lambda Runtime Interface Emulator against moto")
		_ = fs.Parse(os.Args[2:])
		run := func() error { return runLocal(os.Stdout, *events, *leads, *verbose) }
		if *emulated {
			run = func() error { return runEmulated(os.Stdout, *events) }
		}
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, "leadconvert run:", err)
			os.Exit(1)
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: leadconvert run [-emulated] [-events DIR] [-leads N] [-v]")
	os.Exit(2)
}
