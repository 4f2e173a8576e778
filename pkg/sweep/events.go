package sweep

import (
	"context"
	"time"
)

// The source and detail type of the event announcing a run's end, for
// EventBridge rules to match. The source is the one of the job-finished
// event (jobcheck.EventSource), so that one rule on the source takes both:
//
//	{"source": ["zoho-lead-convert"], "detail-type": ["Sweep Run Ended"]}
const (
	EventSource     = "zoho-lead-convert"
	EventDetailType = "Sweep Run Ended"
)

// RunEvent is the detail of the event announcing that a run ended: its
// counts as `leadconvert sweep show` and GET /sweeps/{name} show them.
// The leads' own outcomes come later, as their jobs end (each job's
// "Mass Convert Job Finished" event names its requests, sweep:NAME:RUN:N).
type RunEvent struct {
	Sweep  string `json:"sweep"`
	RunID  string `json:"run_id"`
	End    string `json:"end"`              // EndDone, EndMaxLeads or EndError
	Reason string `json:"reason,omitempty"` // why EndError: Zoho's answer as it is
	Counts
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
}

// NewRunEvent describes the run an invocation has just ended
// (Report.EndedNow).
func NewRunEvent(r Report) RunEvent {
	return RunEvent{Sweep: r.Sweep, RunID: r.RunID, End: r.End, Reason: r.Reason, Counts: r.Counts,
		StartedAt: r.StartedAt.UTC(), EndedAt: r.EndedAt.UTC()}
}

// Publisher announces the end of runs (pkg/aws/eventbus on EventBridge).
// Each end is put once, as for jobs: a failed publication is logged and
// counted (EventErrors), not put again. (A consumer may still see one twice,
// from the SDK's retry of a lost answer or EventBridge's at-least-once
// delivery: it keys on the run id.)
type Publisher interface {
	PublishRunEnded(ctx context.Context, ev RunEvent) error
}
