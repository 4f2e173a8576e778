package sweep

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckSchedule(t *testing.T) {
	for _, tc := range []struct {
		expr, tz string
		want     string // "" accepted, else a part of the error
	}{
		{"cron(0 2 * * ? *)", "Europe/Berlin", ""},
		{"cron(0/15 8-18 ? * MON-FRI *)", "UTC", ""},
		{"cron(30 6 ? * 2#1 *)", "UTC", ""},
		{"cron(0 0 L * ? *)", "UTC", ""},
		{"cron(0 0 LW * ? *)", "UTC", ""},
		{"cron(0 0 15W * ? *)", "UTC", ""},
		{"cron(0 0 ? * 6L *)", "UTC", ""},
		{"cron(0 0 ? * L *)", "UTC", ""},
		{"cron(0 12 1,15 jan-jun ? 2026-2030)", "America/New_York", ""},
		{"cron(*/5 * * * ? *)", "UTC", ""},
		{"rate(1 minute)", "UTC", ""},
		{"rate(5 minutes)", "UTC", ""},
		{"rate(1 hour)", "UTC", ""},
		{"rate(2 days)", "UTC", ""},

		{"cron(0 2 * * * *)", "UTC", "exactly one of day-of-month"},
		{"cron(0 2 ? * ? *)", "UTC", "exactly one of day-of-month"},
		{"cron(0 2 * * ?)", "UTC", "6 fields"},
		{"cron(0 2 * * ? * *)", "UTC", "6 fields"},
		{"cron(0  2 * * ? *)", "UTC", "6 fields"},
		{"cron(60 2 * * ? *)", "UTC", "minutes"},
		{"cron(0 24 * * ? *)", "UTC", "hours"},
		{"cron(0 2 0 * ? *)", "UTC", "day-of-month"},
		{"cron(0 2 32 * ? *)", "UTC", "day-of-month"},
		{"cron(0 2 * 13 ? *)", "UTC", "month"},
		{"cron(0 2 ? * 8 *)", "UTC", "day-of-week"},
		{"cron(0 2 ? * */2 *)", "UTC", "takes no step"},
		{"cron(0 2 ? * MON,WED,FRI *)", "UTC", ""},
		{"cron(0 2 ? * 2#6 *)", "UTC", "day-of-week"},
		{"cron(0 2 * * ? 1969)", "UTC", "year"},
		{"cron(0 2 * * ? 2200)", "UTC", "year"},
		{"cron(0 ? * * ? *)", "UTC", "'?' is only for"},
		{"cron(0 5-2 * * ? *)", "UTC", "start comes after"},
		{"cron(0/0 2 * * ? *)", "UTC", "step"},
		{"cron(a 2 * * ? *)", "UTC", "minutes"},
		{"cron(0 2 32W * ? *)", "UTC", "a W follows"},
		{"cron(0 2 1,L * ? *)", "UTC", "stands alone"},
		{"cron(0 2 ? * 9L *)", "UTC", "an L follows"},
		{"cron(0 2 , * ? *)", "UTC", "day-of-month"},
		{"rate(1 minutes)", "UTC", "singular"},
		{"rate(5 minute)", "UTC", "plural"},
		{"rate(0 minutes)", "UTC", "at least 1"},
		{"rate(-1 minutes)", "UTC", "at least 1"},
		{"rate(05 minutes)", "UTC", "at least 1"},
		{"rate(1 week)", "UTC", "unit"},
		{"rate(1hour)", "UTC", "value and a unit"},
		{"at(2026-01-01T00:00:00)", "UTC", "recurs"},
		{"0 2 * * *", "UTC", "want cron"},
		{"", "UTC", "want cron"},
		{"rate(1 hour)", "Mars/Olympus", "IANA"},
		{"rate(1 hour)", "", "IANA"},
		{"rate(1 hour)", "Local", "IANA"},
	} {
		err := CheckSchedule(tc.expr, tc.tz)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckSchedule(%q, %q): %v, want accepted", tc.expr, tc.tz, err)
		case tc.want != "" && err == nil:
			t.Errorf("CheckSchedule(%q, %q) accepted, want %q", tc.expr, tc.tz, tc.want)
		case tc.want != "" && !strings.Contains(err.Error(), tc.want):
			t.Errorf("CheckSchedule(%q, %q): %v, want it to say %q", tc.expr, tc.tz, err, tc.want)
		}
	}
}

// FuzzCheckSchedule: nothing panics, and what is accepted has the shape
// Scheduler requires.
func FuzzCheckSchedule(f *testing.F) {
	for _, s := range []string{"cron(0 2 * * ? *)", "cron(0/15 8-18 ? * MON-FRI *)", "cron(30 6 ? * 2#1 *)", "cron(0 0 15W * ? *)",
		"rate(1 hour)", "rate(10 minutes)", "cron(0 2 * * * *)", "at(2026-01-01T00:00:00)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if CheckSchedule(expr, "UTC") != nil {
			return
		}
		switch {
		case strings.HasPrefix(expr, "cron("):
			fields := strings.Split(strings.TrimSuffix(strings.TrimPrefix(expr, "cron("), ")"), " ")
			if len(fields) != 6 || (fields[2] == "?") == (fields[4] == "?") {
				t.Fatalf("accepted %q", expr)
			}
			if strings.Contains(fields[4], "/") {
				t.Fatalf("accepted %q: a step in day-of-week", expr)
			}
			for _, fl := range fields {
				if fl == "" || strings.Trim(strings.ToUpper(fl), "0123456789*?,-/#ABCDEFGHIJLMNOPRSTUVWY") != "" {
					t.Fatalf("accepted %q: field %q", expr, fl)
				}
			}
		case strings.HasPrefix(expr, "rate("):
			var n int
			var unit string
			if _, err := fmt.Sscanf(expr, "rate(%d %s", &n, &unit); err != nil || n < 1 {
				t.Fatalf("accepted %q", expr)
			}
		default:
			t.Fatalf("accepted %q", expr)
		}
	})
}

// TestSchedulerRunID: the time Scheduler substitutes for
// <aws.scheduler.scheduled-time> in a target's input is a run id, so a tick
// delivered twice is one run.
func TestSchedulerRunID(t *testing.T) {
	for _, id := range []string{"2026-12-05T01:00:00Z", "2026-12-05T02:00:00+01:00"} {
		if !ValidRunID(id) {
			t.Errorf("ValidRunID(%q) = false", id)
		}
	}
	in := ScheduleInput("nightly")
	if !strings.Contains(in, ScheduledTime) {
		t.Fatalf("the schedule's input %s does not hold %s as Scheduler reads it", in, ScheduledTime)
	}
	ev, ok, err := ParseEvent([]byte(strings.ReplaceAll(in, ScheduledTime, "2026-12-05T01:00:00Z")))
	if !ok || err != nil || ev.Sweep != "nightly" || ev.RunID != "2026-12-05T01:00:00Z" {
		t.Fatalf("the schedule's input: %+v %v %v", ev, ok, err)
	}
}

// TestSampleScheduleEvent: events/sweep-schedule.json is what a sweep's
// schedule delivers once Scheduler substituted the tick's time.
func TestSampleScheduleEvent(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "sweep-schedule.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev, ok, err := ParseEvent(b)
	want := strings.ReplaceAll(ScheduleInput(ev.Sweep), ScheduledTime, ev.RunID)
	if !ok || err != nil || ev.DryRun || strings.TrimSpace(string(b)) != want {
		t.Fatalf("events/sweep-schedule.json: %+v %v %v, want the shape %s", ev, ok, err, want)
	}
}
