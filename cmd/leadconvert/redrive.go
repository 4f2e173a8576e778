package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
)

// Codes of dead letters that redrive treats apart.
const (
	// codeExhausted stands for a letter without reason attributes: SQS's own
	// redrive moved it after maxReceiveCount receives.
	codeExhausted = "RETRIES_EXHAUSTED"
	// codeJob is a job Zoho scheduled that the table could not record
	// (pkg/app's keepUnrecorded): the body is a job, not a request.
	codeJob = "JOB_NOT_RECORDED"
)

// releaseTimeout bounds making the letters not moved visible again, even
// after the command's context was cancelled.
const releaseTimeout = 30 * time.Second

// redriveOptions are redrive's flags.
type redriveOptions struct {
	dryRun, apply bool
	codes         []string
	reason        string
	max           int
	visibility    time.Duration
	progressEvery int
}

func newRedriveCmd() *cobra.Command {
	var (
		d     deployment
		rules requestRules
		o     redriveOptions
	)
	cmd := &cobra.Command{
		Use:   "redrive",
		Short: "Show dead letters by reason, and move them back to the conversion queue",
		Long: `redrive reads every letter of the dead-letter queue and lists them grouped by reason:
the error_code and error_reason the convert function gave them, or RETRIES_EXHAUSTED for
those SQS moved there itself after maxReceiveCount receives. It changes nothing unless
asked: --dry-run is the default.

With --apply (or --dry-run=false) it moves the letters back to the conversion queue, only
those whose code is one of --code and whose reason contains --reason when given: each
body is sent as it is, with its request_id attribute, and deleted from the dead-letter
queue only once the send succeeded. Progress goes to stderr every --progress-every
letters; a summary ends the run.

Letters that cannot succeed stay where they are, and the summary says why: a body the
convert function's own decoder refuses (judged with the stack's ZohoApiVersion and
DefaultOwnerId, or --api-version and --default-owner), and JOB_NOT_RECORDED letters,
which hold a job Zoho scheduled, not a request.

Letters are held invisible while the command runs (--visibility) and made visible again
before it ends, so none is lost; if the command is killed they reappear after
--visibility. It touches the dead-letter queue and, with --apply, the conversion queue.`,
		Example: `  leadconvert redrive --stack leadconvert
  leadconvert redrive --stack leadconvert --apply --code RETRIES_EXHAUSTED
  leadconvert redrive --stack leadconvert --apply --reason "429"
  leadconvert redrive --dlq-url https://sqs.eu-west-1.amazonaws.com/123456789012/lc-dlq \
      --queue-url https://sqs.eu-west-1.amazonaws.com/123456789012/lc-queue --dry-run=false`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.apply && cmd.Flags().Changed("dry-run") && o.dryRun {
				return usageError{errors.New("--apply and --dry-run contradict each other")}
			}
			o.apply = o.apply || !o.dryRun
			if o.max < 1 || o.progressEvery < 1 {
				return usageError{errors.New("--max and --progress-every must be at least 1")}
			}
			if o.visibility < time.Second || o.visibility > 12*time.Hour {
				return usageError{errors.New("--visibility must be between 1s and 12h (SQS's bounds)")}
			}
			ctx := cmd.Context()
			cfg, err := d.awsConfig(ctx)
			if err != nil {
				return err
			}
			if err := d.resolve(ctx, cfg); err != nil {
				return err
			}
			parts := []string{"dlq-url"}
			if o.apply {
				parts = append(parts, "queue-url")
			}
			if err := d.require(parts...); err != nil {
				return err
			}
			dec, err := rules.decoder(d.Params)
			if err != nil {
				return err
			}
			r := &redriver{api: sqs.NewFromConfig(cfg), dlq: d.DLQURL, queue: d.QueueURL, dec: dec, o: o,
				out: cmd.OutOrStdout(), progress: cmd.ErrOrStderr(), held: map[string]string{}}
			return r.run(ctx)
		},
	}
	f := cmd.Flags()
	d.addAWSFlags(cmd)
	rules.addFlags(cmd)
	f.BoolVar(&o.dryRun, "dry-run", true, "only show the letters; move nothing")
	f.BoolVar(&o.apply, "apply", false, "move the letters back to the conversion queue (same as --dry-run=false)")
	f.StringSliceVar(&o.codes, "code", nil, "move only letters with this code (repeat or comma separate; RETRIES_EXHAUSTED for SQS's own)")
	f.StringVar(&o.reason, "reason", "", "move only letters whose reason contains this text (case-insensitive)")
	f.IntVar(&o.max, "max", 10000, "read at most this many letters in one run")
	f.DurationVar(&o.visibility, "visibility", 15*time.Minute, "how long the letters read stay hidden from other readers during the run")
	f.IntVar(&o.progressEvery, "progress-every", 100, "report progress on stderr every this many letters")
	return cmd
}

