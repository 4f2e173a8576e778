package testkit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/obs"
)

// EMF is one CloudWatch Embedded Metric Format line, as pkg/obs writes it:
// a JSON object whose "_aws" member lists the metrics and their dimension
// sets, and whose other members hold the dimension and metric values.
type EMF struct {
	Timestamp  int64
	Namespace  string     // of the first metric directive
	Dimensions [][]string // the dimension sets of the first metric directive
	// Values is the document but "_aws": dimension values (strings) and
	// metric values (float64).
	Values  map[string]any
	Metrics []EMFMetric // of every directive, in order
}

// EMFMetric is one metric of an EMF line.
type EMFMetric struct {
	Name, Unit string
	Value      float64
	// Key names the metric in sums: Name, or "Name/value" when the
	// directive's first dimension set has a dimension after Function (the
	// value is that dimension's, e.g. "ZohoErrors/TOO_MANY_REQUESTS").
	Key string
}

type emfDoc struct {
	Timestamp         int64 `json:"Timestamp"`
	CloudWatchMetrics []struct {
		Namespace  string     `json:"Namespace"`
		Dimensions [][]string `json:"Dimensions"`
		Metrics    []struct {
			Name string `json:"Name"`
			Unit string `json:"Unit"`
		} `json:"Metrics"`
	} `json:"CloudWatchMetrics"`
}

// ParseEMF decodes one output line. ok is false for a JSON object without
// "_aws" (a log line); err is set for a line that is not a JSON object or
// an EMF line whose metrics or dimensions have no value of the right type.
func ParseEMF(line []byte) (e EMF, ok bool, err error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(line, &doc); err != nil {
		return EMF{}, false, fmt.Errorf("not a JSON object: %w", err)
	}
	rawAWS, ok := doc["_aws"]
	if !ok {
		return EMF{}, false, nil
	}
	var aws emfDoc
	if err := json.Unmarshal(rawAWS, &aws); err != nil {
		return EMF{}, true, fmt.Errorf("_aws: %w", err)
	}
	if len(aws.CloudWatchMetrics) == 0 {
		return EMF{}, true, fmt.Errorf("_aws lists no metric directive")
	}
	e = EMF{Timestamp: aws.Timestamp, Namespace: aws.CloudWatchMetrics[0].Namespace,
		Dimensions: aws.CloudWatchMetrics[0].Dimensions, Values: make(map[string]any, len(doc)-1)}
	for k, raw := range doc {
		if k == "_aws" {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return EMF{}, true, fmt.Errorf("%s: %w", k, err)
		}
		e.Values[k] = v
	}
	for _, d := range aws.CloudWatchMetrics {
		suffix := ""
		if len(d.Dimensions) > 0 {
			for _, dim := range d.Dimensions[0] {
				if _, isString := e.Values[dim].(string); !isString {
					return EMF{}, true, fmt.Errorf("dimension %s has no string value", dim)
				}
			}
			if set := d.Dimensions[0]; len(set) > 1 {
				suffix = "/" + e.Values[set[1]].(string)
			}
		}
		for _, m := range d.Metrics {
			v, isNumber := e.Values[m.Name].(float64)
			if !isNumber {
				return EMF{}, true, fmt.Errorf("metric %s has no number value", m.Name)
			}
			e.Metrics = append(e.Metrics, EMFMetric{Name: m.Name, Unit: m.Unit, Value: v, Key: m.Name + suffix})
		}
	}
	return e, true, nil
}

// AddTo adds the line's metrics to sums by their Key: those of the given
// units, or all of them when no unit is given.
func (e EMF) AddTo(sums map[string]float64, units ...string) {
	for _, m := range e.Metrics {
		if len(units) == 0 || slices.Contains(units, m.Unit) {
			sums[m.Key] += m.Value
		}
	}
}

// EMFSums reads output lines and sums the metrics of the EMF lines by Key
// (every unit); log lines are skipped. A line that is not JSON, or a
// malformed EMF line, fails the test.
func EMFSums(t testing.TB, out []byte) map[string]float64 {
	t.Helper()
	sums := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		e, ok, err := ParseEMF(sc.Bytes())
		if err != nil {
			t.Fatalf("output line %s: %v", sc.Bytes(), err)
		}
		if ok {
			e.AddTo(sums)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sums
}

// FlushEMF flushes m and returns the sums of what it wrote (see EMFSums).
func FlushEMF(t testing.TB, m *obs.Metrics) map[string]float64 {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Flush(&buf, time.Now()); err != nil {
		t.Fatal(err)
	}
	return EMFSums(t, buf.Bytes())
}
