package sweep

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CheckSchedule refuses a schedule expression and time zone that
// EventBridge Scheduler would refuse, so that `sweep create` fails before
// anything is stored rather than leave a sweep without its schedule. A
// sweep recurs: cron(...) and rate(...) only, not at(...). The rules are
// Scheduler's (the same as EventBridge rules'): cron has six fields,
// minutes hours day-of-month month day-of-week year, and exactly one of
// day-of-month and day-of-week is '?'; rate is a positive whole number and
// minute(s), hour(s) or day(s), singular for 1 and plural otherwise.
func CheckSchedule(expr, timeZone string) error {
	if err := checkExpression(expr); err != nil {
		return fmt.Errorf("schedule %q: %w", expr, err)
	}
	if err := CheckTimeZone(timeZone); err != nil {
		return err
	}
	return nil
}

// CheckTimeZone refuses what is not an IANA time zone name (such as
// Europe/Berlin or UTC).
func CheckTimeZone(tz string) error {
	if tz == "" || tz == "Local" {
		return fmt.Errorf("time zone %q: name an IANA time zone, such as Europe/Berlin or UTC", tz)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return fmt.Errorf("time zone %q: not an IANA time zone name (such as Europe/Berlin or UTC)", tz)
	}
	return nil
}

func checkExpression(expr string) error {
	switch {
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		return checkCron(expr[len("cron(") : len(expr)-1])
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		return checkRate(expr[len("rate(") : len(expr)-1])
	case strings.HasPrefix(expr, "at("):
		return errors.New("a sweep recurs: use cron(...) or rate(...), not a one-time at(...)")
	}
	return errors.New("want cron(minutes hours day-of-month month day-of-week year) or rate(value unit), e.g. cron(0 2 * * ? *) or rate(1 hour)")
}

