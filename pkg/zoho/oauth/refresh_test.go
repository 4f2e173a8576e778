package oauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// TestRefreshAnswers covers section 3 of zoho-crm-api.md: errors with HTTP
// 200, the two expiry encodings, the Access Denied throttle and answers
// without a token.
func TestRefreshAnswers(t *testing.T) {
	creds := Credentials{ClientID: "1000.id", ClientSecret: "the-secret", RefreshToken: "1000.refresh"}
	tests := []struct {
		name      string
		status    int
		body      string
		lifetime  time.Duration
		code      string // wanted error code; "-" for success
		throttled bool
	}{
		{"current", 200, `{"access_token":"1000.a","api_domain":"https://www.zohoapis.eu","token_type":"Bearer","expires_in":3600}`, time.Hour, "-", false},
		{"legacy milliseconds", 200, `{"access_token":"1000.a","expires_in_sec":3600,"expires_in":3600000}`, time.Hour, "-", false},
		{"milliseconds alone", 200, `{"access_token":"1000.a","expires_in":3600000}`, time.Hour, "-", false},
		{"no expiry", 200, `{"access_token":"1000.a"}`, time.Hour, "-", false},
		{"short life", 200, `{"access_token":"1000.a","expires_in":"1800"}`, 30 * time.Minute, "-", false},
		{"invalid code", 200, `{"error":"invalid_code"}`, 0, "invalid_code", false},
		{"invalid client", 200, `{"error":"invalid_client"}`, 0, "invalid_client", false},
		{"invalid secret", 200, `{"error":"invalid_client_secret"}`, 0, "invalid_client_secret", false},
		{"access denied 200", 200, `{"error":"Access Denied","error_description":"You have made too many requests continuously. Please try again after some time.","status":"failure"}`, 0, "Access Denied", true},
		{"access denied 400", 400, `{"error":"Access Denied","error_description":"You have made too many requests continuously.","status":"failure"}`, 0, "Access Denied", true},
		{"no access token", 200, `{"token_type":"Bearer","expires_in":3600}`, 0, "", false},
		{"html", 502, `<html>bad gateway</html>`, 0, "", false},
		{"truncated success", 200, `{"access_token":"1000.leaked-part`, 0, "", false},
		{"500 json", 500, `{}`, 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var form url.Values
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				form, _ = url.ParseQuery(string(b))
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			g, throttled, err := refresh(context.Background(), srv.Client(), srv.URL, creds)
			if form.Get("grant_type") != "refresh_token" || form.Get("refresh_token") != creds.RefreshToken ||
				form.Get("client_id") != creds.ClientID || form.Get("client_secret") != creds.ClientSecret {
				t.Errorf("form sent: %v", form)
			}
			if tt.code == "-" {
				if err != nil || g.accessToken != "1000.a" || g.lifetime != tt.lifetime {
					t.Fatalf("got %+v, %v; want token with lifetime %v", g, err, tt.lifetime)
				}
				return
			}
			var apiErr *zoho.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.code || apiErr.Op != "token" || !apiErr.Retryable() {
				t.Fatalf("err = %v; want a retryable token error with code %q", err, tt.code)
			}
			if throttled != tt.throttled {
				t.Errorf("throttled = %v", throttled)
			}
			for _, s := range []string{creds.ClientSecret, creds.RefreshToken, "leaked"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error echoes %q: %v", s, err)
				}
			}
		})
	}
}
