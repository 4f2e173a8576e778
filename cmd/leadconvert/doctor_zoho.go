package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/aws/secretstore"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// templatePlaceholder is what the template's generated secret holds until
// an operator fills it in (ZohoSecret in template.yaml).
const templatePlaceholder = "REPLACE_ME"

// neededScopes are the grant's scopes the deployment needs (README).
var neededScopes = strings.Join(zoho.RequiredScopes, ",")

const connectFix = "run leadconvert connect with a new grant code"

// checkSecret reads the secret and parses it with the functions' parsers.
func (d *doctor) checkSecret(ctx context.Context) result {
	const check = "secret"
	raw, err := secretstore.New(d.sm, d.o.dep.Secret).Fetch(ctx)
	if err != nil {
		return result{statusFail, check, fmt.Sprintf("cannot read %s: %v", d.o.dep.Secret, err),
			"check --secret (stack output SecretArn) and that you may call secretsmanager:GetSecretValue on it"}
	}
	creds, err := oauth.ParseSecret(raw)
	if err != nil {
		return result{statusFail, check, "unusable: " + configErrors(err) + "; no function gets a Zoho token", connectFix + ", or mend the named fields"}
	}
	var placeholders []string
	for _, f := range []struct{ name, val string }{{"client_id", creds.ClientID}, {"client_secret", creds.ClientSecret}, {"refresh_token", creds.RefreshToken}} {
		if f.val == templatePlaceholder {
			placeholders = append(placeholders, f.name)
		}
	}
	if len(placeholders) > 0 {
		return result{statusFail, check, strings.Join(placeholders, ", ") + " still hold the template's placeholder " + templatePlaceholder, connectFix}
	}
	d.secret, d.creds = raw, &creds
	if _, bad := app.ParseWebhookKey(raw); bad != nil {
		return result{statusFail, check, "credentials parse, but " + strings.TrimPrefix(bad.Error(), "secret: ") + ": the API refuses every caller",
			"run leadconvert connect (it keeps a webhook_key, or generates one), or set webhook_key in the secret"}
	}
	kind := "refresh credentials"
	if !creds.CanRefresh() {
		kind = "a ready access_token, which something else keeps fresh"
	}
	if creds.DataCenter != "" {
		kind += " for data centre " + string(creds.DataCenter)
	}
	return passed(check, "parses: %s; webhook_key set", kind)
}

// configErrors names the fields at fault in ParseSecret's error, which
// holds no value.
func configErrors(err error) string {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var parts []string
	for _, e := range errs {
		var ce *secret.ConfigError
		if errors.As(e, &ce) {
			parts = append(parts, strings.TrimPrefix(ce.Error(), "secret: "))
		}
	}
	if len(parts) == 0 {
		return "does not parse"
	}
	return strings.Join(parts, "; ")
}

