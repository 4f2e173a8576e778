package zohosim

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
)

// TestOfficialPythonSDK drives Zoho's own Python SDK (zohocrmsdk8-0,
// unmodified, from the project's .venv) through token refresh, mass
// convert, status polling, Get Records and a COQL select against the simulator, so that
// the simulator keeps answering the way Zoho's own client expects.
//
// It skips when the venv or the SDK is missing (run `make venv`), except
// under CI=true, where a missing SDK fails the test.
func TestOfficialPythonSDK(t *testing.T) {
	python := sdkPython(t)

	// Listen first: the token answer's api_domain must name the simulator
	// itself, and APIDomain is fixed at New.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	clock := NewManualClock(t0)
	s := New(Options{Clock: clock, APIDomain: base})
	// Each status call moves simulated time on by half a minute, so the job
	// passes through SCHEDULED and IN PROGRESS to COMPLETED in a few polls,
	// without anyone sleeping on its minutes.
	s.hook = func(ep Endpoint) {
		if ep == EndpointStatus {
			clock.Advance(30 * time.Second)
		}
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	ids := s.SeedLeadRange(3)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	work := t.TempDir()
	script, err := filepath.Abs(filepath.Join("testdata", "sdk_check.py"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, python, script,
		"--base-url", base, "--ids", strings.Join(ids, ","), "--workdir", work, "--timeout", "60")
	cmd.Dir = work // the SDK writes its files under the working directory by default
	// Anything not addressed to the simulator goes to a proxy that refuses
	// connections, so a request leaving 127.0.0.1 fails the script.
	cmd.Env = append(os.Environ(),
		"HTTP_PROXY=http://127.0.0.1:1", "HTTPS_PROXY=http://127.0.0.1:1",
		"http_proxy=http://127.0.0.1:1", "https_proxy=http://127.0.0.1:1",
		"NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1",
		"PYTHONDONTWRITEBYTECODE=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(work, "sdk.log"))
		t.Fatalf("sdk_check.py: %v\nstdout: %s\nstderr: %s\nSDK log:\n%s", err, stdout.Bytes(), stderr.Bytes(), lastLines(log, 40))
	}

	var got struct {
		JobID              string   `json:"job_id"`
		ScheduleHTTPStatus int      `json:"schedule_http_status"`
		Status             string   `json:"status"`
		StatusesSeen       []string `json:"statuses_seen"`
		Total              int      `json:"total"`
		Converted          int      `json:"converted"`
		NotConverted       int      `json:"not_converted"`
		Failed             int      `json:"failed"`
		Records            map[string]bool
		Selected           []string
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout.Bytes())
	}
	t.Logf("summary: %s", bytes.TrimSpace(stdout.Bytes()))

	job, ok := s.Job(got.JobID)
	if !ok {
		t.Fatalf("job %q unknown to the simulator", got.JobID)
	}
	if got.Status != "COMPLETED" || job.State != JobCompleted {
		t.Errorf("status %q (simulator: %s), want COMPLETED", got.Status, job.State)
	}
	if !slices.Equal(got.StatusesSeen, []string{"SCHEDULED", "IN PROGRESS", "COMPLETED"}) {
		t.Errorf("statuses seen %v, want SCHEDULED, IN PROGRESS, COMPLETED", got.StatusesSeen)
	}
	if got.Total != 3 || got.Converted != 3 || got.NotConverted != 0 || got.Failed != 0 {
		t.Errorf("counts total %d converted %d not converted %d failed %d, want 3 3 0 0",
			got.Total, got.Converted, got.NotConverted, got.Failed)
	}
	if got.ScheduleHTTPStatus != http.StatusAccepted {
		t.Errorf("mass_convert answered %d, want 202", got.ScheduleHTTPStatus)
	}
	if job.Version != "v8" || !slices.Equal(job.IDs, ids) || job.Deals["Deal_Name"] != "SDK check" {
		t.Errorf("job as received: version %s ids %v deals %v", job.Version, job.IDs, job.Deals)
	}
	if len(got.Records) != len(ids) {
		t.Errorf("read back %d records, want %d: %v", len(got.Records), len(ids), got.Records)
	}
	for _, id := range ids {
		if !got.Records[id] {
			t.Errorf("lead %s: $converted %v, want true", id, got.Records[id])
		}
	}

	// COQL returns converted leads (the simulator's default reading).
	if !slices.Equal(got.Selected, ids[1:]) {
		t.Errorf("COQL selected %v, want %v", got.Selected, ids[1:])
	}

	// Every call the SDK made reached the simulator and was one it knows.
	st := s.Stats()
	if st.TokensIssued != 1 || st.InvalidTokenAnswers != 0 {
		t.Errorf("tokens issued %d, 401s %d; want 1, 0", st.TokensIssued, st.InvalidTokenAnswers)
	}
	for _, ep := range []Endpoint{EndpointToken, EndpointMassConvert, EndpointStatus, EndpointGetLeads, EndpointFields, EndpointUsers, EndpointOrg, EndpointCOQL} {
		if st.Calls[ep] == 0 {
			t.Errorf("the SDK never called %s", ep)
		}
	}
	t.Logf("calls: %v", st.Calls)

	// The SDK logs every request's URL, and any trouble it swallowed (it
	// only logs a failed current-user lookup, for one).
	log, err := os.ReadFile(filepath.Join(work, "sdk.log"))
	if err != nil {
		t.Fatal(err)
	}
	requests := 0
	for line := range strings.SplitSeq(string(log), "\n") {
		if strings.Contains(line, " - ERROR - ") || strings.Contains(line, " - WARNING - ") {
			t.Errorf("SDK log: %s", line)
		}
		if _, u, ok := strings.Cut(line, "URL = "); ok {
			requests++
			if !strings.HasPrefix(u, base+"/") {
				t.Errorf("SDK request outside the simulator: %s", u)
			}
		}
	}
	if requests == 0 {
		t.Errorf("SDK log names no request URL; has its format changed?\n%s", lastLines(log, 20))
	}
}

// sdkPython returns the project venv's python with zohocrmsdk8_0 installed,
// or skips (fails under CI=true) saying what is missing.
func sdkPython(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format+" (CI=true: the SDK check may not be skipped)", args...)
		}
		t.Skipf(format+"; run `make venv` to enable the official SDK check", args...)
	}
	root, err := awstest.RepoRoot()
	if err != nil {
		missing("no repository root: %v", err)
	}
	python := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		missing("no Python venv at %s", python)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c",
		"import importlib.metadata as m, zohocrmsdk; print(m.version('zohocrmsdk8-0'))").CombinedOutput()
	if err != nil {
		missing("package zohocrmsdk8_0 missing from %s: %s", python, lastLines(out, 3))
	}
	t.Logf("zohocrmsdk8-0 %s", bytes.TrimSpace(out))
	return python
}

func lastLines(b []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	return bytes.Join(lines[max(0, len(lines)-n):], []byte("\n"))
}
