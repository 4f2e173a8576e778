package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/aws/secretstore"
	"github.com/zoho-bridge/leadconvert/pkg/aws/sqsqueue"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// testWebhookKey is the webhook key of the test secrets: the report must
// never show it.
const testWebhookKey = "wk-doctor-test-9f8e7d6c5b4a"

// deployed is a healthy deployment on moto and a Zoho simulator.
type deployed struct {
	t                              *testing.T
	cfg                            aws.Config
	table, secret, queue, dlq, key string
	sim                            *zohosim.Server
	simURL                         string
	params                         map[string]string // the stack's, for newStack
	outputs                        map[string]string // more outputs of newStack's stack
}

// deploy builds the parts of a deployment as the template would: the table
// from template.yaml with PITR on, the secret, the key, the queue that
// redrives to the DLQ. opts configure the simulator.
func deploy(t *testing.T, opts zohosim.Options) *deployed {
	t.Helper()
	cfg := awstest.Require(t)
	d := &deployed{t: t, cfg: cfg,
		table:  awstest.CreateTableFromTemplate(t, cfg, "JobsTable"),
		secret: awstest.CreateSecret(t, cfg, secretWith(zohotest.SecretJSON(testWebhookKey), nil)),
		key:    awstest.CreateKey(t, cfg),
		dlq:    awstest.CreateQueue(t, cfg),
		queue:  awstest.CreateQueue(t, cfg),
		params: map[string]string{"ZohoConcurrencyBudget": "8", "MaxZohoConcurrency": "4", "QueueMaximumConcurrency": "2",
			"StatusConcurrency": "5", "ConvertReservedConcurrency": "10", "StaleAfterHours": "24", "ZohoDataCenter": "us"},
	}
	d.setPITR(true)
	d.redrive(d.queue, d.dlq)
	opts.Clock = zohosim.NewManualClock(zohotest.T0)
	d.sim = zohosim.New(opts)
	var stop func()
	d.simURL, stop = d.sim.Start()
	t.Cleanup(stop)
	return d
}

// secretWith is base with fields set (a nil value deletes the field).
func secretWith(base string, fields map[string]any) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		panic(err)
	}
	for k, v := range fields {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (d *deployed) setPITR(on bool) {
	d.t.Helper()
	if _, err := dynamodb.NewFromConfig(d.cfg).UpdateContinuousBackups(d.t.Context(), &dynamodb.UpdateContinuousBackupsInput{
		TableName: aws.String(d.table), PointInTimeRecoverySpecification: &ddbtypes.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(on)},
	}); err != nil {
		d.t.Fatal(err)
	}
}

