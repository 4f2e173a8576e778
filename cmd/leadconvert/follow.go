package main

// leadconvert jobs, lead and request: what the HTTP API's GET routes show,
// read from the table with the operator's AWS credentials instead of the
// webhook key. The views come from package outcome, as the API's do.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/outcome"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// output is the --output flag: a table for people, JSON for scripts.
type output string

func (o *output) add(cmd *cobra.Command) {
	*o = "table"
	cmd.Flags().StringVarP((*string)(o), "output", "o", "table", "table (for people) or json (for scripts)")
}

func (o output) check() error {
	if o != "table" && o != "json" {
		return usageError{fmt.Errorf("--output %q: want table or json", string(o))}
	}
	return nil
}

func (o output) json() bool { return o == "json" }

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// openTable is the deployment's job store and the client under it.
func openTable(ctx context.Context, d *deployment) (*table.JobStore, *dynamodb.Client, error) {
	cfg, err := d.awsConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := d.resolve(ctx, cfg); err != nil {
		return nil, nil, err
	}
	if err := d.require("table"); err != nil {
		return nil, nil, err
	}
	client := table.NewClient(cfg)
	return table.NewJobStore(client, d.Table), client, nil
}

const followLong = `It reads the deployment's DynamoDB table (--stack, or --table) with your AWS
credentials and changes nothing. Lead states are those of the HTTP API's GET routes,
derived the same way:
  QUEUED         waiting to fill a call, or not yet seen
  SCHEDULED      in a job Zoho has not finished
  IN_DOUBT       its call's answer was lost: it will be read back from Zoho
  CONVERTED      Zoho converted it (read back), or had converted it already
  NOT_CONVERTED  its job ended without converting it
  RETRYING       not converted in its job, sent again
  STALE          its job was given up on: look at it in Zoho
  REJECTED       Zoho refused it, or did not convert it in its last attempt
  DEAD_LETTERED  its request could not be converted (the reason says why)`

func newLeadCmd() *cobra.Command {
	var (
		d   deployment
		out output
	)
	cmd := &cobra.Command{
		Use:   "lead ID",
		Short: "Show what became of one lead: its state, attempts, job and the requests behind it",
		Long: `lead shows one lead as GET /leads/{id} does: its state, the calls that carried it,
the job its claim points at (state, counts, checks), what Zoho made of it (contact, account
and deal ids, when Zoho said), and the requests (API request ids, SQS message ids) behind
that job. It exits 3 when the table has no record of the lead: never sent, free to be sent
again (its job did not convert it), or older than the retention.

` + followLong,
		Example: `  leadconvert lead 3652397000012345001 --stack leadconvert
  leadconvert lead 3652397000012345001 --table leadconvert-jobs --region eu-west-1 -o json`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if !zoho.IsRecordID(id) {
				return usageError{fmt.Errorf("lead id %q: want Zoho's numeric record id", id)}
			}
			if err := out.check(); err != nil {
				return err
			}
			st, _, err := openTable(cmd.Context(), &d)
			if err != nil {
				return err
			}
			rep, err := outcome.OfLead(cmd.Context(), st, id)
			switch {
			case errors.Is(err, outcome.ErrNoRecord):
				return notFound("lead %s: no record: never sent, free to be sent again (its job did not convert it), or older than the retention", id)
			case err != nil:
				return err
			case out.json():
				return writeJSONTo(cmd.OutOrStdout(), rep)
			}
			return printLead(cmd.OutOrStdout(), rep)
		},
	}
	d.addAWSFlags(cmd)
	out.add(cmd)
	return cmd
}

func printLead(w io.Writer, rep outcome.LeadReport) error {
	fields := [][2]string{{"lead", rep.ID}, {"state", rep.State}, {"reason", rep.Reason},
		{"attempts", strconv.Itoa(rep.Attempts)}, {"job", rep.JobID},
		{"contact", rep.ContactID}, {"account", rep.AccountID}, {"deal", rep.DealID}}
	if j := rep.Job; j != nil {
		fields = append(fields, [2]string{"job state", jobStateLine(*j)}, [2]string{"job leads", countsLine(*j)},
			[2]string{"job checks", checksLine(*j, time.Now())})
		if j.Reason != "" {
			fields = append(fields, [2]string{"job reason", j.Reason})
		}
	}
	if len(rep.Sources) > 0 {
		fields = append(fields, [2]string{"requests", strings.Join(rep.Sources, ", ")})
	}
	return printFields(w, fields)
}

