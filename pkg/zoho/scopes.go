package zoho

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// The OAuth scopes the bridge's grant must hold (README, Deploy step 1).
const (
	ScopeMassConvertCreate = "ZohoCRM.mass_convert.leads.CREATE"
	ScopeMassConvertRead   = "ZohoCRM.mass_convert.leads.READ"
	ScopeLeadsRead         = "ZohoCRM.modules.leads.READ"
	// ScopeCOQLRead lets sweeps select leads with COQL (section 8); the
	// module's READ is needed besides, and held already.
	ScopeCOQLRead = "ZohoCRM.coql.READ"
	// ScopeFieldsRead lets a sweep's run read which fields Leads has
	// (Fields Metadata, GET /settings/fields), against which sweep create
	// checks a condition.
	ScopeFieldsRead = "ZohoCRM.settings.fields.READ"
)

// RequiredScopes are the scopes to ask for when generating a grant code.
// COQL and the fields are asked for even where no sweep is defined yet: a
// sweep defined later must not need a new grant.
var RequiredScopes = []string{ScopeMassConvertCreate, ScopeMassConvertRead, ScopeLeadsRead, ScopeCOQLRead, ScopeFieldsRead}

// COQLProbe is a query that selects nothing and changes nothing: with the
// scope, Zoho answers 204 (or an empty page); without, OAUTH_SCOPE_MISMATCH.
const COQLProbe = "select id from Leads where id = 1 limit 1"

// ScopeCheck is what the CRM said of one scope the bridge needs.
type ScopeCheck struct {
	Scope   string
	Use     string // what the bridge does with it
	Granted bool
}

// CheckScopes asks the CRM at apiURL, with accessToken, whether its grant
// holds each of RequiredScopes, by one call per scope that changes nothing:
// a mass convert without ids, the status of job 1, the lead with id 1, a
// COQL query for the lead with id 1, the fields of Leads.
// Zoho's token answers do not list the scopes granted (zoho-crm-api.md
// section 3), and only the CRM knows which broader scopes stand for a
// narrower one (ZohoCRM.modules.ALL for reading leads, for instance), so the
// CRM is asked: OAUTH_SCOPE_MISMATCH means the scope is missing, any other
// refusal of the request itself means the scope let the call through. An
// answer that says neither (no answer, the token refused, a Zoho fault) is
// an error: the scopes are then unknown.
func CheckScopes(ctx context.Context, hc *http.Client, apiURL, accessToken string) ([]ScopeCheck, error) {
	c, err := New(Config{HTTPClient: hc, APIURL: apiURL, Tokens: fixedToken{accessToken}, Retry: RetryPolicy{Attempts: 1}})
	if err != nil {
		return nil, err
	}
	probes := []struct {
		scope, use string
		call       func() error
	}{
		{ScopeMassConvertCreate, "convert leads (mass_convert)", func() error {
			_, err := c.call(ctx, "mass_convert", http.MethodPost, massConvertPath, nil, []byte("{}"), nil)
			return err
		}},
		{ScopeMassConvertRead, "follow jobs (mass_convert status)", func() error {
			_, err := c.ConvertStatus(ctx, "1")
			return err
		}},
		{ScopeLeadsRead, "read leads back for their outcome (Get Records)", func() error {
			_, err := c.GetLeads(ctx, []string{"1"})
			return err
		}},
		{ScopeCOQLRead, "select the leads of sweeps (COQL)", func() error {
			_, _, err := c.COQL(ctx, COQLProbe)
			return err
		}},
		{ScopeFieldsRead, "check sweeps' conditions against the fields of Leads", func() error {
			_, err := c.LeadFields(ctx)
			return err
		}},
	}
	checks := make([]ScopeCheck, 0, len(probes))
	for _, p := range probes {
		granted, err := scopeAnswer(p.call())
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", p.scope, err)
		}
		checks = append(checks, ScopeCheck{Scope: p.scope, Use: p.use, Granted: granted})
	}
	return checks, nil
}

// scopeAnswer reads a probe's outcome: granted, missing, or unknown (err).
func scopeAnswer(err error) (granted bool, _ error) {
	if err == nil {
		return true, nil
	}
	apiErr, ok := errors.AsType[*APIError](err)
	switch {
	case !ok:
		return false, err
	case apiErr.Code == "OAUTH_SCOPE_MISMATCH":
		return false, nil
	case apiErr.HTTPStatus >= 400 && apiErr.HTTPStatus < 500 && apiErr.Class != Auth && apiErr.Class != Retryable:
		return true, nil
	}
	return false, err
}

// fixedToken is one access token, never refreshed: a refused token is the
// probe's answer, not something to mend.
type fixedToken struct{ accessToken string }

func (f fixedToken) Token(context.Context) (Token, error) {
	return Token{AccessToken: f.accessToken}, nil
}

func (f fixedToken) Invalidate(context.Context, Token) error {
	return errors.New("the access token was refused")
}
