package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// The environment variables connect reads the client's credentials from,
// so that the secret stays out of shell history.
const (
	envClientID     = "ZOHO_CLIENT_ID"
	envClientSecret = "ZOHO_CLIENT_SECRET"
)

// connectFlags is connect's command line.
type connectFlags struct {
	d            deployment
	clientID     string
	secretStdin  bool
	code         string
	dc           string
	environment  string
	accountsURLs map[string]string // dc -> URL: the simulator, tests
	apiURL       string            // the CRM for the scope check: the simulator, tests
}

func newConnectCmd() *cobra.Command {
	var f connectFlags
	cmd := &cobra.Command{
		Use:   "connect --client-id ID --code CODE (--secret NAME | --stack STACK)",
		Short: "Turn a Zoho self-client's grant code into a working secret",
		Long: `connect exchanges a Zoho self-client's grant code for a refresh token and
writes it to the deployment's Secrets Manager secret, where the functions read
it (within 5 minutes, or at once when Zoho refuses their token).

In the Zoho API console of your data centre, open the Self Client, and under
Generate Code enter the scopes
  ` + strings.Join(zoho.RequiredScopes, ",") + `
then run connect within the minutes the code is valid. A code is good for one
exchange only.

Without --dc, connect finds the data centre before it sends anything secret:
it asks the accounts server of every data centre with the client id alone (a
stand-in secret and code), and the client's own server is the one that knows
the client, where every other answers invalid_client. The client secret and
the code then go to that server only. When the answers do not single out one
data centre, connect sends them nowhere and asks for --dc. It then asks the
CRM, with calls that change nothing, whether the grant holds each scope the
bridge needs; a broader scope (ZohoCRM.modules.ALL) counts when the CRM
accepts it. If one is missing, or Zoho refuses the code, the secret is not
changed and connect says how to fix it.

The secret (created if absent) gets client_id, client_secret, refresh_token
and data_center (and environment, with --environment); every other field is
kept, webhook_key included, and a random webhook_key is added when there is
none. A ready access_token field is removed: refresh credentials replace it.

The client secret is read from $` + envClientSecret + `, or from the first line of
standard input with --client-secret-stdin; the client id may come from
$` + envClientID + `. Nothing secret is printed.

Touches: Zoho Accounts (without --dc, one question with the client id alone
to each data centre; then one exchange, at the client's own), Zoho CRM (three
calls that change nothing), and Secrets Manager (DescribeSecret,
GetSecretValue, then PutSecretValue or CreateSecret).`,
		Example: `  # the client secret from a password manager, the data centre found
  pass zoho/self-client | leadconvert connect --stack lead-convert \
      --client-id 1000.XXXXXXXX --client-secret-stdin --code 1000.abcd.efgh

  # the data centre named, the secret by name
  ZOHO_CLIENT_SECRET=... leadconvert connect --secret zoho-lead-convert \
      --dc eu --client-id 1000.XXXXXXXX --code 1000.abcd.efgh`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConnect(cmd.Context(), f, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f.d.addAWSFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.clientID, "client-id", "", "the self-client's client id (default $"+envClientID+")")
	fl.BoolVar(&f.secretStdin, "client-secret-stdin", false, "read the client secret from the first line of standard input (default: $"+envClientSecret+")")
	fl.StringVar(&f.code, "code", "", "the grant code from Self Client > Generate Code (single use, valid for minutes)")
	fl.StringVar(&f.dc, "dc", "", "Zoho data centre: us, eu, in, au, jp, ca, sa, cn (default: found by asking each with the client id alone)")
	fl.StringVar(&f.environment, "environment", "", "production, sandbox or developer, written to the secret (default: left as the secret has it)")
	fl.StringToStringVar(&f.accountsURLs, "zoho-accounts-url", nil, "accounts server per data centre, e.g. eu=http://127.0.0.1:8080 (a simulator)")
	fl.StringVar(&f.apiURL, "zoho-api-url", "", "CRM API base URL for the scope check (a simulator)")
	_ = fl.MarkHidden("zoho-accounts-url")
	_ = fl.MarkHidden("zoho-api-url")
	return cmd
}

// connectInput is the command line checked: what the exchange needs.
type connectInput struct {
	clientID, clientSecret, code string
	servers                      []oauth.AccountsServer
	env                          zoho.Environment // empty: not named
	apiURL                       string
}

func (f connectFlags) input(stdin io.Reader) (connectInput, error) {
	in := connectInput{clientID: strings.TrimSpace(f.clientID), code: strings.TrimSpace(f.code)}
	if in.clientID == "" {
		in.clientID = strings.TrimSpace(os.Getenv(envClientID))
	}
	if f.secretStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return in, fmt.Errorf("reading the client secret from standard input: %w", err)
		}
		in.clientSecret = strings.TrimSpace(line)
	} else {
		in.clientSecret = strings.TrimSpace(os.Getenv(envClientSecret))
	}
	switch {
	case in.clientID == "":
		return in, usageError{errors.New("no client id: pass --client-id or set " + envClientID)}
	case in.clientSecret == "" && f.secretStdin:
		return in, usageError{errors.New("no client secret on standard input")}
	case in.clientSecret == "":
		return in, usageError{errors.New("no client secret: pass --client-secret-stdin or set " + envClientSecret)}
	case in.code == "":
		return in, usageError{errors.New("no --code: generate one under Self Client > Generate Code")}
	}
	if f.environment != "" {
		env, err := zoho.ParseEnvironment(f.environment)
		if err != nil {
			return in, usageError{err}
		}
		in.env = env
	}
	var only zoho.DataCenter
	if f.dc != "" {
		dc, err := zoho.ParseDataCenter(f.dc)
		if err != nil {
			return in, usageError{err}
		}
		only = dc
	}
	servers := oauth.AccountsServers()
	if len(f.accountsURLs) > 0 {
		servers = nil
		for _, dc := range zoho.DataCenters() {
			raw, ok := f.accountsURLs[string(dc)]
			if !ok {
				continue
			}
			u, err := zoho.CheckOverrideURL(raw)
			if err != nil {
				return in, usageError{fmt.Errorf("--zoho-accounts-url %s: %w", dc, err)}
			}
			servers = append(servers, oauth.AccountsServer{DataCenter: dc, URL: u})
		}
		if len(servers) != len(f.accountsURLs) {
			return in, usageError{errors.New("--zoho-accounts-url: want dc=URL with dc one of us, eu, in, au, jp, ca, sa, cn")}
		}
	}
	for _, s := range servers {
		if only == "" || s.DataCenter == only {
			in.servers = append(in.servers, s)
		}
	}
	if len(in.servers) == 0 {
		return in, usageError{fmt.Errorf("--dc %s has no accounts server among --zoho-accounts-url", only)}
	}
	if f.apiURL != "" {
		u, err := zoho.CheckOverrideURL(f.apiURL)
		if err != nil {
			return in, usageError{fmt.Errorf("--zoho-api-url: %w", err)}
		}
		in.apiURL = u
	}
	return in, nil
}

