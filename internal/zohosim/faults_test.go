package zohosim

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaultKinds(t *testing.T) {
	tests := []struct {
		fault     Fault
		status    int    // 0: the connection fails
		code      any    // body["code"]; nil when the body is not a JSON object
		details   string // for flat errors
		processed bool
	}{
		{fault: Fault{Kind: TooManyRequests}, status: 429, code: "TOO_MANY_REQUESTS", details: `{}`},
		{fault: Fault{Kind: TooManyRequestsLegacy}, status: 429, code: 429.0},
		{fault: Fault{Kind: InternalError}, status: 500, code: "INTERNAL_ERROR", details: `{}`},
		{fault: Fault{Kind: Unauthorized}, status: 401, code: "INVALID_TOKEN", details: `{}`},
		{fault: Fault{Kind: ScopeMismatch}, status: 401, code: "OAUTH_SCOPE_MISMATCH", details: `{}`},
		{fault: Fault{Kind: NoPermission}, status: 403, code: "NO_PERMISSION", details: `{"permissions":["Crm_Implied_Mass_Convert_Leads"]}`},
		{fault: Fault{Kind: AccessDenied}, status: 200},
		{fault: Fault{Kind: NonJSON}, status: 200},
		{fault: Fault{Kind: Truncated}, status: 200, processed: true},
		{fault: Fault{Kind: Slow, Delay: time.Millisecond}, status: 202, code: "SCHEDULED", processed: true},
		{fault: Fault{Kind: Drop}},
		{fault: Fault{Kind: DropAfterAccept}, processed: true},
	}
	for _, tt := range tests {
		t.Run(tt.fault.Kind.String(), func(t *testing.T) {
			e := newEnv(t, Options{})
			lead := e.s.SeedLeadRange(1)[0]
			e.s.Script(EndpointMassConvert, tt.fault)
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			a, err := e.try(c, "POST", massConvertPath, e.auth(), idsBody(lead))
			switch {
			case tt.status == 0:
				if err == nil {
					t.Fatalf("got %d %s, want a broken connection", a.status, a.raw)
				}
			case err != nil:
				t.Fatal(err)
			case a.status != tt.status || a.body["code"] != tt.code:
				t.Fatalf("got %d %s, want %d %v", a.status, a.raw, tt.status, tt.code)
			case tt.details != "":
				a.wantError(t, tt.status, tt.code.(string), tt.details)
			}
			switch tt.fault.Kind {
			case TooManyRequestsLegacy:
				if a.body["error"] != "TOO_MANY_REQUESTS" || a.body["message"] == nil {
					t.Errorf("legacy 429 body = %s", a.raw)
				}
			case AccessDenied:
				if a.body["error"] != "Access Denied" || a.body["status"] != "failure" {
					t.Errorf("Access Denied body = %s", a.raw)
				}
			case NonJSON:
				if !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !strings.Contains(string(a.raw), "<html>") {
					t.Errorf("NonJSON answer: %s %s", a.header.Get("Content-Type"), a.raw)
				}
			case Truncated:
				if len(a.raw) == 0 || json.Valid(a.raw) || !strings.HasPrefix(string(a.raw), `{"code":"SCHEDULED"`) {
					t.Errorf("Truncated body = %s", a.raw)
				}
			}
			if got := e.s.HasLead(lead); got == tt.processed {
				t.Errorf("processed = %v, want %v", !got, tt.processed)
			}
			if got := e.s.FaultsInjected(); len(got) != 1 || got[tt.fault.Kind] != 1 {
				t.Errorf("FaultsInjected = %v", got)
			}

			// The script is spent: the next call goes through.
			a = e.convert("v7", idsBody(lead))
			if tt.processed {
				a.wantError(t, 400, "INVALID_DATA", `{"api_name":"ids","json_path":"$.ids[0]"}`)
			} else if a.status != 202 {
				t.Errorf("call after the fault: %d %s", a.status, a.raw)
			}
			st := e.s.Stats()
			if st.Calls[EndpointMassConvert] != 2 || st.JobsScheduled != 1 {
				t.Errorf("stats = %+v", st)
			}
			if processed := tt.processed; (st.DuplicateSubmissions == 1) != processed {
				t.Errorf("DuplicateSubmissions = %d", st.DuplicateSubmissions)
			}
		})
	}
}

func TestSlowFaultTimesOut(t *testing.T) {
	e := newEnv(t, Options{})
	lead := e.s.SeedLeadRange(1)[0]
	e.s.Script(EndpointMassConvert, Fault{Kind: Slow})
	c := &http.Client{Timeout: 50 * time.Millisecond}
	_, err := e.try(c, "POST", massConvertPath, e.auth(), idsBody(lead))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if !e.s.HasLead(lead) {
		t.Error("a call abandoned during a Slow fault was processed")
	}
}

