// Package zohosim simulates the parts of Zoho CRM and Zoho Accounts that
// mass lead conversion depends on: the OAuth token endpoint (refreshes and
// grant codes), Mass Convert Lead, Mass Convert Status, Get Records of
// Leads and COQL selects over Leads, plus what a producer written without
// the bridge uses (Search Records and the single-lead Convert Lead), and the metadata (Deals and Leads fields, current user, org) Zoho's
// official SDKs read before their first call.
//
// It is written from the project's summary of Zoho's documentation
// (docs/zoho-crm-api.md) and reproduces its quirks: Accounts answers errors
// with HTTP 200, error details change shape from code to code, job status
// casing drifts, tokens are rationed. A client that passes against the
// simulator has met all of them before meeting Zoho.
//
// The package imports nothing else from the project it tests, so that it is
// an independent reading of the same document.
package zohosim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credentials the simulator accepts unless Options say otherwise.
const (
	DefaultClientID     = "1000.SIMCLIENT"
	DefaultClientSecret = "simsecret"
	DefaultRefreshToken = "1000.simrefresh"
	DefaultAPIDomain    = "https://www.zohoapis.com"
)

// An Endpoint is one of the simulated APIs, as counted by Stats and
// targeted by fault injection.
type Endpoint int

const (
	EndpointToken       Endpoint = iota // POST /oauth/v2/token
	EndpointMassConvert                 // POST /crm/v{7,8}/Leads/actions/mass_convert
	EndpointStatus                      // GET  /crm/v{7,8}/Leads/actions/mass_convert?job_id=
	EndpointGetLeads                    // GET  /crm/v{7,8}/Leads?ids=&fields=&converted=
	EndpointFields                      // GET  /crm/v{7,8}/settings/fields?module=
	EndpointUsers                       // GET  /crm/v{7,8}/users?type=CurrentUser
	EndpointOrg                         // GET  /crm/v{7,8}/org
	EndpointCOQL                        // POST /crm/v{7,8}/coql
	EndpointSearch                      // GET  /crm/v{7,8}/Leads/search?criteria=
	EndpointConvertLead                 // POST /crm/v{7,8}/Leads/{id}/actions/convert
	EndpointAPIs                        // GET  /crm/v8/__apis
)

func (e Endpoint) String() string {
	switch e {
	case EndpointToken:
		return "token"
	case EndpointMassConvert:
		return "mass_convert"
	case EndpointStatus:
		return "status"
	case EndpointGetLeads:
		return "get_leads"
	case EndpointFields:
		return "fields"
	case EndpointUsers:
		return "users"
	case EndpointOrg:
		return "org"
	case EndpointCOQL:
		return "coql"
	case EndpointSearch:
		return "search"
	case EndpointConvertLead:
		return "convert_lead"
	case EndpointAPIs:
		return "apis"
	}
	return fmt.Sprintf("Endpoint(%d)", int(e))
}

