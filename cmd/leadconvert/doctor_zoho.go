package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/aws/secretstore"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/obs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// templatePlaceholder is what the template's generated secret holds until
// an operator fills it in (ZohoSecret in template.yaml).
const templatePlaceholder = "REPLACE_ME"

// neededScopes are the grant's scopes the deployment needs (README).
const neededScopes = "ZohoCRM.mass_convert.leads.CREATE,ZohoCRM.mass_convert.leads.READ,ZohoCRM.modules.leads.READ"

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

// checkToken obtains a token the way the functions do, through the shared
// token item: a live token is reused; a refresh happens only under the
// lease when none is live; a refresh pause is honoured.
func (d *doctor) checkToken(ctx context.Context) result {
	const check = "token"
	if d.creds == nil {
		return skip(check, "needs a usable secret")
	}
	store := table.NewTokenStore(d.ddb, d.o.dep.Table, kmsseal.New(d.kms, d.o.dep.TokenKey))
	src, err := oauth.NewSource(oauth.Config{
		Secret: secret.Static(d.secret), Store: store,
		DataCenter: d.zoho.dc, Environment: d.zoho.env, AccountsURL: d.zoho.accountsURL,
	})
	if err != nil {
		return result{statusFail, check, err.Error(), ""}
	}
	rec, err := src.Shared(ctx)
	if err != nil {
		return result{statusFail, check, "cannot read the shared token item: " + err.Error(),
			"check --table and --token-key, and that you may read the table and call kms:Decrypt with the key"}
	}
	now := time.Now()
	if now.Before(rec.BlockedUntil) && !rec.UsableAt(now) {
		return result{statusFail, check, fmt.Sprintf("refreshing is paused until %s (%s from now) after Zoho refused a refresh (Access Denied, or the credentials); no token is live and doctor did not refresh",
			rec.BlockedUntil.UTC().Format(time.RFC3339), rec.BlockedUntil.Sub(now).Round(time.Second)),
			"wait until then: every refresh before it prolongs Zoho's lock-out; if the credentials were refused, " + connectFix}
	}
	m := obs.NewMetrics("doctor")
	tok, err := src.Token(obs.WithMetrics(ctx, m))
	if err != nil {
		found, fix := explainTokenError(err)
		return result{statusFail, check, found, fix}
	}
	d.tokens = src
	host := tok.APIURL
	if d.zoho.apiURL != "" {
		host = d.zoho.apiURL
	}
	found := fmt.Sprintf("the shared token is live until %s: reused, no refresh", tok.Expiry.UTC().Format(time.RFC3339))
	switch {
	case !d.creds.CanRefresh():
		found = "the secret's ready access_token"
	case m.Value("TokenRefreshes") > 0:
		found = fmt.Sprintf("no live shared token: refreshed once under the lease, live until %s", tok.Expiry.UTC().Format(time.RFC3339))
	}
	if now.Before(rec.BlockedUntil) {
		return result{statusWarn, check, fmt.Sprintf("%s, but refreshing is paused until %s after Zoho refused a refresh", found, rec.BlockedUntil.UTC().Format(time.RFC3339)),
			"nothing now; if the token expires before the pause ends, calls wait for it"}
	}
	return passed(check, "%s; CRM at %s", found, host)
}

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
// lead. Creating a mass_convert job cannot be probed without converting.
func (d *doctor) checkScopes(ctx context.Context) result {
	const check = "scopes"
	if d.tokens == nil {
		return skip(check, "needs a token")
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