func (d *deployed) redrive(queue, dlq string) {
	d.t.Helper()
	client := sqs.NewFromConfig(d.cfg)
	a, err := client.GetQueueAttributes(d.t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlq),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		d.t.Fatal(err)
	}
	policy := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"10"}`, a.Attributes["QueueArn"])
	if _, err := client.SetQueueAttributes(d.t.Context(), &sqs.SetQueueAttributesInput{QueueUrl: aws.String(queue),
		Attributes: map[string]string{"RedrivePolicy": policy}}); err != nil {
		d.t.Fatal(err)
	}
}

// newStack creates a stack on moto whose outputs name the parts and whose
// parameters are d.params, and returns its name.
func (d *deployed) newStack() string {
	d.t.Helper()
	tmpl := map[string]any{
		"Resources": map[string]any{"Q": map[string]any{"Type": "AWS::SQS::Queue"}},
		"Outputs": map[string]any{
			"JobsTableName": map[string]any{"Value": d.table}, "SecretArn": map[string]any{"Value": d.secret},
			"QueueUrl": map[string]any{"Value": d.queue}, "DeadLetterQueueUrl": map[string]any{"Value": d.dlq},
			"TokenKeyArn": map[string]any{"Value": d.key}, "ApiUrl": map[string]any{"Value": "https://api.example.test"},
		},
	}
	for k, v := range d.outputs {
		tmpl["Outputs"].(map[string]any)[k] = map[string]any{"Value": v}
	}
	declared := map[string]any{}
	var params []cftypes.Parameter
	for k, v := range d.params {
		declared[k] = map[string]any{"Type": "String"}
		params = append(params, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	tmpl["Parameters"] = declared
	body, _ := json.Marshal(tmpl)
	name := awstest.UniqueName(d.t, "lc")
	if _, err := cloudformation.NewFromConfig(d.cfg).CreateStack(d.t.Context(), &cloudformation.CreateStackInput{
		StackName: aws.String(name), TemplateBody: aws.String(string(body)), Parameters: params}); err != nil {
		d.t.Fatal(err)
	}
	return name
}

// flags name the parts one by one; with stack, the stack names them.
func (d *deployed) args(stack string) []string {
	a := []string{"doctor", "--region", d.cfg.Region, "--endpoint-url", aws.ToString(d.cfg.BaseEndpoint),
		"--zoho-accounts-url", d.simURL, "--zoho-api-url", d.simURL}
	if stack != "" {
		return append(a, "--stack", stack)
	}
	return append(a, "--table", d.table, "--secret", d.secret, "--queue-url", d.queue, "--dlq-url", d.dlq, "--token-key", d.key)
}

// doctor runs the command and returns its exit code and report.
func (d *deployed) doctor(args []string) (int, string) {
	d.t.Helper()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), args, strings.NewReader(""), &out, &errOut)
	report := out.String() + errOut.String()
	d.t.Logf("leadconvert %s\n%s(exit %d)", strings.Join(args, " "), report, code)
	for _, secret := range append(d.sim.IssuedTokens(), testWebhookKey, zohosim.DefaultClientSecret, zohosim.DefaultRefreshToken) {
		if strings.Contains(report, secret) {
			d.t.Fatalf("the report shows a secret")
		}
	}
	return code, report
}

// line is the report's line of check, or "".
func line(report, check string) string {
	re := regexp.MustCompile(`(?m)^\S+\s+` + regexp.QuoteMeta(check) + `  .*$`)
	return re.FindString(report)
}

// TestDoctorHealthy: a healthy deployment, named by its stack, whose
// functions stored a sealed token, is all ok; doctor opens the token for the
// scopes probes and Zoho's accounts server sees no call.
func TestDoctorHealthy(t *testing.T) {
	d := deploy(t, zohosim.Options{})
	d.functionsToken()
	d.sim.ResetStats()
	code, report := d.doctor(d.args(d.newStack()))
	if code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	for _, check := range []string{"secret", "token", "credits", "scopes", "indexes", "ttl", "pitr", "queue", "dead letters", "open jobs", "stale jobs", "concurrency"} {
		if l := line(report, check); !strings.HasPrefix(l, "ok ") {
			t.Errorf("check %s: %q, want ok", check, l)
		}
	}
	if l := line(report, "token"); !strings.Contains(l, "sealed, live until") {
		t.Errorf("token line %q", l)
	}
	if got := d.sim.Stats().RefreshRequests; got != 0 {
		t.Fatalf("%d refreshes, want 0", got)
	}
}

// functionsToken has a function's Source obtain the shared token, as the
// convert function does on its first Zoho call: refreshed under the lease,
// sealed with the key, saved. It returns the Source's error.
func (d *deployed) functionsToken() error {
	d.t.Helper()
	raw, err := secretstore.New(secretsmanager.NewFromConfig(d.cfg), d.secret).Fetch(d.t.Context())
	if err != nil {
		d.t.Fatal(err)
	}
	src, err := oauth.NewSource(oauth.Config{
		Secret: secret.Static(raw), DataCenter: zoho.US, AccountsURL: d.simURL,
		Store: table.NewTokenStore(table.NewClient(d.cfg), d.table, kmsseal.New(kms.NewFromConfig(d.cfg), d.key)),
	})
	if err != nil {
		d.t.Fatal(err)
	}
	_, err = src.Token(d.t.Context())
	return err
}

// tokenItem returns the store key of the deployment's shared token item, as
// the functions derive it, and the item's state.
func (d *deployed) tokenItem() (string, table.TokenState) {
	d.t.Helper()
	raw, err := secretstore.New(secretsmanager.NewFromConfig(d.cfg), d.secret).Fetch(d.t.Context())
	if err != nil {
		d.t.Fatal(err)
	}
	peek := &peekStore{state: table.NewTokenStore(table.NewClient(d.cfg), d.table, nil)}
	src, err := oauth.NewSource(oauth.Config{Secret: secret.Static(raw), Store: peek, DataCenter: zoho.US, AccountsURL: d.simURL})
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := src.Shared(d.t.Context()); err != nil {
		d.t.Fatal(err)
	}
	return peek.key, peek.found
}

// TestDoctorReadsTheTokenWithoutOpeningIt: whatever the shared token item
// holds, doctor reports it without refreshing, and leaves the item as it
// was: no lease taken, none released.
func TestDoctorReadsTheTokenWithoutOpeningIt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, d *deployed)
		code   int
		token  []string // in the token line
		scopes string   // the scopes line's start
	}{
		{name: "no token stored", code: exitOK,
			token:  []string{"warn", "no shared token is stored", "the functions refresh one under the lease", "never refreshes"},
			scopes: "skip  scopes        no live shared token"},
		{name: "a live sealed token", code: exitOK,
			setup: func(t *testing.T, d *deployed) {
				if err := d.functionsToken(); err != nil {
					t.Fatal(err)
				}
			},
			token: []string{"ok", "sealed, live until", "CRM " + zohosim.DefaultAPIDomain}, scopes: "ok"},
		{name: "an expired sealed token", code: exitOK,
			setup: func(t *testing.T, d *deployed) {
				key, _ := d.tokenItem()
				store := table.NewTokenStore(table.NewClient(d.cfg), d.table, kmsseal.New(kms.NewFromConfig(d.cfg), d.key))
				now := time.Now()
				if ok, err := store.TryLease(t.Context(), key, "instance-1", 0, now, now.Add(30*time.Second)); !ok || err != nil {
					t.Fatalf("lease: %v %v", ok, err)
				}
				if ok, err := store.Save(t.Context(), key, "instance-1", oauth.Record{AccessToken: "1000.expired.token", ExpiresAt: now.Add(-time.Minute)}); !ok || err != nil {
					t.Fatalf("save: %v %v", ok, err)
				}
			},
			token: []string{"ok", "sealed, expired at", "the next Zoho call refreshes it"}, scopes: "skip  scopes        the shared token expired"},
		{name: "a lease held by an instance", code: exitOK,
			setup: func(t *testing.T, d *deployed) {
				key, _ := d.tokenItem()
				now := time.Now()
				store := table.NewTokenStore(table.NewClient(d.cfg), d.table, nil)
				if ok, err := store.TryLease(t.Context(), key, "instance-7", 0, now, now.Add(time.Minute)); !ok || err != nil {
					t.Fatalf("lease: %v %v", ok, err)
				}
			},
			token: []string{"warn", "no shared token is stored", "an instance holds the refresh lease until"}, scopes: "skip"},
		{name: "a refresh pause after Access Denied", code: exitFailed,
			setup: func(t *testing.T, d *deployed) {
				d.sim.Script(zohosim.EndpointToken, zohosim.Fault{Kind: zohosim.AccessDenied})
				if err := d.functionsToken(); err == nil {
					t.Fatal("the functions got a token through Access Denied")
				}
			},
			token: []string{"FAIL", "refreshing is paused until", "did not refresh", "fix: wait"}, scopes: "skip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deploy(t, zohosim.Options{})
			if tc.setup != nil {
				tc.setup(t, d)
			}
			_, before := d.tokenItem()
			d.sim.ResetStats()
			code, report := d.doctor(d.args(""))
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			l := line(report, "token")
			for _, w := range tc.token {
				if !strings.Contains(l, w) {
					t.Errorf("token line %q lacks %q", l, w)
				}
			}
			if l := line(report, "scopes"); !strings.HasPrefix(l, tc.scopes) {
				t.Errorf("scopes line %q, want it to start %q", l, tc.scopes)
			}
			if got := d.sim.Stats().Calls[zohosim.EndpointToken]; got != 0 {
				t.Errorf("the accounts server got %d calls from doctor, want 0", got)
			}
			if _, after := d.tokenItem(); after != before {
				t.Errorf("doctor changed the token item: %+v, was %+v", after, before)
			}
		})
	}
}

// TestExplainOpenError: a key policy's refusal names the roles that may
// open the token; other failures are reported as they are.
func TestExplainOpenError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("opening the shared token: %w", fmt.Errorf("kmsseal: decrypt: %w", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed"})),
			"only the convert and status functions' roles"},
		{fmt.Errorf("opening the shared token: %w", &smithy.GenericAPIError{Code: "DisabledException"}), "cannot open the shared token: "},
	} {
		if got := explainOpenError(tc.err); !strings.Contains(got, tc.want) {
			t.Errorf("explainOpenError(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestDoctorFindsProblems breaks one thing per case and expects exit 1 and
// the check's line to name the problem and the fix.
func TestDoctorFindsProblems(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  zohosim.Options
		stack bool
		setup func(t *testing.T, d *deployed)
		after func(t *testing.T, d *deployed, report string) // what else must hold after the run
		check string
		want  []string // in the check's line
	}{
		{name: "secret without refresh_token", check: "secret",
			setup: func(t *testing.T, d *deployed) {
				d.putSecret(secretWith(zohotest.SecretJSON(testWebhookKey), map[string]any{"refresh_token": nil}))
			},
			want: []string{"FAIL", "refresh_token: is missing", "fix: run leadconvert connect"}},
		{name: "secret with the template's placeholders", check: "secret",
			setup: func(t *testing.T, d *deployed) {
				d.putSecret(`{"client_id":"REPLACE_ME","client_secret":"REPLACE_ME","refresh_token":"REPLACE_ME","webhook_key":"` + testWebhookKey + `"}`)
			},
			want: []string{"FAIL", "client_id, client_secret, refresh_token still hold the template's placeholder", "leadconvert connect"}},
		{name: "secret without webhook_key", check: "secret",
			setup: func(t *testing.T, d *deployed) { d.putSecret(zohotest.SecretJSON("")) },
			want:  []string{"FAIL", "webhook_key: must be a non-empty string", "the API refuses every caller"}},
		{name: "a grant without leads.READ", check: "scopes", setup: storedToken,
			opts: zohosim.Options{Scopes: []string{"ZohoCRM.mass_convert.leads.CREATE", "ZohoCRM.mass_convert.leads.READ"}},
			want: []string{"FAIL", "lacks ZohoCRM.modules.leads.READ", "ZohoCRM.modules.leads.READ,ZohoCRM.coql.READ,ZohoCRM.settings.fields.READ and run leadconvert connect"}},
		{name: "a grant without coql.READ, and a sweep", check: "scopes",
			setup: func(t *testing.T, d *deployed) { storedToken(t, d); d.defineSweep() },
			opts:  zohosim.Options{Scopes: []string{"ZohoCRM.mass_convert.leads.CREATE", "ZohoCRM.mass_convert.leads.READ", "ZohoCRM.modules.leads.READ", "ZohoCRM.settings.fields.READ"}},
			want:  []string{"FAIL", "lacks ZohoCRM.coql.READ (1 defined sweep cannot select leads)", "ZohoCRM.coql.READ,ZohoCRM.settings.fields.READ and run leadconvert connect"}},
		{name: "a grant without settings.fields.READ, and a sweep", check: "scopes",
			setup: func(t *testing.T, d *deployed) { storedToken(t, d); d.defineSweep() },
			opts:  zohosim.Options{Scopes: []string{"ZohoCRM.mass_convert.leads.CREATE", "ZohoCRM.mass_convert.leads.READ", "ZohoCRM.modules.leads.READ", "ZohoCRM.coql.READ"}},
			want:  []string{"FAIL", "lacks ZohoCRM.settings.fields.READ (runs cannot record the fields of Leads"}},
		{name: "a grant without mass_convert.READ", check: "scopes", setup: storedToken,
			opts: zohosim.Options{Scopes: []string{"ZohoCRM.mass_convert.leads.CREATE", "ZohoCRM.modules.leads.READ"}},
			want: []string{"FAIL", "lacks ZohoCRM.mass_convert.leads.READ (the status function cannot follow jobs)"}},
		{name: "a table without the index", check: "indexes",
			setup: func(t *testing.T, d *deployed) { d.table = d.bareTable() },
			want:  []string{"FAIL", "has no open-checks index", "sam deploy"},
			after: func(t *testing.T, _ *deployed, report string) {
				if l := line(report, "open jobs"); !strings.HasPrefix(l, "skip") {
					t.Errorf("open jobs without the index: %q, want skip", l)
				}
			}},
		{name: "a table without TTL", check: "ttl",
			setup: func(t *testing.T, d *deployed) { d.table = d.bareTable() },
			want:  []string{"FAIL", "TTL is DISABLED:", "update-time-to-live"}},
		{name: "a table without PITR", check: "pitr",
			setup: func(t *testing.T, d *deployed) { d.setPITR(false) },
			want:  []string{"FAIL", "point-in-time recovery is DISABLED", "update-continuous-backups"}},
		{name: "a queue that does not redrive", check: "queue",
			setup: func(t *testing.T, d *deployed) { d.queue = awstest.CreateQueue(t, d.cfg) },
			want:  []string{"FAIL", "does not redrive to the dead-letter queue"}},
		{name: "dead letters", check: "dead letters",
			setup: func(t *testing.T, d *deployed) {
				dl := sqsqueue.NewDeadLetter(sqs.NewFromConfig(d.cfg), d.dlq)
				for _, l := range []sqsbatch.Letter{{Code: "INVALID_DATA", Reason: "$.ids[0]: not a Zoho record id"}, {Code: "JOB_NOT_RECORDED", Reason: "the table could not be written"}} {
					if err := dl.Send(t.Context(), `{"ids":["x"]}`, l); err != nil {
						t.Fatal(err)
					}
				}
			},
			want: []string{"FAIL", "2 waiting", "INVALID_DATA 1", "JOB_NOT_RECORDED 1", "leadconvert redrive"},
			after: func(t *testing.T, d *deployed, _ string) {
				a, err := sqs.NewFromConfig(d.cfg).GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(d.dlq),
					AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
				if err != nil {
					t.Fatal(err)
				}
				if n := a.Attributes["ApproximateNumberOfMessages"]; n != "2" {
					t.Errorf("after peeking, %s dead letters visible, want both back at once", n)
				}
			}},
		{name: "an open job past the stale limit", check: "open jobs",
			setup: func(t *testing.T, d *deployed) { d.recordJob("4150868000001234567", jobs.Scheduled, 30*time.Hour) },
			want:  []string{"FAIL", "1 open, 1 past the stale limit of 24h0m0s (4150868000001234567)", "status function"}},
		{name: "a job that ended STALE", check: "stale jobs",
			setup: func(t *testing.T, d *deployed) { d.recordJob("4150868000007654321", jobs.Stale, 25*time.Hour) },
			want:  []string{"warn", "1 ended STALE (4150868000007654321)", "items scanned: "}},
		{name: "reserved concurrency below the queues", check: "concurrency", stack: true,
			setup: func(t *testing.T, d *deployed) { d.params["ConvertReservedConcurrency"] = "3" },
			want:  []string{"FAIL", "ConvertReservedConcurrency 3 < 2 queue + 2 wake-up instances + 1", "at least 5"}},
		{name: "no budget and caps over Zoho's 10", check: "concurrency", stack: true,
			setup: func(t *testing.T, d *deployed) { delete(d.params, "ZohoConcurrencyBudget") },
			want:  []string{"FAIL", "(2 queue + 2 wake-up instances) x 4 + 5 status = 21 calls in flight, over Zoho's 10", "ZohoConcurrencyBudget"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deploy(t, tc.opts)
			if tc.setup != nil {
				tc.setup(t, d)
			}
			stack := ""
			if tc.stack {
				stack = d.newStack()
			}
			code, report := d.doctor(d.args(stack))
			if code != exitFailed && tc.want[0] == "FAIL" {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			l := line(report, tc.check)
			for _, w := range tc.want {
				if !strings.Contains(l, w) {
					t.Errorf("line %q lacks %q", l, w)
				}
			}
			if tc.after != nil {
				tc.after(t, d, report)
			}
		})
	}
}

// TestDoctorCOQLOnlyForSweeps: a grant from before sweeps, without
// ZohoCRM.coql.READ, passes while no sweep is defined, and the scope is
// probed (and found) once one is.
func TestDoctorCOQLOnlyForSweeps(t *testing.T) {
	d := deploy(t, zohosim.Options{Scopes: []string{"ZohoCRM.mass_convert.leads.CREATE", "ZohoCRM.mass_convert.leads.READ", "ZohoCRM.modules.leads.READ"}})
	storedToken(t, d)
	if _, report := d.doctor(d.args("")); !strings.HasPrefix(line(report, "scopes"), "ok ") || d.sim.Stats().Calls[zohosim.EndpointCOQL] != 0 {
		t.Fatalf("no sweep: %q, %d COQL calls", line(report, "scopes"), d.sim.Stats().Calls[zohosim.EndpointCOQL])
	}
	d2 := deploy(t, zohosim.Options{})
	storedToken(t, d2)
	d2.defineSweep()
	if _, report := d2.doctor(d2.args("")); !strings.Contains(line(report, "scopes"), "ZohoCRM.coql.READ") || !strings.HasPrefix(line(report, "scopes"), "ok ") {
		t.Fatalf("a sweep and the scope: %q", line(report, "scopes"))
	}
}

// defineSweep stores a sweep in the table, as sweep create does.
func (d *deployed) defineSweep() {
	d.t.Helper()
	if err := table.NewJobStore(table.NewClient(d.cfg), d.table).PutSweep(d.t.Context(), sweep.Sweep{Name: "nightly",
		Schedule: "rate(1 day)", TimeZone: "UTC", Condition: "Lead_Status = 'Qualified'", MaxLeads: 10, Enabled: true}); err != nil {
		d.t.Fatal(err)
	}
}

// storedToken has the functions store a sealed token, as before any
// check of the scopes.
func storedToken(t *testing.T, d *deployed) {
	t.Helper()
	if err := d.functionsToken(); err != nil {
		t.Fatal(err)
	}
}

// TestDoctorUsage: what the command line lacks is a usage error (exit 2).
func TestDoctorUsage(t *testing.T) {
	awstest.Require(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"doctor", "--region", "us-east-1"}, "no --table"},
		{[]string{"doctor", "extra"}, "accepts 0 arg"},
		{[]string{"doctor", "--region", "us-east-1", "--table", "t", "--secret", "s", "--queue-url", "q", "--dlq-url", "d", "--scan-limit", "0"}, "--scan-limit 0"},
		{[]string{"doctor", "--region", "us-east-1", "--table", "t", "--secret", "s", "--queue-url", "q", "--dlq-url", "d"}, "no --token-key"},
		{[]string{"doctor", "--region", "us-east-1", "--table", "t", "--secret", "s", "--queue-url", "q", "--dlq-url", "d", "--token-key", "k",
			"--zoho-accounts-url", "http://accounts.example.test"}, "--zoho-accounts-url"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := execute(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
			if code != exitUsage || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut.String(), exitUsage, tc.want)
			}
		})
	}
}

func (d *deployed) putSecret(value string) {
	d.t.Helper()
	d.secret = awstest.CreateSecret(d.t, d.cfg, value)
}

// bareTable is a table keyed like the template's but without its indexes,
// TTL or PITR.
func (d *deployed) bareTable() string {
	d.t.Helper()
	name := awstest.UniqueName(d.t, "bare")
	client := dynamodb.NewFromConfig(d.cfg)
	if _, err := client.CreateTable(d.t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

// recordJob records a job created age ago, as the convert function does,
// and for a terminal state saves its end as the status function does.
func (d *deployed) recordJob(id string, state jobs.State, age time.Duration) {
	d.t.Helper()
	store := table.NewJobStore(awstest.CheckExpressions(d.t, table.NewClient(d.cfg)), d.table)
	created := time.Now().Add(-age)
	job := jobs.Job{ID: id, State: jobs.Scheduled, LeadIDs: []string{"4150868000000000001"}, Fingerprint: "f", Options: "{}",
		APIVersion: "v7", CreatedAt: created, UpdatedAt: created, NextCheckAt: created.Add(time.Minute)}
	if err := store.RecordJob(d.t.Context(), job, time.Now().Add(30*24*time.Hour)); err != nil {
		d.t.Fatal(err)
	}
	if state.Open() {
		return
	}
	job.State, job.Reason, job.NextCheckAt, job.UpdatedAt = state, "open longer than 24h", time.Time{}, time.Now()
	job.ExpiresAt, job.Version = time.Now().Add(30*24*time.Hour), 2
	if err := store.SaveCheck(d.t.Context(), job, 1); err != nil {
		d.t.Fatal(err)
	}
}
