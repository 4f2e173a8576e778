package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/httpapi"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
)

const key = "wk_2f8e1c9a7b6d5e4f3a2b1c0d"

type rig struct {
	sim   *zohosim.Server
	z     *zohotest.Zoho
	store *memstore.Store
	srv   *httptest.Server
}

// newRig serves the API with no default owner; opts change its Config.
func newRig(t *testing.T, webhookKey string, keyErr error, opts ...func(*httpapi.Config)) *rig {
	t.Helper()
	z := zohotest.Start(t, zohosim.Options{}, 1)
	store := memstore.New()
	svc, err := convert.New(convert.Config{Zoho: z.Client, Store: store, Now: z.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := httpapi.Config{Converter: svc, Jobs: store, APIVersion: "v7",
		WebhookKey: func(context.Context, bool) (httpapi.Keys, error) { return httpapi.Keys{Current: webhookKey}, keyErr }}
	for _, o := range opts {
		o(&cfg)
	}
	h := httpapi.New(cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &rig{sim: z.Sim, z: z, store: store, srv: srv}
}

func (r *rig) do(t *testing.T, method, path, contentType, body string, header map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, r.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, raw)
	}
	return res, out
}

var bearer = map[string]string{"Authorization": "Bearer " + key}

func TestWebhookAuth(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		query  string
		want   int
	}{
		{"missing", nil, "", 401},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, "", 401},
		{"wrong", map[string]string{"Authorization": "Bearer wk_0000000000000000000000000"}, "", 401},
		{"wrong length", map[string]string{"X-Webhook-Key": key + "x"}, "", 401},
		{"prefix only", map[string]string{"X-Webhook-Key": key[:10]}, "", 401},
		{"other scheme", map[string]string{"Authorization": "Basic " + key}, "", 401},
		{"in the query string", nil, "?key=" + url.QueryEscape(key), 401},
		{"bearer", bearer, "", 404},
		{"bearer lower case", map[string]string{"Authorization": "bearer " + key}, "", 404},
		{"header", map[string]string{"X-Webhook-Key": key}, "", 404},
	}
	r := newRig(t, key, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A job that does not exist: 404 once past authentication.
			res, body := r.do(t, "GET", "/conversions/3652397000009835020"+tt.query, "", "", tt.header)
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d (%v)", res.StatusCode, tt.want, body)
			}
			if tt.want == 401 && (body["code"] != "AUTHENTICATION_FAILURE" || res.Header.Get("WWW-Authenticate") == "") {
				t.Errorf("401 answer %v", body)
			}
		})
	}
}

func TestNoKeyConfiguredRefusesEverything(t *testing.T) {
	r := newRig(t, "", nil)
	for _, h := range []map[string]string{nil, bearer, {"Authorization": "Bearer "}} {
		if res, _ := r.do(t, "POST", "/conversions", "application/json", `{"ids":["1"]}`, h); res.StatusCode != 401 {
			t.Fatalf("status %d with no key configured", res.StatusCode)
		}
	}
	broken := newRig(t, "", errors.New("secret unavailable"))
	if res, _ := broken.do(t, "POST", "/conversions", "application/json", `{"ids":["1"]}`, bearer); res.StatusCode != 503 {
		t.Fatalf("status %d when the secret cannot be read", res.StatusCode)
	}
}

func TestPostConversions(t *testing.T) {
	r := newRig(t, key, nil)
	ids := r.sim.SeedLeadRange(60)
	jsonBody := zohotest.Body(append(ids[:55:55], "3652397000099999999")...)
	res, body := r.do(t, "POST", "/conversions", "application/json; charset=utf-8", jsonBody, bearer)
	if res.StatusCode != 202 {
		t.Fatalf("status %d: %v", res.StatusCode, body)
	}
	jobsOut := body["jobs"].([]any)
	rejected := body["rejected"].([]any)
	if len(jobsOut) != 2 || len(rejected) != 1 || rejected[0].(map[string]any)["id"] != "3652397000099999999" {
		t.Fatalf("answer %v; want 2 jobs and the unknown id rejected", body)
	}
	jobID := jobsOut[0].(map[string]any)["job_id"].(string)
	res, job := r.do(t, "GET", "/conversions/"+jobID, "", "", bearer)
	if res.StatusCode != 200 || job["status"] != "SCHEDULED" || len(job["ids"].([]any)) != 50 {
		t.Fatalf("GET job: %d %v", res.StatusCode, job)
	}
	// A Zoho workflow webhook: form-encoded, sent twice.
	form := url.Values{"ids": {ids[55] + ", " + ids[56]}, "assign_to": {zohotest.Owner}, "Deals.Deal_Name": {"Webhook deal"},
		"Deals.Stage": {"Qualification"}, "Deals.Closing_Date": {"2026-06-30"}}.Encode()
	for attempt := range 2 {
		res, body = r.do(t, "POST", "/conversions", "application/x-www-form-urlencoded", form, bearer)
		if res.StatusCode != 202 || len(body["jobs"].([]any)) != 1 {
			t.Fatalf("form attempt %d: %d %v", attempt, res.StatusCode, body)
		}
	}
	if n := r.sim.Stats().Calls[zohosim.EndpointMassConvert]; n != 4 {
		t.Fatalf("%d mass_convert calls; want 3 for the JSON request (one rejection), 1 for the webhook and none for its retry", n)
	}
}