func checkRate(body string) error {
	f := strings.Split(body, " ")
	if len(f) != 2 {
		return errors.New("rate takes a value and a unit separated by one space, e.g. rate(5 minutes)")
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 || f[0][0] == '0' || strconv.Itoa(n) != f[0] {
		return fmt.Errorf("rate value %q: want a whole number of at least 1", f[0])
	}
	unit := f[1]
	singular := strings.TrimSuffix(unit, "s")
	switch singular {
	case "minute", "hour", "day":
	default:
		return fmt.Errorf("rate unit %q: want minute(s), hour(s) or day(s)", unit)
	}
	if n == 1 && unit != singular {
		return fmt.Errorf("a value of 1 takes the singular unit %s", singular)
	}
	if n > 1 && unit == singular {
		return fmt.Errorf("a value above 1 takes the plural unit %ss", singular)
	}
	return nil
}

// cronField is one field of a cron expression: its range and what it
// allows besides numbers.
type cronField struct {
	name     string
	min, max int
	names    []string // names for min, min+1, ... (months, days of the week)
	question bool     // '?' allowed
	noStep   bool     // '/' refused (day-of-week's wildcards are , - * ? L #)
	special  func(item string) (bool, error)
}

var months = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
var weekdays = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

// weekday reads the days of day-of-week's special forms (without the
// special itself, which would make the table refer to itself).
var weekday = cronField{name: "day-of-week", min: 1, max: 7, names: weekdays}

var cronFields = [6]cronField{
	{name: "minutes", min: 0, max: 59},
	{name: "hours", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31, question: true, special: dayOfMonthSpecial},
	{name: "month", min: 1, max: 12, names: months},
	{name: "day-of-week", min: 1, max: 7, names: weekdays, question: true, noStep: true, special: dayOfWeekSpecial},
	{name: "year", min: 1970, max: 2199},
}

func checkCron(body string) error {
	f := strings.Split(body, " ")
	if len(f) != 6 {
		return fmt.Errorf("cron takes 6 fields separated by one space (minutes hours day-of-month month day-of-week year), not %d", len(f))
	}
	for i, v := range f {
		if err := cronFields[i].check(v); err != nil {
			return err
		}
	}
	if (f[2] == "?") == (f[4] == "?") {
		return errors.New("exactly one of day-of-month (3rd field) and day-of-week (5th field) must be '?', e.g. cron(0 2 * * ? *)")
	}
	return nil
}

func (c cronField) check(v string) error {
	if v == "" {
		return fmt.Errorf("cron %s: empty", c.name)
	}
	if v == "?" {
		if !c.question {
			return fmt.Errorf("cron %s: '?' is only for day-of-month or day-of-week", c.name)
		}
		return nil
	}
	if c.special != nil {
		if ok, err := c.special(v); ok || err != nil {
			if err != nil {
				return fmt.Errorf("cron %s %q: %w", c.name, v, err)
			}
			return nil
		}
	}
	for item := range strings.SplitSeq(v, ",") {
		if err := c.item(item); err != nil {
			return fmt.Errorf("cron %s %q: %w", c.name, v, err)
		}
	}
	return nil
}

// item checks one element of a list: *, a value, a-b, or any of those
// with /step.
func (c cronField) item(item string) error {
	base, step, stepped := strings.Cut(item, "/")
	if stepped && c.noStep {
		return fmt.Errorf("%s takes no step (/): list the days, e.g. MON,WED,FRI", c.name)
	}
	if stepped {
		n, err := c.number(step, false)
		if err != nil || n < 1 || n > c.max-c.min+1 {
			return fmt.Errorf("step %q: want a whole number from 1 to %d", step, c.max-c.min+1)
		}
	}
	if base == "*" {
		return nil
	}
	lo, hi, ranged := strings.Cut(base, "-")
	a, err := c.number(lo, true)
	if err != nil {
		return err
	}
	if !ranged {
		return nil
	}
	b, err := c.number(hi, true)
	if err != nil {
		return err
	}
	if a > b {
		return fmt.Errorf("range %s: its start comes after its end", base)
	}
	return nil
}

// number reads a value of the field: digits, or a name if the field has
// names and named is true.
func (c cronField) number(s string, named bool) (int, error) {
	if named {
		for i, n := range c.names {
			if strings.EqualFold(s, n) {
				return c.min + i, nil
			}
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || s == "" || s[0] == '+' || s[0] == '-' {
		want := fmt.Sprintf("%d to %d", c.min, c.max)
		if len(c.names) > 0 {
			want += " or " + c.names[0] + " to " + c.names[len(c.names)-1]
		}
		return 0, fmt.Errorf("%q: want %s, *, a list (a,b), a range (a-b) or a step (a/n)", s, want)
	}
	if n < c.min || n > c.max {
		return 0, fmt.Errorf("%d is out of range %d to %d", n, c.min, c.max)
	}
	return n, nil
}

// dayOfMonthSpecial accepts L (the last day), LW (the last weekday) and nW
// (the weekday nearest day n), which stand alone in the field.
func dayOfMonthSpecial(v string) (bool, error) {
	switch {
	case v == "L" || v == "LW":
		return true, nil
	case strings.HasSuffix(v, "W"):
		d, err := strconv.Atoi(strings.TrimSuffix(v, "W"))
		if err != nil || d < 1 || d > 31 {
			return true, errors.New("a W follows a day from 1 to 31, e.g. 15W")
		}
		return true, nil
	case strings.ContainsAny(v, "LW"):
		return true, errors.New("an L or a W stands alone: L, LW or nW")
	}
	return false, nil
}

// dayOfWeekSpecial accepts L (the last day of the week), nL (the last
// weekday n of the month) and n#k (the k-th weekday n of the month).
func dayOfWeekSpecial(v string) (bool, error) {
	day := func(s string) bool {
		_, err := weekday.number(s, true)
		return err == nil
	}
	switch {
	case v == "L":
		return true, nil
	case strings.Contains(v, "#"):
		d, k, _ := strings.Cut(v, "#")
		if !day(d) || len(k) != 1 || k[0] < '1' || k[0] > '5' {
			return true, errors.New("# takes a day and a week from 1 to 5, e.g. 2#1 (the first Monday)")
		}
		return true, nil
	case strings.HasSuffix(v, "L"):
		if !day(strings.TrimSuffix(v, "L")) {
			return true, errors.New("an L follows a day, e.g. 6L (the last Friday)")
		}
		return true, nil
	}
	return false, nil
}
