package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/credits"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// minCredits is the deployment's credit floor: --min-credits-left, else
// the stack's MinZohoCreditsLeft, else 0 (off).
func (d *doctor) minCredits() int {
	if d.o.minCredits >= 0 {
		return d.o.minCredits
	}
	n, err := strconv.Atoi(d.params["MinZohoCreditsLeft"])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// checkCredits shows the org's credits as the functions last saw them
// (the table's STAT#credits item: Zoho's X-API-CREDITS-REMAINING) against
// the floor, and what each call the bridge makes costs, from Zoho's API
// catalogue (GET /crm/v8/__apis). The catalogue is read with the token the
// scopes probes use (doctor never refreshes one); below the floor doctor
// spends no credits on it, nor on the probes.
func (d *doctor) checkCredits(ctx context.Context) result {
	const check = "credits"
	floor := d.minCredits()
	seen, err := table.NewJobStore(d.ddb, d.o.dep.Table).LoadCredits(ctx)
	if err != nil {
		return result{statusFail, check, "cannot read the credits the functions saw: " + err.Error(), "check --table and dynamodb:GetItem on it"}
	}
	var parts []string
	fresh := !seen.At.IsZero() && d.now.Sub(seen.At) <= credits.Fresh
	switch {
	case seen.At.IsZero():
		parts = append(parts, "the functions have seen no figure from Zoho yet")
	case seen.Left == credits.Unknown:
		parts = append(parts, fmt.Sprintf("more than half the org's daily credits left at %s (Zoho sent no X-API-CREDITS-REMAINING)", stamp(seen.At)))
	default:
		parts = append(parts, fmt.Sprintf("%d credits left at %s (Zoho's X-API-CREDITS-REMAINING)", seen.Left, stamp(seen.At)))
	}
	if !fresh && !seen.At.IsZero() {
		parts[0] += ", more than an hour ago: no longer counted"
	}
	below := floor > 0 && fresh && seen.Left != credits.Unknown && seen.Left < floor
	switch {
	case floor == 0:
		parts = append(parts, "no credit floor (MinZohoCreditsLeft 0)")
	case below:
		d.belowFloor = true
		parts = append(parts, fmt.Sprintf("below the floor of %d: sweeps and resends wait, conversions go on; doctor spends no credits on probes", floor))
		return result{statusWarn, check, strings.Join(parts, "; "),
			"find what spends the org's credits (the ZohoRequests metric by kind, the org's other integrations); the bridge resumes by itself above the floor"}
	default:
		parts = append(parts, fmt.Sprintf("above the floor of %d", floor))
	}
	if d.tokens == nil {
		parts = append(parts, "costs per call not read: "+costsSkipped(d.noToken))
		return passed(check, "%s", strings.Join(parts, "; "))
	}
	client, err := zoho.New(zoho.Config{Tokens: d.tokens, APIURL: d.zoho.apiURL, APIVersion: d.zoho.apiVersion,
		Retry: zoho.RetryPolicy{Attempts: 2}})
	if err != nil {
		return result{statusFail, check, err.Error(), ""}
	}
	costs, err := client.Credits(ctx)
	if err != nil {
		parts = append(parts, "GET /crm/v8/__apis failed: "+err.Error())
		return result{statusWarn, check, strings.Join(parts, "; "), "run doctor again; Zoho may be unavailable"}
	}
	var each []string
	for _, call := range zoho.BridgeCalls {
		c, ok := zoho.CostOf(costs, call)
		switch {
		case !ok:
			each = append(each, call.Op+" not listed")
		case c.MinCredits == c.MaxCredits:
			each = append(each, fmt.Sprintf("%s %d", call.Op, c.MaxCredits))
		default:
			each = append(each, fmt.Sprintf("%s %d to %d", call.Op, c.MinCredits, c.MaxCredits))
		}
	}
	parts = append(parts, "credits per call (GET /crm/v8/__apis): "+strings.Join(each, ", "))
	return passed(check, "%s", strings.Join(parts, "; "))
}

func costsSkipped(why string) string {
	if why == "" {
		return "no token to ask Zoho with"
	}
	return why
}
