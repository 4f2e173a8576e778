// Package obs holds the bridge's observability: CloudWatch metrics written
// as Embedded Metric Format log lines (no API calls, no extra latency) and
// the JSON logger every function uses.
package obs

import (
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric; the alarms of
// template.yaml refer to it.
const Namespace = "ZohoLeadConvert"

// Metrics accumulates counters for one invocation and writes them as EMF.
type Metrics struct {
	function string
	mu       sync.Mutex
	plain    map[string]metric
	byDim    map[dimKey]map[string]metric
}

type metric struct {
	value float64
	unit  string
}

type dimKey struct{ name, value string }

// NewMetrics starts an empty set for function ("convert" or "status").
func NewMetrics(function string) *Metrics {
	return &Metrics{function: function, plain: map[string]metric{}, byDim: map[dimKey]map[string]metric{}}
}

// Count adds n to a counter.
func (m *Metrics) Count(name string, n int) { m.add(name, float64(n), "Count", dimKey{}) }

// CountBy adds n to a counter split by one dimension, e.g. Zoho errors by code.
func (m *Metrics) CountBy(name, dim, value string, n int) {
	m.add(name, float64(n), "Count", dimKey{dim, value})
}

// Duration records a duration in milliseconds.
func (m *Metrics) Duration(name string, d time.Duration) {
	m.add(name, float64(d.Milliseconds()), "Milliseconds", dimKey{})
}

// Longest records the longest of the durations it is given in one
// invocation, in milliseconds: graphed with the Maximum statistic, the
// longest over a period.
func (m *Metrics) Longest(name string, d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if v := float64(d.Milliseconds()); v > m.plain[name].value {
		m.plain[name] = metric{value: v, unit: "Milliseconds"}
	}
}

// Lowest records the lowest of the counts it is given in one invocation:
// graphed with the Minimum statistic, the lowest over a period.
func (m *Metrics) Lowest(name string, n int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.plain[name]; !ok || float64(n) < cur.value {
		m.plain[name] = metric{value: float64(n), unit: "Count"}
	}
}

func (m *Metrics) add(name string, v float64, unit string, k dimKey) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.plain
	if k.name != "" {
		if m.byDim[k] == nil {
			m.byDim[k] = map[string]metric{}
		}
		set = m.byDim[k]
	}
	cur := set[name]
	set[name] = metric{value: cur.value + v, unit: unit}
}

// Value returns a counter without a dimension (tests and local runs).
func (m *Metrics) Value(name string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.plain[name].value
}

// Flush writes one EMF line per dimension set and resets the counters.
func (m *Metrics) Flush(w io.Writer, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.plain) > 0 {
		if err := m.write(w, now, dimKey{}, m.plain); err != nil {
			return err
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(m.byDim), func(a, b dimKey) int {
		if a.name != b.name {
			return compare(a.name, b.name)
		}
		return compare(a.value, b.value)
	}) {
		if err := m.write(w, now, k, m.byDim[k]); err != nil {
			return err
		}
	}
	m.plain, m.byDim = map[string]metric{}, map[dimKey]map[string]metric{}
	return nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *Metrics) write(w io.Writer, now time.Time, k dimKey, set map[string]metric) error {
	dims := []string{"Function"}
	doc := map[string]any{"Function": m.function}
	if k.name != "" {
		dims = append(dims, k.name)
		doc[k.name] = k.value
	}
	type def struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	var defs []def
	for _, name := range slices.Sorted(maps.Keys(set)) {
		defs = append(defs, def{name, set[name].unit})
		doc[name] = set[name].value
	}
	doc["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{dims},
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// NewLogger returns the JSON logger of a function. Lambda's JSON log format
// captures stdout lines as they are; level and message keys match it.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(requestIDHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}
