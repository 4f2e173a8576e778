// Package sweep is a scheduled selection of leads: a COQL condition over
// Leads, a custom view of Leads, or a view narrowed by a condition, and the
// conversion options to apply, run now and then to put every
// matching lead that is not converted or claimed on the conversion queue
// (docs/architecture.md, "Sweeps"). From the queue, the leads go the way
// every lead goes.
package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// DefaultMaxLeads is how many leads a run queues at most unless the sweep
// says otherwise: a mistaken condition must not convert the whole CRM, and
// a conversion cannot be undone.
const DefaultMaxLeads = 1000

// MaxMaxLeads caps max_leads: COQL's 100,000 rows through offsets is the
// most any documented selection reaches.
const MaxMaxLeads = 100000

// Sweep is a stored selection of leads and what to do with them.
type Sweep struct {
	Name string
	// Schedule is an EventBridge Scheduler expression (cron(...) or
	// rate(...)) in TimeZone; stored only, the schedule is made elsewhere.
	Schedule, TimeZone string
	// Condition is the where clause of the run's COQL query (CheckCondition),
	// or empty when View alone selects.
	Condition string
	// View is the id of a custom view of Leads the run selects from
	// (from Leads#<cvid>, zoho-crm-api.md section 8), narrowed by
	// Condition when there is one; empty: every lead.
	View string
	// Options is a conversion request without ids, as JSON: what every
	// message of a run carries beside its ids.
	Options  json.RawMessage
	MaxLeads int
	Enabled  bool
	// OpenRun is the id of the run under way, if any: a sweep has at most
	// one, so that runs never overlap.
	OpenRun string
	// LastRun is the id of the last run started.
	LastRun string
	// RecentRuns are the ids of the last RecentRuns runs started, oldest
	// first: how `sweep show` finds runs without scanning the table.
	RecentRuns []string
	CreatedAt  time.Time
}

// RecentRuns is how many run ids a sweep keeps.
const RecentRuns = 20

// RunRetention is how long a run is kept after it started (the table's
// TTL removes it then). A schedule's tick is never delivered again that
// late, so its id can no longer be repeated.
const RunRetention = 90 * 24 * time.Hour

// AddRecent returns recent with id appended, keeping the last RecentRuns.
func AddRecent(recent []string, id string) []string {
	out := append(slices.Clone(recent), id)
	return out[max(0, len(out)-RecentRuns):]
}

// ErrNotFound is returned for a sweep or a run that is not stored.
var ErrNotFound = errors.New("sweep: not found")

// ErrChanged is returned when a conditional write finds the sweep or the
// run changed since it was read (another invocation got there first).
var ErrChanged = errors.New("sweep: changed meanwhile")

// Store keeps sweeps and their runs: what a run needs.
type Store interface {
	// Sweep returns a stored sweep or ErrNotFound.
	Sweep(ctx context.Context, name string) (Sweep, error)
	// StartRun stores r (Version 1) as its sweep's open run, on the
	// condition that the sweep exists, has no open run, and no run has
	// r's id: otherwise ErrChanged (ErrNotFound without the sweep).
	StartRun(ctx context.Context, r Run) error
	// SweepRun returns a stored run or ErrNotFound.
	SweepRun(ctx context.Context, sweep, id string) (Run, error)
	// SaveRun stores r as Version+1 on the condition that the stored run
	// is at r.Version: otherwise ErrChanged. A run saved with an End is
	// no longer its sweep's open run.
	SaveRun(ctx context.Context, r Run) error
	// Sweeps returns every sweep, by name, without scanning the table:
	// how the scheduled invocation finds the runs under way.
	Sweeps(ctx context.Context) ([]Sweep, error)
}

// Catalog is the operator's side: defining sweeps.
type Catalog interface {
	// PutSweep stores s, replacing a sweep of the same name but keeping
	// its runs, its open run and its recent runs.
	PutSweep(ctx context.Context, s Sweep) error
	// Sweeps returns every sweep, by name, without scanning the table.
	Sweeps(ctx context.Context) ([]Sweep, error)
	// SetEnabled pauses (false) or resumes (true) a sweep, or ErrNotFound.
	SetEnabled(ctx context.Context, name string, enabled bool) error
	// DeleteSweep removes a sweep, or ErrNotFound; its runs stay until
	// they expire (RunRetention).
	DeleteSweep(ctx context.Context, name string) error
}