func TestPostRefusals(t *testing.T) {
	r := newRig(t, key, nil)
	tests := []struct {
		name, contentType, body string
		want                    int
		code                    string
	}{
		{"invalid JSON", "application/json", `{"ids":`, 400, "INVALID_REQUEST"},
		{"numeric id", "application/json", `{"ids":[3652397000009835021]}`, 400, "INVALID_DATA"},
		{"unknown key", "application/json", `{"ids":["1"],"assign_to":{"id":"1"},"foo":1}`, 400, "INVALID_DATA"},
		{"no owner", "application/json", `{"ids":["1"]}`, 400, "MANDATORY_NOT_FOUND"},
		{"form without owner", "application/x-www-form-urlencoded", `ids=1&assign_to=`, 400, "MANDATORY_NOT_FOUND"},
		{"leading zero", "application/json", `{"ids":["1","01"],"assign_to":{"id":"1"}}`, 400, "INVALID_DATA"},
		{"non-UTF-8", "application/json", "{\"ids\":[\"\xff\"]}", 400, "INVALID_REQUEST"},
		{"deep nesting", "application/json", `{"ids":["1"],"Deals":` + strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat(`}`, 10000) + `}`, 400, ""},
		{"10,000 ids", "application/json", `{"ids":["` + strings.Repeat(`1","`, 9999) + `1"]}`, 400, "LIMIT_EXCEEDED"},
		{"too big", "application/json", `{"ids":["` + strings.Repeat("1", 300<<10) + `"]}`, 413, "LIMIT_EXCEEDED"},
		{"xml", "application/xml", `<ids/>`, 415, "INVALID_REQUEST"},
		{"form with unknown key", "application/x-www-form-urlencoded", `ids=1&assign_to=1&x=2`, 400, "INVALID_DATA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := r.do(t, "POST", "/conversions", tt.contentType, tt.body, bearer)
			if res.StatusCode != tt.want || (tt.code != "" && body["code"] != tt.code) || body["status"] != "error" {
				t.Fatalf("status %d code %v; want %d %s", res.StatusCode, body["code"], tt.want, tt.code)
			}
		})
	}
	if n := r.sim.Stats().Calls[zohosim.EndpointMassConvert]; n != 0 {
		t.Fatalf("%d calls reached Zoho for invalid input", n)
	}
}

// TestOwnerRequiredOrDefault: without assign_to a request gets 400 naming
// $.assign_to and reaches no Zoho call, unless the deployment has a default
// owner, which Zoho then receives.
func TestOwnerRequiredOrDefault(t *testing.T) {
	r := newRig(t, key, nil)
	ids := r.sim.SeedLeadRange(3)
	for _, b := range []struct{ contentType, body string }{
		{"application/json", `{"ids":["` + ids[0] + `"]}`},
		{"application/x-www-form-urlencoded", "ids=" + ids[0]},
	} {
		res, body := r.do(t, "POST", "/conversions", b.contentType, b.body, bearer)
		if res.StatusCode != 400 || body["code"] != "MANDATORY_NOT_FOUND" || body["details"].(map[string]any)["json_path"] != "$.assign_to" {
			t.Fatalf("%s without an owner: %d %v", b.contentType, res.StatusCode, body)
		}
	}
	if n := r.sim.Stats().Calls[zohosim.EndpointMassConvert]; n != 0 {
		t.Fatalf("%d calls reached Zoho without an owner", n)
	}

	r = newRig(t, key, nil, func(c *httpapi.Config) { c.DefaultOwner = zohotest.Owner })
	ids = r.sim.SeedLeadRange(2)
	for _, b := range []struct{ contentType, body string }{
		{"application/json", `{"ids":["` + ids[0] + `"]}`},
		{"application/x-www-form-urlencoded", "ids=" + ids[1] + "&assign_to="},
	} {
		if res, body := r.do(t, "POST", "/conversions", b.contentType, b.body, bearer); res.StatusCode != 202 {
			t.Fatalf("%s with a default owner: %d %v", b.contentType, res.StatusCode, body)
		}
	}
	for _, j := range r.sim.Jobs() {
		if want := `"assign_to":{"id":"` + zohotest.Owner + `"}`; !strings.Contains(string(j.Body), want) {
			t.Errorf("Zoho received %s; want %s", j.Body, want)
		}
	}
}

func TestThrottledAnswer503(t *testing.T) {
	r := newRig(t, key, nil)
	ids := r.sim.SeedLeadRange(1)
	r.sim.Script(zohosim.EndpointMassConvert, zohosim.Fault{Kind: zohosim.TooManyRequests})
	res, body := r.do(t, "POST", "/conversions", "application/json", zohotest.Body(ids[0]), bearer)
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || body["code"] != "TOO_MANY_REQUESTS" {
		t.Fatalf("%d %v", res.StatusCode, body)
	}
	// The lead was handed back: the retry schedules it.
	if res, _ := r.do(t, "POST", "/conversions", "application/json", zohotest.Body(ids[0]), bearer); res.StatusCode != 202 {
		t.Fatalf("retry: %d", res.StatusCode)
	}
}

func TestRoutes(t *testing.T) {
	r := newRig(t, key, nil)
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/conversions", 405},
		{"DELETE", "/conversions/3652397000009835020", 405},
		{"PUT", "/conversions", 405},
		{"GET", "/", 404},
		{"POST", "/jobs", 404},
		{"GET", "/conversions/not-a-number", 400},
		{"GET", "/conversions/3652397000009835020", 404},
	}
	for _, tt := range tests {
		res, body := r.do(t, tt.method, tt.path, "", "", bearer)
		if res.StatusCode != tt.want || body["status"] != "error" {
			t.Errorf("%s %s: %d %v, want %d", tt.method, tt.path, res.StatusCode, body, tt.want)
		}
	}
}
