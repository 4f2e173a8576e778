// Row 7, the largest batch: an SQS event of 6 MB (about 270 messages of
// 1,000 ids) through the convert function's handler with the template's
// 60 s timeout, its claims at DynamoDB's pace: does it answer in time, and
// is its partial batch answer right?

package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// slowClaims is the job store with DynamoDB's latency on each claim
// transaction (of up to 100 leads), in real time: what bounds how many
// leads one invocation can claim. Other writes are left at memory speed;
// they are few next to the claims (one per call of 50).
type slowClaims struct {
	jobs.Store
	delay time.Duration
}

func (s slowClaims) Claim(ctx context.Context, owner jobs.Owner, ids []string, now, until time.Time) ([]string, []jobs.Claim, error) {
	t := time.NewTimer(s.delay * time.Duration((len(ids)+99)/100))
	select {
	case <-ctx.Done():
		t.Stop()
		return nil, nil, ctx.Err()
	case <-t.C:
	}
	return s.Store.Claim(ctx, owner, ids, now, until)
}

// largestMessages are the messages of 1,000 ids that fit one 6 MB event
// (Lambda's payload limit): as many as batches puts in its first event.
func largestMessages(sim *zohosim.Server, limit int) ([]message, batch, error) {
	var msgs []message
	for i := range limit {
		ids := sim.SeedLeadRange(zohoMaxIDsPerRequest)
		req := optionSet(0)
		req.IDs = ids
		msgs = append(msgs, message{id: messageID(1<<20, i), body: requestJSON(req)})
	}
	bs, err := batches(msgs)
	if err != nil {
		return nil, batch{}, err
	}
	return bs[0].msgs, bs[0], nil
}

// zohoMaxIDsPerRequest is the most ids a conversion request may carry.
const zohoMaxIDsPerRequest = 1000

// requestJSON writes the body of owned(req.IDs...): the ids between
// requestPrefix and requestSuffix.
func requestJSON(req zoho.ConvertRequest) string {
	return requestPrefix + strings.Join(req.IDs, `","`) + requestSuffix
}

const (
	requestPrefix = `{"ids":["`
	requestSuffix = `"],"assign_to":{"id":"` + zohosim.DefaultUserID + `"}}` // owner()
)

// largestSample runs the largest batch once: ours as deployed (fleet-wide
// batching, the budget), -latency per Zoho call, s.claimDelay per claim
// transaction, the function's 60 s deadline in real time.
func largestSample(ctx context.Context, s settings) (sample, error) {
	clock := newClock()
	sim := zohosim.New(zohosim.Options{Clock: clock, Latency: s.latency})
	msgs, b, err := largestMessages(sim, s.largestMsgs)
	if err != nil {
		return sample{}, err
	}
	cfg, err := fleetConfig(s, time.Minute)
	if err != nil {
		return sample{}, err
	}
	deps := app.NewEmbedded(simSecret, clock.Now, io.Discard)
	deps.Shared.HTTPClient = simHTTPClient(sim)
	if err := warmTokens(ctx, sim, clock, deps.Tokens); err != nil {
		return sample{}, err
	}
	cd := deps.Convert()
	cd.Jobs = slowClaims{Store: deps.Jobs, delay: s.claimDelay}
	fn, err := app.NewConvert(cfg, cd)
	if err != nil {
		return sample{}, err
	}

	ictx, cancel := context.WithTimeout(ctx, lambdaTimeout)
	defer cancel()
	start := time.Now()
	res, err := fn.Invoke(ictx, b.event)
	took := time.Since(start)
	if err != nil {
		return sample{}, err
	}
	answer, ok := res.(events.SQSEventResponse)
	if !ok {
		return sample{}, fmt.Errorf("largest batch: answer %T", res)
	}

	// The answer is right when every message it reports done has all its
	// leads in a Zoho job, and no lead is in two.
	back := map[string]bool{}
	for _, f := range answer.BatchItemFailures {
		back[f.ItemIdentifier] = true
	}
	inJobs := map[string]int{}
	leads := 0
	for _, j := range sim.Jobs() {
		for _, id := range j.IDs {
			inJobs[id]++
			leads++
		}
	}
	var wrong []string
	twice := 0
	for _, c := range inJobs {
		if c > 1 {
			twice++
		}
	}
	done := 0
	for _, m := range msgs {
		if back[m.id] {
			continue
		}
		done++
		for _, id := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(m.body, requestPrefix), requestSuffix), `","`) {
			if inJobs[id] == 0 {
				wrong = append(wrong, fmt.Sprintf("message %s reported done, lead %s in no job", m.id, id))
				break
			}
		}
	}
	var problems []string
	if took > lambdaTimeout {
		problems = append(problems, fmt.Sprintf("answered after %s, past the %s deadline", took.Round(time.Millisecond), lambdaTimeout))
	}
	if len(wrong) > 0 {
		problems = append(problems, fmt.Sprintf("%d messages reported done too early, e.g. %s", len(wrong), wrong[0]))
	}
	if st := sim.Stats(); twice > 0 || st.DuplicateSubmissions > 0 {
		problems = append(problems, fmt.Sprintf("%d leads in two jobs, %d duplicate submissions", twice, st.DuplicateSubmissions))
	}
	if n := len(deps.DeadLetters.Letters()); n > 0 {
		problems = append(problems, fmt.Sprintf("%d dead letters", n))
	}
	verdict := "right"
	if len(problems) > 0 {
		verdict = "WRONG"
	}
	return sample{key: "fleet/largest-batch/answer", measure: fmt.Sprintf("largest SQS batch (%s MB, %d msgs x 1,000 ids): time to answer", mb(len(b.event)), len(msgs)),
		unit: "s", ours: took.Seconds(), baseline: none, floor: lambdaTimeout.Seconds(), problem: strings.Join(problems, "; "),
		note: fmt.Sprintf("cap: the 60 s Timeout, real time; the handler as deployed, claims %s per transaction of 100, %s per Zoho call, budget %d; %d msgs done, %d handed back, answer %s (done only with every lead in a Zoho job; %s leads in %d calls, none twice)",
			s.claimDelay, s.latency, templateBudget, done, len(answer.BatchItemFailures), verdict, thousands(int64(leads)), len(sim.Jobs()))}, nil
}

func mb(n int) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }
