package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Event is an invocation that asks for a sweep's run:
// {"sweep": "NAME", "dry_run": true, "run": "RUN ID"}; dry_run and run are
// optional (a schedule's target passes its tick time as run, so that a
// tick delivered twice is one run).
type Event struct {
	Sweep  string
	DryRun bool
	RunID  string
}

// ParseEvent reads an invocation event. ok is false for an event that does
// not name a sweep (anything without a "sweep" key: the status function's
// own). An event that names one badly is an error saying what is wrong.
func ParseEvent(raw []byte) (ev Event, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Event{}, false, nil
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return Event{}, false, nil
	}
	name, named := top["sweep"]
	if !named {
		return Event{}, false, nil
	}
	if json.Unmarshal(name, &ev.Sweep) != nil || !ValidName(ev.Sweep) {
		return Event{}, true, errors.New(`"sweep" must name a sweep: 1 to 64 letters, digits, - and _`)
	}
	for k, v := range top {
		switch k {
		case "sweep":
		case "dry_run":
			if json.Unmarshal(v, &ev.DryRun) != nil {
				return Event{}, true, errors.New(`"dry_run" must be true or false`)
			}
		case "run":
			if json.Unmarshal(v, &ev.RunID) != nil || !ValidRunID(ev.RunID) {
				return Event{}, true, errors.New(`"run" must be a run id: 1 to 64 letters, digits and -_.:+`)
			}
		default:
			return Event{}, true, fmt.Errorf("unknown key %q in a sweep's event; allowed: sweep, dry_run, run", k)
		}
	}
	return ev, true, nil
}

// ScheduledTime is Scheduler's context attribute for the time a tick was
// scheduled for: in a target's input it becomes that time in RFC 3339
// (2026-12-05T01:00:00Z), the same for every delivery of one tick.
const ScheduledTime = "<aws.scheduler.scheduled-time>"

// ScheduleInput is the input of a sweep's schedule: the sweep's event with
// the tick's time as the run id, so that a tick Scheduler delivers twice
// (it delivers at least once) is one run. Written by hand: json.Marshal
// would escape the attribute's < and >, and Scheduler substitutes the text
// as it is. A sweep's name needs no escaping (ValidName).
func ScheduleInput(name string) string {
	return `{"sweep":"` + name + `","run":"` + ScheduledTime + `"}`
}
