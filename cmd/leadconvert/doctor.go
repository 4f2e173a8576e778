package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// doctorOptions are doctor's flags beyond the deployment's parts.
type doctorOptions struct {
	dep deployment

	dataCenter, environment, apiVersion string
	accountsURL, zohoAPIURL             string // overrides: a simulator on loopback
	staleAfter                          time.Duration
	scanLimit                           int
	minCredits                          int // -1: the stack's MinZohoCreditsLeft
}

func newDoctorCmd() *cobra.Command {
	var o doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check a deployed stack, one line per check, with the fix where one fails",
		Long: `doctor checks a deployed bridge and prints one line per check: ok, warn, FAIL or skip,
what it found, and the fix when a check fails. It exits 1 when any check fails, 0 otherwise.

  secret        the Zoho secret parses as the functions parse it (the field at fault is named,
                never a value), and it holds a webhook key for the API
  token         the table's shared token item, read without opening the token: a sealed token
                stored, its expiry and CRM host, the refresh lease, a refresh pause after Zoho's
                Access Denied; doctor never takes the lease or refreshes, even with no token
  credits       the org's credits as the functions last saw them (Zoho's X-API-CREDITS-REMAINING,
                kept in the table) against the credit floor (MinZohoCreditsLeft), and what each call
                the bridge makes costs, from Zoho's API catalogue (GET /crm/v8/__apis) read with the
                token the scopes probes use; below the floor doctor makes neither call
  scopes        mass_convert.leads.READ and modules.leads.READ, probed with a status call for a
                made-up job id and a read of a made-up lead (neither changes anything), and
                coql.READ when a sweep is defined, probed with a query selecting nothing;
                mass_convert.leads.CREATE is not probed: only a conversion would show it. Needs a
                live shared token that opens: the key policy lets only the convert and status
                functions' roles decrypt it, so run doctor as one of them for this check
  indexes, ttl, pitr   the table's open-checks index (and open-jobs, kept for the upgrade), TTL on
                expires_at, point-in-time recovery
  queue, dead letters  depths; the dead letters' reasons, peeked without consuming them
  open jobs     open jobs and their age against the stale limit (the open-checks index)
  stale jobs    jobs that ended STALE, by a scan of at most --scan-limit items
  concurrency   the stack's concurrency parameters against Zoho's 10 calls in flight (--stack)

It reads the stack, the secret, the table, the queues and KMS (kms:Decrypt of a live shared
token, for the scopes probes only). It never calls Zoho's accounts server and writes nothing
(the dead letters it peeks at are made visible again). Secrets and tokens are never printed.`,
		Example: `  leadconvert doctor --stack leadconvert
  leadconvert doctor --region eu-west-1 --table leadconvert-JobsTable-1A2B --secret zoho \
      --queue-url https://sqs.eu-west-1.amazonaws.com/123456789012/leadconvert-conversions \
      --dlq-url https://sqs.eu-west-1.amazonaws.com/123456789012/leadconvert-dlq \
      --token-key arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDoctor(cmd.Context(), &o, cmd.OutOrStdout())
		},
	}
	o.dep.addAWSFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.dep.TokenKey, "token-key", "", "KMS key that seals the shared token (stack output TokenKeyArn)")
	f.StringVar(&o.dataCenter, "data-center", "", "Zoho data centre, unless the secret names one (default: the stack's ZohoDataCenter, else us)")
	f.StringVar(&o.environment, "environment", "", "Zoho environment (default: the stack's ZohoEnvironment, else production)")
	f.StringVar(&o.apiVersion, "api-version", "", "Zoho CRM API version (default: the stack's ZohoApiVersion, else v7)")
	f.StringVar(&o.accountsURL, "zoho-accounts-url", "", "Zoho accounts server instead of the data centre's (a simulator; http only on loopback)")
	f.StringVar(&o.zohoAPIURL, "zoho-api-url", "", "Zoho CRM API instead of the token's (a simulator; http only on loopback)")
	// For a simulator, as connect's: not what an operator types.
	_ = f.MarkHidden("zoho-accounts-url")
	_ = f.MarkHidden("zoho-api-url")
	f.DurationVar(&o.staleAfter, "stale-after", 0, "age at which an open job is stale (default: the stack's StaleAfterHours, else 24h)")
	f.IntVar(&o.scanLimit, "scan-limit", 100000, "most table items the stale-jobs scan reads")
	f.IntVar(&o.minCredits, "min-credits-left", -1, "the credit floor (default: the stack's MinZohoCreditsLeft, else 0: off)")
	return cmd
}

// status is a check's verdict.
type status string

const (
	statusOK   status = "ok"
	statusWarn status = "warn"
	statusFail status = "FAIL"
	statusSkip status = "skip" // a check that depends on a failed one, or on --stack
)

// result is one line of the report.
type result struct {
	status       status
	check, found string
	fix          string // said only when the check fails or warns
}

func passed(check, format string, args ...any) result {
	return result{status: statusOK, check: check, found: fmt.Sprintf(format, args...)}
}

func skip(check, why string) result { return result{status: statusSkip, check: check, found: why} }

func (r result) print(w io.Writer) {
	line := fmt.Sprintf("%-4s  %-12s  %s", r.status, r.check, r.found)
	if r.fix != "" {
		line += "; fix: " + r.fix
	}
	fmt.Fprintln(w, line)
}

// doctor holds what the checks share: the clients, the stack's parameters
// and what earlier checks established.
type doctor struct {
	o      *doctorOptions
	params map[string]string // the stack's parameters; nil without --stack
	zoho   zohoSettings
	now    time.Time

	ddb *dynamodb.Client
	sqs *sqs.Client
	sm  *secretsmanager.Client
	kms *kms.Client

	openIndex bool   // the open-checks index is there and active
	secret    string // the secret's JSON once read; never printed
	creds     *oauth.Credentials
	tokens    zoho.TokenSource // the shared token, once opened, for the scopes probes
	noToken   string           // why there is none to probe with
	// belowFloor: the org is below the credit floor, so doctor spends no
	// credits on probes.
	belowFloor bool
}

func runDoctor(ctx context.Context, o *doctorOptions, out io.Writer) error {
	cfg, err := o.dep.awsConfig(ctx)
	if err != nil {
		return err
	}
	if err := o.dep.resolve(ctx, cfg); err != nil {
		return err
	}
	if err := o.dep.require("table", "secret", "queue-url", "dlq-url"); err != nil {
		return err
	}
	if o.scanLimit < 1 {
		return usageError{fmt.Errorf("--scan-limit %d: want at least 1", o.scanLimit)}
	}
	if o.dep.TokenKey == "" {
		return usageError{fmt.Errorf("no --token-key: pass it, or --stack of a deployment")}
	}
	d := &doctor{o: o, now: time.Now(), ddb: table.NewClient(cfg), sqs: sqs.NewFromConfig(cfg),
		sm: secretsmanager.NewFromConfig(cfg), kms: kms.NewFromConfig(cfg)}
	d.params = o.dep.Params
	if d.zoho, err = d.zohoSettings(); err != nil {
		return err
	}
	checks := []func(context.Context) result{
		d.checkSecret, d.checkToken, d.checkCredits, d.checkScopes,
		d.checkIndexes, d.checkTTL, d.checkPITR,
		d.checkQueue, d.checkDeadLetters,
		d.checkOpenJobs, d.checkStaleJobs,
		d.checkConcurrency,
	}
	failed := false
	for _, check := range checks {
		r := check(ctx)
		r.print(out)
		failed = failed || r.status == statusFail
	}
	if failed {
		return checksFailed
	}
	return nil
}

// setting is a flag's value, else the stack's parameter, else def.
func (d *doctor) setting(flag, param, def string) string {
	switch {
	case flag != "":
		return flag
	case d.params[param] != "":
		return d.params[param]
	}
	return def
}

// staleAfter is the age at which the status function ends an open job STALE.
func (d *doctor) staleAfter() time.Duration {
	if d.o.staleAfter > 0 {
		return d.o.staleAfter
	}
	if h, err := strconv.Atoi(d.params["StaleAfterHours"]); err == nil && h > 0 {
		return time.Duration(h) * time.Hour
	}
	return 24 * time.Hour
}

// zohoSettings are where and how the functions reach Zoho.
type zohoSettings struct {
	dc                  zoho.DataCenter
	env                 zoho.Environment
	apiVersion          string
	accountsURL, apiURL string // overrides, checked
}

// zohoSettings are the settings the functions would use, checked as the
// functions' configuration checks them: a wrong one is a usage error.
func (d *doctor) zohoSettings() (zohoSettings, error) {
	var z zohoSettings
	var err error
	if z.dc, err = zoho.ParseDataCenter(d.setting(d.o.dataCenter, "ZohoDataCenter", "us")); err != nil {
		return z, usageError{fmt.Errorf("--data-center: %w", err)}
	}
	if z.env, err = zoho.ParseEnvironment(d.setting(d.o.environment, "ZohoEnvironment", "production")); err != nil {
		return z, usageError{fmt.Errorf("--environment: %w", err)}
	}
	if z.apiVersion = d.setting(d.o.apiVersion, "ZohoApiVersion", "v7"); z.apiVersion != "v7" && z.apiVersion != "v8" {
		return z, usageError{fmt.Errorf("--api-version %q: want v7 or v8", z.apiVersion)}
	}
	if d.o.accountsURL != "" {
		if z.accountsURL, err = zoho.CheckOverrideURL(d.o.accountsURL); err != nil {
			return z, usageError{fmt.Errorf("--zoho-accounts-url: %w", err)}
		}
	}
	if d.o.zohoAPIURL != "" {
		if z.apiURL, err = zoho.CheckOverrideURL(d.o.zohoAPIURL); err != nil {
			return z, usageError{fmt.Errorf("--zoho-api-url: %w", err)}
		}
	}
	return z, nil
}
