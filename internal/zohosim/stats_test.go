package zohosim

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// holdCalls returns a test hook that parks every admitted CRM call until
// release is closed, and a channel that reports each arrival.
func holdCalls() (hook func(Endpoint), arrived <-chan struct{}, release chan struct{}) {
	a := make(chan struct{}, 1024)
	release = make(chan struct{})
	return func(Endpoint) {
		a <- struct{}{}
		<-release
	}, a, release
}

func TestMaxInFlight(t *testing.T) {
	const n = 20
	hook, arrived, release := holdCalls()
	e := newEnv(t, Options{}, func(s *Server) { s.hook = hook })
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if a, err := e.try(e.c, "GET", massConvertPath+"?job_id=1", e.auth(), ""); err != nil || a.status != 400 {
				t.Errorf("status call: %v %d %s", err, a.status, a.raw)
			}
		})
	}
	for range n {
		<-arrived
	}
	// Token calls are not CRM calls and do not count.
	if a := e.refresh(goodRefresh()); a.body["access_token"] == nil {
		t.Errorf("refresh while CRM calls are in flight: %s", a.raw)
	}
	if got := e.s.Stats().MaxInFlight; got != n {
		t.Errorf("MaxInFlight = %d, want %d", got, n)
	}
	close(release)
	wg.Wait()
	e.s.ResetStats()
	if got := e.s.Stats().MaxInFlight; got != 0 {
		t.Errorf("MaxInFlight after reset = %d, want 0", got)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	const limit = 3
	hook, arrived, release := holdCalls()
	e := newEnv(t, Options{ConcurrencyLimit: limit}, func(s *Server) { s.hook = hook })
	var wg sync.WaitGroup
	for range limit {
		wg.Go(func() {
			if a, err := e.try(e.c, "GET", massConvertPath+"?job_id=1", e.auth(), ""); err != nil || a.status != 400 {
				t.Errorf("admitted call: %v %d %s", err, a.status, a.raw)
			}
		})
	}
	for range limit {
		<-arrived
	}
	e.do("POST", massConvertPath, e.auth(), idsBody("1")).wantError(t, 429, "TOO_MANY_REQUESTS", `{}`)
	close(release)
	wg.Wait()
	e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 400, "INVALID_DATA", "")
	st := e.s.Stats()
	if st.ConcurrencyRejected != 1 || st.MaxInFlight != limit+1 || st.Calls[EndpointStatus] != limit+1 || st.Calls[EndpointMassConvert] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestConcurrentSchedules(t *testing.T) {
	e := newEnv(t, Options{})
	leads := e.s.SeedLeadRange(300)
	e.s.FailLeads(leads[:20]...)
	var wg sync.WaitGroup
	jobs := make([]string, 200)
	for i := range 200 {
		wg.Go(func() {
			a, err := e.try(e.c, "POST", massConvertPath, e.auth(), idsBody(leads[i]))
			if err != nil || a.status != 202 {
				t.Errorf("lead %d: %v %d %s", i, err, a.status, a.raw)
				return
			}
			jobs[i] = a.body["details"].(map[string]any)["job_id"].(string)
			if a, err := e.try(e.c, "GET", massConvertPath+"?job_id="+jobs[i], e.auth(), ""); err != nil || a.status != 200 {
				t.Errorf("status of job %d: %v %d %s", i, err, a.status, a.raw)
			}
		})
	}
	for range 50 {
		wg.Go(func() {
			if tok, ok := e.refresh(goodRefresh()).body["access_token"].(string); ok {
				e.s.InvalidateToken(tok)
			}
			e.clock.Advance(time.Millisecond)
			e.s.LiveTokens()
			e.s.Stats()
			e.s.Jobs()
			e.s.HasLead(leads[250])
			e.s.FaultsInjected()
		})
	}
	wg.Wait()
	st := e.s.Stats()
	if st.JobsScheduled != 200 || st.IDsSubmitted != 200 || st.Calls[EndpointMassConvert] != 200 || st.Calls[EndpointStatus] != 200 {
		t.Errorf("stats = %+v", st)
	}
	seen := make(map[string]bool)
	for _, j := range jobs {
		if seen[j] {
			t.Errorf("job id %s handed out twice", j)
		}
		seen[j] = true
	}
	e.clock.Advance(3 * time.Minute)
	if n := e.s.LeadCount(); n != 120 {
		t.Errorf("LeadCount = %d, want 100 untouched + 20 failed", n)
	}
	if n := len(e.s.Jobs()); n != 200 {
		t.Errorf("%d jobs, want 200", n)
	}
}

