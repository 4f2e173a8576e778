package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/httpapi"
)

// apiTimeout bounds one POST /conversions: API Gateway answers within 30 s.
const apiTimeout = 35 * time.Second

// submitOptions are submit's flags.
type submitOptions struct {
	ids, idsFile, options, to string
}

func newSubmitCmd() *cobra.Command {
	var (
		d     deployment
		rules requestRules
		o     submitOptions
	)
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Send a conversion request to the queue or the API",
		Long: `submit sends a conversion request: the lead ids from --ids (comma separated), from
--ids-file, or from standard input (one per line or comma separated; duplicates dropped),
and the options from --options, a JSON object in Zoho's mass_convert shape without ids
(assign_to, Deals, carry_over_tags, ...).

The request is checked first with the convert function's own decoder and the stack's
ZohoApiVersion and DefaultOwnerId (or --api-version and --default-owner): a request the
function would refuse is not sent, and the command exits 2 with the decoder's message.
More than 1,000 ids are split into requests of 1,000, all checked before any is sent.

--to queue (the default) puts each request on the conversion queue (SendMessage) and
prints its message id; --to api posts it to the HTTP API's POST /conversions with the
webhook key read from the secret (never printed) and prints the request_id of the 202
answer. The API URL must be https (plain http only for a loopback host, such as
a local run), and redirects are not followed, so the key goes to that host alone.
Standard output holds one id per line and nothing else; how to follow them goes
to stderr.`,
		Example: `  leadconvert submit --stack leadconvert --ids 3652397000001000001,3652397000001000002 --options options.json
  leadconvert submit --stack leadconvert --ids-file leads.txt --options options.json --to api
  cut -d, -f1 leads.csv | leadconvert submit --stack leadconvert --options options.json

  options.json: {"assign_to": {"id": "3652397000000186017"}, "Deals": {"Deal_Name": "Webinar",
                 "Stage": "Qualification", "Closing_Date": "2026-12-31"}}`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.to != "queue" && o.to != "api" {
				return usageError{fmt.Errorf("--to %q: want queue or api", o.to)}
			}
			ids, dropped, err := o.readIDs(cmd.InOrStdin())
			if err != nil {
				return err
			}
			opts, err := o.readOptions()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cfg, err := d.awsConfig(ctx)
			if err != nil {
				return err
			}
			if err := d.resolve(ctx, cfg); err != nil {
				return err
			}
			if o.to == "queue" {
				err = d.require("queue-url")
			} else {
				err = d.require("api-url", "secret")
			}
			if err != nil {
				return err
			}
			if o.to == "api" {
				// Before the secret is read: a key must never head for a
				// host it could be read on the way to.
				if err := checkAPIURL(d.APIURL); err != nil {
					return usageError{err}
				}
			}
			dec, err := rules.decoder(d.Params)
			if err != nil {
				return err
			}
			bodies, err := requestBodies(dec, ids, opts)
			if err != nil {
				return err
			}
			if dropped > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s dropped.\n", plural(dropped, "duplicate id"))
			}
			s := &submitter{out: cmd.OutOrStdout(), info: cmd.ErrOrStderr(), bodies: bodies, leads: len(ids)}
			if o.to == "queue" {
				return s.toQueue(ctx, sqs.NewFromConfig(cfg), d.QueueURL)
			}
			key, err := webhookKeyOf(ctx, secretsmanager.NewFromConfig(cfg), d.Secret)
			if err != nil {
				return err
			}
			return s.toAPI(ctx, apiClient(), d.APIURL, key)
		},
	}
	f := cmd.Flags()
	d.addAWSFlags(cmd)
	rules.addFlags(cmd)
	f.StringVar(&o.ids, "ids", "", "lead ids, comma separated")
	f.StringVar(&o.idsFile, "ids-file", "", "file of lead ids, one per line or comma separated (default: standard input)")
	f.StringVar(&o.options, "options", "", "JSON file of the request's options: Zoho's mass_convert shape without ids")
	f.StringVar(&o.to, "to", "queue", "where to send: queue (the conversion queue) or api (POST /conversions)")
	return cmd
}