func runConnect(ctx context.Context, f connectFlags, stdin io.Reader, out io.Writer) error {
	in, err := f.input(stdin)
	if err != nil {
		return err
	}
	// The secret is read before the code is spent: a secret connect cannot
	// write must not cost the operator a code.
	sm, cur, err := f.d.openSecret(ctx)
	if err != nil {
		return err
	}

	hc := zoho.NewHTTPClient()
	g, err := oauth.ExchangeCode(ctx, hc, in.servers, in.clientID, in.clientSecret, in.code)
	if ge, ok := errors.AsType[*oauth.GrantError](err); ok {
		return fmt.Errorf("%s; the secret was not changed\nfix: %s", ge.Error(), ge.Fix())
	} else if err != nil {
		return err
	}
	dc := g.Server.DataCenter
	fmt.Fprintf(out, "Zoho: the client is in data centre %s (%s)", dc, g.Server.URL)
	if len(g.Skipped) > 0 {
		fmt.Fprintf(out, "; %s answered invalid_client to the client id alone and saw no secret", joinDataCenters(g.Skipped))
	}
	fmt.Fprintln(out, "\nZoho: the grant code gave a refresh token")

	env := in.env
	if env == "" {
		env = cur.environment()
	}
	apiURL := in.apiURL
	if apiURL == "" {
		apiURL = dc.APIURL(env)
	}
	checks, err := zoho.CheckScopes(ctx, hc, apiURL, g.AccessToken)
	if err != nil {
		return fmt.Errorf("the CRM at %s did not say which scopes the grant holds: %w; the secret was not changed\nfix: run connect again with a new code once the CRM answers", apiURL, err)
	}
	var rows [][]string
	var missing []string
	for _, c := range checks {
		granted := "yes"
		if !c.Granted {
			granted = "MISSING"
			missing = append(missing, c.Scope)
		}
		rows = append(rows, []string{c.Scope, granted, c.Use})
	}
	if err := printTable(out, []string{"SCOPE", "GRANTED", "NEEDED TO"}, rows); err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("the grant lacks %s; the secret was not changed\nfix: generate a new code with the scopes %s and run connect again",
			strings.Join(missing, " and "), strings.Join(zoho.RequiredScopes, ","))
	}

	next, report, err := cur.merge(in.clientID, in.clientSecret, g.RefreshToken, dc, in.env)
	if err != nil {
		return err
	}
	if err := writeSecret(ctx, sm, f.d.Secret, cur.exists, next); err != nil {
		return err
	}
	verb := "updated"
	if !cur.exists {
		verb = "created"
	}
	fmt.Fprintf(out, "secret %s %s: %s\n", f.d.Secret, verb, strings.Join(report, ", "))
	if cur.refreshToken() != "" && cur.refreshToken() != g.RefreshToken {
		fmt.Fprintln(out, "The previous refresh token still works until revoked (Zoho keeps 20 per client and user).")
	}
	fmt.Fprintln(out, "The functions read the secret again within 5 minutes.")
	fmt.Fprintf(out, "Next: leadconvert doctor %s\n", f.d.target())
	return nil
}

