package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// none marks a figure a line does not have (no baseline, no floor).
var none = math.NaN()

// sample is one line of the table as one repetition measured it.
type sample struct {
	key      string  // stable within the row, e.g. "calls/1id-0dup-1set"
	measure  string  // what was measured, for people
	unit     string  // see format
	ours     float64 // this project
	baseline float64 // the naive peer, or none
	floor    float64 // the best possible (or, for a cap, the most allowed), or none
	note     string  // sizes and how the figure was obtained
	problem  string  // set when an invariant the row checks was broken
}

// row is one line of the table: the median of its samples over the
// repetitions, with ratios computed within each repetition first.
type row struct {
	Row          int       `json:"row"`
	Key          string    `json:"key"`
	Measure      string    `json:"measure"`
	Unit         string    `json:"unit,omitempty"`
	Ours         *float64  `json:"ours"` // null: not measured yet
	Baseline     *float64  `json:"baseline,omitempty"`
	Floor        *float64  `json:"floor,omitempty"`
	OursPerFloor *float64  `json:"ours_per_floor,omitempty"`
	OursPerBase  *float64  `json:"ours_per_baseline,omitempty"`
	OursReps     []float64 `json:"ours_reps,omitempty"`
	Note         string    `json:"note,omitempty"`
	Problems     []string  `json:"problems,omitempty"`
}

// aggregate folds the repetitions of one table row (reps[i] is repetition
// i's samples) into lines, in the order the first repetition produced them.
func aggregate(n int, reps [][]sample) []row {
	var keys []string
	byKey := map[string][]sample{}
	for _, rep := range reps {
		for _, s := range rep {
			if _, ok := byKey[s.key]; !ok {
				keys = append(keys, s.key)
			}
			byKey[s.key] = append(byKey[s.key], s)
		}
	}
	rows := make([]row, 0, len(keys))
	for _, k := range keys {
		ss := byKey[k]
		var ours, base, floor, perFloor, perBase []float64
		r := row{Row: n, Key: k, Measure: ss[0].measure, Unit: ss[0].unit, Note: ss[0].note}
		for _, s := range ss {
			ours = append(ours, s.ours)
			base = append(base, s.baseline)
			floor = append(floor, s.floor)
			perFloor = append(perFloor, ratio(s.ours, s.floor))
			perBase = append(perBase, ratio(s.ours, s.baseline))
			if s.problem != "" {
				r.Problems = append(r.Problems, s.problem)
			}
		}
		r.OursReps = ours
		r.Ours = median(ours)
		r.Baseline = median(base)
		r.Floor = median(floor)
		r.OursPerFloor = median(perFloor)
		r.OursPerBase = median(perBase)
		rows = append(rows, r)
	}
	return rows
}

func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return none
	}
	return a / b
}

// median of the figures that are not none; nil when there are none.
func median(xs []float64) *float64 {
	xs = slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(xs) == 0 {
		return nil
	}
	slices.Sort(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + m) / 2
	}
	return &m
}

// printTable writes the rows as one aligned text table.
func printTable(w io.Writer, rows []row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "row\tmeasure\tours\tbaseline\tfloor/cap\tours/floor\tours/baseline\tnote")
	for _, r := range rows {
		note := r.Note
		if len(r.Problems) > 0 {
			note = "FAILED: " + r.Problems[0] + "; " + note
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Row, r.Measure,
			format(r.Ours, r.Unit), format(r.Baseline, r.Unit), format(r.Floor, r.Unit),
			formatRatio(r.OursPerFloor), formatRatio(r.OursPerBase), note)
	}
	return tw.Flush()
}

// format writes a figure in its unit: calls and other counts as integers
// with thousands separators, durations with one decimal.
func format(v *float64, unit string) string {
	if v == nil {
		return "-"
	}
	switch unit {
	case "s", "ms", "MB":
		return strconv.FormatFloat(*v, 'f', 1, 64) + " " + unit
	}
	if math.Abs(*v) < 100 && *v != math.Trunc(*v) {
		return strconv.FormatFloat(*v, 'f', 1, 64)
	}
	return thousands(int64(math.Round(*v)))
}

func formatRatio(v *float64) string {
	if v == nil {
		return "-"
	}
	switch {
	case *v == 0:
		return "0"
	case math.Abs(*v) >= 0.1:
		return strconv.FormatFloat(*v, 'f', 2, 64)
	}
	return strconv.FormatFloat(*v, 'g', 3, 64)
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// skipped is the one line of a row whose tools are missing.
func skipped(key, title, why string) sample {
	return sample{key: key, measure: title, ours: none, baseline: none, floor: none, note: errSkipped.Error() + " (" + why + ")"}
}
