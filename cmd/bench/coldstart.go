// Row 6, cold start: the row itself. Building the bootstraps is in
// coldstart_build.go, running them under the emulator in coldstart_proc.go.

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/rie"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
)

// rowColdStart is row 6: s.coldStarts fresh processes of each bootstrap,
// taken in turn, under the Runtime Interface Emulator; the median of each
// figure; and the binaries' sizes.
func rowColdStart(ctx context.Context, s settings, _ int) ([]sample, error) {
	const title = "Cold start"
	if runtime.GOOS != "linux" {
		return []sample{skipped("coldstart/skipped", title, "the emulator runs linux binaries")}, nil
	}
	if _, err := rie.Emulator(); errors.Is(err, rie.ErrNoEmulator) {
		return []sample{skipped("coldstart/skipped", title, "no .bin/aws-lambda-rie")}, nil
	}
	m, err := sharedMoto()
	if errors.Is(err, errSkipped) {
		return []sample{skipped("coldstart/skipped", title, "no .venv/bin/moto_server")}, nil
	}
	if err != nil {
		return nil, err
	}
	b, err := buildBootstraps(s.arm64Sizes)
	if err != nil {
		return nil, err
	}
	root, err := awstest.RepoRoot()
	if err != nil {
		return nil, err
	}
	sqsEvent, err := os.ReadFile(filepath.Join(root, "events", "sqs-batch.json"))
	if err != nil {
		return nil, err
	}
	scheduleEvent, err := os.ReadFile(filepath.Join(root, "events", "schedule.json"))
	if err != nil {
		return nil, err
	}
	runs := map[string][]coldStart{}
	var convertStats zohosim.Stats
	for range s.coldStarts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := coldHello(b)
		if err != nil {
			return nil, fmt.Errorf("hello world: %w", err)
		}
		runs[bootHello] = append(runs[bootHello], c)
		if c, convertStats, err = coldConvert(ctx, b, m, sqsEvent); err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		runs[bootConvert] = append(runs[bootConvert], c)
		if c, err = coldStatus(ctx, b, m, scheduleEvent); err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
		runs[bootStatus] = append(runs[bootStatus], c)
	}
	med := func(name string, f func(coldStart) time.Duration) float64 {
		var xs []float64
		for _, c := range runs[name] {
			xs = append(xs, ms(f(c)))
		}
		return float64(*median(xs))
	}
	initOf := func(c coldStart) time.Duration { return c.init }
	firstOf := func(c coldStart) time.Duration { return c.first }
	handlerOf := func(c coldStart) time.Duration { return c.handler }
	procs := fmt.Sprintf("median of %d fresh processes", s.coldStarts)
	out := []sample{
		{key: "coldstart/init-convert", measure: "init duration: convert", unit: "ms",
			ours: med(bootConvert, initOf), baseline: med(bootHello, initOf), floor: none,
			note: "the emulator's INIT REPORT: start to the first request for work; config, AWS SDK config and clients before lambda.Start; " + procs + "; baseline: hello world built the same way"},
		{key: "coldstart/first-convert", measure: "first invocation: convert, events/sqs-batch.json", unit: "ms",
			ours: med(bootConvert, firstOf), baseline: med(bootHello, firstOf), floor: none,
			note: fmt.Sprintf("wall time, init included; the handler %.1f ms (INVOKE RTDONE; hello %.1f ms): reads the secret and the shared token, claims %d leads, %d Zoho calls, records %d jobs; moto and the simulator on loopback, no latency; %s",
				med(bootConvert, handlerOf), med(bootHello, handlerOf), convertStats.IDsSubmitted, convertStats.Calls[zohosim.EndpointMassConvert], convertStats.JobsScheduled, procs)},
		{key: "coldstart/init-status", measure: "init duration: status", unit: "ms",
			ours: med(bootStatus, initOf), baseline: med(bootHello, initOf), floor: none,
			note: "as for convert; " + procs},
		{key: "coldstart/first-status", measure: "first invocation: status, events/schedule.json", unit: "ms",
			ours: med(bootStatus, firstOf), baseline: med(bootHello, firstOf), floor: none,
			note: fmt.Sprintf("wall time, init included; the handler %.1f ms: reads the secret and the shared token, checks 1 due job (1 Zoho call, 1 Query, 1 BatchGetItem, 1 UpdateItem); %s",
				med(bootStatus, handlerOf), procs)},
	}
	archs := slices.Sorted(func(yield func(string) bool) {
		for a := range b.size {
			if !yield(a) {
				return
			}
		}
	})
	for _, name := range []string{bootConvert, bootStatus} {
		for _, arch := range archs {
			out = append(out, sample{key: "coldstart/size-" + name + "-" + arch, measure: fmt.Sprintf("binary size: %s, linux/%s", name, arch), unit: "MB",
				ours: float64(b.size[arch][name]) / (1 << 20), baseline: float64(b.size[arch][bootHello]) / (1 << 20), floor: none,
				note: "CGO_ENABLED=0 -tags lambda.norpc -trimpath -ldflags='-s -w -buildid=' (the Makefile's build); baseline: hello world"})
		}
	}
	return out, nil
}