// target is how the next command names the same deployment.
func (d deployment) target() string {
	var b strings.Builder
	if d.Stack != "" {
		fmt.Fprintf(&b, "--stack %s", d.Stack)
	} else {
		fmt.Fprintf(&b, "--secret %s", d.Secret)
	}
	if d.Region != "" {
		fmt.Fprintf(&b, " --region %s", d.Region)
	}
	return b.String()
}

func joinDataCenters(dcs []zoho.DataCenter) string {
	s := make([]string, len(dcs))
	for i, dc := range dcs {
		s[i] = string(dc)
	}
	return strings.Join(s, ", ")
}

// currentSecret is the secret as connect found it.
type currentSecret struct {
	exists bool                       // the secret exists, with a value or not
	fields map[string]json.RawMessage // its value's fields; empty without one
}

// openSecret finds the deployment's secret (by flag or stack output) and
// reads its fields, for a command that will write it back.
func (d *deployment) openSecret(ctx context.Context) (*secretsmanager.Client, currentSecret, error) {
	cfg, err := d.awsConfig(ctx)
	if err != nil {
		return nil, currentSecret{}, err
	}
	if err := d.resolve(ctx, cfg); err != nil {
		return nil, currentSecret{}, err
	}
	if err := d.require("secret"); err != nil {
		return nil, currentSecret{}, err
	}
	sm := secretsmanager.NewFromConfig(cfg)
	cur, err := readSecret(ctx, sm, d.Secret)
	return sm, cur, err
}