// Options configure a Server. The zero value is a usable simulator.
type Options struct {
	// Clock drives every simulated duration; default NewManualClock(2026-01-01T00:00:00Z).
	Clock Clock

	// The credentials Accounts accepts; defaults DefaultClientID,
	// DefaultClientSecret, DefaultRefreshToken.
	ClientID, ClientSecret, RefreshToken string

	// APIDomain is the api_domain reported with new tokens; default DefaultAPIDomain.
	APIDomain string

	// Scopes are the grant's scopes, which every token it yields carries;
	// default DefaultScopes. A CRM call none of them allows answers
	// OAUTH_SCOPE_MISMATCH, however often the token is refreshed.
	Scopes []string

	// LegacyTokenResponse makes token responses carry expires_in_sec in
	// seconds and expires_in in milliseconds, as older Accounts servers do.
	LegacyTokenResponse bool

	// AccessDeniedStatus is the HTTP status of the Access Denied throttle
	// body: the doc reports both 200 and 400. Default 200.
	AccessDeniedStatus int

	// AccessDeniedCooldown is how long refreshes stay refused once the
	// throttle has tripped. Default 15 minutes; negative means none.
	AccessDeniedCooldown time.Duration

	// PipelinesEnabled makes Deals.Pipeline mandatory.
	PipelinesEnabled bool

	// SuccessStatus is the HTTP status of a scheduled mass_convert: Zoho's
	// own descriptions say 200 and 202. Default 202.
	SuccessStatus int

	// ScheduledFor and InProgressFor are how long, in simulated time, a job
	// stays in each state. Defaults 1 and 2 minutes; negative means none.
	ScheduledFor, InProgressFor time.Duration

	// StatusCasings lists casing styles, rotated per job (job n uses
	// StatusCasings[n%len]): "upper" (IN PROGRESS), "upper_underscore"
	// (IN_PROGRESS), "title" (In progress), "lower" (in progress) and
	// "underscore" (in_progress). Names are case-insensitive. Default upper.
	StatusCasings []string

	// Latency is real time added to every CRM and token call, for benchmarks.
	Latency time.Duration

	// ConcurrencyLimit, when positive, answers 429 TOO_MANY_REQUESTS to a
	// CRM call that arrives while this many are already in flight.
	ConcurrencyLimit int

	// DailyCredits, when positive, is the org's daily API credits: each
	// CRM call answered costs Credits[endpoint] (1 when not listed), and
	// once half are spent every answer carries X-API-CREDITS-REMAINING, as
	// Zoho's does (zoho-crm-api.md section 4). Zero: credits are not kept.
	DailyCredits int
	// Credits is each endpoint's cost, which GET /crm/v8/__apis lists.
	// Zoho's cost of mass_convert is unconfirmed; tests set what they
	// assume.
	Credits map[Endpoint]int

	// COQLHidesConverted makes COQL leave out converted leads. Whether
	// Zoho's does is unconfirmed (zoho-crm-api.md section 8); by default
	// they are returned, the reading that costs a careless client most.
	COQLHidesConverted bool
}

// Stats are the simulator's counters since New or the last ResetStats.
type Stats struct {
	Calls                map[Endpoint]int // requests received per endpoint, faulted ones included
	TokensIssued         int              // successful refreshes (IssueToken excluded)
	RefreshRequests      int              // token endpoint calls, whatever their outcome
	AccessDenied         int              // Access Denied answers, injected ones included
	IDsSubmitted         int              // ids in scheduled mass_convert calls
	DuplicateSubmissions int              // submitted ids already in a job that has not failed them
	JobsScheduled        int
	MaxInFlight          int // most CRM calls in flight at once
	InvalidTokenAnswers  int // 401s written
	ConcurrencyRejected  int // 429s due to ConcurrencyLimit
	CreditsUsed          int // credits the answered CRM calls cost (with Options.DailyCredits)
	LeadsConverted       int // leads the single-lead Convert Lead API converted
	// ConvertedSubmissions counts converted leads sent to mass_convert or
	// Convert Lead, which Zoho refuses (the whole call, for mass_convert).
	ConvertedSubmissions int
}

// A Server is the simulator. It serves Accounts and CRM from one handler,
// so a test points both base URLs at it. It is safe for concurrent use.
type Server struct {
	opts    Options
	casings []casing

	// hook, when set before the first request, runs inside every admitted
	// CRM call, so tests can hold calls in flight without sleeping.
	hook func(Endpoint)

	mu sync.Mutex

	// Accounts.
	tokens      map[string]time.Time // live access token -> expiry
	issued      []string             // access tokens in issue order, pruned lazily
	everIssued  []string             // every access token issued, for leak scans
	refreshes   []time.Time          // refreshes within the sliding window
	deniedUntil time.Time
	revoked     bool
	codes       map[string]*grantCode // grant codes by value
	received    []TokenRequest        // every token request, faulted ones included

	// CRM directory.
	users       map[string]bool
	portalTypes map[string]bool

	// Leads and jobs.
	leads   map[string]bool   // leads that may be submitted
	failing map[string]bool   // leads whose conversion fails when their job runs
	taken   map[string]string // lead -> job holding it, until the job fails the lead
	jobs    map[string]*job
	order   []*job
	pending jobQueue
	leadSeq int64
	// converted are leads converted outside mass_convert jobs (Convert
	// Lead, or seeded as converted), each with whether a deal was made.
	converted map[string]bool
	// sorted caches every lead id ever seeded, in order, for COQL and
	// Search; seeding clears it.
	sorted []int64
	// fields are the leads' fields COQL selects on (SetLeadFields), and
	// customFields the names added beyond leadFieldNames.
	fields       map[string]map[string]any
	customFields map[string]bool
	// views are the custom views of Leads (DefineView): each id's
	// condition.
	views map[string]*cond

	// Faults.
	script map[Endpoint][]Fault
	rates  map[Endpoint][]*rateFault
	faults map[FaultKind]int

	stats    Stats
	inFlight int
}

