package zohosim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const massConvertPath = "/crm/v7/Leads/actions/mass_convert"

// env is a running simulator on a manual clock, with a client and a live
// access token.
type env struct {
	t     *testing.T
	s     *Server
	clock *ManualClock
	url   string
	c     *http.Client
	tok   string
}

// newEnv starts a simulator. setup runs before the server starts, the only
// time unsynchronised fields such as the test hook may be set.
func newEnv(t *testing.T, opts Options, setup ...func(*Server)) *env {
	t.Helper()
	clock := NewManualClock(t0)
	opts.Clock = clock
	s := New(opts)
	for _, f := range setup {
		f(s)
	}
	base, stop := s.Start()
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		stop()
	})
	return &env{t: t, s: s, clock: clock, url: base, c: &http.Client{Transport: tr}, tok: s.IssueToken()}
}

// answer is a response read in full.
type answer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any // nil unless the body is a JSON object
}

func (e *env) do(method, path, auth, body string) answer {
	e.t.Helper()
	a, err := e.try(e.c, method, path, auth, body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

func (e *env) try(c *http.Client, method, path, auth, body string) (answer, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	if err != nil {
		return answer{}, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	json.Unmarshal(raw, &a.body)
	return a, nil
}

func (e *env) auth() string { return "Zoho-oauthtoken " + e.tok }

// convert posts a mass_convert body with the env's token; version is "v7" or "v8".
func (e *env) convert(version, body string) answer {
	e.t.Helper()
	return e.do("POST", "/crm/"+version+"/Leads/actions/mass_convert", e.auth(), body)
}

// schedule converts ids and returns the job id, failing the test otherwise.
func (e *env) schedule(ids ...string) string {
	e.t.Helper()
	a := e.convert("v7", idsBody(ids...))
	if a.status != http.StatusAccepted || a.body["code"] != "SCHEDULED" {
		e.t.Fatalf("mass_convert %v: %d %s", ids, a.status, a.raw)
	}
	return a.body["details"].(map[string]any)["job_id"].(string)
}

type jobCounts struct {
	Status                                                          string
	Total_Count, Converted_Count, Not_Converted_Count, Failed_Count int
}

func (e *env) status(jobID string) jobCounts {
	e.t.Helper()
	a := e.do("GET", massConvertPath+"?job_id="+url.QueryEscape(jobID), e.auth(), "")
	var v struct{ Data []jobCounts }
	if a.status != http.StatusOK || json.Unmarshal(a.raw, &v) != nil || len(v.Data) != 1 {
		e.t.Fatalf("status of %s: %d %s", jobID, a.status, a.raw)
	}
	return v.Data[0]
}

func (e *env) refresh(form url.Values) answer {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/oauth/v2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.c.Do(req)
	if err != nil {
		e.t.Fatalf("refresh: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	json.Unmarshal(raw, &a.body)
	return a
}

func goodRefresh() url.Values {
	return url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {DefaultRefreshToken},
		"client_id":     {DefaultClientID},
		"client_secret": {DefaultClientSecret},
	}
}

func idsBody(ids ...string) string {
	b, _ := json.Marshal(map[string]any{"ids": ids, "assign_to": map[string]string{"id": DefaultUserID}})
	return string(b)
}

// owned adds the org's default user as assign_to to a JSON object body that
// names no owner: Zoho requires one, and most tests are about something
// else. Any other body is returned as it is.
func owned(body string) string {
	rest, ok := strings.CutPrefix(body, "{")
	if !ok || strings.Contains(body, `"assign_to"`) {
		return body
	}
	if !strings.HasPrefix(rest, "}") {
		rest = "," + rest
	}
	return `{"assign_to":{"id":"` + DefaultUserID + `"}` + rest
}

// wantError checks a flat CRM error: status, code and details, the latter
// compared as JSON values.
func (a answer) wantError(t *testing.T, status int, code, details string) {
	t.Helper()
	if a.status != status || a.body["code"] != code || a.body["status"] != "error" {
		t.Fatalf("got %d %s, want %d %s", a.status, a.raw, status, code)
	}
	if details == "" {
		return
	}
	var want any
	if err := json.Unmarshal([]byte(details), &want); err != nil {
		t.Fatalf("bad want details %s: %v", details, err)
	}
	if !reflect.DeepEqual(a.body["details"], want) {
		got, _ := json.Marshal(a.body["details"])
		t.Fatalf("details = %s, want %s", got, details)
	}
}
