package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// The self-client of the tests lives in the eu data centre; us stands for
// every other one, whose accounts server does not know it.
const (
	testClientID     = "1000.EUCLIENT"
	testClientSecret = "s3cr3t-of-the-eu-self-client"
)

// connectRig is two simulated data centres and moto.
type connectRig struct {
	t        *testing.T
	cfg      aws.Config
	us, eu   *zohosim.Server
	accounts string // the --zoho-accounts-url value
	euURL    string
}

func newConnectRig(t *testing.T, euScopes []string) *connectRig {
	t.Helper()
	r := &connectRig{t: t, cfg: awstest.Require(t)}
	start := func(dc zoho.DataCenter, clientID string, scopes []string) (*zohosim.Server, string) {
		sim := zohosim.New(zohosim.Options{ClientID: clientID, ClientSecret: testClientSecret,
			APIDomain: dc.APIURL(zoho.Production), Scopes: scopes})
		base, stop := sim.Start()
		t.Cleanup(stop)
		return sim, base
	}
	var usURL string
	r.us, usURL = start(zoho.US, "1000.USCLIENT", nil)
	r.eu, r.euURL = start(zoho.EU, testClientID, euScopes)
	r.accounts = "us=" + usURL + ",eu=" + r.euURL
	return r
}

// connect runs the command with the rig's AWS and Zoho, the client secret
// on standard input.
func (r *connectRig) connect(args ...string) (code int, stdout, stderr string) {
	r.t.Helper()
	base := []string{"connect", "--region", r.cfg.Region, "--endpoint-url", aws.ToString(r.cfg.BaseEndpoint),
		"--zoho-accounts-url", r.accounts, "--zoho-api-url", r.euURL, "--client-id", testClientID, "--client-secret-stdin"}
	var out, errOut bytes.Buffer
	code = execute(context.Background(), append(base, args...), strings.NewReader(testClientSecret+"\n"), &out, &errOut)
	return code, out.String(), errOut.String()
}

// secretValue reads the secret's fields; nil when it does not exist.
func (r *connectRig) secretValue(id string) map[string]any {
	r.t.Helper()
	v, err := secretsmanager.NewFromConfig(r.cfg).GetSecretValue(r.t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if _, ok := errors.AsType[*smtypes.ResourceNotFoundException](err); ok {
		return nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(v.SecretString)), &m); err != nil {
		r.t.Fatal(err)
	}
	return m
}

// newSecretName is a secret name nobody created yet, deleted after the test.
func (r *connectRig) newSecretName() string {
	r.t.Helper()
	name := awstest.UniqueName(r.t, "zoho")
	r.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		secretsmanager.NewFromConfig(r.cfg).DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
			SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)})
	})
	return name
}

// noSecretsShown fails when output holds any secret value of the run.
func (r *connectRig) noSecretsShown(output string, more ...string) {
	r.t.Helper()
	secrets := append([]string{testClientSecret, zohosim.DefaultRefreshToken}, more...)
	secrets = append(secrets, r.us.IssuedTokens()...)
	secrets = append(secrets, r.eu.IssuedTokens()...)
	for _, s := range secrets {
		if s != "" && strings.Contains(output, s) {
			r.t.Errorf("the output shows a secret value %.8q...:\n%s", s, output)
		}
	}
}

// onlyTheClientsOwnSaw fails when a data centre other than eu, the
// client's own, received any of values in any part of a request.
func (r *connectRig) onlyTheClientsOwnSaw(values ...string) {
	r.t.Helper()
	for _, req := range r.us.TokenRequests() {
		for _, v := range values {
			if v != "" && strings.Contains(req.Raw, v) {
				r.t.Errorf("the us accounts server received %.8q...", v)
			}
		}
	}
}

