package zoho_test

import (
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

func TestDataCenterTable(t *testing.T) {
	tests := []struct {
		dc                                 string
		accounts, prod, sandbox, developer string
	}{
		{"us", "https://accounts.zoho.com", "https://www.zohoapis.com", "https://sandbox.zohoapis.com", "https://developer.zohoapis.com"},
		{"EU", "https://accounts.zoho.eu", "https://www.zohoapis.eu", "https://sandbox.zohoapis.eu", "https://developer.zohoapis.eu"},
		{"in", "https://accounts.zoho.in", "https://www.zohoapis.in", "https://sandbox.zohoapis.in", "https://developer.zohoapis.in"},
		{"au", "https://accounts.zoho.com.au", "https://www.zohoapis.com.au", "https://sandbox.zohoapis.com.au", "https://developer.zohoapis.com.au"},
		{"jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp", "https://sandbox.zohoapis.jp", "https://developer.zohoapis.jp"},
		{"ca", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca", "https://sandbox.zohoapis.ca", "https://developer.zohoapis.ca"},
		{"sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa", "https://sandbox.zohoapis.sa", "https://developer.zohoapis.sa"},
		{"cn", "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn", "https://sandbox.zohoapis.com.cn", "https://developer.zohoapis.com.cn"},
	}
	for _, tt := range tests {
		dc, err := zoho.ParseDataCenter(tt.dc)
		if err != nil {
			t.Fatal(err)
		}
		got := [4]string{dc.AccountsURL(), dc.APIURL(zoho.Production), dc.APIURL(zoho.Sandbox), dc.APIURL(zoho.Developer)}
		want := [4]string{tt.accounts, tt.prod, tt.sandbox, tt.developer}
		if got != want {
			t.Errorf("%s: got %v, want %v", tt.dc, got, want)
		}
		for env, u := range map[zoho.Environment]string{zoho.Production: tt.prod, zoho.Sandbox: tt.sandbox, zoho.Developer: tt.developer} {
			gdc, genv, ok := zoho.LookupAPIDomain(u)
			if !ok || gdc != dc || genv != env {
				t.Errorf("LookupAPIDomain(%q) = %v %v %v", u, gdc, genv, ok)
			}
		}
	}
	for _, bad := range []string{"uk", "", "zoho.ca"} {
		if _, err := zoho.ParseDataCenter(bad); err == nil {
			t.Errorf("ParseDataCenter(%q) accepted", bad)
		}
	}
	if _, err := zoho.ParseDataCenter("UK"); err == nil || !strings.Contains(err.Error(), "not supported yet") {
		t.Errorf("ParseDataCenter(UK): %v; want it named unsupported", err)
	}
	if env, err := zoho.ParseEnvironment("Sandbox"); err != nil || env != zoho.Sandbox {
		t.Errorf("ParseEnvironment(Sandbox) = %v, %v", env, err)
	}
	if _, err := zoho.ParseEnvironment("staging"); err == nil {
		t.Error("ParseEnvironment(staging) accepted")
	}
}

func TestLookupAPIDomainRefusesLookalikes(t *testing.T) {
	for _, domain := range []string{
		"http://www.zohoapis.com",             // plain http
		"https://www.zohoapis.com.evil.test",  // lookalike
		"https://evilzohoapis.com",            // suffix only
		"https://www.zohoapis.com:8443",       // port
		"https://user@www.zohoapis.com",       // credentials
		"https://www.zohoapis.com/crm",        // path
		"http://169.254.169.254",              // instance metadata
		"https://accounts.zoho.com",           // not an API host
		"https://www.zohoapis.ca.attacker.io", // lookalike
		"www.zohoapis.com",                    // no scheme
		"https://www.zohoapis.uk",             // the UK's CRM host: undocumented, not trusted
		"https://sandbox.zohoapis.uk",
		"",
	} {
		if _, _, ok := zoho.LookupAPIDomain(domain); ok {
			t.Errorf("LookupAPIDomain(%q) trusted", domain)
		}
	}
	if _, _, ok := zoho.LookupAPIDomain("https://WWW.ZohoAPIs.com/"); !ok {
		t.Error("case and a trailing slash should not matter")
	}
}

// TestLookupAPIDomainOnlyExactHosts: for every data centre and
// environment, the host of the table is trusted (in any case, with or
// without a trailing slash) and nothing that merely looks like it: a host
// without the dot before zohoapis.<tld> (www.evilzohoapis.com), with a
// label before or after it, a trailing dot, a port, credentials, a path,
// plain http. An access token goes only where LookupAPIDomain says yes.
func TestLookupAPIDomainOnlyExactHosts(t *testing.T) {
	envs := []zoho.Environment{zoho.Production, zoho.Sandbox, zoho.Developer}
	genuine := map[string]bool{}
	for _, dc := range zoho.DataCenters() {
		for _, env := range envs {
			genuine[strings.TrimPrefix(dc.APIURL(env), "https://")] = true
		}
	}
	for _, dc := range zoho.DataCenters() {
		for _, env := range envs {
			host := strings.TrimPrefix(dc.APIURL(env), "https://") // www.zohoapis.com
			label, suffix, _ := strings.Cut(host, ".")             // www, zohoapis.com
			zohoapis, tld, _ := strings.Cut(suffix, ".")           // zohoapis, com
			for _, u := range []string{
				"https://" + host,
				"https://" + host + "/",
				"HTTPS://" + strings.ToUpper(host),
				"https://" + strings.ToUpper(label) + "." + suffix,
			} {
				if gdc, genv, ok := zoho.LookupAPIDomain(u); !ok || gdc != dc || genv != env {
					t.Errorf("LookupAPIDomain(%q) = %v %v %v; want %v %v true", u, gdc, genv, ok, dc, env)
				}
			}
			for _, u := range []string{
				"https://" + label + ".evil" + suffix,                // www.evilzohoapis.com
				"https://" + label + ".x" + suffix,                   // www.xzohoapis.com
				"https://" + label + suffix,                          // wwwzohoapis.com
				"https://" + label + "-" + suffix,                    // www-zohoapis.com
				"https://" + strings.ToUpper(label+".evil"+suffix),   // WWW.EVILZOHOAPIS.COM
				"https://" + label + "." + zohoapis + "x." + tld,     // www.zohoapisx.com
				"https://" + label + "." + zohoapis + "-evil." + tld, // www.zohoapis-evil.com
				"https://evil" + host,                                // evilwww.zohoapis.com
				"https://evil." + host,                               // evil.www.zohoapis.com
				"https://" + label + ".evil." + suffix,               // www.evil.zohoapis.com
				"https://" + suffix,                                  // zohoapis.com
				"https://" + host + ".evil.test",                     // www.zohoapis.com.evil.test
				"https://" + host + "evil",                           // www.zohoapis.comevil
				"https://" + host + ".",                              // a trailing dot
				"https://" + host + ":443",                           // even the default port
				"https://" + host + ":8443",                          // a port
				"https://user@" + host,                               // userinfo
				"https://" + host + "@evil.test",                     // userinfo that looks like the host
				"https://" + host + "/crm",                           // a path
				"https://" + host + "?x=1",                           // a query
				"https://" + host + "#f",                             // a fragment
				"http://" + host,                                     // plain http
				"//" + host,                                          // no scheme
				host,                                                 // no scheme at all
				"https://" + strings.Replace(host, "o", "\u043e", 1), // a Cyrillic o
				" https://" + host,                                   // a leading space
			} {
				// A lookalike of one host must not be another host of the table
				// (www.zohoapis.com + ".au" would be Australia's).
				if h, ok := strings.CutPrefix(u, "https://"); ok && genuine[strings.ToLower(h)] {
					t.Fatalf("lookalike %q is a host of the table", u)
				}
				if gdc, genv, ok := zoho.LookupAPIDomain(u); ok {
					t.Errorf("LookupAPIDomain(%q) = %v %v: trusted a lookalike", u, gdc, genv)
				}
			}
		}
	}
}

func TestCheckOverrideURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://127.0.0.1:8089":     "http://127.0.0.1:8089",
		"http://localhost:9000/":    "http://localhost:9000",
		"http://[::1]:80":           "http://[::1]:80",
		"https://zoho.example.test": "https://zoho.example.test",
	} {
		got, err := zoho.CheckOverrideURL(raw)
		if err != nil || got != want {
			t.Errorf("CheckOverrideURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"http://10.0.0.1:80", "http://zoho.example.test", "ftp://127.0.0.1", "https://", "https://h/path", "https://u:p@h", "::"} {
		if _, err := zoho.CheckOverrideURL(raw); err == nil {
			t.Errorf("CheckOverrideURL(%q) accepted", raw)
		}
	}
}

// TestDataCentersListsEachOnce: a data centre missing from the list would
// never be found by a caller that tries them all.
func TestDataCentersListsEachOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, dc := range zoho.DataCenters() {
		if _, err := zoho.ParseDataCenter(string(dc)); err != nil || seen[dc.AccountsURL()] {
			t.Errorf("%q unknown or listed twice (%v)", dc, err)
		}
		seen[dc.AccountsURL()] = true
	}
	if len(seen) != 8 {
		t.Errorf("lists %d data centres, want the 8 of Zoho's table", len(seen))
	}
}