// ValidName reports whether name can name a sweep: 1 to 64 letters,
// digits, - and _ (it is part of table keys and schedule names).
func ValidName(name string) bool { return validToken(name, 64, "-_") }

// ValidRunID reports whether id can name a run: 1 to 64 letters, digits
// and -_.:+ (an RFC 3339 time, such as a schedule's tick, is one).
func ValidRunID(id string) bool { return validToken(id, 64, "-_.:+") }

func validToken(s string, maxLen int, extra string) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		for _, e := range []byte(extra) {
			ok = ok || c == e
		}
		if !ok {
			return false
		}
	}
	return true
}

// DefaultTimeZone is the time zone of a schedule that names none.
const DefaultTimeZone = "UTC"

// Check validates s before it is stored, and fills in the default
// max_leads and time zone. The schedule is checked as EventBridge
// Scheduler would check it (CheckSchedule), so that a sweep is never
// stored with a schedule that cannot be made. dec validates the options as every request is validated, with
// the deployment's default owner.
func (s *Sweep) Check(dec *convert.Decoder) error {
	if !ValidName(s.Name) {
		return fmt.Errorf("sweep name %q: use 1 to 64 letters, digits, - and _", s.Name)
	}
	if s.TimeZone == "" {
		s.TimeZone = DefaultTimeZone
	}
	if err := CheckSchedule(s.Schedule, s.TimeZone); err != nil {
		return err
	}
	if s.View != "" && !zoho.IsRecordID(s.View) {
		return &ViewError{s.View}
	}
	if s.Condition == "" && s.View == "" {
		return errors.New("sweep selection: give a condition, a custom view, or both (a view narrowed by a condition)")
	}
	if s.Condition != "" {
		if err := CheckCondition(s.Condition); err != nil {
			return err
		}
	}
	switch {
	case s.MaxLeads == 0:
		s.MaxLeads = DefaultMaxLeads
	case s.MaxLeads < 0 || s.MaxLeads > MaxMaxLeads:
		return fmt.Errorf("sweep max_leads %d: 1 to %d", s.MaxLeads, MaxMaxLeads)
	}
	if _, err := Request(dec, s.Options); err != nil {
		return err
	}
	return nil
}

// ViewError is a custom view id refused before it is stored: a run pastes
// it into its query, so it is held to the shape of a record id.
type ViewError struct{ View string }

func (e *ViewError) Error() string {
	return fmt.Sprintf("sweep view %q: a custom view's id is a Zoho record id, up to 19 digits (the cvid in the view's URL)", e.View)
}

// Source is the from clause of a run's query: Leads, or the sweep's
// custom view of Leads.
func (s Sweep) Source() string {
	if s.View == "" {
		return "Leads"
	}
	return "Leads#" + s.View
}

// placeholderID stands in for the ids a run adds, so that the decoder,
// which refuses a request without ids, can judge the options alone.
const placeholderID = "1"

// Request decodes a sweep's options with dec into the conversion request
// a run sends (its ids left empty). Options naming ids are refused: a run
// chooses the ids.
func Request(dec *convert.Decoder, options json.RawMessage) (*zoho.ConvertRequest, error) {
	var top map[string]json.RawMessage
	if len(options) == 0 {
		options = json.RawMessage(`{}`)
	}
	if err := json.Unmarshal(options, &top); err != nil || top == nil {
		return nil, errors.New("sweep options: not a JSON object (a conversion request without ids)")
	}
	if _, ok := top["ids"]; ok {
		return nil, errors.New("sweep options: ids are chosen by the run; leave them out")
	}
	top["ids"] = json.RawMessage(`["` + placeholderID + `"]`)
	body, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("sweep options: %w", err)
	}
	req, err := dec.JSON(body)
	if err != nil {
		return nil, fmt.Errorf("sweep options: %w", err)
	}
	req.IDs = nil
	return req, nil
}