// readSecret reads the secret's fields. A secret that does not exist is
// created later, unless it was named by ARN (its name is then unknown); a
// value that is not a JSON object is refused rather than overwritten.
func readSecret(ctx context.Context, sm *secretsmanager.Client, id string) (currentSecret, error) {
	cur := currentSecret{fields: map[string]json.RawMessage{}}
	_, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if _, ok := errors.AsType[*smtypes.ResourceNotFoundException](err); ok {
		if strings.HasPrefix(id, "arn:") {
			return cur, notFound("secret %s does not exist: pass --secret with a name to create it", id)
		}
		return cur, nil
	} else if err != nil {
		return cur, fmt.Errorf("reading secret %s: %w", id, err)
	}
	cur.exists = true
	v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if _, ok := errors.AsType[*smtypes.ResourceNotFoundException](err); ok {
		return cur, nil // no value yet
	} else if err != nil {
		return cur, fmt.Errorf("reading secret %s: %w", id, err)
	}
	raw := strings.TrimSpace(aws.ToString(v.SecretString))
	if raw == "" {
		return cur, nil
	}
	if err := json.Unmarshal([]byte(raw), &cur.fields); err != nil || cur.fields == nil {
		return cur, fmt.Errorf("secret %s does not hold a JSON object; connect will not overwrite it: mend or empty it first", id)
	}
	return cur, nil
}

func (c currentSecret) str(key string) string {
	var s string
	if json.Unmarshal(c.fields[key], &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

func (c currentSecret) refreshToken() string { return c.str("refresh_token") }

// environment is the secret's Zoho environment, production by default.
func (c currentSecret) environment() zoho.Environment {
	if env, err := zoho.ParseEnvironment(c.str("environment")); err == nil {
		return env
	}
	return zoho.Production
}

// merge returns the secret's new value and what changed, in words that
// hold no secret.
func (c currentSecret) merge(clientID, clientSecret, refreshToken string, dc zoho.DataCenter, env zoho.Environment) (string, []string, error) {
	next := make(map[string]any, len(c.fields)+5)
	for k, v := range c.fields {
		next[k] = v
	}
	next["client_id"] = clientID
	next["client_secret"] = clientSecret
	next["refresh_token"] = refreshToken
	next["data_center"] = string(dc)
	report := []string{"client_id set", "client_secret set", "refresh_token set", "data_center " + string(dc)}
	if env != "" {
		next["environment"] = string(env)
		report = append(report, "environment "+string(env))
	}
	if _, ok := c.fields["access_token"]; ok {
		delete(next, "access_token")
		report = append(report, "access_token removed")
	}
	switch _, present := c.fields["webhook_key"]; {
	case c.str("webhook_key") != "":
		report = append(report, "webhook_key kept")
	default:
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return "", nil, fmt.Errorf("generating a webhook key: %w", err)
		}
		next["webhook_key"] = base64.RawURLEncoding.EncodeToString(key)
		if present {
			report = append(report, "webhook_key generated (the old one was not a usable string)")
		} else {
			report = append(report, "webhook_key generated")
		}
	}
	b, err := json.Marshal(next)
	if err != nil {
		return "", nil, fmt.Errorf("encoding the secret: %w", err)
	}
	// What the functions will read must parse: check it as they do.
	if _, err := oauth.ParseSecret(string(b)); err != nil {
		return "", nil, fmt.Errorf("the new secret would not parse: %w", err)
	}
	return string(b), report, nil
}

func writeSecret(ctx context.Context, sm *secretsmanager.Client, id string, exists bool, value string) error {
	if exists {
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(value)}); err != nil {
			return fmt.Errorf("writing secret %s: %w", id, err)
		}
		return nil
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(value),
		Description: aws.String("Zoho self-client credentials and the API's webhook key, for leadconvert")}); err != nil {
		return fmt.Errorf("creating secret %s: %w", id, err)
	}
	return nil
}