// checkToken judges the shared token item as stored, without opening the
// token: the key policy lets only the convert and status functions' roles
// decrypt it, and an operator's machine must never take the refresh lease
// or refresh (a token it made could not be sealed, and the lease would hold
// every instance back until it lapsed). It reports whether a sealed token
// is stored, its expiry and CRM host, who holds the lease and a refresh
// pause. Then, for the scopes check, it tries to open a live token; where
// the key policy refuses, the scopes check says which role it needs.
func (d *doctor) checkToken(ctx context.Context) result {
	const check = "token"
	if d.creds == nil {
		return skip(check, "needs a usable secret")
	}
	peek := &peekStore{state: table.NewTokenStore(d.ddb, d.o.dep.Table, nil)}
	src, err := oauth.NewSource(oauth.Config{
		Secret: secret.Static(d.secret), Store: peek,
		DataCenter: d.zoho.dc, Environment: d.zoho.env, AccountsURL: d.zoho.accountsURL,
	})
	if err != nil {
		return result{statusFail, check, err.Error(), ""}
	}
	if !d.creds.CanRefresh() {
		// A ready token sits in the secret, which the operator read already.
		tok, err := src.Token(ctx)
		if err != nil {
			found, fix := explainTokenError(err)
			return result{statusFail, check, found, fix}
		}
		d.tokens = staticTokens{tok}
		return passed(check, "the secret's ready access_token; CRM at %s", d.crmURL(tok.APIURL))
	}
	if _, err := src.Shared(ctx); err != nil {
		return result{statusFail, check, "cannot read the shared token item: " + err.Error(),
			"check --table and that you may call dynamodb:GetItem on it"}
	}
	st, now := peek.found, time.Now()
	live := st.Sealed && !st.Clear && now.Before(st.ExpiresAt)
	var notes []string
	switch {
	case st.LeaseOwner != "" && now.Before(st.LeaseUntil):
		notes = append(notes, fmt.Sprintf("an instance holds the refresh lease until %s", stamp(st.LeaseUntil)))
	case st.LeaseOwner != "":
		notes = append(notes, fmt.Sprintf("a lease lapsed at %s (the next instance takes it over)", stamp(st.LeaseUntil)))
	}
	if st.APIDomain != "" {
		if _, _, ok := zoho.LookupAPIDomain(st.APIDomain); !ok {
			notes = append(notes, "api_domain "+st.APIDomain+" is not a Zoho host: the functions ignore it")
		}
	}
	if now.Before(st.BlockedUntil) {
		pause := fmt.Sprintf("refreshing is paused until %s (%s from now) after Zoho refused a refresh (Access Denied, or the credentials) or a refreshed token could not be sealed (KMS: see the TokenSealErrors metric)",
			stamp(st.BlockedUntil), st.BlockedUntil.Sub(now).Round(time.Second))
		if !live {
			return result{statusFail, check, pause + "; no token is live and doctor did not refresh",
				"wait until then: every refresh before it prolongs Zoho's lock-out; if the credentials were refused, " + connectFix +
					"; if TokenSealErrors counts, check the TokenKey KMS key is enabled"}
		}
		notes = append(notes, pause)
	}
	more := ""
	if len(notes) > 0 {
		more = "; " + strings.Join(notes, "; ")
	}
	const noRefresh = "doctor never refreshes from an operator's machine"
	switch {
	case !st.Sealed:
		what := "no shared token is stored"
		if st.Clear {
			what = "only a clear token from a version before sealing is stored (the functions treat it as absent)"
		}
		d.noToken = "no live shared token to probe with (" + noRefresh + ")"
		return result{statusWarn, check, what + ": the functions refresh one under the lease at their next Zoho call; " + noRefresh + more,
			"nothing, unless conversions fail: then the convert function's logs and its TokenRefreshErrors metric say why"}
	case !live:
		d.noToken = "the shared token expired (" + noRefresh + ")"
		return passed(check, "sealed, expired at %s: the next Zoho call refreshes it; %s%s", stamp(st.ExpiresAt), noRefresh, more)
	}
	d.openShared(ctx, peek.key)
	found := fmt.Sprintf("sealed, live until %s, CRM %s%s", stamp(st.ExpiresAt), cmp.Or(st.APIDomain, "of the data centre"), more)
	if now.Before(st.BlockedUntil) {
		return result{statusWarn, check, found, "nothing now; if the token expires before the pause ends, calls wait for it"}
	}
	return passed(check, "%s", found)
}

// openShared opens the live shared token for the scopes check, read only:
// one GetItem and one kms:Decrypt, which the key policy grants only the
// convert and status functions' roles. Where it is refused, d.noToken says
// so and nothing else is tried.
func (d *doctor) openShared(ctx context.Context, key string) {
	store := table.NewTokenStore(d.ddb, d.o.dep.Table, kmsseal.New(d.kms, d.o.dep.TokenKey))
	rec, err := store.Load(ctx, key)
	switch {
	case err != nil:
		d.noToken = explainOpenError(err)
	case rec.AccessToken == "":
		d.noToken = "the sealed token does not open with --token-key for this item (another key, or copied from another item); the functions refresh it"
	default:
		d.tokens = staticTokens{zoho.Token{AccessToken: rec.AccessToken, APIURL: d.crmURL(rec.APIDomain), Expiry: rec.ExpiresAt}}
	}
}