// SQSAPI is the part of the SQS client redrive and submit use.
type SQSAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// verdict is what redrive does with a letter.
type verdict int

const (
	move      verdict = iota // a request or a wake-up: back to the conversion queue
	filtered                 // left: not selected by --code or --reason
	invalid                  // left: the function's decoder refuses its body
	jobLetter                // left: a job the table could not record
)

func (v verdict) String() string {
	return [...]string{"move", "leave: filtered out", "leave: can never succeed", "leave: a job, not a request"}[v]
}

// letter is one dead letter as read.
type letter struct {
	id        string
	body      string // kept only for the letters to move
	code      string
	reason    string
	requestID string
	source    string // source_message_id: for JOB_NOT_RECORDED, the Zoho job id
	verdict   verdict
	why       string // for invalid: the decoder's refusal
}

// redriver is one run of redrive.
type redriver struct {
	api          SQSAPI
	dlq, queue   string
	dec          *convert.Decoder
	o            redriveOptions
	out          io.Writer
	progress     io.Writer
	held         map[string]string // letter id -> receipt handle, while invisible
	letters      []*letter
	hitMax       bool
	inFlightSeen int
}

func (r *redriver) run(ctx context.Context) (err error) {
	defer func() { err = errors.Join(err, r.release(ctx)) }()
	if err := r.read(ctx); err != nil {
		return err
	}
	if len(r.letters) == 0 {
		fmt.Fprintln(r.out, "The dead-letter queue is empty.")
		r.noteInFlight()
		return nil
	}
	if err := r.show(); err != nil {
		return err
	}
	if !r.o.apply {
		r.summary(0, nil)
		return nil
	}
	moved, failed := r.move(ctx)
	r.summary(moved, failed)
	if len(failed) > 0 {
		return fmt.Errorf("%d letters could not be moved; they stay in the dead-letter queue", len(failed))
	}
	return nil
}

// read receives every letter, up to --max, and keeps them invisible until
// release. It ends at the first empty long poll, which asks every SQS
// server, not a sample of them as a short poll does.
func (r *redriver) read(ctx context.Context) error {
	if attrs, err := r.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(r.dlq),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}}); err == nil {
		r.inFlightSeen, _ = strconv.Atoi(attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	} else {
		return fmt.Errorf("reading the dead-letter queue %s: %w", r.dlq, err)
	}
	for len(r.letters) < r.o.max {
		out, err := r.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.dlq),
			MaxNumberOfMessages: int32(min(10, r.o.max-len(r.letters))), VisibilityTimeout: int32(r.o.visibility / time.Second),
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			return fmt.Errorf("receiving dead letters: %w", err)
		}
		if len(out.Messages) == 0 {
			return nil
		}
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if _, seen := r.held[id]; seen {
				// Received again: the run outlasted --visibility. Keep the newer handle.
				r.held[id] = aws.ToString(m.ReceiptHandle)
				continue
			}
			r.held[id] = aws.ToString(m.ReceiptHandle)
			r.letters = append(r.letters, r.judge(m))
			if n := len(r.letters); n%r.o.progressEvery == 0 {
				fmt.Fprintf(r.progress, "read %d letters\n", n)
			}
		}
	}
	r.hitMax = true
	return nil
}

