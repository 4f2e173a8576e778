package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// grant is a new access token as Zoho Accounts issued it.
type grant struct {
	accessToken string
	apiDomain   string // as sent; not yet checked against the known hosts
	lifetime    time.Duration
}

// tokenAnswer is the union of Zoho Accounts' answers. Errors come with HTTP
// 200, so "error" must be checked before anything else.
type tokenAnswer struct {
	AccessToken      string      `json:"access_token"`
	RefreshToken     string      `json:"refresh_token"` // only when a grant code is exchanged
	APIDomain        string      `json:"api_domain"`
	ExpiresIn        json.Number `json:"expires_in"`
	ExpiresInSec     json.Number `json:"expires_in_sec"`
	Error            string      `json:"error"`
	ErrorDescription string      `json:"error_description"`
}

// defaultLifetime is Zoho's documented access-token life, used when an
// answer states none.
const defaultLifetime = time.Hour

// refresh asks accountsURL for a new access token. Every failure is a
// *zoho.APIError with Op "token" and Class Retryable: nothing about the
// request being served is wrong, and an operator can mend the credentials.
// throttled reports Zoho's Access Denied answer.
func refresh(ctx context.Context, hc *http.Client, accountsURL string, c Credentials) (g grant, throttled bool, err error) {
	a, err := postToken(ctx, hc, accountsURL, url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {c.ClientID},
		"client_secret": {c.ClientSecret},
		"refresh_token": {c.RefreshToken},
	})
	if err != nil {
		apiErr, _ := errors.AsType[*zoho.APIError](err)
		return grant{}, apiErr != nil && strings.EqualFold(apiErr.Code, "Access Denied"), err
	}
	return grant{accessToken: a.AccessToken, apiDomain: a.APIDomain, lifetime: lifetimeOf(a)}, false, nil
}

// postToken sends one request to the token endpoint of accountsURL and
// returns an answer that holds an access token. Every failure is a
// *zoho.APIError with Op "token" and Class Retryable; Code is Zoho's error
// when Zoho sent one.
func postToken(ctx context.Context, hc *http.Client, accountsURL string, form url.Values) (tokenAnswer, error) {
	fail := func(status int, code, msg string, cause error) (tokenAnswer, error) {
		return tokenAnswer{}, &zoho.APIError{Op: "token", HTTPStatus: status, Code: code, Message: msg, Class: zoho.Retryable, IDIndex: -1, Err: cause}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, accountsURL+"/oauth/v2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return fail(0, "", "building the token request", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return fail(0, "", "no answer from the accounts server", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return fail(res.StatusCode, "", "reading the token answer", err)
	}
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		// Never echo the body: a truncated success still holds a token.
		return fail(res.StatusCode, "", fmt.Sprintf("token answer is not JSON (%d bytes)", len(body)), nil)
	}
	switch {
	case a.Error != "":
		return fail(res.StatusCode, a.Error, describeTokenError(a), nil)
	case res.StatusCode < 200 || res.StatusCode > 299:
		return fail(res.StatusCode, "", "token endpoint answered without access_token", nil)
	case a.AccessToken == "":
		return fail(res.StatusCode, "", "token answer has no access_token", nil)
	}
	return a, nil
}

// lifetimeOf honours the legacy answer, where expires_in_sec is seconds and
// expires_in is milliseconds, a trap several public clients fell into.
func lifetimeOf(a tokenAnswer) time.Duration {
	if n, err := strconv.ParseInt(a.ExpiresInSec.String(), 10, 64); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	n, err := strconv.ParseInt(a.ExpiresIn.String(), 10, 64)
	switch {
	case err != nil || n <= 0:
		return defaultLifetime
	case n > 24*3600:
		// No Zoho token lives a day; a value this large is milliseconds.
		return time.Duration(n) * time.Millisecond
	}
	return time.Duration(n) * time.Second
}

func describeTokenError(a tokenAnswer) string {
	switch a.Error {
	case "invalid_code":
		return "refresh token revoked or from another data centre"
	case "invalid_client":
		return "unknown client id, or the client belongs to another data centre"
	case "invalid_client_secret":
		return "wrong client secret"
	}
	if strings.EqualFold(a.Error, "Access Denied") {
		return "Zoho Accounts throttles this refresh token (too many refreshes)"
	}
	return a.ErrorDescription
}