// readIDs gathers the ids from --ids, --ids-file or stdin, in order, without
// duplicates; dropped counts the duplicates.
func (o *submitOptions) readIDs(stdin io.Reader) (ids []string, dropped int, err error) {
	var raw string
	switch {
	case o.ids != "" && o.idsFile != "":
		return nil, 0, usageError{errors.New("--ids and --ids-file: give one of them")}
	case o.ids != "":
		raw = o.ids
	default:
		src, name := stdin, "standard input"
		if o.idsFile != "" {
			f, err := os.Open(o.idsFile)
			if err != nil {
				return nil, 0, usageError{fmt.Errorf("--ids-file: %w", err)}
			}
			defer f.Close()
			src, name = f, o.idsFile
		} else if isTerminal(stdin) {
			return nil, 0, usageError{errors.New("no ids: pass --ids or --ids-file, or pipe them to standard input")}
		}
		b, err := io.ReadAll(src)
		if err != nil {
			return nil, 0, fmt.Errorf("reading ids from %s: %w", name, err)
		}
		raw = string(b)
	}
	seen := map[string]bool{}
	for _, id := range strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		if seen[id] {
			dropped++
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, 0, usageError{errors.New("no ids given")}
	}
	return ids, dropped, nil
}

// isTerminal reports whether r is a terminal, where nobody is piping ids.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// readOptions reads --options: a JSON object without ids.
func (o *submitOptions) readOptions() (map[string]json.RawMessage, error) {
	opts := map[string]json.RawMessage{}
	if o.options == "" {
		return opts, nil
	}
	b, err := os.ReadFile(o.options)
	if err != nil {
		return nil, usageError{fmt.Errorf("--options: %w", err)}
	}
	if err := json.Unmarshal(b, &opts); err != nil || opts == nil {
		return nil, usageError{fmt.Errorf("--options %s: want a JSON object in Zoho's mass_convert shape without ids", o.options)}
	}
	if _, ok := opts["ids"]; ok {
		return nil, usageError{fmt.Errorf("--options %s: has ids; the ids come from --ids, --ids-file or standard input", o.options)}
	}
	return opts, nil
}

// requestBodies cuts ids into requests of convert.MaxIDs with opts, and
// checks each with the function's decoder: all are valid, or none is sent.
func requestBodies(dec *convert.Decoder, ids []string, opts map[string]json.RawMessage) ([]string, error) {
	var bodies []string
	n := (len(ids) + convert.MaxIDs - 1) / convert.MaxIDs
	for chunk := range slices.Chunk(ids, convert.MaxIDs) {
		req := map[string]any{"ids": chunk}
		for k, v := range opts {
			req[k] = v
		}
		body, err := json.Marshal(req)
		if err != nil {
			return nil, usageError{fmt.Errorf("--options: %w", err)}
		}
		if _, err := dec.JSON(body); err != nil {
			if n > 1 {
				// $.ids[k] counts within this request.
				err = fmt.Errorf("request %d of %d (ids %d to %d): %w", len(bodies)+1, n,
					len(bodies)*convert.MaxIDs+1, len(bodies)*convert.MaxIDs+len(chunk), err)
			}
			return nil, usageError{err}
		}
		bodies = append(bodies, string(body))
	}
	return bodies, nil
}

// submitter sends the requests and prints their ids.
type submitter struct {
	out, info io.Writer
	bodies    []string
	leads     int
}

// notAll wraps the failure of request i, saying which were sent already.
func (s *submitter) notAll(i int, err error) error {
	if i == 0 {
		return err
	}
	return fmt.Errorf("requests 1 to %d were sent (ids printed above), request %d and later were not (from id %d on): %w",
		i, i+1, i*convert.MaxIDs+1, err)
}

func (s *submitter) toQueue(ctx context.Context, api *sqs.Client, url string) error {
	for i, body := range s.bodies {
		out, err := api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
		if err != nil {
			return s.notAll(i, fmt.Errorf("sending to the conversion queue: %w", err))
		}
		fmt.Fprintln(s.out, aws.ToString(out.MessageId))
	}
	fmt.Fprintf(s.info, "Queued %s in %s (ids above). A queued message has no request record: follow its leads with\n"+
		"  leadconvert lead <lead id>\n", plural(s.leads, "lead"), plural(len(s.bodies), "message"))
	return nil
}