func TestConcurrentDoubleSubmission(t *testing.T) {
	const n = 50
	e := newEnv(t, Options{})
	lead := e.s.SeedLeadRange(1)[0]
	var mu sync.Mutex
	statuses := make(map[int]int)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			a, err := e.try(e.c, "POST", massConvertPath, e.auth(), idsBody(lead))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			statuses[a.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[202] != 1 || statuses[400] != n-1 {
		t.Errorf("answers by status = %v, want one 202", statuses)
	}
	if st := e.s.Stats(); st.DuplicateSubmissions != n-1 || st.JobsScheduled != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestDuplicateSubmissions(t *testing.T) {
	e := newEnv(t, Options{})
	ids := e.s.SeedLeadRange(3)
	e.s.FailLeads(ids[2])
	e.schedule(ids[0], ids[2])
	dups := func(want int) {
		t.Helper()
		if got := e.s.Stats().DuplicateSubmissions; got != want {
			t.Errorf("DuplicateSubmissions = %d, want %d", got, want)
		}
	}
	e.convert("v7", idsBody(ids[1], ids[0])).wantError(t, 400, "INVALID_DATA", `{"api_name":"ids","json_path":"$.ids[1]"}`)
	dups(1)
	e.convert("v7", idsBody("3652397000000000001")).wantError(t, 400, "INVALID_DATA", "")
	dups(1)
	// Refused for another reason, it is still an attempt to convert twice.
	e.convert("v7", owned(`{"ids":["`+ids[0]+`"],"Deals":{}}`)).wantError(t, 400, "MANDATORY_NOT_FOUND", "")
	dups(2)
	e.clock.Advance(3 * time.Minute)
	e.schedule(ids[2]) // failed by its job: a retry, not a duplicate
	dups(2)
	e.convert("v8", idsBody(ids[0])).wantError(t, 400, "INVALID_DATA", "")
	dups(3)
}

func TestResetStats(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.Script(EndpointStatus, Fault{Kind: InternalError})
	e.do("GET", massConvertPath+"?job_id=1", e.auth(), "")
	e.schedule(e.s.SeedLeadRange(1)...)
	e.refresh(goodRefresh())
	e.s.ResetStats()
	st := e.s.Stats()
	if len(st.Calls) != 0 || st.JobsScheduled != 0 || st.TokensIssued != 0 || st.MaxInFlight != 0 || len(e.s.FaultsInjected()) != 0 {
		t.Errorf("after reset: %+v %v", st, e.s.FaultsInjected())
	}
	st.Calls[EndpointToken] = 99 // a copy
	if e.s.Stats().Calls[EndpointToken] != 0 {
		t.Error("Stats shares its Calls map")
	}
}

func TestLatency(t *testing.T) {
	const latency = 20 * time.Millisecond
	e := newEnv(t, Options{Latency: latency})
	for _, call := range []func(){
		func() { e.do("GET", massConvertPath+"?job_id=1", e.auth(), "") },
		func() { e.refresh(goodRefresh()) },
	} {
		start := time.Now()
		call()
		if d := time.Since(start); d < latency {
			t.Errorf("call took %v, want at least %v", d, latency)
		}
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	s := New(Options{})
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "example.com:80", "nonsense"} {
		if _, stop, err := s.Listen(addr); err == nil {
			stop()
			t.Errorf("Listen(%q) succeeded", addr)
		}
	}
	base, stop, err := s.Listen("localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Post(base+"/oauth/v2/token?"+goodRefresh().Encode(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(base, "http://127.0.0.1:") && !strings.HasPrefix(base, "http://[::1]:") {
		t.Errorf("%s answered %d", base, resp.StatusCode)
	}
}

func TestManualClockConcurrent(t *testing.T) {
	c := NewManualClock(t0)
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			c.Advance(time.Second)
			c.Now()
		})
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(t0.Add(100 * time.Second)) {
		t.Errorf("Now = %v", got)
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Error("Set did not move the clock")
	}
	if _, ok := New(Options{}).Clock().(*ManualClock); !ok {
		t.Error("default clock is not a ManualClock")
	}
}
