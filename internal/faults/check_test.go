package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// outcome counts what became of the leads, messages and jobs.
type outcome struct {
	leads                                                  int
	scheduledOnce, scheduledAgain, rejected, dead, redrove int
	byFault                                                map[zohosim.FaultKind]int
	hijacked                                               int
	messages, msgDone, msgDead, msgRedriven                int
	deadCodes                                              map[string]int
	jobs                                                   int
	jobsByStatus                                           map[jobs.State]int
	untracked, ambiguous, notRecorded                      int
	claimsHeld, invalidAnswers, resends                    int
	// Measured for issue 11 (goal 0 each): leads of a Zoho job nobody
	// recorded whose outcome nobody learns, and leads without a final
	// outcome once the run has settled.
	unfollowed, noOutcome int
	invalidWhy            map[string]int // INVALID_DATA answers by why the lead was sent
	wall                  time.Duration
}

// check verifies the invariant for every lead, message and job, reporting
// each violation with what is needed to reproduce it.
func (r *rig) check(ctx context.Context) outcome {
	t := r.t
	o := outcome{byFault: r.sim.FaultsInjected(), deadCodes: map[string]int{}, jobsByStatus: map[jobs.State]int{}}
	simJobs := r.sim.Jobs()
	hijacked, ambiguous, invalidData := r.front.snapshot()
	notRecorded := r.out.jobsNotRecorded()
	o.hijacked, o.ambiguous, o.notRecorded = hijacked, len(ambiguous), len(notRecorded)
	for _, n := range invalidData {
		o.invalidAnswers += n
	}
	errs := slices.Clone(r.violations)
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Sprintf(format, args...))
	}

	// Every message ended: acknowledged as done, dead-lettered with a
	// reason, or redriven by SQS after maxReceiveCount receives.
	leadMsgs := map[string][]*message{}
	for _, m := range r.q.msgs {
		o.messages++
		for _, id := range m.leads {
			leadMsgs[id] = append(leadMsgs[id], m)
		}
		switch {
		case !m.deleted || m.visible:
			fail("message %s (%s) was never settled: receives %d, verdicts %v", m.id, m.kind, m.receives, m.verdicts)
		case m.ended(acked):
			o.msgDone++
		case m.ended(deadLettered):
			o.msgDead++
		case m.exhausted:
			o.msgRedriven++
		default:
			fail("message %s silently dropped: verdicts %v", m.id, m.verdicts)
		}
		for _, l := range m.letters {
			o.deadCodes[l.Code]++
			if l.Code == "" || l.Reason == "" || l.MessageID != m.id {
				fail("message %s dead-lettered without a reason: %+v", m.id, l)
			}
		}
		if m.kind != validMsg && m.ended(acked) && !resentAndDeadLettered(r.q.msgs, m.leads) {
			// (A call in doubt acknowledges its request; Zoho's refusal
			// then comes when the status function sends it again.)
			fail("message %s (%s) was acknowledged as done; it can never succeed", m.id, m.kind)
		}
		if m.kind == validMsg && m.ended(deadLettered) {
			fail("valid message %s was dead-lettered: %+v", m.id, m.letters)
		}
	}
	if n, want := len(r.dlq.all()), sumLetters(r.q.msgs); n != want {
		fail("the dead-letter queue holds %d letters; the deliveries account for %d", n, want)
	}
	r.checkDLQ(ctx, &errs)

	// Every job Zoho scheduled is recorded and terminal, unless its id was
	// lost with its answer.
	byLead := map[string][]zohosim.JobInfo{}
	stored := map[string]jobs.Job{}
	for _, j := range simJobs {
		o.jobs++
		for _, id := range j.IDs {
			byLead[id] = append(byLead[id], j)
		}
		sj, err := r.store.Job(ctx, j.ID)
		switch {
		case errors.Is(err, jobs.ErrNotFound):
			o.untracked++
			if !ambiguous[j.ID] && notRecorded[j.ID] == nil {
				fail("job %s (%d leads) was scheduled by Zoho but is not in the store, and no ambiguous call or not-recorded log explains it", j.ID, len(j.IDs))
			}
			continue
		case err != nil:
			t.Fatalf("reading job %s: %v", j.ID, err)
		}
		stored[j.ID] = sj
		o.jobsByStatus[sj.State]++
		if ambiguous[j.ID] {
			fail("job %s is both recorded and counted as untracked after a dropped answer", j.ID)
		}
		want := jobs.Completed
		if j.State == zohosim.JobFailed {
			want = jobs.Failed
		}
		if sj.State != want || sj.Total != j.Total || sj.FailedCount != j.Failed || sj.Converted != j.Converted {
			fail("job %s: store says %s total %d converted %d failed %d; Zoho says %s total %d converted %d failed %d",
				j.ID, sj.State, sj.Total, sj.Converted, sj.FailedCount, j.State, j.Total, j.Converted, j.Failed)
		}
		if !slices.Equal(sj.LeadIDs, j.IDs) {
			fail("job %s: store lists leads %v, Zoho %v", j.ID, sj.LeadIDs, j.IDs)
		}
	}
	if open, err := r.store.CountDue(ctx, r.clock.Now().Add(365*24*time.Hour), ""); err != nil || open != 0 {
		fail("%d jobs are still open in the store (%v)", open, err)
	}
	for id := range ambiguous {
		if _, ok := stored[id]; ok {
			continue
		}
		if notRecorded[id] != nil {
			fail("job %s counted both as ambiguous and as not recorded", id)
		}
	}
	for id, leads := range notRecorded {
		if j, ok := r.sim.Job(id); !ok || !slices.Equal(j.IDs, leads) {
			fail("the not-recorded log of job %s names leads %v; Zoho's job has %v", id, leads, j.IDs)
		}
	}
	if o.untracked != o.ambiguous+o.notRecorded {
		fail("%d jobs are not in the store; %d DropAfterAccept faults hit a successful schedule and %d jobs were logged as not recorded",
			o.untracked, o.ambiguous, o.notRecorded)
	}
	if m := r.out.metric("JobsNotRecorded"); m != o.notRecorded || o.notRecorded != 0 {
		fail("JobsNotRecorded: metric %d, logged %d; want 0 (no outage starts between a Zoho call and its record here)", m, o.notRecorded)
	}
	if got, want := hijacked, o.byFault[zohosim.Drop]+o.byFault[zohosim.DropAfterAccept]; got != want {
		fail("%d connections dropped by the simulator; FaultsInjected counts %d Drop + DropAfterAccept", got, want)
	}
	if o.ambiguous > o.byFault[zohosim.DropAfterAccept] {
		fail("%d ambiguous jobs from %d DropAfterAccept faults", o.ambiguous, o.byFault[zohosim.DropAfterAccept])
	}

	// A lead goes to Zoho again only when the bridge could not know a job
	// held it (the job's answer was lost) or the job failed it: the status
	// function reads the leads of a job that failed some back from Zoho and
	// keeps the claims of those it converted.
	failedIn := func(jobID, lead string) bool {
		i := slices.IndexFunc(byLead[lead], func(j zohosim.JobInfo) bool { return j.ID == jobID })
		return i >= 0 && slices.Contains(byLead[lead][i].FailedIDs, lead)
	}
	seen := map[resend]bool{}
	for _, rs := range r.front.resends() {
		if seen[rs] {
			continue
		}
		seen[rs] = true
		o.resends++
		if ambiguous[rs.job] || notRecorded[rs.job] != nil || failedIn(rs.job, rs.lead) {
			continue
		}
		fail("lead %s was sent to Zoho again while recorded job %s, which converted it, held its claim", rs.lead, rs.job)
	}

	// THE INVARIANT, lead by lead.
	allLeads := slices.Sorted(maps.Keys(leadMsgs))
	claims, err := claimsByLead(ctx, r.store, allLeads)
	if err != nil {
		t.Fatalf("reading claims: %v", err)
	}
	o.claimsHeld = len(claims)
	for _, id := range allLeads {
		o.leads++
		js := byLead[id]
		for i := 0; i+1 < len(js); i++ {
			if !slices.Contains(js[i].FailedIDs, id) {
				fail("lead %s CONVERTED TWICE: in job %s and then in job %s, and the first did not fail it", id, js[i].ID, js[i+1].ID)
			}
		}
		c, hasClaim := claims[id]
		switch {
		case !hasClaim:
		case c.State == jobs.Rejected:
			// Zoho refused it by name; or, read back after Zoho refused
			// another lead of its call, Zoho has no such lead; or every job
			// that held it failed it, until it had no attempts left.
			failedEverywhere := len(js) > 0 && !slices.ContainsFunc(js, func(j zohosim.JobInfo) bool { return !slices.Contains(j.FailedIDs, id) })
			legit := invalidData[id] > 0 || !r.seeded[id] && (strings.HasPrefix(c.Reason, "Zoho has no lead") || strings.HasPrefix(c.Reason, "not found in Zoho")) ||
				failedEverywhere && strings.HasPrefix(c.Reason, "not converted by Zoho")
			if !legit || c.Reason == "" {
				fail("lead %s is recorded as rejected (%q) but Zoho never refused it", id, c.Reason)
			}
		case c.State == jobs.ClaimScheduled:
			if _, ok := stored[c.JobID]; !ok || !slices.ContainsFunc(js, func(j zohosim.JobInfo) bool { return j.ID == c.JobID }) {
				fail("lead %s: claim points at job %s, which is not a recorded job holding it", id, c.JobID)
			}
		}
		// A recorded job keeps the claims of the leads it converted, read
		// back from Zoho when it failed others, and releases the rest once
		// it has ended.
		for _, j := range js {
			sj, ok := stored[j.ID]
			if !ok {
				continue
			}
			pointsHere := hasClaim && c.State == jobs.ClaimScheduled && c.JobID == j.ID
			failed := slices.Contains(j.FailedIDs, id)
			switch {
			case !failed && j.ID == js[len(js)-1].ID && !pointsHere:
				fail("lead %s: job %s converted it, but its claim is %+v", id, j.ID, c)
			case failed && pointsHere && !sj.State.Open():
				fail("lead %s: job %s failed it and ended, but its claim still points at it", id, j.ID)
			}
		}
		done := slices.ContainsFunc(leadMsgs[id], func(m *message) bool { return m.ended(acked) })
		switch {
		case len(js) > 1:
			o.scheduledAgain++
		case len(js) == 1:
			o.scheduledOnce++
		case invalidData[id] > 0 || !r.seeded[id] && hasClaim && c.State == jobs.Rejected:
			o.rejected++
			if r.seeded[id] {
				fail("lead %s was seeded and never scheduled, yet Zoho refused it", id)
			}
		case resentAndDeadLettered(leadMsgs[id], []string{id}):
			o.dead++ // held in doubt, sent again by the status function, refused for good
		case done:
			fail("LEAD LOST: %s is in no Zoho job and was not refused by Zoho, yet a message holding it was acknowledged as done (messages %s; claim %+v)",
				id, msgIDs(leadMsgs[id]), c)
		case slices.ContainsFunc(leadMsgs[id], func(m *message) bool { return m.ended(deadLettered) }):
			o.dead++
		default:
			o.redrove++
		}
	}
	// Why Zoho was asked about leads it refused: each answer is one call.
	o.invalidWhy = map[string]int{}
	// Followed: a lead of a job nobody recorded is held in doubt (and read
	// back), or was found converted when Zoho refused it again. Settled:
	// every claim ends converted (a claim on an ended job or a settled
	// call in doubt whose results say so), rejected with a reason, or is
	// absent because its request was dead-lettered.
	doubts := map[string]jobs.Job{}
	for _, id := range allLeads {
		c, ok := claims[id]
		if !ok || c.JobID == "" || !strings.HasPrefix(c.JobID, jobs.DoubtPrefix) {
			continue
		}
		if _, seen := doubts[c.JobID]; !seen {
			d, err := r.store.Job(ctx, c.JobID)
			if err != nil {
				t.Fatalf("reading call in doubt %s: %v", c.JobID, err)
			}
			doubts[c.JobID] = d
		}
	}
	for _, id := range allLeads {
		c, ok := claims[id]
		js := byLead[id]
		if len(js) > 0 {
			if _, recorded := stored[js[len(js)-1].ID]; !recorded {
				failedAll := !slices.ContainsFunc(js, func(j zohosim.JobInfo) bool { return !slices.Contains(j.FailedIDs, id) })
				followed := ok && (c.State == jobs.ClaimInDoubt || c.State == jobs.ClaimScheduled && stored[c.JobID].ID != "" ||
					c.State == jobs.Rejected && strings.HasPrefix(c.Reason, convert.ConvertedElsewhere) ||
					c.State == jobs.Rejected && failedAll && strings.HasPrefix(c.Reason, "not converted by Zoho"))
				if !followed {
					o.unfollowed++
					fail("lead %s is in Zoho job %s, which nobody follows (claim %+v)", id, js[len(js)-1].ID, c)
				}
			}
		}
		final := !ok && slices.ContainsFunc(leadMsgs[id], func(m *message) bool { return m.ended(deadLettered) || m.exhausted })
		switch {
		case !ok:
		case c.State == jobs.Rejected:
			final = true
		case c.State == jobs.ClaimScheduled:
			j, rec := stored[c.JobID]
			final = rec && !j.State.Open()
		case c.State == jobs.ClaimInDoubt:
			d := doubts[c.JobID]
			res, has := d.Result(id)
			final = d.State == jobs.Settled && has && res.Conversion == jobs.Converted
		}
		if !final {
			o.noOutcome++
			fail("lead %s has no final outcome once the run settled (claim %+v)", id, c)
		}
	}

	for id, n := range invalidData {
		why := "other"
		js := byLead[id]
		switch {
		case r.invalid[id]:
			why = "unknown ids"
		case len(js) > 0 && ambiguous[js[len(js)-1].ID]:
			why = "leads of untracked jobs"
		case len(js) > 0 && stored[js[len(js)-1].ID].FailedCount > 0:
			why = "converted leads of jobs that failed others"
		}
		o.invalidWhy[why] += n
	}

	if len(errs) > 0 {
		sort.Strings(errs)
		if len(errs) > 40 {
			errs = append(errs[:40], fmt.Sprintf("... and %d more", len(errs)-40))
		}
		t.Errorf("%s: %d invariant violations:\n%s", r.s.name, len(errs), strings.Join(errs, "\n"))
	}
	return o
}

