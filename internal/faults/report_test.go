package faults

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
)

// report prints the run's counts: with t.Logf always, and as a table on
// stdout under -v.
func (r *rig) report(o outcome) {
	st := r.sim.Stats()
	var b strings.Builder
	row := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "  %-40s %s\n", name, fmt.Sprintf(format, args...))
	}
	store := "embedded in-memory stores (same semantics as DynamoDB: pkg/jobs contract tests)"
	if r.proxy != nil {
		store = "moto (DynamoDB, Secrets Manager, SQS) behind the fault proxy"
	}
	fmt.Fprintf(&b, "fault suite %q: %s; seed %d\n", r.s.name, store, r.s.seed)
	fmt.Fprintf(&b, "  (faults, messages and batches are seeded; which concurrent call meets which fault is not,\n"+
		"   so counts vary a little from run to run: the invariants hold for every interleaving)\n")
	row("leads", "%d (%d seeded, %d unknown to Zoho, %d whose conversion fails)", o.leads, len(r.seeded), len(r.invalid), len(r.failing))
	row("  scheduled in exactly one job", "%d", o.scheduledOnce)
	row("  scheduled again after a job failed it", "%d", o.scheduledAgain)
	row("  rejected by Zoho (INVALID_DATA)", "%d", o.rejected)
	row("  dead-lettered with a reason", "%d", o.dead)
	row(fmt.Sprintf("  redriven by SQS (%d receives)", maxReceiveCount), "%d", o.redrove)
	row("messages", "%d: done %d, dead-lettered %d, redriven by SQS %d", o.messages, o.msgDone, o.msgDead, o.msgRedriven)
	row("deliveries", "%d in %d invocations over %d rounds (%d convert + %d status instances)",
		r.q.deliveries, r.invocations, r.rounds, instances, instances)
	row("  retries (batchItemFailures)", "%d", r.q.handedBack)
	row("  redeliveries", "%d", r.q.redeliveries)
	row("  duplicate deliveries", "%d", r.q.duplicates)
	row("dead letters by code", "%s", counts(o.deadCodes))
	shown := 0
	for _, m := range r.q.msgs {
		if m.exhausted {
			if shown++; shown <= 3 {
				row("  redriven by SQS", "%s (%s, %d ids): handed back %v", m.id, m.kind, len(m.leads), r.out.retriesOf(m.id))
			}
		}
	}
	if shown > 3 {
		row("  redriven by SQS", "... and %d more", shown-3)
	}
	row("zohosim faults injected", "%s", faultCounts(o.byFault))
	if r.proxy != nil {
		ps := r.proxy.Stats()
		refused := map[string]int{}
		for k, v := range ps.Refused {
			refused[k.String()] = v
		}
		row("proxy faults injected (moto)", "%d refused of %d: %s; moto's own 5xx answers %d",
			ps.TotalRefused(), ps.TotalRefused()+ps.Forwarded, counts(refused), ps.TargetErrors)
	}
	row("scripted events", "%s", counts(r.events))
	row("Zoho calls", "mass_convert %d, status %d, Get Records %d, token %d; tokens issued %d, Access Denied %d, 401s %d",
		st.Calls[zohosim.EndpointMassConvert], st.Calls[zohosim.EndpointStatus], st.Calls[zohosim.EndpointGetLeads], st.Calls[zohosim.EndpointToken],
		st.TokensIssued, st.AccessDenied, st.InvalidTokenAnswers)
	row("Zoho errors seen (metric ZohoErrors)", "%s", counts(r.out.metricsWithPrefix("ZohoErrors")))
	row("duplicates prevented", "%d (metric DuplicatesPrevented); %d lead claims held at the end",
		r.out.metric("DuplicatesPrevented"), o.claimsHeld)
	row("leads sent while a job held them", "%d, each after an ambiguous call or a job that failed others (ids: Zoho's DuplicateSubmissions %d)",
		o.resends, st.DuplicateSubmissions)
	row("INVALID_DATA answers (1 call each)", "%d: %s", o.invalidAnswers, counts(o.invalidWhy))
	row("ambiguous calls", "%d (metric AmbiguousCalls); %d connections dropped", r.out.metric("AmbiguousCalls"), o.hijacked)
	row("untracked ambiguous jobs", "%d = %d DropAfterAccept hits on a successful schedule (+ %d not recorded)", o.untracked, o.ambiguous, o.notRecorded)
	row("leads in jobs nobody follows", "%d (held in doubt and read back, or found converted, otherwise)", o.unfollowed)
	row("leads without a final outcome", "%d once the run settled", o.noOutcome)
	byStatus := map[string]int{}
	for k, v := range o.jobsByStatus {
		byStatus[string(k)] = v
	}
	row("jobs", "%d scheduled by Zoho, %d recorded: %s", o.jobs, o.jobs-o.untracked, counts(byStatus))
	var checked, conflicts, errs, resent, stopped int
	for _, s := range r.statusRuns {
		checked += s.Checked
		conflicts += s.Conflicts
		errs += s.Errors
		resent += s.LeadsResent
		if s.Stopped != "" {
			stopped++
		}
	}
	row("status runs", "%d (in overlapping pairs): %d checks, %d conflicts, %d errors, %d stopped early, %d leads sent again",
		len(r.statusRuns), checked, conflicts, errs, stopped, resent)
	var reads, readJobs, readLeads int
	for _, s := range r.statusRuns {
		reads, readJobs, readLeads = reads+s.ReadBackCalls, readJobs+s.ReadBack, readLeads+s.LeadsConverted+s.LeadsNotConverted
	}
	row("read back by the status function", "%d Get Records calls (overlapping runs both read) for %d ended jobs and calls in doubt of %d leads: %.2f calls per 50 leads",
		reads, readJobs, readLeads, float64(reads)/max(float64(readLeads)/50, 1))
	row("ERROR log lines", "%s", counts(r.out.errorLines()))
	for _, e := range r.out.samples {
		debugf("  ERROR %s", e)
	}
	row("wall time", "%s", o.wall.Round(1e7))
	r.t.Logf("\n%s", b.String())
	printf("\n%s", b.String())
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func faultCounts(m map[zohosim.FaultKind]int) string {
	s := map[string]int{}
	for k, v := range m {
		s[k.String()] = v
	}
	return counts(s)
}
