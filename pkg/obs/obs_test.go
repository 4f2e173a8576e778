package obs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
)

// TestFlushWritesEMF: the lines are what CloudWatch turns into metrics (the
// alarms of template.yaml depend on the namespace and the Function dimension).
func TestFlushWritesEMF(t *testing.T) {
	m := obs.NewMetrics("status")
	m.Count("JobsChecked", 2)
	m.Count("JobsChecked", 3)
	m.Count("JobsStale", 1)
	m.Duration("RunDuration", 1500*time.Millisecond)
	m.CountBy("ZohoErrors", "Code", "TOO_MANY_REQUESTS", 4)
	var out bytes.Buffer
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	if err := m.Flush(&out, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one plain and one per dimension value:\n%s", len(lines), out.String())
	}
	var docs [2]testkit.EMF
	for i := range docs {
		doc, ok, err := testkit.ParseEMF([]byte(lines[i]))
		if err != nil || !ok {
			t.Fatalf("line %d is not EMF (%v): %s", i, err, lines[i])
		}
		docs[i] = doc
	}
	doc, plain, byCode := docs[0], docs[0].Values, docs[1].Values
	if doc.Timestamp != now.UnixMilli() || doc.Namespace != obs.Namespace || len(doc.Dimensions) != 1 || doc.Dimensions[0][0] != "Function" {
		t.Fatalf("EMF header %+v", doc)
	}
	if plain["Function"] != "status" || plain["JobsChecked"] != 5.0 || plain["JobsStale"] != 1.0 || plain["RunDuration"] != 1500.0 {
		t.Fatalf("values %v", plain)
	}
	if byCode["Code"] != "TOO_MANY_REQUESTS" || byCode["ZohoErrors"] != 4.0 || !strings.Contains(lines[1], `"Dimensions":[["Function","Code"]]`) {
		t.Fatalf("dimension line %s", lines[1])
	}
	out.Reset()
	if err := m.Flush(&out, now); err != nil || out.Len() != 0 {
		t.Fatalf("a second flush wrote %q: counters were not reset", out.String())
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *obs.Metrics
	m.Count("X", 1) // must not panic: handlers run without metrics in tests
	if obs.MetricsFrom(context.Background()) != nil {
		t.Fatal("metrics from an empty context")
	}
	set := obs.NewMetrics("convert")
	if obs.MetricsFrom(obs.WithMetrics(context.Background(), set)) != set {
		t.Fatal("WithMetrics lost the metrics")
	}
}

func TestLoggerAddsRequestID(t *testing.T) {
	var out bytes.Buffer
	log := obs.NewLogger(&out, slog.LevelInfo).With("component", "test")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	log.InfoContext(ctx, "hello", "job_id", "1")
	log.DebugContext(ctx, "hidden")
	var rec map[string]any
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON line: %q", out.String())
	}
	if rec["aws_request_id"] != "req-123" || rec["msg"] != "hello" || rec["component"] != "test" || rec["level"] != "INFO" {
		t.Fatalf("record %v", rec)
	}
}

func TestLongestKeepsTheLongest(t *testing.T) {
	m := obs.NewMetrics("convert")
	for _, d := range []time.Duration{3 * time.Second, 45 * time.Second, 10 * time.Second} {
		m.Longest("AddedWait", d)
	}
	if got := m.Value("AddedWait"); got != 45000 {
		t.Fatalf("AddedWait %v, want 45000 ms", got)
	}
}
