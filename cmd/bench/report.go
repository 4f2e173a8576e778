package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// none marks a figure a line does not have (no baseline, no floor).
var none = math.NaN()

// figure is a number of the JSON report. encoding/json refuses NaN and
// ±Inf, and a sample marks a figure it lacks with NaN (none): a skipped
// line once failed a whole run after its table was printed. A figure
// that is not finite is written as null instead.
type figure float64

func (f figure) MarshalJSON() ([]byte, error) {
	if !finite(float64(f)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

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
	Row          int      `json:"row"`
	Key          string   `json:"key"`
	Measure      string   `json:"measure"`
	Unit         string   `json:"unit,omitempty"`
	Ours         *figure  `json:"ours"` // null: skipped
	Baseline     *figure  `json:"baseline,omitempty"`
	Floor        *figure  `json:"floor,omitempty"`
	OursPerFloor *figure  `json:"ours_per_floor,omitempty"`
	OursPerBase  *figure  `json:"ours_per_baseline,omitempty"`
	OursReps     []figure `json:"ours_reps,omitempty"` // null where a repetition had no figure
	Note         string   `json:"note,omitempty"`
	Problems     []string `json:"problems,omitempty"`
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
		if slices.ContainsFunc(ours, finite) {
			r.OursReps = make([]figure, len(ours))
			for i, v := range ours {
				r.OursReps[i] = figure(v)
			}
		}
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
	if !finite(a) || !finite(b) || b == 0 {
		return none
	}
	return a / b
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// median of the finite figures; nil when there are none.
func median(xs []float64) *figure {
	xs = slices.DeleteFunc(slices.Clone(xs), func(v float64) bool { return !finite(v) })
	if len(xs) == 0 {
		return nil
	}
	slices.Sort(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + m) / 2
	}
	f := figure(m)
	return &f
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
func format(f *figure, unit string) string {
	if f == nil || !finite(float64(*f)) {
		return "-"
	}
	v := float64(*f)
	switch unit {
	case "s", "ms", "MB":
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
	case "calls/50 leads", "credits/50 leads": // row 9 is judged to a tenth of a call
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	if math.Abs(v) < 100 && v != math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return thousands(int64(math.Round(v)))
}

func formatRatio(f *figure) string {
	if f == nil || !finite(float64(*f)) {
		return "-"
	}
	switch v := float64(*f); {
	case v == 0:
		return "0"
	case math.Abs(v) >= 0.1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
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

// report is the JSON document, the same figures as the table.
type report struct {
	Generated string `json:"generated"`
	Command   string `json:"command"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	CPUs      int    `json:"cpus"`
	LatencyMS figure `json:"latency_ms"`
	// PeerLatencyMS is the latency of row 1's head-to-head run.
	PeerLatencyMS figure `json:"peer_latency_ms"`
	Reps          int    `json:"reps"`
	ElapsedS      figure `json:"elapsed_s"`
	Rows          []row  `json:"rows"`
}

func writeJSON(path string, rep report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the report: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}
