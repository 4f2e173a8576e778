package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/httpapi"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// followRig is a table from the template on moto, written through the real
// store by the convert service and the status function against the
// simulator, and the HTTP API over the same table.
type followRig struct {
	z     *zohotest.Zoho
	store *table.JobStore
	flags []string // --table, --region, --endpoint-url
	api   *httptest.Server
	svc   *convert.Service
}

const followKey = "wk_follow_test_key_0123456789"

func newFollowRig(t *testing.T) *followRig {
	t.Helper()
	cfg := awstest.Require(t)
	name := awstest.CreateTableFromTemplate(t, cfg, "JobsTable")
	st := table.NewJobStore(awstest.CheckExpressions(t, table.NewClient(cfg)), name)
	z := zohotest.Start(t, zohosim.Options{}, 1)
	svc, err := convert.New(convert.Config{Zoho: z.Client, Store: st, Now: z.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(httpapi.New(httpapi.Config{Converter: svc, Jobs: st, APIVersion: "v7",
		WebhookKey: func(context.Context, bool) (httpapi.Keys, error) { return httpapi.Keys{Current: followKey}, nil }}))
	t.Cleanup(api.Close)
	return &followRig{z: z, store: st, api: api, svc: svc,
		flags: []string{"--table", name, "--region", cfg.Region, "--endpoint-url", aws.ToString(cfg.BaseEndpoint)}}
}

// convert sends ids in one synchronous call and returns the job's id.
func (r *followRig) convert(t *testing.T, ids ...string) string {
	t.Helper()
	res := r.svc.Convert(context.Background(), []convert.Submission{{Source: "api:req-" + ids[0], Request: zohotest.Request(ids...)}})[0]
	if len(res.Jobs) != 1 {
		t.Fatalf("convert %v: %+v", ids, res)
	}
	return res.Jobs[0].JobID
}

// check runs the status function over every due job.
func (r *followRig) check(t *testing.T) jobcheck.Report {
	t.Helper()
	checker, err := jobcheck.New(jobcheck.Config{Zoho: r.z.Client, Store: r.store, Now: r.z.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return checker.Run(context.Background(), jobcheck.Request{})
}

// cli runs leadconvert with args and the rig's flags.
func (r *followRig) cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = execute(context.Background(), append(args, r.flags...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// get answers the API's GET path, decoded.
func (r *followRig) get(t *testing.T, path string) (int, any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.api.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+followKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, decode(t, raw)
}

func decode(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("not JSON: %v: %q", err, raw)
	}
	return v
}

// TestCLIShowsWhatTheAPIShows: for the same table, `lead`, `request` and
// `jobs ID` with -o json print exactly what GET /leads, /requests and
// /conversions answer, while the job runs and after it ended with leads
// converted, sent again, never sent and refused.
func TestCLIShowsWhatTheAPIShows(t *testing.T) {
	r := newFollowRig(t)
	ctx := context.Background()
	ids := r.z.Sim.SeedLeadRange(5)
	r.z.Sim.FailLeads(ids[0])
	const unknown = "3652397000099999999" // Zoho has no such lead: refused
	jobID := r.convert(t, ids[0], ids[1], ids[2], unknown)
	if err := r.store.RecordRequest(ctx, jobs.Request{ID: "req-follow-1", LeadIDs: []string{ids[0], ids[1], ids[3], unknown}, CreatedAt: r.z.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := r.store.RecordRequest(ctx, jobs.Request{ID: "req-dead", LeadIDs: []string{ids[4]}, CreatedAt: r.z.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := r.store.FailRequest(ctx, "req-dead", "INVALID_DATA", "$.ids[0]: not a lead id"); err != nil {
		t.Fatal(err)
	}

	compare := func(t *testing.T, cliArgs []string, path string, wantStates map[string]bool) {
		t.Helper()
		code, out, errOut := r.cli(t, append(cliArgs, "-o", "json")...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", cliArgs, code, errOut)
		}
		status, fromAPI := r.get(t, path)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, status, fromAPI)
		}
		fromCLI := decode(t, []byte(out))
		if !reflect.DeepEqual(fromCLI, fromAPI) {
			t.Fatalf("%v shows\n%v\nGET %s answers\n%v", cliArgs, fromCLI, path, fromAPI)
		}
		for s := range wantStates {
			if !strings.Contains(out, `"state": "`+s+`"`) {
				t.Errorf("%v: no lead %s in\n%s", cliArgs, s, out)
			}
		}
	}
	all := func(states ...string) map[string]bool {
		m := map[string]bool{}
		for _, s := range states {
			m[s] = true
		}
		return m
	}
	for _, phase := range []struct {
		name    string
		advance time.Duration
		states  map[string]bool // some of the request's lead states
	}{
		{"while the job runs", 0, all("SCHEDULED", "QUEUED", "REJECTED")},
		{"after the job", 5 * time.Minute, all("RETRYING", "CONVERTED", "QUEUED", "REJECTED")},
	} {
		t.Run(phase.name, func(t *testing.T) {
			if phase.advance > 0 {
				r.z.Clock.Advance(phase.advance)
				if rep := r.check(t); rep.Finished != 1 {
					t.Fatalf("status run %+v", rep)
				}
			}
			for _, lead := range []string{ids[0], ids[1], ids[2], unknown} {
				compare(t, []string{"lead", lead}, "/leads/"+lead, nil)
			}
			compare(t, []string{"request", "req-follow-1"}, "/requests/req-follow-1", phase.states)
			compare(t, []string{"request", "req-dead"}, "/requests/req-dead", all("DEAD_LETTERED"))
			compare(t, []string{"jobs", jobID}, "/conversions/"+jobID, nil)
		})
	}
}

// TestFollowTables: what a person reads, and the exit codes of what is not
// there or not asked right.
func TestFollowTables(t *testing.T) {
	r := newFollowRig(t)
	ids := r.z.Sim.SeedLeadRange(3)
	r.z.Sim.FailLeads(ids[0])
	jobID := r.convert(t, ids...)
	if err := r.store.RecordRequest(context.Background(), jobs.Request{ID: "req-tables", LeadIDs: ids, CreatedAt: r.z.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	r.z.Clock.Advance(5 * time.Minute)
	if rep := r.check(t); rep.Finished != 1 {
		t.Fatalf("status run %+v", rep)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		out  []string // regular expressions, each matching a line of stdout (or stderr when code is not 0)
	}{
		{"converted lead", []string{"lead", ids[1]}, exitOK, []string{
			`^state +CONVERTED$`, `^attempts +1$`, `^job +` + jobID + `$`,
			`^job state +COMPLETED$`, `^job leads +3: 2 converted, 0 not converted, 1 failed`, `^requests +api:req-` + ids[0] + `$`}},
		{"lead sent again", []string{"lead", ids[0]}, exitOK, []string{
			`^state +RETRYING$`, `^reason +not converted by Zoho in ` + jobID + `; sent again$`}},
		{"request", []string{"request", "req-tables"}, exitOK, []string{
			`^leads +3: RETRYING 1, CONVERTED 2$`, `^LEAD +STATE +JOB +ATTEMPTS +CONTACT +REASON$`,
			`^` + ids[0] + ` +RETRYING +` + jobID + ` +1 +- +not converted`}},
		{"job", []string{"jobs", jobID}, exitOK, []string{
			`^state +COMPLETED$`, `^checks +1, last `, `^` + ids[0] + ` +RETRYING +` + jobID + ` +1 +- +sent again$`}},
		{"unknown lead", []string{"lead", "3652397000000000042"}, exitNotFound, []string{`lead 3652397000000000042: no record`}},
		{"unknown request", []string{"request", "no-such-request"}, exitNotFound, []string{`no such request`}},
		{"unknown job", []string{"jobs", "3652397000000000042"}, exitNotFound, []string{`no such job`}},
		{"lead id not digits", []string{"lead", "abc"}, exitUsage, []string{`want Zoho's numeric record id`}},
		{"request id with a slash", []string{"request", "a/b"}, exitUsage, []string{`want the request_id`}},
		{"two leads", []string{"lead", "1", "2"}, exitUsage, []string{`accepts 1 arg`}},
		{"open and stale", []string{"jobs", "--open", "--stale"}, exitUsage, []string{`leave out --stale`}},
		{"a job and a listing", []string{"jobs", jobID, "--stale"}, exitUsage, []string{`leave out --open`}},
		{"bad since", []string{"jobs", "--finished-since", "yesterday"}, exitUsage, []string{`want a duration`}},
		{"bad output", []string{"lead", ids[1], "-o", "yaml"}, exitUsage, []string{`want table or json`}},
		{"bad limit", []string{"jobs", "--stale", "--limit", "0"}, exitUsage, []string{`want at least 1`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := r.cli(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			text := out
			if code != exitOK {
				text = errOut
			}
			for _, re := range tc.out {
				if !regexp.MustCompile(`(?m)` + re).MatchString(text) {
					t.Errorf("no line matches %s in\n%s", re, text)
				}
			}
		})
	}

	t.Run("no table", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := execute(context.Background(), []string{"lead", ids[1], "--region", "us-east-1"}, strings.NewReader(""), &out, &errOut)
		if code != exitUsage || !strings.Contains(errOut.String(), "no --table") {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	})
}

// TestJobsListings: --open lists the open jobs from the index, --stale and
// --finished-since the ended ones from a scan, which says what it read and
// when its limit stopped it.
func TestJobsListings(t *testing.T) {
	r := newFollowRig(t)
	ctx := context.Background()
	ids := r.z.Sim.SeedLeadRange(6)
	ended := r.convert(t, ids[0], ids[1])
	r.z.Clock.Advance(5 * time.Minute)
	if rep := r.check(t); rep.Finished != 1 {
		t.Fatalf("status run %+v", rep)
	}
	open := r.convert(t, ids[2], ids[3])
	stale := r.convert(t, ids[4], ids[5])
	r.z.Clock.Advance(time.Minute) // it ends after the first
	j, err := r.store.Job(ctx, stale)
	if err != nil {
		t.Fatal(err)
	}
	prev := j.Version
	j.State, j.Reason, j.NextCheckAt, j.UpdatedAt, j.ExpiresAt = jobs.Stale, "open for more than 24h", time.Time{}, r.z.Clock.Now(), r.z.Clock.Now().Add(time.Hour)
	if err := r.store.SaveCheck(ctx, j, prev); err != nil {
		t.Fatal(err)
	}
	jobLine := func(id, state string, leads int) string {
		return `^` + id + ` +` + state + ` +` + string(rune('0'+leads)) + ` `
	}

	for _, tc := range []struct {
		name       string
		args       []string
		want, none []string // lines of stdout that must match, and must not
		stderr     string
	}{
		{"open by default", []string{"jobs"}, []string{`^JOB +STATE +LEADS +CHECKS +AGE +NEXT CHECK$`, jobLine(open, "SCHEDULED", 2) + `+0 +\S+ +(in|overdue) `},
			[]string{ended, stale}, ""},
		{"open", []string{"jobs", "--open"}, []string{jobLine(open, "SCHEDULED", 2)}, []string{ended, stale}, ""},
		{"stale", []string{"jobs", "--stale"}, []string{jobLine(stale, "STALE", 2) + `.* open for more than 24h$`}, []string{ended, open}, "scanned "},
		{"finished since the first job began", []string{"jobs", "--finished-since", zohotest.T0.Format(time.RFC3339)},
			[]string{`^JOB +STATE +LEADS +CONVERTED +NOT CONVERTED +FAILED +ENDED +REASON$`, jobLine(ended, "COMPLETED", 2) + ` *2 +0 +0 `, jobLine(stale, "STALE", 2)},
			[]string{open}, "scanned "},
		{"finished, limited", []string{"jobs", "--finished-since", zohotest.T0.Format(time.RFC3339), "--limit", "1"},
			[]string{jobLine(stale, "STALE", 2)}, []string{ended}, "stopped at --limit 1"},
		{"finished later", []string{"jobs", "--finished-since", r.z.Clock.Now().Add(time.Minute).Format(time.RFC3339)},
			[]string{`^no jobs$`}, []string{ended, stale}, "scanned "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := r.cli(t, tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, re := range tc.want {
				if !regexp.MustCompile(`(?m)` + re).MatchString(out) {
					t.Errorf("no line matches %s in\n%s", re, out)
				}
			}
			for _, s := range tc.none {
				if strings.Contains(out, s) {
					t.Errorf("%s listed in\n%s", s, out)
				}
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q, want %q", errOut, tc.stderr)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		code, out, errOut := r.cli(t, "jobs", "--stale", "-o", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got struct {
			Jobs []struct {
				JobID  string   `json:"job_id"`
				Status string   `json:"status"`
				IDs    []string `json:"ids"`
			}
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Jobs) != 1 || got.Jobs[0].JobID != stale || got.Jobs[0].Status != "STALE" || len(got.Jobs[0].IDs) != 2 {
			t.Fatalf("%+v", got)
		}
	})
}

// TestFollowHelp: each command explains itself without AWS, and jobs says
// that its listings of ended jobs scan the table.
func TestFollowHelp(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{"lead", []string{"leadconvert lead ID [flags]", "Examples:", "exits 3", "RETRYING", "--output"}},
		{"request", []string{"leadconvert request ID [flags]", "Examples:", "exits 3", "DEAD_LETTERED"}},
		{"jobs", []string{"leadconvert jobs [ID] [flags]", "Examples:", "SCAN the table", "read unit", "--finished-since", "--limit"}},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := execute(context.Background(), []string{tc.cmd, "--help"}, strings.NewReader(""), &out, &errOut); code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("no %q in\n%s", w, out.String())
				}
			}
		})
	}
}