// judge reads a message's reason and decides what to do with it.
func (r *redriver) judge(m types.Message) *letter {
	attr := func(name string) string { return aws.ToString(m.MessageAttributes[name].StringValue) }
	l := &letter{id: aws.ToString(m.MessageId), code: attr("error_code"),
		reason: attr("error_reason"), requestID: attr("request_id"), source: attr("source_message_id")}
	if l.code == "" {
		l.code, l.reason = codeExhausted, "no reason given: SQS moved it after maxReceiveCount receives"
	}
	body := aws.ToString(m.Body)
	switch {
	case l.code == codeJob:
		l.verdict = jobLetter
		return l
	case !r.selected(l):
		l.verdict = filtered
		return l
	}
	if _, isWake := convert.ParseWake(body); !isWake {
		// The function's own decoder, with the deployment's settings: what
		// it refuses now, it refuses on every delivery.
		if _, err := r.dec.JSON([]byte(body)); err != nil {
			l.verdict, l.why = invalid, err.Error()
			return l
		}
	}
	l.verdict, l.body = move, body
	return l
}

func (r *redriver) selected(l *letter) bool {
	if len(r.o.codes) > 0 && !slices.ContainsFunc(r.o.codes, func(c string) bool { return strings.EqualFold(strings.TrimSpace(c), l.code) }) {
		return false
	}
	return strings.Contains(strings.ToLower(l.reason), strings.ToLower(r.o.reason))
}

// group is the letters of one code, reason and verdict.
type group struct {
	code, reason string
	verdict      verdict
	count        int
	example      string
}

func (r *redriver) groups() []*group {
	type key struct {
		code, reason string
		v            verdict
	}
	byKey := map[key]*group{}
	var all []*group
	for _, l := range r.letters {
		k := key{l.code, l.reason, l.verdict}
		g := byKey[k]
		if g == nil {
			g = &group{code: l.code, reason: l.reason, verdict: l.verdict, example: l.id}
			byKey[k] = g
			all = append(all, g)
		}
		g.count++
	}
	slices.SortStableFunc(all, func(a, b *group) int {
		return cmp.Or(cmp.Compare(b.count, a.count), strings.Compare(a.code, b.code), strings.Compare(a.reason, b.reason))
	})
	return all
}

// show prints the letters grouped by reason, with what the run does to each.
func (r *redriver) show() error {
	var rows [][]string
	for _, g := range r.groups() {
		rows = append(rows, []string{g.code, strconv.Itoa(g.count), g.verdict.String(), g.example, shorten(g.reason, 80)})
	}
	fmt.Fprintf(r.out, "Dead-letter queue: %s", plural(len(r.letters), "letter"))
	if r.hitMax {
		fmt.Fprintf(r.out, " (the first %d: --max; more may remain, run again)", r.o.max)
	}
	fmt.Fprint(r.out, "\n\n")
	return printTable(r.out, []string{"CODE", "LETTERS", "ACTION", "EXAMPLE LETTER", "REASON"}, rows)
}

// move sends the letters to move to the conversion queue, deleting each
// from the dead-letter queue once its send succeeded.
func (r *redriver) move(ctx context.Context) (moved int, failed []string) {
	total := r.count(move)
	for _, l := range r.letters {
		if l.verdict != move {
			continue
		}
		if err := r.moveOne(ctx, l); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", l.id, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		moved++
		if moved%r.o.progressEvery == 0 {
			fmt.Fprintf(r.progress, "moved %d of %d\n", moved, total)
		}
	}
	return moved, failed
}

func (r *redriver) moveOne(ctx context.Context, l *letter) error {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(r.queue), MessageBody: aws.String(l.body)}
	if l.requestID != "" {
		// The one attribute the conversion queue reads: the leads keep
		// their API request as their source.
		in.MessageAttributes = map[string]types.MessageAttributeValue{
			"request_id": {DataType: aws.String("String"), StringValue: aws.String(l.requestID)}}
	}
	if _, err := r.api.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("sending to the conversion queue: %w", err)
	}
	if _, err := r.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.dlq), ReceiptHandle: aws.String(r.held[l.id])}); err != nil {
		// Sent and still in the DLQ: a later redrive sends it again, which
		// the leads' claims make harmless.
		return fmt.Errorf("sent, but not deleted from the dead-letter queue: %w", err)
	}
	delete(r.held, l.id)
	return nil
}