// resentAndDeadLettered reports whether every one of leads went back on the
// queue in a message the status function sent (r...) that was dead-lettered.
func resentAndDeadLettered(ms []*message, leads []string) bool {
	for _, id := range leads {
		if !slices.ContainsFunc(ms, func(m *message) bool {
			return strings.HasPrefix(m.id, "r") && slices.Contains(m.leads, id) && m.ended(deadLettered)
		}) {
			return false
		}
	}
	return len(leads) > 0
}

func sumLetters(ms []*message) int {
	n := 0
	for _, m := range ms {
		n += len(m.letters)
	}
	return n
}

func msgIDs(ms []*message) string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, fmt.Sprintf("%s %v", m.id, m.verdicts))
	}
	return strings.Join(ids, ", ")
}

// checkDLQ reads the real dead-letter queue (moto), bypassing the proxy:
// every letter the functions reported sent is there, with its reason.
func (r *rig) checkDLQ(ctx context.Context, errs *[]string) {
	if r.sqsDirect == nil {
		return
	}
	want := map[string]int{}
	for _, l := range r.dlq.all() {
		want[l.MessageID]++
	}
	got := map[string]int{}
	for {
		out, err := r.sqsDirect.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(r.dlqURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
			VisibilityTimeout: 600,
		})
		if err != nil {
			r.t.Fatalf("reading the dead-letter queue: %v", err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			a := m.MessageAttributes
			src := aws.ToString(a["source_message_id"].StringValue)
			got[src]++
			if aws.ToString(a["error_code"].StringValue) == "" || aws.ToString(a["error_reason"].StringValue) == "" {
				*errs = append(*errs, fmt.Sprintf("dead letter of %s in SQS without error_code/error_reason", src))
			}
		}
	}
	if !maps.Equal(got, want) {
		*errs = append(*errs, fmt.Sprintf("the SQS dead-letter queue holds %v; the functions reported %v", got, want))
	}
}
