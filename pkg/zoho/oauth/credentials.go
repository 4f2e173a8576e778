package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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

	WebhookKey string // the key API Gateway callers must present
}

// CanRefresh reports whether the credentials can mint access tokens.
func (c Credentials) CanRefresh() bool { return c.RefreshToken != "" }

// String keeps the credentials out of logs and error messages.
func (c Credentials) String() string { return "oauth.Credentials{REDACTED}" }

// SecretError is a secret that does not hold usable credentials. It names
// the key at fault and never the value.
type SecretError struct {
	Key    string // empty when the secret as a whole is wrong
	Reason string
}

func (e *SecretError) Error() string {
	if e.Key == "" {
		return "zoho secret: " + e.Reason
	}
	return fmt.Sprintf("zoho secret: %q %s", e.Key, e.Reason)
}

// ParseSecret reads the secret's JSON:
//
//	{"client_id": "...", "client_secret": "...", "refresh_token": "...",
//	 "data_center": "eu", "environment": "sandbox", "webhook_key": "..."}
//
// or {"access_token": "...", ...}. Refresh credentials win when both are present.
func ParseSecret(raw string) (Credentials, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(raw))
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		return Credentials{}, &SecretError{Reason: "is not a JSON object (want {\"client_id\", \"client_secret\", \"refresh_token\"} or {\"access_token\"})"}
	}
	var c Credentials
	var errs []error
	str := func(key string, dst *string) {
		v, ok := fields[key]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return
		}
		if err := json.Unmarshal(v, dst); err != nil {
			errs = append(errs, &SecretError{Key: key, Reason: "is not a string"})
			return
		}
		*dst = strings.TrimSpace(*dst)
		if *dst == "" {
			errs = append(errs, &SecretError{Key: key, Reason: "is empty"})
		}
	}
	str("client_id", &c.ClientID)
	str("client_secret", &c.ClientSecret)
	str("refresh_token", &c.RefreshToken)
	str("access_token", &c.AccessToken)
	str("webhook_key", &c.WebhookKey)
	var dc, env string
	str("data_center", &dc)
	str("environment", &env)
	if len(errs) > 0 {
		return Credentials{}, errors.Join(errs...)
	}
	if dc != "" {
		d, err := zoho.ParseDataCenter(dc)
		if err != nil {
			return Credentials{}, &SecretError{Key: "data_center", Reason: "is not one of us, eu, in, au, jp, ca, sa, cn"}
		}
		c.DataCenter = d
	}
	if env != "" {
		e, err := zoho.ParseEnvironment(env)
		if err != nil {
			return Credentials{}, &SecretError{Key: "environment", Reason: "is not one of production, sandbox, developer"}
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
				errs = append(errs, &SecretError{Key: k.key, Reason: "is missing (needed with refresh credentials)"})
			}
		}
		c.AccessToken = ""
	case c.AccessToken == "":
		errs = append(errs, &SecretError{Reason: `holds neither "refresh_token" (with "client_id" and "client_secret") nor "access_token"`})
	}
	if len(errs) > 0 {
		return Credentials{}, errors.Join(errs...)
	}
	return c, nil
}
