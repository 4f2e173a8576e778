package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/convertdeps"
	"github.com/zoho-bridge/leadconvert/pkg/aws/statusdeps"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
)

// TestOperatorSession follows the README's deploy section on moto and the
// Zoho simulator, command by command, as an operator types them: connect a
// fresh stack, check it, send a request, let the functions (their real
// handlers, wired as functions/*/main.go wires them) convert it, follow the
// leads, and look at a dead letter. Under -v it prints the session.
func TestOperatorSession(t *testing.T) {
	d := deploy(t, zohosim.Options{})
	// A fresh stack: its secret holds only the webhook key the template made.
	sm := secretsmanager.NewFromConfig(d.cfg)
	if _, err := sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(d.secret),
		SecretString: aws.String(`{"webhook_key":"` + testWebhookKey + `"}`)}); err != nil {
		t.Fatal(err)
	}
	stack := d.newStack()
	awsArgs := []string{"--stack", stack, "--region", d.cfg.Region, "--endpoint-url", *d.cfg.BaseEndpoint}
	zoho := []string{"--zoho-accounts-url", d.simURL, "--zoho-api-url", d.simURL}

	var session strings.Builder
	run := func(stdin string, want int, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		code := execute(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
		shown := strings.ReplaceAll(strings.Join(args, " "), strings.Join(awsArgs, " "), "--stack "+stack)
		shown = strings.ReplaceAll(shown, " "+strings.Join(zoho, " "), "")
		shown = strings.ReplaceAll(shown, " --zoho-accounts-url us="+d.simURL+" --zoho-api-url "+d.simURL, "")
		session.WriteString("$ leadconvert " + shown + "\n" + out.String() + errOut.String())
		if code != exitOK {
			session.WriteString("[exit " + strconv.Itoa(code) + "]\n")
		}
		session.WriteString("\n")
		for _, s := range append(d.sim.IssuedTokens(), testWebhookKey, zohosim.DefaultClientSecret) {
			if s != "" && strings.Contains(out.String()+errOut.String(), s) {
				t.Fatalf("leadconvert %s printed a secret", args[0])
			}
		}
		if code != want {
			t.Fatalf("leadconvert %s: exit %d, want %d\n%s", shown, code, want, session.String())
		}
		return out.String()
	}

	// 2. Connect Zoho with a self-client's grant code.
	t.Setenv("ZOHO_CLIENT_SECRET", zohosim.DefaultClientSecret)
	code := d.sim.GrantCode(3 * time.Minute)
	run("", exitOK, append([]string{"connect", "--client-id", zohosim.DefaultClientID, "--code", code,
		"--zoho-accounts-url", "us=" + d.simURL, "--zoho-api-url", d.simURL}, awsArgs...)...)
	// 3. Check it.
	run("", exitOK, append(append([]string{"doctor"}, awsArgs...), zoho...)...)
	// 4. Send a first request.
	opts := filepath.Join(t.TempDir(), "options.json")
	if err := os.WriteFile(opts, []byte(`{"assign_to": {"id": "`+zohotest.Owner+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	leads := d.sim.SeedLeadRange(3)
	d.sim.FailLeads(leads[2])
	run("", exitOK, append([]string{"submit", "--ids", strings.Join(leads, ","), "--options", opts}, awsArgs...)...)

	// The functions take it from there: the convert function reads the
	// queue, the status function follows the job to its end.
	fns := d.functions(t)
	fns.deliver(t)
	d.sim.Clock().(*zohosim.ManualClock).Advance(5 * time.Minute)
	fns.runStatus(t)

	// 5. Follow it.
	run("", exitOK, append([]string{"lead", leads[0]}, awsArgs...)...)
	// The simulator's clock is not today's: name the time.
	jobsOut := run("", exitOK, append([]string{"jobs", "--finished-since", zohotest.T0.Format(time.RFC3339)}, awsArgs...)...)
	job := regexp.MustCompile(`(?m)^(\d{19})\s`).FindStringSubmatch(jobsOut)
	if job == nil {
		t.Fatalf("no finished job listed:\n%s", session.String())
	}
	if shown := run("", exitOK, append([]string{"jobs", job[1]}, awsArgs...)...); strings.Count(shown, "  CONVERTED  ") != 2 ||
		!strings.Contains(shown, leads[2]+"  RETRYING") {
		t.Fatalf("the job's leads: want two converted and the failed one sent again:\n%s", shown)
	}
	run("", exitNotFound, append([]string{"lead", "3652397000099999999"}, awsArgs...)...)

	// 6. A producer's request the function can never convert goes to the
	// dead-letter queue; redrive shows it and leaves it.
	if _, err := sqs.NewFromConfig(d.cfg).SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &d.queue,
		MessageBody: awsString(`{"ids": ["0123"]}`)}); err != nil {
		t.Fatal(err)
	}
	fns.deliver(t)
	run("", exitOK, append([]string{"redrive"}, awsArgs...)...)
	t.Logf("the operator's session:\n\n%s", session.String())
}

func awsString(s string) *string { return &s }

// fleet is one convert and one status function on the deployment, wired as
// functions/*/main.go wires them.
type fleet struct {
	d       *deployed
	convert *app.Convert
	status  *app.Status
	sqs     *sqs.Client
}

func (d *deployed) functions(t *testing.T) *fleet {
	t.Helper()
	env := map[string]string{"ZOHO_SECRET_ID": d.secret, "JOBS_TABLE": d.table, "TOKEN_KEY_ID": d.key,
		"DEAD_LETTER_QUEUE_URL": d.dlq, "ZOHO_ACCOUNTS_URL": d.simURL, "ZOHO_API_URL": d.simURL,
		"DEFAULT_OWNER_ID": d.params["DefaultOwnerId"]} // as the template passes the stack's parameter
	get := func(k string) string { return env[k] }
	cc, err := config.LoadConvert(get)
	if err != nil {
		t.Fatal(err)
	}
	env["CONVERSION_QUEUE_URL"] = d.queue // the status function's, to send leads again
	sc, err := config.LoadStatus(get)
	if err != nil {
		t.Fatal(err)
	}
	// Wired as the functions' mains wire them, with every table request's
	// placeholders checked.
	check := func(api table.API) table.API { return awstest.CheckExpressions(t, api.(awstest.DynamoDB)) }
	shared := app.Shared{Now: d.sim.Clock().Now, Out: &bytes.Buffer{}}
	f := &fleet{d: d, sqs: sqs.NewFromConfig(d.cfg)}
	if f.convert, err = app.NewConvert(cc, convertdeps.New(d.cfg, cc, shared, check)); err != nil {
		t.Fatal(err)
	}
	if f.status, err = app.NewStatus(sc, statusdeps.New(d.cfg, sc, shared, check)); err != nil {
		t.Fatal(err)
	}
	return f
}

// deliver hands the queue's messages to the convert function, as the SQS
// event source does, and deletes those it does not hand back.
func (f *fleet) deliver(t *testing.T) {
	t.Helper()
	out, err := f.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &f.d.queue, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []testkit.SQSMessage
	for _, m := range out.Messages {
		msgs = append(msgs, testkit.SQSMessage{ID: *m.MessageId, Body: *m.Body})
	}
	if len(msgs) == 0 {
		t.Fatal("nothing on the queue")
	}
	res, err := f.convert.Invoke(context.Background(), testkit.SQSEvent(msgs...))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	for _, m := range out.Messages {
		if !strings.Contains(string(b), *m.MessageId) {
			if _, err := f.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &f.d.queue, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (f *fleet) runStatus(t *testing.T) {
	t.Helper()
	if _, err := f.status.Invoke(context.Background(), json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
}
