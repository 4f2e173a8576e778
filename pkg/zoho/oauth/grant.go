package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// AccountsServer is the OAuth server of one data centre: where that data
// centre's self-clients exchange their grant codes.
type AccountsServer struct {
	DataCenter zoho.DataCenter
	URL        string // e.g. https://accounts.zoho.eu; a simulator in tests
}

// AccountsServers lists the accounts server of every data centre, the ones
// ExchangeCode asks about the client when the data centre is not known.
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
	Server       AccountsServer // the one that knew the client, where the code went
	RefreshToken string
	AccessToken  string
	// APIDomain is the CRM host Zoho named, checked against Zoho's hosts
	// (zoho.LookupAPIDomain); empty when Zoho named none or an unknown one.
	APIDomain string
	// Skipped are the data centres whose servers answered invalid_client to
	// the client id alone; they saw neither the secret nor the code.
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
	DataCenterUnknown                     // the servers' answers to the client id did not single out one
)

// GrantError is a failed exchange of a grant code, with the sentence an
// operator needs to mend it. It never holds the code, the client secret or
// a token.
type GrantError struct {
	Failure GrantFailure
	Server  AccountsServer    // where the exchange stopped; for UnknownClient the last one tried
	Tried   []zoho.DataCenter // every data centre asked, about the client or with the code
	Err     error             // Zoho's answer as a *zoho.APIError, when there was one
	// Answers are each server's answer to the client id alone, as
	// "dc: answer", for DataCenterUnknown.
	Answers []string
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
	case DataCenterUnknown:
		return fmt.Sprintf("the data centres' answers to the client id alone do not tell which one holds the client (%s); the client secret and the grant code were sent to none",
			strings.Join(e.Answers, ", "))
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
		return "copy the client id again from the API console of your data centre (Self Client > Client Secret), or name the data centre with --dc"
	case WrongClientSecret:
		return "copy the client secret again from the API console (Self Client > Client Secret)"
	case CodeRefused, CodeUsed:
		return "a grant code is good for the minutes chosen and for one exchange: " + newCode
	case Throttled:
		return "wait 15 to 30 minutes, then " + newCode
	case NoAnswer:
		return "check the network to " + e.Server.URL + " and run connect again; if Zoho then answers invalid_code, " + newCode
	case DataCenterUnknown:
		return "name the data centre with --dc: the domain of your API console (api-console.zoho.eu is eu; .com us, .in in, .com.au au, .jp jp, .zohocloud.ca ca, .sa sa, .com.cn cn); the code was not spent"
	}
	return newCode
}

func (e *GrantError) Unwrap() error { return e.Err }

func dataCenters(servers []AccountsServer) []zoho.DataCenter {
	dcs := make([]zoho.DataCenter, len(servers))
	for i, s := range servers {
		dcs[i] = s.DataCenter
	}
	return dcs
}

func joinDCs(dcs []zoho.DataCenter) string {
	s := make([]string, len(dcs))
	for i, dc := range dcs {
		s[i] = string(dc)
	}
	return strings.Join(s, ", ")
}

// ExchangeCode exchanges a self-client's grant code for a refresh token at
// the client's own accounts server, and sends the client secret and the code
// to no other: a code is good for one exchange, only that exchange yields
// the refresh token, and another data centre has no business seeing either.
//
// With one server (the data centre is named) the code goes there. With
// several, FindDataCenter first asks each with the client id alone, and the
// code goes to the one that knows the client; when the answers do not single
// one out, nothing secret is sent and the failure is DataCenterUnknown.
//
// Failures are *GrantError.
func ExchangeCode(ctx context.Context, hc *http.Client, servers []AccountsServer, clientID, clientSecret, code string) (Grant, error) {
	if len(servers) == 0 {
		return Grant{}, errors.New("oauth: no accounts server to exchange the code at")
	}
	s, skipped := servers[0], []zoho.DataCenter(nil)
	if len(servers) > 1 {
		var err error
		if s, skipped, err = FindDataCenter(ctx, hc, servers, clientID); err != nil {
			return Grant{}, err
		}
	}
	tried := dataCenters(servers)
	a, err := postToken(ctx, hc, s.URL, url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {clientID},
		"client_secret": {clientSecret},
		"code":          {code},
	})
	if err != nil {
		return Grant{}, &GrantError{Failure: classifyGrantError(err), Server: s, Tried: tried, Err: err}
	}
	if a.RefreshToken == "" {
		return Grant{}, &GrantError{Failure: CodeUsed, Server: s, Tried: tried}
	}
	g := Grant{Server: s, RefreshToken: a.RefreshToken, AccessToken: a.AccessToken, Skipped: skipped}
	if _, _, ok := zoho.LookupAPIDomain(a.APIDomain); ok {
		g.APIDomain = a.APIDomain
	}
	return g, nil
}

// The probe's stand-ins for the client secret and the grant code: plainly
// not real ones, so that no server learns anything from them but the id.
const (
	probeSecret = "leadconvert-probe-not-a-secret"
	probeCode   = "1000.leadconvert-probe.not-a-code"
)

// FindDataCenter finds the accounts server that knows clientID, sending
// each server the client id with a stand-in secret and code. A client id is
// registered in one data centre: the other data centres' servers answer
// invalid_client, and its own, knowing the client, finds the secret or the
// code wrong (invalid_client_secret or invalid_code; zoho-crm-api.md
// section 3). The servers are asked at once, as each answer costs a round
// trip to another continent.
//
// It returns the client's server and the data centres that answered
// invalid_client. Exactly one server must say it knows the client: when
// every one answers invalid_client the failure is UnknownClient, and when
// the answers cannot tell (none knows it but some gave no or another answer,
// or several know it) it is DataCenterUnknown, with each answer, so that the
// operator names the data centre instead.
func FindDataCenter(ctx context.Context, hc *http.Client, servers []AccountsServer, clientID string) (AccountsServer, []zoho.DataCenter, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {clientID},
		"client_secret": {probeSecret},
		"code":          {probeCode},
	}
	answers := make([]string, len(servers)) // Zoho's error, or "" with no usable answer
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			_, err := postToken(ctx, hc, s.URL, form)
			if apiErr, ok := errors.AsType[*zoho.APIError](err); ok {
				answers[i] = apiErr.Code
			} else if err == nil {
				answers[i] = "a token" // no Zoho would grant one for the stand-ins
			}
		})
	}
	wg.Wait()

	var known []int
	var unknown []zoho.DataCenter
	said := make([]string, len(servers))
	for i, s := range servers {
		a := answers[i]
		switch a {
		case "invalid_client_secret", "invalid_code":
			known = append(known, i)
		case "invalid_client":
			unknown = append(unknown, s.DataCenter)
		case "":
			a = "no answer"
		}
		said[i] = string(s.DataCenter) + ": " + a
	}
	tried := dataCenters(servers)
	switch {
	case len(known) == 1:
		return servers[known[0]], unknown, nil
	case len(unknown) == len(servers):
		return AccountsServer{}, nil, &GrantError{Failure: UnknownClient, Server: servers[len(servers)-1], Tried: tried}
	}
	return AccountsServer{}, nil, &GrantError{Failure: DataCenterUnknown, Tried: tried, Answers: said}
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