// apiClient is the client that carries the webhook key. It follows no
// redirect: Go's client would resend the X-Webhook-Key header to wherever a
// Location points on the same domain and its subdomains, and API Gateway
// never redirects POST /conversions, so a redirect means something else
// answered.
func apiClient() *http.Client {
	return &http.Client{
		Timeout:       apiTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkAPIURL admits https URLs, and plain http only to a loopback host
// (127.0.0.0/8, ::1, localhost), where the key never leaves the machine.
func checkAPIURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--api-url: %w", err)
	}
	if u.Host == "" || u.User != nil {
		return fmt.Errorf("--api-url %q: want https://host[/stage] without credentials", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("--api-url %q: plain http would send the webhook key in clear; use https (http only for a loopback host)", raw)
	}
	return fmt.Errorf("--api-url %q: scheme must be https", raw)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// apiAnswer is what the API answers, 202 or an error.
type apiAnswer struct {
	RequestID string `json:"request_id"`
	Code      string `json:"code"`
	Message   string `json:"message"`
}

func (s *submitter) toAPI(ctx context.Context, client *http.Client, apiURL, key string) error {
	endpoint := strings.TrimRight(apiURL, "/") + "/conversions"
	var last string
	for i, body := range s.bodies {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
		if err != nil {
			return usageError{fmt.Errorf("--api-url: %w", err)}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(httpapi.KeyHeader, key)
		res, err := client.Do(req)
		if err != nil {
			return s.notAll(i, fmt.Errorf("POST %s: %w", endpoint, err))
		}
		raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		if err != nil {
			return s.notAll(i, fmt.Errorf("POST %s: reading the answer: %w", endpoint, err))
		}
		if loc := res.Header.Get("Location"); res.StatusCode >= 300 && res.StatusCode < 400 {
			return s.notAll(i, fmt.Errorf("POST %s: the answer was a redirect (%d) to %q, not followed: the webhook key goes only to --api-url; check the URL (stack output ApiUrl)",
				endpoint, res.StatusCode, shorten(loc, 200)))
		}
		var ans apiAnswer
		_ = json.Unmarshal(bytes.TrimSpace(raw), &ans) // an answer not in our shape leaves it empty
		if res.StatusCode != http.StatusAccepted || ans.RequestID == "" {
			return s.notAll(i, apiRefusal(res.StatusCode, ans))
		}
		last = ans.RequestID
		fmt.Fprintln(s.out, ans.RequestID)
	}
	fmt.Fprintf(s.info, "Accepted %s in %s (request ids above). Follow one with\n  leadconvert request %s\n",
		plural(s.leads, "lead"), plural(len(s.bodies), "request"), last)
	return nil
}

// apiRefusal explains an answer other than 202, with what to do.
func apiRefusal(status int, ans apiAnswer) error {
	what := fmt.Sprintf("the API answered %d %s", status, http.StatusText(status))
	if ans.Code != "" {
		what += fmt.Sprintf(" (%s: %s)", ans.Code, shorten(ans.Message, 300))
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		what += "; the API does not take the secret's webhook_key: was the secret changed in the last 5 minutes (the authorizer caches a key)?"
	case status == http.StatusTooManyRequests || status >= 500:
		what += "; nothing was accepted: send it again later"
	case status == http.StatusBadRequest:
		what += "; the deployment judges requests with other settings than --api-version and --default-owner (or the stack's)"
	}
	return errors.New(what)
}

// webhookKeyOf reads the API's key from the secret. It is never printed.
func webhookKeyOf(ctx context.Context, api *secretsmanager.Client, secretID string) (string, error) {
	out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		return "", fmt.Errorf("reading the secret %s: %w", secretID, err)
	}
	var fields struct {
		WebhookKey string `json:"webhook_key"`
	}
	if json.Unmarshal([]byte(aws.ToString(out.SecretString)), &fields) != nil || strings.TrimSpace(fields.WebhookKey) == "" {
		return "", fmt.Errorf("the secret %s has no usable webhook_key (a non-empty string); leadconvert connect writes one", secretID)
	}
	return strings.TrimSpace(fields.WebhookKey), nil
}