func newRequestCmd() *cobra.Command {
	var (
		d   deployment
		out output
	)
	cmd := &cobra.Command{
		Use:   "request ID",
		Short: "Show what became of every lead of one API request",
		Long: `request shows the leads of one request accepted by POST /conversions (its request_id),
as GET /requests/{id} does: each lead with its state, job, attempts and reason, and a count
by state. It exits 3 when the table has no such request (or it is older than the retention).

` + followLong,
		Example: `  leadconvert request Xk3vQjRAIAMEbWQ= --stack leadconvert
  leadconvert request Xk3vQjRAIAMEbWQ= --stack leadconvert -o json | jq .counts`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if !jobs.IsRequestID(id) {
				return usageError{fmt.Errorf("request id %q: want the request_id of a POST /conversions answer", id)}
			}
			if err := out.check(); err != nil {
				return err
			}
			st, _, err := openTable(cmd.Context(), &d)
			if err != nil {
				return err
			}
			rep, err := outcome.OfRequest(cmd.Context(), st, id)
			switch {
			case errors.Is(err, jobs.ErrNotFound):
				return notFound("request %s: no such request (or it is older than the retention)", id)
			case err != nil:
				return err
			case out.json():
				return writeJSONTo(cmd.OutOrStdout(), rep)
			}
			return printRequest(cmd.OutOrStdout(), rep)
		},
	}
	d.addAWSFlags(cmd)
	out.add(cmd)
	return cmd
}

func printRequest(w io.Writer, rep outcome.RequestReport) error {
	if err := printFields(w, [][2]string{{"request", rep.RequestID},
		{"created", rep.CreatedAt.UTC().Format(time.RFC3339)}, {"leads", countsByState(rep.Counts, len(rep.Leads))}}); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return printLeads(w, rep.Leads)
}

// countsByState is "3: CONVERTED 2, RETRYING 1", in the order of the
// states' life.
func countsByState(counts map[string]int, total int) string {
	parts := []string{}
	for _, s := range []string{outcome.Queued, outcome.Scheduled, outcome.InDoubt, outcome.Retrying, outcome.Converted,
		outcome.NotConverted, outcome.Stale, outcome.Rejected, outcome.DeadLettered} {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	return fmt.Sprintf("%d: %s", total, strings.Join(parts, ", "))
}

func printLeads(w io.Writer, leads []outcome.Lead) error {
	rows := make([][]string, len(leads))
	for i, l := range leads {
		rows[i] = []string{l.ID, l.State, dash(l.JobID), strconv.Itoa(l.Attempts), dash(l.ContactID), dash(l.Reason)}
	}
	return printTable(w, []string{"LEAD", "STATE", "JOB", "ATTEMPTS", "CONTACT", "REASON"}, rows)
}

const jobsLong = `jobs lists the deployment's jobs (Zoho mass-convert jobs, and calls in doubt, whose ids
start with doubt-), or, given an ID, shows one job with each of its leads as
GET /conversions/{id} does (exit 3 when the table has no such job).

  --open (the default)  the open jobs, from the table's open-checks index: one Query of
                        small entries, then the jobs themselves; cheap. NEXT CHECK is when
                        the status function looks at the job again ("overdue" when it is
                        late: is the status function running?).
  --stale               jobs the status function gave up on (open longer than
                        STALE_AFTER_HOURS): look at them in Zoho.
  --finished-since T    jobs that ended since T: a duration (24h, 90m) back from now, or an
                        RFC 3339 time (2026-03-01T09:00:00Z). With --stale, the stale ones.

Ended jobs are in no index, so --stale and --finished-since SCAN the table: DynamoDB reads
(and bills) every item, claims and requests included, whatever the filter keeps, about one
read unit per 8 KB (some 131,000 per GB of table), in 1 MB pages, until --limit jobs are
found. The scan's size is printed on stderr; when the limit stopped it, the jobs shown are
the first found, not necessarily the newest. It changes nothing.`

func newJobsCmd() *cobra.Command {
	var (
		d             deployment
		out           output
		open, stale   bool
		finishedSince string
		limit         int
	)
	cmd := &cobra.Command{
		Use:   "jobs [ID]",
		Short: "List open, stale or recently finished jobs, or show one job with its leads",
		Long:  jobsLong + "\n\n" + followLong,
		Example: `  leadconvert jobs --stack leadconvert
  leadconvert jobs --stack leadconvert --finished-since 24h --limit 200
  leadconvert jobs --stack leadconvert --stale -o json
  leadconvert jobs 3652397000009835001 --stack leadconvert`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MaximumNArgs(1)(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			if limit < 1 {
				return usageError{fmt.Errorf("--limit %d: want at least 1", limit)}
			}
			list := listOpen
			var since time.Time
			switch {
			case len(args) == 1 && (open || stale || finishedSince != ""):
				return usageError{errors.New("a job ID shows that job: leave out --open, --stale and --finished-since")}
			case len(args) == 1:
				if !jobs.IsJobID(args[0]) {
					return usageError{fmt.Errorf("job id %q: want Zoho's numeric job id, or doubt-... for a call in doubt", args[0])}
				}
			case open && (stale || finishedSince != ""):
				return usageError{errors.New("--open lists open jobs: leave out --stale and --finished-since")}
			case finishedSince != "":
				t, err := parseSince(finishedSince, time.Now())
				if err != nil {
					return usageError{err}
				}
				since, list = t, listFinished
			case stale:
				list = listFinished
			}
			st, client, err := openTable(cmd.Context(), &d)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if len(args) == 1 {
				return showJob(cmd.Context(), w, st, args[0], out)
			}
			if list == listOpen {
				js, err := st.OpenJobs(cmd.Context())
				if err != nil {
					return err
				}
				return printJobs(w, js, list, out)
			}
			q := table.FinishedQuery{Since: since, Limit: limit}
			if stale {
				q.State = jobs.Stale
			}
			res, err := st.FinishedJobs(cmd.Context(), client, q)
			if err != nil {
				return err
			}
			note := fmt.Sprintf("scanned %d items in %d page(s) of the table", res.Scanned, res.Pages)
			if res.More {
				note += fmt.Sprintf("; stopped at --limit %d: more jobs may have ended, newer ones included", limit)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), note)
			return printJobs(w, res.Jobs, list, out)
		},
	}
	d.addAWSFlags(cmd)
	out.add(cmd)
	f := cmd.Flags()
	f.BoolVar(&open, "open", false, "list the open jobs, from the open-checks index (the default)")
	f.BoolVar(&stale, "stale", false, "list the jobs that ended STALE (scans the table)")
	f.StringVar(&finishedSince, "finished-since", "", "list the jobs that ended since a duration ago (24h) or an RFC 3339 time (scans the table)")
	f.IntVar(&limit, "limit", 100, "stop a scan once it has found this many jobs")
	return cmd
}