// TestConnectWritesTheSecret: a grant code becomes a secret the functions
// parse, at the data centre found by asking, keeping what else the secret
// holds and making a webhook key when it has none.
func TestConnectWritesTheSecret(t *testing.T) {
	r := newConnectRig(t, nil)
	for _, tt := range []struct {
		name     string
		existing string // "" creates the secret
		args     []string
		report   []string // in stdout
		keep     map[string]any
		gone     []string
	}{
		{name: "create", report: []string{"created: client_id set, client_secret set, refresh_token set, data_center eu, webhook_key generated",
			"data centre eu", "us answered invalid_client"}},
		{name: "update keeps the webhook key", existing: `{"webhook_key":"the-key-callers-have","note":"kept too","client_id":"1000.OLD","refresh_token":"1000.old.one"}`,
			report: []string{"updated: client_id set, client_secret set, refresh_token set, data_center eu, webhook_key kept",
				"previous refresh token still works"},
			keep: map[string]any{"webhook_key": "the-key-callers-have", "note": "kept too"}},
		{name: "update without a webhook key", existing: `{"access_token":"1000.ready.token"}`, args: []string{"--dc", "eu", "--environment", "sandbox"},
			report: []string{"updated: client_id set, client_secret set, refresh_token set, data_center eu, environment sandbox, access_token removed, webhook_key generated"},
			keep:   map[string]any{"environment": "sandbox"}, gone: []string{"access_token"}},
		{name: "a blank secret", existing: " ",
			report: []string{"updated:", "webhook_key generated"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r.t = t
			var secret string
			if tt.existing == "" {
				secret = r.newSecretName()
			} else {
				secret = awstest.CreateSecret(t, r.cfg, tt.existing)
			}
			usCalls := r.us.Stats().Calls[zohosim.EndpointToken]
			code := r.eu.GrantCode(3 * time.Minute)
			exit, out, errOut := r.connect(append([]string{"--secret", secret, "--code", code}, tt.args...)...)
			if exit != exitOK {
				t.Fatalf("exit %d\n%s%s", exit, out, errOut)
			}
			for _, want := range append(tt.report, "ZohoCRM.modules.leads.READ", "Next: leadconvert doctor --secret "+secret) {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if n := r.us.Stats().Calls[zohosim.EndpointToken] - usCalls; (tt.args == nil) != (n == 1) {
				t.Errorf("us got %d token calls", n)
			}
			r.onlyTheClientsOwnSaw(testClientSecret, code)
			v := r.secretValue(secret)
			raw, _ := json.Marshal(v)
			creds, err := oauth.ParseSecret(string(raw))
			if err != nil {
				t.Fatalf("the functions cannot parse the secret: %v", err)
			}
			if creds.ClientID != testClientID || creds.ClientSecret != testClientSecret ||
				creds.RefreshToken != zohosim.DefaultRefreshToken || creds.DataCenter != zoho.EU {
				t.Errorf("credentials %+v", v)
			}
			for k, want := range tt.keep {
				if v[k] != want {
					t.Errorf("%s = %v, want %v", k, v[k], want)
				}
			}
			for _, k := range tt.gone {
				if _, ok := v[k]; ok {
					t.Errorf("%s still in the secret", k)
				}
			}
			key, _ := v["webhook_key"].(string)
			if b, err := base64.RawURLEncoding.DecodeString(key); tt.keep["webhook_key"] == nil && (err != nil || len(b) != 32) {
				t.Errorf("generated webhook_key %d bytes (%v)", len(b), err)
			}
			r.noSecretsShown(out+errOut, key)
		})
	}
}

// TestConnectRefusals: each known failure exits 1 with its cause and fix,
// leaves the secret as it was, and shows no secret.
func TestConnectRefusals(t *testing.T) {
	const before = `{"webhook_key":"unchanged-key","client_id":"1000.OLD"}`
	for _, tt := range []struct {
		name     string
		scopes   []string
		code     func(r *connectRig) string
		args     []string
		stdin    string
		want     []string // in stderr
		exchange int      // token calls the eu server got, the failing one included
		// sentNowhere: not even eu may see the secret or the code.
		sentNowhere bool
	}{
		{name: "expired code", code: func(r *connectRig) string {
			c := r.eu.GrantCode(3 * time.Minute)
			r.eu.Clock().(*zohosim.ManualClock).Advance(3 * time.Minute)
			return c
		}, want: []string{"invalid_code", "fix: a grant code is good for the minutes chosen and for one exchange"}, exchange: 2},
		{name: "code used twice", code: func(r *connectRig) string {
			c := r.eu.GrantCode(3 * time.Minute)
			if code, out, errOut := r.connect("--secret", awstest.CreateSecret(r.t, r.cfg, "{}"), "--code", c); code != exitOK {
				r.t.Fatalf("first use: exit %d %s%s", code, out, errOut)
			}
			return c
		}, want: []string{"gave no refresh token: this grant code was exchanged before", "fix: "}, exchange: 4},
		{name: "invalid client", args: []string{"--client-id", "1000.NOBODY"},
			code: func(r *connectRig) string { return r.eu.GrantCode(3 * time.Minute) },
			want: []string{"no Zoho data centre knows this client id (invalid_client from us, eu)", "fix: copy the client id again"}, exchange: 1},
		// us served by the eu simulator: two data centres that both know
		// the client, so the answers cannot tell which is its own.
		{name: "no answer tells the data centre", args: []string{"--zoho-accounts-url", "us=EU"},
			code: func(r *connectRig) string { return r.eu.GrantCode(3 * time.Minute) },
			want: []string{"do not tell which one holds the client (us: invalid_client_secret, eu: invalid_client_secret)",
				"the client secret and the grant code were sent to none", "fix: name the data centre with --dc"},
			exchange: 2, sentNowhere: true},
		{name: "invalid client at the named data centre", args: []string{"--dc", "us"},
			code: func(r *connectRig) string { return r.eu.GrantCode(3 * time.Minute) },
			want: []string{"does not know this client id", "leave out --dc"}},
		{name: "wrong client secret", stdin: "not-the-secret\n",
			code: func(r *connectRig) string { return r.eu.GrantCode(3 * time.Minute) },
			want: []string{"invalid_client_secret", "fix: copy the client secret again"}, exchange: 2},
		{name: "missing scope", scopes: []string{zoho.ScopeMassConvertCreate, zoho.ScopeMassConvertRead, zoho.ScopeCOQLRead, zoho.ScopeFieldsRead},
			code: func(r *connectRig) string { return r.eu.GrantCode(3 * time.Minute) },
			want: []string{"the grant lacks ZohoCRM.modules.leads.READ; the secret was not changed",
				"fix: generate a new code with the scopes ZohoCRM.mass_convert.leads.CREATE,ZohoCRM.mass_convert.leads.READ,ZohoCRM.modules.leads.READ,ZohoCRM.coql.READ,ZohoCRM.settings.fields.READ"},
			exchange: 2},
		{name: "missing COQL scope", scopes: []string{zoho.ScopeMassConvertCreate, zoho.ScopeMassConvertRead, zoho.ScopeLeadsRead, zoho.ScopeFieldsRead},
			code:     func(r *connectRig) string { return r.eu.GrantCode(3 * time.Minute) },
			want:     []string{"the grant lacks ZohoCRM.coql.READ; the secret was not changed"},
			exchange: 2},
		{name: "missing fields scope", scopes: []string{zoho.ScopeMassConvertCreate, zoho.ScopeMassConvertRead, zoho.ScopeLeadsRead, zoho.ScopeCOQLRead},
			code:     func(r *connectRig) string { return r.eu.GrantCode(3 * time.Minute) },
			want:     []string{"the grant lacks ZohoCRM.settings.fields.READ; the secret was not changed"},
			exchange: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newConnectRig(t, tt.scopes)
			secret := awstest.CreateSecret(t, r.cfg, before)
			code := tt.code(r)
			args := []string{"--secret", secret, "--code", code}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "=EU", "="+r.euURL))
			}
			var exit int
			var out, errOut string
			if tt.stdin != "" {
				base := []string{"connect", "--region", r.cfg.Region, "--endpoint-url", aws.ToString(r.cfg.BaseEndpoint),
					"--zoho-accounts-url", r.accounts, "--zoho-api-url", r.euURL, "--client-id", testClientID, "--client-secret-stdin"}
				var o, e bytes.Buffer
				exit = execute(context.Background(), append(base, args...), strings.NewReader(tt.stdin), &o, &e)
				out, errOut = o.String(), e.String()
			} else {
				exit, out, errOut = r.connect(args...)
			}
			if exit != exitFailed {
				t.Fatalf("exit %d, want %d\n%s%s", exit, exitFailed, out, errOut)
			}
			for _, want := range tt.want {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if tt.scopes != nil && !strings.Contains(out, "MISSING") {
				t.Errorf("stdout does not show the missing scope:\n%s", out)
			}
			if got := r.secretValue(secret); got["webhook_key"] != "unchanged-key" || got["client_id"] != "1000.OLD" || got["refresh_token"] != nil {
				t.Errorf("the secret changed: %v", got)
			}
			if tt.exchange > 0 {
				if n := r.eu.Stats().Calls[zohosim.EndpointToken]; n != tt.exchange {
					t.Errorf("eu got %d token calls, want %d", n, tt.exchange)
				}
			}
			r.noSecretsShown(out+errOut, code, "unchanged-key")
			if !slices.Contains(tt.args, "--dc") { // a named data centre gets the code, right or wrong
				r.onlyTheClientsOwnSaw(testClientSecret, strings.TrimSpace(tt.stdin), code)
			}
			if tt.sentNowhere {
				for _, req := range r.eu.TokenRequests() {
					if strings.Contains(req.Raw, testClientSecret) || strings.Contains(req.Raw, code) {
						t.Error("eu received the secret or the code, though the data centre was not known")
					}
				}
			}
		})
	}
}