// New returns a simulator configured by opts, with one user, one portal
// user type and no leads.
func New(opts Options) *Server {
	setDefault(&opts.ClientID, DefaultClientID)
	setDefault(&opts.ClientSecret, DefaultClientSecret)
	setDefault(&opts.RefreshToken, DefaultRefreshToken)
	setDefault(&opts.APIDomain, DefaultAPIDomain)
	if opts.Scopes == nil {
		opts.Scopes = DefaultScopes
	}
	setDefault(&opts.AccessDeniedStatus, http.StatusOK)
	setDefault(&opts.SuccessStatus, http.StatusAccepted)
	setDefault(&opts.AccessDeniedCooldown, 15*time.Minute)
	setDefault(&opts.ScheduledFor, time.Minute)
	setDefault(&opts.InProgressFor, 2*time.Minute)
	opts.AccessDeniedCooldown = max(opts.AccessDeniedCooldown, 0)
	opts.ScheduledFor = max(opts.ScheduledFor, 0)
	opts.InProgressFor = max(opts.InProgressFor, 0)
	if opts.Clock == nil {
		opts.Clock = NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	if len(opts.StatusCasings) == 0 {
		opts.StatusCasings = []string{"upper"}
	}
	s := &Server{
		opts:         opts,
		tokens:       make(map[string]time.Time),
		codes:        make(map[string]*grantCode),
		users:        map[string]bool{DefaultUserID: true},
		portalTypes:  map[string]bool{DefaultPortalUserTypeID: true},
		leads:        make(map[string]bool),
		failing:      make(map[string]bool),
		taken:        make(map[string]string),
		converted:    make(map[string]bool),
		fields:       make(map[string]map[string]any),
		customFields: make(map[string]bool),
		jobs:         make(map[string]*job),
		script:       make(map[Endpoint][]Fault),
		rates:        make(map[Endpoint][]*rateFault),
	}
	for _, name := range opts.StatusCasings {
		c, ok := casingNames[strings.ToLower(name)]
		if !ok {
			panic("zohosim: unknown status casing " + name)
		}
		s.casings = append(s.casings, c)
	}
	s.resetStatsLocked()
	return s
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// Clock returns the clock the simulator runs on.
func (s *Server) Clock() Clock { return s.opts.Clock }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Calls = make(map[Endpoint]int, len(s.stats.Calls))
	for k, v := range s.stats.Calls {
		st.Calls[k] = v
	}
	return st
}

// ResetStats zeroes the counters, FaultsInjected included.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetStatsLocked()
}

func (s *Server) resetStatsLocked() {
	s.stats = Stats{Calls: make(map[Endpoint]int), MaxInFlight: s.inFlight}
	s.faults = make(map[FaultKind]int)
}

// maxBody bounds request bodies: fifty ids and their options fit many times over.
const maxBody = 1 << 20