func TestTokenAndStatusFaults(t *testing.T) {
	e := newEnv(t, Options{AccessDeniedStatus: http.StatusBadRequest})
	e.s.Script(EndpointToken, Fault{Kind: AccessDenied}, Fault{}, Fault{Kind: InternalError})
	if a := e.refresh(goodRefresh()); a.status != 400 || a.body["error"] != "Access Denied" {
		t.Errorf("1st refresh: %d %s", a.status, a.raw)
	}
	if a := e.refresh(goodRefresh()); a.body["access_token"] == nil {
		t.Errorf("2nd refresh (zero Fault): %d %s", a.status, a.raw)
	}
	e.refresh(goodRefresh()).wantError(t, 500, "INTERNAL_ERROR", `{}`)
	if a := e.refresh(goodRefresh()); a.body["access_token"] == nil {
		t.Errorf("4th refresh: %d %s", a.status, a.raw)
	}
	if st := e.s.Stats(); st.TokensIssued != 2 || st.AccessDenied != 1 || st.RefreshRequests != 4 {
		t.Errorf("stats = %+v", st)
	}

	jobID := e.schedule(e.s.SeedLeadRange(1)...)
	e.s.Script(EndpointStatus, Fault{Kind: Drop}, Fault{Kind: ScopeMismatch})
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if a, err := e.try(c, "GET", massConvertPath+"?job_id="+jobID, e.auth(), ""); err == nil {
		t.Errorf("dropped status call answered %d %s", a.status, a.raw)
	}
	e.do("GET", massConvertPath+"?job_id="+jobID, e.auth(), "").wantError(t, 401, "OAUTH_SCOPE_MISMATCH", `{}`)
	if got := e.status(jobID).Status; got != "SCHEDULED" {
		t.Errorf("status after faults = %s", got)
	}
}

// net/http replays an idempotent request whose reused connection drops
// before any answer, so a client sees a dropped status call only as a
// second call; a POST is never replayed.
func TestDropReplayedByNetHTTP(t *testing.T) {
	e := newEnv(t, Options{})
	jobID := e.schedule(e.s.SeedLeadRange(1)...)
	e.status(jobID) // leaves an idle connection to reuse
	e.s.Script(EndpointStatus, Fault{Kind: Drop})
	e.status(jobID)
	if n := e.s.Stats().Calls[EndpointStatus]; n != 3 {
		t.Errorf("status calls = %d, want 3", n)
	}
}

func TestFaultRate(t *testing.T) {
	pattern := func(seed int64) (string, int) {
		e := newEnv(t, Options{})
		e.s.FaultRate(EndpointStatus, InternalError, 0.3, seed)
		var b strings.Builder
		for range 200 {
			if e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").status == 500 {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String(), e.s.FaultsInjected()[InternalError]
	}
	p1, n1 := pattern(7)
	p2, _ := pattern(7)
	p3, _ := pattern(8)
	if p1 != p2 {
		t.Errorf("same seed, different faults:\n%s\n%s", p1, p2)
	}
	if p1 == p3 {
		t.Errorf("different seeds, same faults: %s", p1)
	}
	if n := strings.Count(p1, "x"); n != n1 || n < 30 || n > 90 {
		t.Errorf("%d faults of 200 at p=0.3, FaultsInjected %d", n, n1)
	}

	e := newEnv(t, Options{})
	e.s.FaultRate(EndpointStatus, InternalError, 1, 1)
	e.s.Script(EndpointStatus, Fault{Kind: TooManyRequests})
	e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 429, "TOO_MANY_REQUESTS", `{}`)
	for range 3 {
		e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 500, "INTERNAL_ERROR", `{}`)
	}
	e.do("POST", massConvertPath, e.auth(), `{}`).wantError(t, 400, "MANDATORY_NOT_FOUND", "") // other endpoints untouched
	e.s.FaultRate(EndpointStatus, InternalError, 0, 1)
	e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 400, "INVALID_DATA", "")

	e.s.FaultRate(EndpointStatus, NoPermission, 1, 1)
	e.s.Script(EndpointStatus, Fault{Kind: Unauthorized})
	e.s.ClearFaults()
	e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 400, "INVALID_DATA", "")
	if got := e.s.FaultsInjected(); got[InternalError] != 3 || got[TooManyRequests] != 1 || len(got) != 2 {
		t.Errorf("FaultsInjected = %v", got)
	}
}

func TestFaultKindString(t *testing.T) {
	if got := Truncated.String(); got != "Truncated" {
		t.Errorf("Truncated.String() = %q", got)
	}
	if got := FaultKind(99).String(); got != "FaultKind(99)" {
		t.Errorf("FaultKind(99).String() = %q", got)
	}
}