// TestConnectCommandLine: what is wrong with the command line exits 2
// before anything is asked of Zoho or AWS; a secret named by an ARN that
// does not exist exits 3, with the code unspent.
func TestConnectCommandLine(t *testing.T) {
	r := newConnectRig(t, nil)
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		exit int
		want string
	}{
		{"no code", []string{"--secret", "s"}, nil, exitUsage, "no --code"},
		{"no secret", []string{"--code", "c"}, nil, exitUsage, "no --secret"},
		{"unknown data centre", []string{"--secret", "s", "--code", "c", "--dc", "xx"}, nil, exitUsage, `unknown Zoho data centre "xx"`},
		{"uk", []string{"--secret", "s", "--code", "c", "--dc", "uk"}, nil, exitUsage, "not supported yet"},
		{"bad environment", []string{"--secret", "s", "--code", "c", "--environment", "staging"}, nil, exitUsage, "unknown Zoho environment"},
		{"an argument", []string{"--secret", "s", "--code", "c", "extra"}, nil, exitUsage, "unknown command"},
		{"missing secret by ARN", []string{"--secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf", "--code", "c"},
			nil, exitNotFound, "does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r.t = t
			before := r.eu.Stats().Calls[zohosim.EndpointToken] + r.us.Stats().Calls[zohosim.EndpointToken]
			exit, out, errOut := r.connect(tt.args...)
			if exit != tt.exit || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, want %d with %q\n%s%s", exit, tt.exit, tt.want, out, errOut)
			}
			if after := r.eu.Stats().Calls[zohosim.EndpointToken] + r.us.Stats().Calls[zohosim.EndpointToken]; after != before {
				t.Errorf("Zoho was asked %d times", after-before)
			}
		})
	}
	t.Run("client secret from the environment", func(t *testing.T) {
		r.t = t
		t.Setenv(envClientSecret, testClientSecret)
		secret := awstest.CreateSecret(t, r.cfg, "{}")
		var out, errOut bytes.Buffer
		exit := execute(context.Background(), []string{"connect", "--region", r.cfg.Region, "--endpoint-url", aws.ToString(r.cfg.BaseEndpoint),
			"--zoho-accounts-url", r.accounts, "--zoho-api-url", r.euURL, "--client-id", testClientID,
			"--secret", secret, "--code", r.eu.GrantCode(time.Minute)}, strings.NewReader(""), &out, &errOut)
		if exit != exitOK || r.secretValue(secret)["client_secret"] != testClientSecret {
			t.Fatalf("exit %d\n%s%s", exit, out.String(), errOut.String())
		}
		r.noSecretsShown(out.String() + errOut.String())
	})
	t.Run("no client secret", func(t *testing.T) {
		r.t = t
		t.Setenv(envClientSecret, "")
		var out, errOut bytes.Buffer
		exit := execute(context.Background(), []string{"connect", "--client-id", testClientID, "--secret", "s", "--code", "c"},
			strings.NewReader(""), &out, &errOut)
		if exit != exitUsage || !strings.Contains(errOut.String(), "no client secret") {
			t.Fatalf("exit %d\n%s%s", exit, out.String(), errOut.String())
		}
	})
}
