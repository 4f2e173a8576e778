package oauth

import (
	"errors"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

func TestParseSecret(t *testing.T) {
	const secretValue = "s3cr3t-value"
	tests := []struct {
		name    string
		raw     string
		want    Credentials
		wantErr string // substring; empty for success
	}{
		{name: "refresh credentials",
			raw:  `{"client_id":"1000.ABC","client_secret":"` + secretValue + `","refresh_token":"1000.r","webhook_key":"k"}`,
			want: Credentials{ClientID: "1000.ABC", ClientSecret: secretValue, RefreshToken: "1000.r"}},
		// The webhook key is the API's: however wrong, it never stops conversions.
		{name: "blank webhook key ignored",
			raw:  `{"client_id":"a","client_secret":"b","refresh_token":"c","webhook_key":"   "}`,
			want: Credentials{ClientID: "a", ClientSecret: "b", RefreshToken: "c"}},
		{name: "numeric webhook key ignored",
			raw:  `{"access_token":"1000.tok","webhook_key":12345}`,
			want: Credentials{AccessToken: "1000.tok"}},
		{name: "with data centre and environment",
			raw:  `{"client_id":"a","client_secret":"b","refresh_token":"c","data_center":"CA","environment":"sandbox"}`,
			want: Credentials{ClientID: "a", ClientSecret: "b", RefreshToken: "c", DataCenter: zoho.CA, Environment: zoho.Sandbox}},
		{name: "ready access token",
			raw:  `{"access_token":"1000.tok"}`,
			want: Credentials{AccessToken: "1000.tok"}},
		{name: "refresh wins over access token",
			raw:  `{"access_token":"1000.tok","client_id":"a","client_secret":"b","refresh_token":"c"}`,
			want: Credentials{ClientID: "a", ClientSecret: "b", RefreshToken: "c"}},
		{name: "not JSON", raw: `client_id=a`, wantErr: "not a JSON object"},
		{name: "JSON array", raw: `["a"]`, wantErr: "not a JSON object"},
		{name: "JSON null", raw: `null`, wantErr: "not a JSON object"},
		{name: "trailing garbage", raw: `{"access_token":"x"} {}`, wantErr: "not a JSON object"},
		{name: "empty object", raw: `{}`, wantErr: "neither"},
		{name: "missing secret", raw: `{"client_id":"a","refresh_token":"` + secretValue + `"}`, wantErr: `secret: client_secret: is missing`},
		{name: "missing refresh token", raw: `{"client_id":"a","client_secret":"` + secretValue + `"}`, wantErr: `secret: refresh_token: is missing`},
		{name: "empty value", raw: `{"client_id":"a","client_secret":"  ","refresh_token":"c"}`, wantErr: `secret: client_secret: must be a non-empty string`},
		{name: "number value", raw: `{"client_id":12,"client_secret":"b","refresh_token":"c"}`, wantErr: `secret: client_id: must be a non-empty string`},
		{name: "bad data centre", raw: `{"access_token":"x","data_center":"uk"}`, wantErr: `secret: data_center: must be one of`},
		{name: "bad environment", raw: `{"access_token":"x","environment":"staging"}`, wantErr: `secret: environment: must be one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSecret(tt.raw)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %s", err, tt.wantErr)
			}
			var ce *secret.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %#v, want a *secret.ConfigError", err)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Fatalf("error echoes a secret value: %v", err)
			}
		})
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	c := Credentials{ClientSecret: "hush", RefreshToken: "hush"}
	if s := c.String(); strings.Contains(s, "hush") {
		t.Fatalf("credentials printed: %s", s)
	}
}

func FuzzParseSecret(f *testing.F) {
	f.Add(`{"client_id":"a","client_secret":"b","refresh_token":"c"}`)
	f.Add(`{"access_token":"x","data_center":"eu"}`)
	f.Add(`{"client_id":null}`)
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := ParseSecret(raw)
		if err == nil && !c.CanRefresh() && c.AccessToken == "" {
			t.Fatalf("accepted a secret without any way to get a token: %q", raw)
		}
	})
}
