package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// AccountsServer is the OAuth server of one data centre: where that data
// centre's self-clients exchange their grant codes.
type AccountsServer struct {
	DataCenter zoho.DataCenter
	URL        string // e.g. https://accounts.zoho.eu; a simulator in tests
}

// AccountsServers lists the accounts server of every data centre, in the
// order ExchangeCode tries them when the data centre is not known.
func AccountsServers() []AccountsServer {
	var s []AccountsServer
	for _, dc := range zoho.DataCenters() {
		s = append(s, AccountsServer{DataCenter: dc, URL: dc.AccountsURL()})
	}
	return s
}

// Grant is what the exchange of a grant code yields: the refresh token the
// functions will use, and a first access token.
type Grant struct {
	Server       AccountsServer // the one that knew the client
	RefreshToken string
	AccessToken  string
	// APIDomain is the CRM host Zoho named, checked against Zoho's hosts
	// (zoho.LookupAPIDomain); empty when Zoho named none or an unknown one.
	APIDomain string
	// Skipped are the data centres that did not know the client, before
	// Server did.
	Skipped []zoho.DataCenter
}

// String keeps the tokens out of logs and error messages.
func (g Grant) String() string { return "oauth.Grant{REDACTED}" }

// GrantFailure names a known reason why a grant code gave no refresh token.
type GrantFailure int

const (
	GrantFailed       GrantFailure = iota // an answer not listed below
	UnknownClient                         // no server tried knows the client id
	WrongClientSecret                     // the client is known, its secret is not this one
	CodeRefused                           // expired, mistyped, or of another client
	CodeUsed                              // exchanged before: no refresh token any more
	Throttled                             // Zoho Accounts' Access Denied
	NoAnswer                              // the accounts server did not answer
)

// GrantError is a failed exchange of a grant code, with the sentence an
// operator needs to mend it. It never holds the code, the client secret or
// a token.
type GrantError struct {
	Failure GrantFailure
	Server  AccountsServer    // where the exchange stopped; for UnknownClient the last one tried
	Tried   []zoho.DataCenter // every data centre asked, in order
	Err     error             // Zoho's answer as a *zoho.APIError, when there was one
}

func (e *GrantError) Error() string {
	at := fmt.Sprintf("%s (%s)", e.Server.URL, e.Server.DataCenter)
	switch e.Failure {
	case UnknownClient:
		if len(e.Tried) == 1 {
			return fmt.Sprintf("Zoho Accounts at %s does not know this client id (invalid_client)", at)
		}
		return fmt.Sprintf("no Zoho data centre knows this client id (invalid_client from %s)", joinDCs(e.Tried))
	case WrongClientSecret:
		return fmt.Sprintf("Zoho Accounts at %s refused the client secret (invalid_client_secret)", at)
	case CodeRefused:
		return fmt.Sprintf("Zoho Accounts at %s refused the grant code (invalid_code): it expired, or was mistyped, or belongs to another client", at)
	case CodeUsed:
		return fmt.Sprintf("Zoho Accounts at %s gave no refresh token: this grant code was exchanged before", at)
	case Throttled:
		return fmt.Sprintf("Zoho Accounts at %s refuses new tokens for now (Access Denied)", at)
	case NoAnswer:
		return fmt.Sprintf("no usable answer from Zoho Accounts at %s: %v", at, e.Err)
	}
	return fmt.Sprintf("Zoho Accounts at %s refused the grant code: %v", at, e.Err)
}

// Fix is one sentence on what the operator does next.
func (e *GrantError) Fix() string {
	const newCode = "generate a new code (API console > Self Client > Generate Code) and run connect within its minutes"
	switch e.Failure {
	case UnknownClient:
		if len(e.Tried) == 1 {
			return "check the client id (API console > Self Client > Client Secret), or leave out --dc to try every data centre"
		}
		return "copy the client id again from the API console of your data centre (Self Client > Client Secret)"
	case WrongClientSecret:
		return "copy the client secret again from the API console (Self Client > Client Secret)"
	case CodeRefused, CodeUsed:
		return "a grant code is good for the minutes chosen and for one exchange: " + newCode
	case Throttled:
		return "wait 15 to 30 minutes, then " + newCode
	case NoAnswer:
		return "check the network to " + e.Server.URL + " and run connect again; if Zoho then answers invalid_code, " + newCode
	}
	return newCode
}

func (e *GrantError) Unwrap() error { return e.Err }

func joinDCs(dcs []zoho.DataCenter) string {
	s := make([]string, len(dcs))
	for i, dc := range dcs {
		s[i] = string(dc)
	}
	return strings.Join(s, ", ")
}

// ExchangeCode exchanges a self-client's grant code for a refresh token, at
// the first of servers that knows the client. A client id is registered in
// one data centre, and the accounts servers of the others answer
// invalid_client (zoho-crm-api.md section 3), so those are skipped; the
// first server that answers anything else is the client's, and the code is
// sent there and nowhere else: a code is good for one exchange, and only
// that exchange yields the refresh token. A server that gives no answer
// also stops the search, since the code may have reached it.
//
// Failures are *GrantError.
func ExchangeCode(ctx context.Context, hc *http.Client, servers []AccountsServer, clientID, clientSecret, code string) (Grant, error) {
	if len(servers) == 0 {
		return Grant{}, errors.New("oauth: no accounts server to exchange the code at")
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {clientID},
		"client_secret": {clientSecret},
		"code":          {code},
	}
	var tried []zoho.DataCenter
	for _, s := range servers {
		tried = append(tried, s.DataCenter)
		a, err := postToken(ctx, hc, s.URL, form)
		if err != nil {
			ge := &GrantError{Failure: classifyGrantError(err), Server: s, Tried: tried, Err: err}
			if ge.Failure == UnknownClient {
				continue
			}
			return Grant{}, ge
		}
		if a.RefreshToken == "" {
			return Grant{}, &GrantError{Failure: CodeUsed, Server: s, Tried: tried}
		}
		g := Grant{Server: s, RefreshToken: a.RefreshToken, AccessToken: a.AccessToken, Skipped: tried[:len(tried)-1]}
		if _, _, ok := zoho.LookupAPIDomain(a.APIDomain); ok {
			g.APIDomain = a.APIDomain
		}
		return g, nil
	}
	return Grant{}, &GrantError{Failure: UnknownClient, Server: servers[len(servers)-1], Tried: tried}
}

func classifyGrantError(err error) GrantFailure {
	apiErr, ok := errors.AsType[*zoho.APIError](err)
	if !ok {
		return GrantFailed
	}
	switch {
	case apiErr.Code == "invalid_client":
		return UnknownClient
	case apiErr.Code == "invalid_client_secret":
		return WrongClientSecret
	case apiErr.Code == "invalid_code":
		return CodeRefused
	case strings.EqualFold(apiErr.Code, "Access Denied"):
		return Throttled
	case apiErr.Code == "":
		return NoAnswer // no answer, or none that Accounts would send
	}
	return GrantFailed
}