type listing int

const (
	listOpen listing = iota
	listFinished
)

// parseSince reads --finished-since: a duration back from now, or a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--finished-since %s: want a positive duration", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--finished-since %q: want a duration (24h, 90m) or an RFC 3339 time (2026-03-01T09:00:00Z)", s)
}

func printJobs(w io.Writer, js []jobs.Job, list listing, out output) error {
	views := make([]outcome.Job, len(js))
	for i, j := range js {
		views[i] = outcome.NewJob(j)
	}
	if out.json() {
		return writeJSONTo(w, map[string]any{"jobs": views})
	}
	if len(js) == 0 {
		_, err := fmt.Fprintln(w, "no jobs")
		return err
	}
	now := time.Now()
	rows := make([][]string, len(views))
	if list == listOpen {
		for i, v := range views {
			rows[i] = []string{v.JobID, v.Status, strconv.Itoa(len(v.IDs)), strconv.Itoa(v.Checks), approx(now.Sub(v.CreatedAt)), nextCheck(v, now)}
		}
		return printTable(w, []string{"JOB", "STATE", "LEADS", "CHECKS", "AGE", "NEXT CHECK"}, rows)
	}
	for i, v := range views {
		rows[i] = []string{v.JobID, v.Status, strconv.Itoa(len(v.IDs)), strconv.Itoa(v.Converted), strconv.Itoa(v.NotConverted),
			strconv.Itoa(v.Failed), v.UpdatedAt.UTC().Format(time.RFC3339), dash(v.Reason)}
	}
	return printTable(w, []string{"JOB", "STATE", "LEADS", "CONVERTED", "NOT CONVERTED", "FAILED", "ENDED", "REASON"}, rows)
}

func showJob(ctx context.Context, w io.Writer, st outcome.Reader, id string, out output) error {
	v, err := outcome.OfJob(ctx, st, id)
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		return notFound("job %s: no such job (or it is older than the retention)", id)
	case err != nil:
		return err
	case out.json():
		return writeJSONTo(w, v)
	}
	fields := [][2]string{{"job", v.JobID}, {"state", jobStateLine(v)}, {"leads", countsLine(v)},
		{"created", v.CreatedAt.UTC().Format(time.RFC3339)}, {"checks", checksLine(v, time.Now())}}
	if v.Reason != "" {
		fields = append(fields, [2]string{"reason", v.Reason})
	}
	if err := printFields(w, fields); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return printLeads(w, v.Leads)
}

func jobStateLine(j outcome.Job) string {
	if j.ZohoStatus != "" && j.ZohoStatus != j.Status {
		return fmt.Sprintf("%s (Zoho: %s)", j.Status, j.ZohoStatus)
	}
	return j.Status
}

func countsLine(j outcome.Job) string {
	return fmt.Sprintf("%d: %d converted, %d not converted, %d failed (Zoho's counts)", len(j.IDs), j.Converted, j.NotConverted, j.Failed)
}

func checksLine(j outcome.Job, now time.Time) string {
	s := strconv.Itoa(j.Checks)
	if j.CheckedAt != nil {
		s += ", last " + j.CheckedAt.UTC().Format(time.RFC3339)
	}
	if j.NextCheckAt != nil {
		s += ", next " + nextCheck(j, now)
	}
	return s
}

// nextCheck is when the status function looks at an open job again.
func nextCheck(j outcome.Job, now time.Time) string {
	switch {
	case j.NextCheckAt == nil:
		return "-"
	case j.NextCheckAt.After(now):
		return "in " + approx(j.NextCheckAt.Sub(now))
	}
	return "overdue " + approx(now.Sub(*j.NextCheckAt))
}

// approx is a duration in its largest unit, as a person reads an age.
func approx(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printFields writes name and value pairs in two columns, leaving out the
// empty values.
func printFields(w io.Writer, fields [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range fields {
		if f[1] != "" {
			fmt.Fprintf(tw, "%s\t%s\n", f[0], f[1])
		}
	}
	return tw.Flush()
}