// ServeHTTP routes a request to Accounts or CRM, after latency and any
// injected fault.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ep, v8, rerr := route(r)
	if rerr != nil {
		s.writeJSON(w, rerr.status, rerr.body())
		return
	}
	// Reading the body up front lets net/http watch the connection, so that
	// a client giving up cancels r.Context() even while a POST waits.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.writeJSON(w, http.StatusBadRequest, errBodyTooLarge.body())
		}
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if ep == EndpointToken {
		s.recordToken(r, body)
	}

	fault, over := s.arrive(ep)
	if ep != EndpointToken {
		defer s.depart()
	}
	ctx := r.Context()
	if !wait(ctx, s.opts.Latency) {
		return
	}
	serve := func() (int, any) { return s.handle(r, ep, v8, body, over) }
	switch fault.Kind {
	case NoFault:
	case Slow:
		if !wait(ctx, fault.delay()) {
			return
		}
	case Drop:
		drop(w)
		return
	case DropAfterAccept:
		serve()
		drop(w)
		return
	case Truncated:
		_, v := serve()
		b, _ := json.Marshal(v)
		s.write(w, http.StatusOK, jsonType, b[:len(b)/2])
		return
	case NonJSON:
		s.write(w, http.StatusOK, "text/html;charset=UTF-8", []byte(maintenancePage))
		return
	default:
		status, v := s.faultReply(fault.Kind)
		s.writeJSON(w, status, v)
		return
	}
	status, v := serve()
	s.charge(w, ep)
	s.writeJSON(w, status, v)
}

// charge spends the credits of an answered CRM call and, past half the
// org's daily credits, tells how many remain.
func (s *Server) charge(w http.ResponseWriter, ep Endpoint) {
	if s.opts.DailyCredits <= 0 || ep == EndpointToken {
		return
	}
	cost := s.Cost(ep)
	s.mu.Lock()
	s.stats.CreditsUsed += cost
	used := s.stats.CreditsUsed
	s.mu.Unlock()
	if 2*used >= s.opts.DailyCredits {
		w.Header().Set("X-API-CREDITS-REMAINING", strconv.Itoa(max(s.opts.DailyCredits-used, 0)))
	}
}

func route(r *http.Request) (ep Endpoint, v8 bool, err *apiError) {
	switch p := r.URL.Path; p {
	case "/oauth/v2/token":
		if r.Method == http.MethodPost {
			return EndpointToken, false, nil
		}
	case "/crm/v7/Leads/actions/mass_convert", "/crm/v8/Leads/actions/mass_convert":
		v8 = strings.HasPrefix(p, "/crm/v8/")
		switch r.Method {
		case http.MethodPost:
			return EndpointMassConvert, v8, nil
		case http.MethodGet:
			return EndpointStatus, v8, nil
		}
		return 0, false, errMethod
	case "/crm/v7/coql", "/crm/v8/coql":
		if r.Method == http.MethodPost {
			return EndpointCOQL, strings.HasPrefix(p, "/crm/v8/"), nil
		}
		return 0, false, errMethod
	case "/crm/v8/__apis":
		if r.Method == http.MethodGet {
			return EndpointAPIs, true, nil
		}
		return 0, false, errMethod
	case "/crm/v7/Leads", "/crm/v8/Leads":
		if r.Method == http.MethodGet {
			return EndpointGetLeads, strings.HasPrefix(p, "/crm/v8/"), nil
		}
		return 0, false, errMethod
	case "/crm/v7/Leads/search", "/crm/v8/Leads/search":
		if r.Method == http.MethodGet {
			return EndpointSearch, strings.HasPrefix(p, "/crm/v8/"), nil
		}
		return 0, false, errMethod
	}
	if _, ok := convertLeadID(r.URL.Path); ok {
		if r.Method == http.MethodPost {
			return EndpointConvertLead, strings.HasPrefix(r.URL.Path, "/crm/v8/"), nil
		}
		return 0, false, errMethod
	}
	// The metadata an SDK reads before its first call (settings.go).
	for _, m := range []struct {
		path string
		ep   Endpoint
	}{{"settings/fields", EndpointFields}, {"users", EndpointUsers}, {"org", EndpointOrg}} {
		for _, version := range []string{"/crm/v7/", "/crm/v8/"} {
			if r.URL.Path == version+m.path {
				if r.Method != http.MethodGet {
					return 0, false, errMethod
				}
				return m.ep, version == "/crm/v8/", nil
			}
		}
	}
	return 0, false, errURLPattern
}

