package zohosim

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestAPIsListsCredits: GET /crm/v8/__apis lists every endpoint the
// simulator serves, each method with the credits it charges (min_credits
// and max_credits), and the call itself is charged and counted; v7 has no
// catalogue, and it is GET only.
func TestAPIsListsCredits(t *testing.T) {
	e := newEnv(t, Options{DailyCredits: 1000, Credits: map[Endpoint]int{EndpointMassConvert: 5, EndpointCOQL: 2}})
	a := e.do("GET", "/crm/v8/__apis", e.auth(), "")
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.raw)
	}
	var got struct {
		APIs []struct {
			Path string `json:"path"`
			Ops  []struct {
				Method     string `json:"method"`
				Scope      string `json:"oauth_scope"`
				MinCredits int    `json:"min_credits"`
				MaxCredits int    `json:"max_credits"`
			} `json:"operation_types"`
		} `json:"__apis"`
	}
	if err := json.Unmarshal(a.raw, &got); err != nil {
		t.Fatal(err)
	}
	costs := map[string]int{}
	for _, api := range got.APIs {
		for _, op := range api.Ops {
			if op.MinCredits != op.MaxCredits {
				t.Errorf("%s %s: min %d, max %d", op.Method, api.Path, op.MinCredits, op.MaxCredits)
			}
			costs[op.Method+" "+api.Path] = op.MaxCredits
		}
	}
	for k, want := range map[string]int{
		"POST /crm/v8/Leads/actions/mass_convert": 5, "GET /crm/v8/Leads/actions/mass_convert": 1,
		"GET /crm/v8/Leads": 1, "POST /crm/v8/coql": 2, "GET /crm/v8/__apis": 1,
	} {
		if got, ok := costs[k]; !ok || got != want {
			t.Errorf("%s: %d credits (listed %v), want %d", k, got, ok, want)
		}
	}
	if st := e.s.Stats(); st.Calls[EndpointAPIs] != 1 || st.CreditsUsed != 1 {
		t.Errorf("counted %d calls, %d credits; want 1 and 1", st.Calls[EndpointAPIs], st.CreditsUsed)
	}
	if a := e.do("GET", "/crm/v7/__apis", e.auth(), ""); a.status != http.StatusNotFound {
		t.Errorf("v7 catalogue: status %d", a.status)
	}
	if a := e.do("POST", "/crm/v8/__apis", e.auth(), "{}"); a.status == http.StatusOK {
		t.Errorf("POST answered %d", a.status)
	}
	if a := e.do("GET", "/crm/v8/__apis", "", ""); a.status != http.StatusUnauthorized {
		t.Errorf("without a token: status %d", a.status)
	}
}