// explainOpenError says why the token did not open, naming the role that
// may open it when the key policy is the reason.
func explainOpenError(err error) string {
	// smithy.APIError's method, without importing smithy for one call.
	if apiErr, ok := errors.AsType[interface {
		error
		ErrorCode() string
	}](err); ok && apiErr.ErrorCode() == "AccessDeniedException" {
		return "the token is sealed with a key only the convert and status functions' roles may use (kms:Decrypt in TokenKey's policy): " +
			"run doctor with one of those roles (sts assume-role) to probe the scopes, or read the functions' metrics"
	}
	return "cannot open the shared token: " + err.Error()
}

// crmURL is the CRM host calls go to: the override, else the token's
// domain, else the data centre's.
func (d *doctor) crmURL(apiDomain string) string {
	switch {
	case d.zoho.apiURL != "":
		return d.zoho.apiURL
	case apiDomain != "":
		if _, _, ok := zoho.LookupAPIDomain(apiDomain); ok {
			return apiDomain
		}
	}
	return d.zoho.dc.APIURL(d.zoho.env)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// peekStore is the oauth.Store doctor hands the Source: it reads the shared
// item's state without opening the token, and refuses every write, so that
// no path of the Source can take the lease or store a token from an
// operator's machine. It also learns the item's key, which the Source
// derives from the credentials as the functions do.
type peekStore struct {
	state *table.TokenStore
	key   string
	found table.TokenState
}

var errDoctorWrites = errors.New("doctor never writes the shared token item")

func (p *peekStore) Load(ctx context.Context, key string) (oauth.Record, error) {
	st, err := p.state.State(ctx, key)
	if err != nil {
		return oauth.Record{}, err
	}
	p.key, p.found = key, st
	return oauth.Record{APIDomain: st.APIDomain, ExpiresAt: st.ExpiresAt, LeaseOwner: st.LeaseOwner,
		LeaseUntil: st.LeaseUntil, BlockedUntil: st.BlockedUntil, Version: st.Version}, nil
}

func (p *peekStore) TryLease(context.Context, string, string, int64, time.Time, time.Time) (bool, error) {
	return false, errDoctorWrites
}

func (p *peekStore) Save(context.Context, string, string, oauth.Record) (bool, error) {
	return false, errDoctorWrites
}

func (p *peekStore) Release(context.Context, string, string, time.Time) error { return errDoctorWrites }
func (p *peekStore) Drop(context.Context, string, string) error               { return errDoctorWrites }

// staticTokens serves one token to the scopes probes. Invalidate does
// nothing: a refused token is the functions' to drop, not doctor's.
type staticTokens struct{ tok zoho.Token }

func (s staticTokens) Token(context.Context) (zoho.Token, error)    { return s.tok, nil }
func (s staticTokens) Invalidate(context.Context, zoho.Token) error { return nil }

// explainTokenError says in a sentence why no token came, and the fix.
func explainTokenError(err error) (found, fix string) {
	var apiErr *zoho.APIError
	if !errors.As(err, &apiErr) {
		return err.Error(), ""
	}
	for e := apiErr; e != nil; {
		switch {
		case strings.EqualFold(e.Code, "Access Denied"):
			return "Zoho Accounts answered Access Denied: it throttles this refresh token; the functions now pause refreshing for 15 minutes",
				"wait: Zoho's lock-out clears after 15 to 30 minutes without refreshes"
		case e.Code == "invalid_client":
			return "Zoho Accounts does not know the client id (invalid_client): a wrong client id, or the client belongs to another data centre",
				"check data_center in the secret or --data-center (the stack's ZohoDataCenter), or " + connectFix
		case e.Code == "invalid_code":
			return "Zoho Accounts refused the refresh token (invalid_code): revoked, or from another data centre",
				connectFix
		case e.Code == "invalid_client_secret":
			return "Zoho Accounts refused the client secret (invalid_client_secret)", connectFix
		}
		inner, ok := errors.AsType[*zoho.APIError](e.Err)
		if !ok {
			break
		}
		e = inner
	}
	return "no token: " + apiErr.Error(), "see the message; the functions fail the same way"
}

// checkScopes probes the scopes the token carries with calls that change
// nothing: a status call for a made-up job id (Zoho answers INVALID_DATA
// with the scope, OAUTH_SCOPE_MISMATCH without) and a read of a made-up
// lead, and, when a sweep is defined, a COQL query selecting nothing and a
// read of the fields of Leads (a deployment without sweeps needs neither,
// so a grant from before sweeps is not failed for them). Creating a mass_convert job cannot be probed
// without converting.
func (d *doctor) checkScopes(ctx context.Context) result {
	const check = "scopes"
	if d.tokens == nil {
		return skip(check, cmp.Or(d.noToken, "needs a token"))
	}
	if d.belowFloor {
		return skip(check, "the org is below the credit floor: doctor spends no credits on probes")
	}
	client, err := zoho.New(zoho.Config{Tokens: d.tokens, APIURL: d.zoho.apiURL, APIVersion: d.zoho.apiVersion,
		Retry: zoho.RetryPolicy{Attempts: 2}})
	if err != nil {
		return result{statusFail, check, err.Error(), ""}
	}
	const madeUp = "1" // no job and no lead has this id
	probes := []struct {
		scope, without string
		call           func() error
	}{
		{"ZohoCRM.mass_convert.leads.READ", "the status function cannot follow jobs", func() error {
			_, err := client.ConvertStatus(ctx, madeUp)
			if apiErr, ok := errors.AsType[*zoho.APIError](err); ok && apiErr.UnknownJob() {
				return nil // the answer for a job Zoho does not know: the scope is there
			}
			return err
		}},
		{"ZohoCRM.modules.leads.READ", "no outcome is read back for a lead, and refused leads are found one call at a time", func() error {
			_, err := client.GetLeads(ctx, []string{madeUp})
			return err
		}},
	}
	var have, missing, unknown []string
	// One catalog read (sweeps are listed without a scan).
	switch sweeps, err := table.NewJobStore(d.ddb, d.o.dep.Table).Sweeps(ctx); {
	case err != nil:
		unknown = append(unknown, fmt.Sprintf("%s: whether a sweep needs it: %v", zoho.ScopeCOQLRead, err))
	case len(sweeps) > 0:
		probes = append(probes, struct {
			scope, without string
			call           func() error
		}{zoho.ScopeCOQLRead, fmt.Sprintf("%s cannot select leads", plural(len(sweeps), "defined sweep")), func() error {
			_, _, err := client.COQL(ctx, zoho.COQLProbe)
			return err
		}}, struct {
			scope, without string
			call           func() error
		}{zoho.ScopeFieldsRead, "runs cannot record the fields of Leads that sweep create checks a condition against", func() error {
			_, err := client.LeadFields(ctx)
			return err
		}})
	}
	for _, p := range probes {
		err := p.call()
		apiErr, isAPI := errors.AsType[*zoho.APIError](err)
		switch {
		case err == nil:
			have = append(have, p.scope)
		case isAPI && apiErr.Code == "OAUTH_SCOPE_MISMATCH":
			missing = append(missing, p.scope+" ("+p.without+")")
		default:
			unknown = append(unknown, fmt.Sprintf("%s: %v", p.scope, err))
		}
	}
	const create = "ZohoCRM.mass_convert.leads.CREATE not probed (only a conversion would show it)"
	switch {
	case len(missing) > 0:
		return result{statusFail, check, "the token lacks " + strings.Join(missing, ", "),
			"generate a grant code with scopes " + neededScopes + " and run leadconvert connect"}
	case len(unknown) > 0:
		return result{statusWarn, check, "could not tell: " + strings.Join(unknown, "; "), "run doctor again; Zoho may be unavailable"}
	}
	return passed(check, "%s answer; %s", strings.Join(have, ", "), create)
}