// arrive counts a call and decides its fault; a CRM call also enters the
// in-flight count, and over reports whether it exceeds ConcurrencyLimit.
func (s *Server) arrive(ep Endpoint) (f Fault, over bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Calls[ep]++
	if ep == EndpointToken {
		s.stats.RefreshRequests++
	} else {
		s.inFlight++
		s.stats.MaxInFlight = max(s.stats.MaxInFlight, s.inFlight)
		over = s.opts.ConcurrencyLimit > 0 && s.inFlight > s.opts.ConcurrencyLimit
	}
	f = s.nextFaultLocked(ep)
	if f.Kind != NoFault {
		s.faults[f.Kind]++
	}
	return f, over
}

func (s *Server) depart() {
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
}

// handle does the real work of a call and returns its answer unwritten, so
// that faults can discard or mangle it after the fact.
func (s *Server) handle(r *http.Request, ep Endpoint, v8 bool, body []byte, over bool) (int, any) {
	if ep == EndpointToken {
		return s.token(r)
	}
	if over {
		s.mu.Lock()
		s.stats.ConcurrencyRejected++
		s.mu.Unlock()
		return errTooManyRequests.reply()
	}
	if s.hook != nil {
		s.hook(ep)
	}
	if err := s.authorize(r.Header.Get("Authorization")); err != nil {
		return err.reply()
	}
	if !s.allows(ep) {
		return errScopeMismatch.reply()
	}
	switch ep {
	case EndpointMassConvert:
		return s.massConvert(body, v8)
	case EndpointGetLeads:
		return s.getLeads(r.URL.Query())
	case EndpointFields:
		return s.fieldsMeta(r.URL.Query())
	case EndpointUsers:
		return s.usersAPI(r.URL.Query())
	case EndpointOrg:
		return s.org()
	case EndpointCOQL:
		return s.coql(body)
	case EndpointSearch:
		return s.search(r.URL.Query())
	case EndpointConvertLead:
		id, _ := convertLeadID(r.URL.Path)
		return s.convertLead(id, body)
	case EndpointAPIs:
		return s.apis()
	}
	return s.jobStatus(r.URL.Query().Get("job_id"))
}

const jsonType = "application/json;charset=UTF-8"

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	if _, empty := v.(noContent); empty {
		s.write(w, status, jsonType, nil)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("zohosim: " + err.Error()) // every answer is built from plain maps and strings
	}
	s.write(w, status, jsonType, b)
}

func (s *Server) write(w http.ResponseWriter, status int, contentType string, b []byte) {
	if status == http.StatusUnauthorized {
		s.mu.Lock()
		s.stats.InvalidTokenAnswers++
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(b)
}

// drop closes the connection without a word, as a network failure would.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not HTTP/1 (or a recorder): abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// wait blocks for d of real time, reporting false if ctx ends first.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Start serves the simulator on a fresh loopback port, like httptest.Server,
// and panics if it cannot listen. stop closes the listener and every
// connection, ending calls held by latency or a Slow fault.
func (s *Server) Start() (baseURL string, stop func()) {
	baseURL, stop, err := s.Listen("127.0.0.1:0")
	if err != nil {
		panic("zohosim: " + err.Error())
	}
	return baseURL, stop
}

// Listen serves the simulator on addr, which must name a loopback host:
// the simulator hands out tokens to anyone and must not be reachable from
// elsewhere.
func (s *Server) Listen(addr string) (baseURL string, stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("zohosim: refusing non-loopback address %q", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		ln.Close()
		return "", nil, fmt.Errorf("zohosim: %q resolved to non-loopback %v", addr, ln.Addr())
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go srv.Serve(ln)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			srv.Close()
		})
	}
	return "http://" + ln.Addr().String(), stop, nil
}
