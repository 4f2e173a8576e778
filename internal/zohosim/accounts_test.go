package zohosim

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var tokenPattern = regexp.MustCompile(`^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$`)

func TestTokenRefresh(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		query    bool
		want     map[string]any
		lifetime time.Duration
	}{
		{name: "form", want: map[string]any{"expires_in": 3600.0}},
		{name: "query string", query: true, want: map[string]any{"expires_in": 3600.0}},
		{name: "legacy", opts: Options{LegacyTokenResponse: true}, want: map[string]any{"expires_in_sec": 3600.0, "expires_in": 3600000.0}},
		{name: "other domain", opts: Options{APIDomain: "https://www.zohoapis.ca"}, want: map[string]any{"api_domain": "https://www.zohoapis.ca"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts)
			var a answer
			if tt.query {
				a = e.do("POST", "/oauth/v2/token?"+goodRefresh().Encode(), "", "")
			} else {
				a = e.refresh(goodRefresh())
			}
			if a.status != http.StatusOK {
				t.Fatalf("got %d %s", a.status, a.raw)
			}
			tok, _ := a.body["access_token"].(string)
			if !tokenPattern.MatchString(tok) || a.body["token_type"] != "Bearer" {
				t.Fatalf("bad token answer %s", a.raw)
			}
			if _, ok := a.body["api_domain"]; !ok || (tt.want["api_domain"] == nil && a.body["api_domain"] != DefaultAPIDomain) {
				t.Errorf("api_domain = %v", a.body["api_domain"])
			}
			for k, v := range tt.want {
				if a.body[k] != v {
					t.Errorf("%s = %v, want %v", k, a.body[k], v)
				}
			}
			if _, ok := a.body["expires_in_sec"]; ok != tt.opts.LegacyTokenResponse {
				t.Errorf("expires_in_sec present = %v in %s", ok, a.raw)
			}

			// The token lives one hour of simulated time.
			e.tok = tok
			e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 400, "INVALID_DATA", "")
			e.clock.Advance(time.Hour - time.Second)
			e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 400, "INVALID_DATA", "")
			e.clock.Advance(time.Second)
			e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 401, "INVALID_TOKEN", `{}`)

			if st := e.s.Stats(); st.TokensIssued != 1 || st.RefreshRequests != 1 || st.Calls[EndpointToken] != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestTokenErrors(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		value string // "" deletes the parameter
		error string
	}{
		{"wrong client", "client_id", "1000.OTHER", "invalid_client"},
		{"no client", "client_id", "", "invalid_client"},
		{"wrong secret", "client_secret", "nope", "invalid_client_secret"},
		{"wrong refresh token", "refresh_token", "1000.other", "invalid_code"},
		{"no refresh token", "refresh_token", "", "invalid_code"},
		{"authorization code grant without a code", "grant_type", "authorization_code", "invalid_code"},
		{"no grant", "grant_type", "", "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			form := goodRefresh()
			form.Del(tt.key)
			if tt.value != "" {
				form.Set(tt.key, tt.value)
			}
			a := e.refresh(form)
			if a.status != http.StatusOK || a.body["error"] != tt.error {
				t.Fatalf("got %d %s, want 200 {error: %s}", a.status, a.raw, tt.error)
			}
			if _, ok := a.body["access_token"]; ok {
				t.Errorf("error answer carries an access_token: %s", a.raw)
			}
			if st := e.s.Stats(); st.TokensIssued != 0 || st.RefreshRequests != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestRevokeRefreshToken(t *testing.T) {
	e := newEnv(t, Options{})
	live := e.refresh(goodRefresh()).body["access_token"].(string)
	e.s.RevokeRefreshToken()
	if a := e.refresh(goodRefresh()); a.status != http.StatusOK || a.body["error"] != "invalid_code" {
		t.Fatalf("got %d %s, want invalid_code", a.status, a.raw)
	}
	e.tok = live
	e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 400, "INVALID_DATA", "")
}

func TestRefreshThrottle(t *testing.T) {
	for _, status := range []int{0, http.StatusBadRequest} {
		t.Run(http.StatusText(max(status, 200)), func(t *testing.T) {
			e := newEnv(t, Options{AccessDeniedStatus: status})
			for i := range 10 {
				if a := e.refresh(goodRefresh()); a.body["access_token"] == nil {
					t.Fatalf("refresh %d: %s", i+1, a.raw)
				}
				e.clock.Advance(time.Second)
			}
			wantDenied := func(when string) {
				t.Helper()
				a := e.refresh(goodRefresh())
				if a.status != max(status, 200) || a.body["error"] != "Access Denied" || a.body["status"] != "failure" ||
					a.body["error_description"] != "You have made too many requests continuously. Please try again after some time." {
					t.Fatalf("%s: got %d %s, want Access Denied", when, a.status, a.raw)
				}
			}
			wantDenied("11th in ten minutes")
			// The window alone would have let refreshes through again here.
			e.clock.Advance(10 * time.Minute)
			wantDenied("during cool-down")
			e.clock.Advance(5*time.Minute - time.Second)
			wantDenied("just before the cool-down ends")
			e.clock.Advance(time.Second)
			if a := e.refresh(goodRefresh()); a.body["access_token"] == nil {
				t.Fatalf("after cool-down: %d %s", a.status, a.raw)
			}
			if st := e.s.Stats(); st.AccessDenied != 3 || st.TokensIssued != 11 || st.RefreshRequests != 14 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestRefreshWindowSlides(t *testing.T) {
	e := newEnv(t, Options{})
	refresh := func() bool {
		t.Helper()
		return e.refresh(goodRefresh()).body["access_token"] != nil
	}
	for range 5 {
		refresh()
	}
	e.clock.Advance(5 * time.Minute)
	for range 5 {
		refresh()
	}
	// Ten minutes after the first five they leave the window, one tick
	// earlier they still fill it.
	e.clock.Advance(5*time.Minute - time.Nanosecond)
	if refresh() {
		t.Fatal("11th refresh within ten minutes was granted")
	}

	e = newEnv(t, Options{})
	for range 5 {
		refresh()
	}
	e.clock.Advance(5 * time.Minute)
	for range 5 {
		refresh()
	}
	e.clock.Advance(5 * time.Minute)
	for i := range 5 {
		if !refresh() {
			t.Fatalf("refresh %d after the first five left the window was refused", i+1)
		}
	}
	if refresh() {
		t.Fatal("refresh beyond ten in the window was granted")
	}
}

func TestLiveTokenLimit(t *testing.T) {
	e := newEnv(t, Options{}) // e.tok is the oldest live token
	second := e.s.IssueToken()
	for range 13 {
		e.s.IssueToken()
	}
	if n := e.s.LiveTokens(); n != 15 {
		t.Fatalf("LiveTokens = %d, want 15", n)
	}
	e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 400, "INVALID_DATA", "")

	// The 16th, from a refresh, silently ends the oldest.
	a := e.refresh(goodRefresh())
	if a.body["access_token"] == nil {
		t.Fatalf("refresh: %s", a.raw)
	}
	e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 401, "INVALID_TOKEN", `{}`)
	e.do("GET", massConvertPath+"?job_id=1", "Zoho-oauthtoken "+second, "").wantError(t, 400, "INVALID_DATA", "")
	if n := e.s.LiveTokens(); n != 15 {
		t.Fatalf("LiveTokens = %d, want 15", n)
	}

	// Expired tokens do not count toward the fifteen.
	e.clock.Advance(time.Hour)
	fresh := e.s.IssueToken()
	for range 14 {
		e.s.IssueToken()
	}
	e.do("GET", massConvertPath+"?job_id=1", "Zoho-oauthtoken "+fresh, "").wantError(t, 400, "INVALID_DATA", "")
	e.s.IssueToken()
	e.do("GET", massConvertPath+"?job_id=1", "Zoho-oauthtoken "+fresh, "").wantError(t, 401, "INVALID_TOKEN", `{}`)
	if st := e.s.Stats(); st.TokensIssued != 1 {
		t.Errorf("IssueToken counted as a refresh: %+v", st)
	}
}

func TestIssueTokenOutsideWindow(t *testing.T) {
	e := newEnv(t, Options{})
	for range 30 {
		e.s.IssueToken()
	}
	for i := range 10 {
		if a := e.refresh(goodRefresh()); a.body["access_token"] == nil {
			t.Fatalf("refresh %d refused after IssueToken calls: %s", i+1, a.raw)
		}
	}
}

// TestGrantCode: a self-client's grant code is exchanged at its own data
// centre, within its minutes, and yields the refresh token only once.
func TestGrantCode(t *testing.T) {
	exchange := func(e *env, code string, edit func(url.Values)) answer {
		t.Helper()
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
		if edit != nil {
			edit(form)
		}
		return e.refresh(form)
	}
	t.Run("first exchange", func(t *testing.T) {
		e := newEnv(t, Options{APIDomain: "https://www.zohoapis.eu"})
		a := exchange(e, e.s.GrantCode(3*time.Minute), nil)
		tok, _ := a.body["access_token"].(string)
		if a.status != http.StatusOK || !tokenPattern.MatchString(tok) || a.body["refresh_token"] != DefaultRefreshToken ||
			a.body["api_domain"] != "https://www.zohoapis.eu" || a.body["token_type"] != "Bearer" || a.body["expires_in"] != 3600.0 {
			t.Fatalf("got %d %s", a.status, a.raw)
		}
		e.tok = tok
		e.do("GET", massConvertPath+"?job_id=1", e.auth(), "").wantError(t, 400, "INVALID_DATA", "")
		if st := e.s.Stats(); st.TokensIssued != 1 || st.Calls[EndpointToken] != 1 {
			t.Errorf("stats = %+v", st)
		}
	})
	t.Run("second exchange has no refresh token", func(t *testing.T) {
		e := newEnv(t, Options{})
		code := e.s.GrantCode(3 * time.Minute)
		exchange(e, code, nil)
		a := exchange(e, code, nil)
		if _, ok := a.body["refresh_token"]; ok || a.body["access_token"] == nil {
			t.Fatalf("second exchange: %d %s", a.status, a.raw)
		}
	})
	for _, tt := range []struct {
		name  string
		code  func(e *env) string
		edit  func(url.Values)
		error string
	}{
		{"expired", func(e *env) string {
			c := e.s.GrantCode(3 * time.Minute)
			e.clock.Advance(3 * time.Minute)
			return c
		}, nil, "invalid_code"},
		{"from another server", func(*env) string { return newEnv(t, Options{}).s.GrantCode(time.Minute) }, nil, "invalid_code"},
		{"unknown client", func(e *env) string { return e.s.GrantCode(time.Minute) },
			func(f url.Values) { f.Set("client_id", "1000.EUCLIENT") }, "invalid_client"},
		{"wrong secret", func(e *env) string { return e.s.GrantCode(time.Minute) },
			func(f url.Values) { f.Set("client_secret", "nope") }, "invalid_client_secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			a := exchange(e, tt.code(e), tt.edit)
			if a.status != http.StatusOK || a.body["error"] != tt.error || a.body["access_token"] != nil {
				t.Fatalf("got %d %s, want 200 {error: %s}", a.status, a.raw, tt.error)
			}
			if st := e.s.Stats(); st.TokensIssued != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// TestTokenTellsItsClient: as Zoho documents, a server that does not know
// the client id answers invalid_client whatever else the request holds, and
// the client's own server, knowing it, finds the secret or the code wrong;
// every request is recorded as it arrived, faulted ones included.
func TestTokenTellsItsClient(t *testing.T) {
	probe := func(clientID, secret, code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}, "client_secret": {secret}, "code": {code}}
	}
	for _, tt := range []struct {
		name string
		form url.Values
		want string
	}{
		{"another data centre's client", probe("1000.OTHER", DefaultClientSecret, "1000.any.code"), "invalid_client"},
		{"the client id alone", probe(DefaultClientID, "stand-in", "1000.stand.in"), "invalid_client_secret"},
		{"the secret right, the code not", probe(DefaultClientID, DefaultClientSecret, "1000.stand.in"), "invalid_code"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			if a := e.refresh(tt.form); a.status != http.StatusOK || a.body["error"] != tt.want {
				t.Fatalf("got %d %s, want 200 with error %s", a.status, a.raw, tt.want)
			}
			e.s.Script(EndpointToken, Fault{Kind: Drop})
			if _, err := e.try(e.c, "POST", "/oauth/v2/token?code=dropped", "", ""); err == nil {
				t.Fatal("the dropped request was answered")
			}
			got := e.s.TokenRequests()
			if len(got) != 2 || got[0].Form.Get("client_secret") != tt.form.Get("client_secret") ||
				!strings.Contains(got[0].Raw, url.QueryEscape(tt.form.Get("code"))) || got[1].Form.Get("code") != "dropped" {
				t.Fatalf("recorded %+v", got)
			}
		})
	}
}
