package outcome

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// RunMessages is how many of a run's messages one view reads the outcomes
// of, over all the runs it shows, newest first. Each message is a request
// of up to 1,000 leads: one read of the request, its leads' claims in
// batches, and their jobs. A run of 100,000 leads has 100 messages, so a
// view that read them all would make thousands of reads: past this many,
// the counts are partial and say so.
const RunMessages = 10

// RunOutcomes is what became of the leads a run queued, from the requests
// its messages are (sweep.MessageRequestID).
type RunOutcomes struct {
	Converted    int `json:"converted"`
	NotConverted int `json:"not_converted"` // NOT_CONVERTED, STALE
	Rejected     int `json:"rejected"`      // REJECTED, DEAD_LETTERED
	Pending      int `json:"pending"`       // QUEUED, SCHEDULED, IN_DOUBT, RETRYING
	// ByState counts the leads by their state (QUEUED ... DEAD_LETTERED).
	ByState map[string]int `json:"by_state"`
	// MessagesRead of Messages were read; Partial says the counts cover
	// only those: the view's budget ran out (RunMessages), or a message's
	// request is no longer stored (expired, or queued by a version that
	// did not record it).
	Messages     int  `json:"messages"`
	MessagesRead int  `json:"messages_read"`
	Partial      bool `json:"partial,omitempty"`
}

// OfRun reads the outcomes of run's leads from at most budget of its
// messages' requests, the first ones first; used is how many it read.
func OfRun(ctx context.Context, r Reader, run sweep.Run, budget int) (o RunOutcomes, used int, err error) {
	o = RunOutcomes{ByState: map[string]int{}, Messages: run.Messages}
	for n := 1; n <= run.Messages && used < budget; n++ {
		id := sweep.MessageRequestID(run.Sweep, run.ID, n)
		rep, err := OfRequest(ctx, r, id)
		used++
		if errors.Is(err, jobs.ErrNotFound) {
			continue
		}
		if err != nil {
			return RunOutcomes{}, used, fmt.Errorf("run %s of sweep %s: %w", run.ID, run.Sweep, err)
		}
		o.MessagesRead++
		for state, c := range rep.Counts {
			o.ByState[state] += c
			switch state {
			case Converted:
				o.Converted += c
			case NotConverted, Stale:
				o.NotConverted += c
			case Rejected, DeadLettered:
				o.Rejected += c
			default:
				o.Pending += c
			}
		}
	}
	o.Partial = o.MessagesRead < o.Messages
	return o, used, nil
}

// Runs reads a sweep and its runs (sweep.Store has them).
type Runs interface {
	Sweep(ctx context.Context, name string) (sweep.Sweep, error)
	SweepRun(ctx context.Context, name, id string) (sweep.Run, error)
}

// SweepDefinition is a sweep as defined, as it is shown. Nothing in a
// sweep is secret; the runs' leases and cursors are left out as the
// bridge's own bookkeeping.
type SweepDefinition struct {
	Name      string          `json:"name"`
	Enabled   bool            `json:"enabled"`
	Schedule  string          `json:"schedule"`
	TimeZone  string          `json:"time_zone"`
	Condition string          `json:"condition"`
	View      string          `json:"view,omitempty"`
	Options   json.RawMessage `json:"options,omitempty"`
	MaxLeads  int             `json:"max_leads"`
	CreatedAt time.Time       `json:"created_at,omitzero"`
	OpenRun   string          `json:"open_run,omitempty"`
	LastRun   string          `json:"last_run,omitempty"`
}

// NewSweepDefinition shows s.
func NewSweepDefinition(s sweep.Sweep) SweepDefinition {
	return SweepDefinition{Name: s.Name, Enabled: s.Enabled, Schedule: s.Schedule, TimeZone: s.TimeZone, Condition: s.Condition,
		View: s.View, Options: s.Options, MaxLeads: s.MaxLeads, CreatedAt: s.CreatedAt, OpenRun: s.OpenRun, LastRun: s.LastRun}
}

// SweepReport is a sweep's definition and its last runs, newest first, as
// GET /sweeps/{name} and `leadconvert sweep show` show them.
type SweepReport struct {
	SweepDefinition
	Runs []RunReport `json:"runs"`
}

// RunReport is one run as shown.
type RunReport struct {
	ID        string    `json:"run_id"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	End       string    `json:"end"` // done, max_leads, error, or running
	Reason    string    `json:"reason,omitempty"`
	sweep.Counts
	Invocations int `json:"invocations"`
	// Outcomes are left out for a run whose messages the view's budget
	// did not reach (RunMessages).
	Outcomes *RunOutcomes `json:"outcomes,omitempty"`
}

// Running is a run's End while it is under way.
const Running = "running"

// NewRunReport shows run without its outcomes.
func NewRunReport(r sweep.Run) RunReport {
	end := r.End
	if end == "" {
		end = Running
	}
	return RunReport{ID: r.ID, StartedAt: r.StartedAt, EndedAt: r.EndedAt, End: end, Reason: r.Reason, Counts: r.Counts,
		Invocations: r.Invocations}
}

// OfSweep shows sweep name and its recent runs, newest first, with the
// outcomes of their leads as far as RunMessages messages go; sweep.ErrNotFound
// when it is not defined. Runs are read by the ids the sweep keeps, never
// by a scan; an expired one is left out.
func OfSweep(ctx context.Context, runs Runs, r Reader, name string) (SweepReport, error) {
	s, err := runs.Sweep(ctx, name)
	if err != nil {
		return SweepReport{}, fmt.Errorf("reading sweep %s: %w", name, err)
	}
	rep := SweepReport{SweepDefinition: NewSweepDefinition(s), Runs: []RunReport{}}
	budget := RunMessages
	for _, id := range slices.Backward(s.RecentRuns) {
		run, err := runs.SweepRun(ctx, s.Name, id)
		if errors.Is(err, sweep.ErrNotFound) {
			continue // expired
		}
		if err != nil {
			return SweepReport{}, fmt.Errorf("reading run %s of sweep %s: %w", id, s.Name, err)
		}
		v := NewRunReport(run)
		if budget > 0 || run.Messages == 0 {
			o, used, err := OfRun(ctx, r, run, budget)
			if err != nil {
				return SweepReport{}, err
			}
			budget -= used
			v.Outcomes = &o
		}
		rep.Runs = append(rep.Runs, v)
	}
	return rep, nil
}