func (r *redriver) count(v verdict) int {
	n := 0
	for _, l := range r.letters {
		if l.verdict == v {
			n++
		}
	}
	return n
}

// summary says what the run did, and what to do about what it left.
func (r *redriver) summary(moved int, failed []string) {
	w := r.out
	fmt.Fprintln(w)
	if r.o.apply {
		fmt.Fprintf(w, "Moved %d of %s back to the conversion queue.\n", moved, plural(r.count(move), "letter"))
		for _, f := range failed {
			fmt.Fprintln(w, "  not moved:", f)
		}
	} else {
		fmt.Fprintf(w, "Dry run: nothing moved. %s would move back to the conversion queue; run again with --apply to move them.\n", plural(r.count(move), "letter"))
	}
	if n := r.count(filtered); n > 0 {
		fmt.Fprintf(w, "Left in the dead-letter queue: %s not selected by --code or --reason.\n", plural(n, "letter"))
	}
	if n := r.count(invalid); n > 0 {
		var example string
		for _, l := range r.letters {
			if l.verdict == invalid {
				example = l.why
				break
			}
		}
		fmt.Fprintf(w, "Left in the dead-letter queue: %s that can never succeed as sent, since the convert function's decoder refuses them\n"+
			"  (for example %s).\n"+
			"  Mend the request and send it with `leadconvert submit`, or, for a missing assign_to, set the stack's\n"+
			"  DefaultOwnerId and redrive; then delete the letter.\n", plural(n, "letter"), shorten(example, 160))
	}
	if n := r.count(jobLetter); n > 0 {
		var jobs []string
		for _, l := range r.letters {
			if l.verdict == jobLetter {
				jobs = append(jobs, cmp.Or(l.source, "letter "+l.id))
			}
		}
		fmt.Fprintf(w, "Left in the dead-letter queue: %s JOB_NOT_RECORDED, a job Zoho scheduled that the table could not record (job %s).\n"+
			"  They hold a job, not a request: the conversion queue cannot record it, and leadconvert cannot record a job yet.\n"+
			"  Check the job's leads in Zoho (or with `leadconvert lead ID`), then delete the letter by hand.\n",
			plural(n, "letter"), strings.Join(jobs, ", "))
	}
	r.noteInFlight()
}

func (r *redriver) noteInFlight() {
	if r.inFlightSeen > 0 {
		fmt.Fprintf(r.out, "About %d letters were held by another reader when the run began (another redrive?) and are not counted here.\n", r.inFlightSeen)
	}
}

// release makes every letter still held visible again, at once, even when
// ctx was cancelled: a letter not moved must not stay hidden.
func (r *redriver) release(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	var entries []types.ChangeMessageVisibilityBatchRequestEntry
	for _, handle := range r.held {
		entries = append(entries, types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(len(entries))), ReceiptHandle: aws.String(handle), VisibilityTimeout: 0})
	}
	notReleased := 0
	var firstErr error
	for chunk := range slices.Chunk(entries, 10) {
		out, err := r.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(r.dlq), Entries: chunk})
		switch {
		case err != nil:
			notReleased += len(chunk)
			firstErr = cmp.Or(firstErr, err)
		case len(out.Failed) > 0:
			notReleased += len(out.Failed)
			firstErr = cmp.Or(firstErr, errors.New(aws.ToString(out.Failed[0].Message)))
		}
	}
	if notReleased > 0 {
		return fmt.Errorf("%d letters could not be made visible again (they reappear after --visibility %s): %w",
			notReleased, r.o.visibility, firstErr)
	}
	return nil
}

// plural is n of noun, in English: "1 letter", "2 letters".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-3]) + "..."
	}
	return s
}
