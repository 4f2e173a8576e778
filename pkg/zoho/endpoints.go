package zoho

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DataCenter names one of Zoho's independent regions. A refresh token, the
// accounts server that refreshes it and the API domain that accepts the
// resulting access token all belong to one data centre.
type DataCenter string

// The data centres Zoho CRM runs in.
const (
	US DataCenter = "us"
	EU DataCenter = "eu"
	IN DataCenter = "in"
	AU DataCenter = "au"
	JP DataCenter = "jp"
	CA DataCenter = "ca"
	SA DataCenter = "sa"
	CN DataCenter = "cn"
)

// Environment selects production or one of the test environments of an org.
type Environment string

// Zoho CRM environments. Sandbox and developer orgs have API hosts of their
// own but refresh tokens at the production accounts server.
const (
	Production Environment = "production"
	Sandbox    Environment = "sandbox"
	Developer  Environment = "developer"
)

// dcHosts is the table of zoho-crm-api.md section 3: the accounts host and
// the suffix shared by the API hosts of every environment.
var dcHosts = map[DataCenter]struct{ accounts, apiSuffix string }{
	US: {"accounts.zoho.com", "zohoapis.com"},
	EU: {"accounts.zoho.eu", "zohoapis.eu"},
	IN: {"accounts.zoho.in", "zohoapis.in"},
	AU: {"accounts.zoho.com.au", "zohoapis.com.au"},
	JP: {"accounts.zoho.jp", "zohoapis.jp"},
	CA: {"accounts.zohocloud.ca", "zohoapis.ca"}, // not zoho.ca: Canada is on zohocloud
	SA: {"accounts.zoho.sa", "zohoapis.sa"},
	CN: {"accounts.zoho.com.cn", "zohoapis.com.cn"},
}

var envPrefix = map[Environment]string{
	Production: "www",
	Sandbox:    "sandbox",
	Developer:  "developer",
}

// DataCenters lists every data centre, in the order of Zoho's table: the
// order in which a caller that does not know its data centre tries them.
func DataCenters() []DataCenter { return []DataCenter{US, EU, IN, AU, JP, CA, SA, CN} }

// ParseDataCenter accepts a data-centre code in any case ("us", "EU").
func ParseDataCenter(s string) (DataCenter, error) {
	dc := DataCenter(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := dcHosts[dc]; !ok {
		if dc == "uk" {
			// Zoho Accounts lists accounts.zoho.uk, but the CRM API host of
			// that data centre is undocumented: no token goes to a guess.
			return "", fmt.Errorf("the Zoho data centre %q is not supported yet: its CRM API host is not documented", s)
		}
		return "", fmt.Errorf("unknown Zoho data centre %q (want one of us, eu, in, au, jp, ca, sa, cn)", s)
	}
	return dc, nil
}

// ParseEnvironment accepts production, sandbox or developer in any case.
func ParseEnvironment(s string) (Environment, error) {
	env := Environment(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := envPrefix[env]; !ok {
		return "", fmt.Errorf("unknown Zoho environment %q (want production, sandbox or developer)", s)
	}
	return env, nil
}

// AccountsURL is the OAuth server of dc. Every environment uses the
// production accounts server.
func (dc DataCenter) AccountsURL() string {
	return "https://" + dcHosts[dc].accounts
}

// APIURL is the CRM API base of dc in env, e.g. https://sandbox.zohoapis.eu.
func (dc DataCenter) APIURL(env Environment) string {
	return "https://" + envPrefix[env] + "." + dcHosts[dc].apiSuffix
}

// LookupAPIDomain reports which data centre and environment an api_domain
// from a token response belongs to. Only the exact https hosts of the table
// qualify: anything else (another scheme, a port, a path, a lookalike such as
// www.zohoapis.com.evil.test) is not a Zoho host, and a caller must not send
// an access token there.
func LookupAPIDomain(apiDomain string) (DataCenter, Environment, bool) {
	u, err := url.Parse(apiDomain)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", false
	}
	host := strings.ToLower(u.Hostname())
	for dc, h := range dcHosts {
		for env, prefix := range envPrefix {
			if host == prefix+"."+h.apiSuffix {
				return dc, env, true
			}
		}
	}
	return "", "", false
}

// CheckOverrideURL validates an explicit accounts or API URL from
// configuration. Plain http is accepted only for loopback hosts, where the
// simulator and test servers live; anywhere else a token would travel in clear.
func CheckOverrideURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("invalid URL %q: want scheme://host[:port] without path, query or credentials", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("URL %q uses plain http for a non-loopback host; use https", raw)
		}
	default:
		return "", fmt.Errorf("URL %q: scheme must be https (or http for loopback)", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
