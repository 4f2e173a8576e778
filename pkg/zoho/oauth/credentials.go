package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// Credentials is what the Zoho secret holds: either refresh credentials of a
// Zoho self-client, or an access token that something else keeps fresh.
type Credentials struct {
	ClientID     string
	ClientSecret string
	RefreshToken string
	AccessToken  string // set only when the secret holds a ready token

	// DataCenter and Environment are empty unless the secret names them;
	// they then take precedence over the function's configuration, because
	// a refresh token only works in its own data centre.
	DataCenter  zoho.DataCenter
	Environment zoho.Environment
}

// CanRefresh reports whether the credentials can mint access tokens.
func (c Credentials) CanRefresh() bool { return c.RefreshToken != "" }

// String keeps the credentials out of logs and error messages.
func (c Credentials) String() string { return "oauth.Credentials{REDACTED}" }

// ParseSecret reads the secret's JSON:
//
//	{"client_id": "...", "client_secret": "...", "refresh_token": "...",
//	 "data_center": "eu", "environment": "sandbox", "webhook_key": "..."}
//
// or {"access_token": "...", ...}. Refresh credentials win when both are present.
// webhook_key is the API's business and not read here: a bad key must not
// stop conversions. Errors are *secret.ConfigError, joined when several
// fields are wrong.
func ParseSecret(raw string) (Credentials, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(raw))
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		return Credentials{}, &secret.ConfigError{Reason: "is not a JSON object (want {\"client_id\", \"client_secret\", \"refresh_token\"} or {\"access_token\"})"}
	}
	var c Credentials
	var errs []error
	str := func(key string, dst *string) {
		v, ok := fields[key]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return
		}
		if err := json.Unmarshal(v, dst); err != nil || strings.TrimSpace(*dst) == "" {
			*dst = ""
			errs = append(errs, &secret.ConfigError{Field: key, Reason: "must be a non-empty string"})
			return
		}
		*dst = strings.TrimSpace(*dst)
	}
	str("client_id", &c.ClientID)
	str("client_secret", &c.ClientSecret)
	str("refresh_token", &c.RefreshToken)
	str("access_token", &c.AccessToken)
	var dc, env string
	str("data_center", &dc)
	str("environment", &env)
	if len(errs) > 0 {
		return Credentials{}, errors.Join(errs...)
	}
	if dc != "" {
		d, err := zoho.ParseDataCenter(dc)
		if err != nil {
			return Credentials{}, &secret.ConfigError{Field: "data_center", Reason: "must be one of us, eu, in, au, jp, ca, sa, cn"}
		}
		c.DataCenter = d
	}
	if env != "" {
		e, err := zoho.ParseEnvironment(env)
		if err != nil {
			return Credentials{}, &secret.ConfigError{Field: "environment", Reason: "must be one of production, sandbox, developer"}
		}
		c.Environment = e
	}
	refresh := c.ClientID != "" || c.ClientSecret != "" || c.RefreshToken != ""
	switch {
	case refresh:
		for _, k := range []struct {
			key string
			val string
		}{{"client_id", c.ClientID}, {"client_secret", c.ClientSecret}, {"refresh_token", c.RefreshToken}} {
			if k.val == "" {
				errs = append(errs, &secret.ConfigError{Field: k.key, Reason: "is missing (needed with refresh credentials)"})
			}
		}
		c.AccessToken = ""
	case c.AccessToken == "":
		errs = append(errs, &secret.ConfigError{Reason: `holds neither "refresh_token" (with "client_id" and "client_secret") nor "access_token"`})
	}
	if len(errs) > 0 {
		return Credentials{}, errors.Join(errs...)
	}
	return c, nil
}
