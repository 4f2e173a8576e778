package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/aws/secretstore"
	"github.com/zoho-bridge/leadconvert/pkg/aws/sqsqueue"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobcheck"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// Deployment facts of template.yaml the rig follows.
const (
	convertTimeout    = 60 * time.Second  // ConvertFunction Timeout
	statusTimeout     = 120 * time.Second // StatusFunction Timeout
	visibilityTimeout = 6 * time.Minute   // ConversionQueue VisibilityTimeout (360 s): one round
	instances         = 2                 // convert instances at once (the queue's maximum concurrency)
)

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// options sets of the valid requests: plain, with a deal, with an owner.
var optionSets = []map[string]any{
	{"assign_to": owner},
	{"assign_to": owner, "Deals": map[string]any{"Deal_Name": "Fault suite", "Stage": "Qualification", "Closing_Date": "2026-12-31", "Amount": 12500}},
	{"assign_to": owner, "portal_user_type": map[string]any{"id": zohosim.DefaultPortalUserTypeID}},
}

// owner is the assign_to of every valid request: Zoho requires one.
var owner = map[string]any{"id": zohotest.Owner}

// inspector reads the store behind the functions' backs, never through
// the fault proxy.
type inspector interface {
	Job(ctx context.Context, id string) (jobs.Job, error)
	CountDue(ctx context.Context, now time.Time, cursor string) (int, error)
	Claims(ctx context.Context, ids []string) ([]jobs.Claim, error)
}

// suite sizes one run.
type suite struct {
	name     string // "embedded" or "moto"
	leads    int
	seed     uint64
	arrivals int  // messages first arrive over this many rounds
	maxBatch int  // most messages per SQS event
	maxIDs   int  // most ids per message (at most 50)
	slow     bool // run the round whose Zoho answers outlast the invocation
}

// rig is one deployment: the simulator behind its watcher, two convert and
// two status instances sharing one store, the SQS model and what watches
// them all.
type rig struct {
	t     *testing.T
	s     suite
	rng   *rand.Rand
	clock *zohosim.ManualClock
	sim   *zohosim.Server
	front *zohoFront
	out   *collector
	dlq   *dlqRecorder
	store inspector
	proxy *Proxy // nil on the embedded stores

	converts []*app.Convert
	statuses []*app.Status
	q        *sqsModel
	resend   *resendQueue // status -> q
	// roundNow is the round being played; resentMsgs counts the messages
	// the status function put back.
	roundNow, resentMsgs int

	seeded, invalid, failing map[string]bool
	myTokens                 map[string]bool // tokens the rig minted with IssueToken
	events                   map[string]int  // scripted events applied, for the report
	statusRuns               []jobcheck.Report
	violations               []string // found while the run goes on, reported by check
	invocations              int
	rounds                   int
	dlqURL                   string
	sqsDirect                *sqs.Client
}

func simSecret() string {
	return zohotest.SecretJSON("fault-suite-webhook-key")
}

func newRig(t *testing.T, s suite) *rig {
	r := &rig{
		t: t, s: s, rng: rand.New(rand.NewPCG(s.seed, 1)),
		clock:  zohosim.NewManualClock(t0),
		out:    newCollector(),
		seeded: map[string]bool{}, invalid: map[string]bool{}, failing: map[string]bool{},
		myTokens: map[string]bool{}, events: map[string]int{},
	}
	opts := zohosim.Options{Clock: r.clock, StatusCasings: []string{"upper", "upper_underscore", "title", "lower", "underscore"}}
	if s.name == "moto" {
		opts.AccessDeniedStatus = 400 // the doc reports both 200 and 400
	}
	r.sim = zohosim.New(opts)
	r.front = newZohoFront(r.sim)
	srv := httptest.NewServer(r.front)
	t.Cleanup(srv.Close)
	r.q = &sqsModel{rng: rand.New(rand.NewPCG(s.seed, 2))}
	r.resend = &resendQueue{r: r}
	r.makeMessages()

	env := map[string]string{"ZOHO_ACCOUNTS_URL": srv.URL, "ZOHO_API_URL": srv.URL}
	if s.name == "moto" {
		r.wireMoto(env)
	} else {
		r.wireEmbedded(env)
	}
	r.setFaultRates(0)
	return r
}

func (r *rig) loadConfigs(env map[string]string) (config.Convert, config.Status) {
	get := func(k string) string { return env[k] }
	cc, err := config.LoadConvert(get)
	if err != nil {
		r.t.Fatal(err)
	}
	sc, err := config.LoadStatus(get)
	if err != nil {
		r.t.Fatal(err)
	}
	return cc, sc
}

// wireEmbedded builds the functions on the in-memory stores: one store
// stands for the table all instances share.
func (r *rig) wireEmbedded(env map[string]string) {
	env["ZOHO_SECRET_ID"], env["JOBS_TABLE"], env["TOKEN_KEY_ID"] = "embedded", "embedded", "embedded"
	cc, sc := r.loadConfigs(env)
	mem := memstore.New()
	r.store = mem
	r.dlq = &dlqRecorder{next: &sqsbatch.MemoryDeadLetter{}}
	shared := app.Shared{Secret: secret.Static(simSecret()), Tokens: oauth.NewMemoryStore(), Now: r.clock.Now, Out: r.out}
	r.build(cc, sc, func() app.ConvertDeps { return app.ConvertDeps{Shared: shared, Jobs: mem, DeadLetter: r.dlq} },
		func() app.StatusDeps {
			return app.StatusDeps{Shared: shared, Jobs: mem, Resend: r.resend, Wakes: r.resend}
		})
}

// wireMoto builds the functions on moto, reached through the fault proxy;
// each instance gets its own AWS clients and secret cache, as in Lambda.
// The instances race on the table: the serial moto applies each request
// atomically, as DynamoDB does, where a threaded one may let two racing
// conditional writes both pass.
func (r *rig) wireMoto(env map[string]string) {
	cfg := awstest.RequireSerial(r.t)
	tableName := awstest.CreateTableFromTemplate(r.t, cfg, "JobsTable")
	r.dlqURL = awstest.CreateQueue(r.t, cfg)
	arn := awstest.CreateSecret(r.t, cfg, simSecret())
	key := awstest.CreateKey(r.t, cfg)
	r.store = table.NewJobStore(awstest.CheckExpressions(r.t, table.NewClient(cfg)), tableName)
	r.sqsDirect = sqs.NewFromConfig(cfg)

	p, err := NewProxy(aws.ToString(cfg.BaseEndpoint), r.s.seed)
	if err != nil {
		r.t.Fatal(err)
	}
	url, stop, err := p.Start()
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(stop)
	r.proxy = p
	pcfg := cfg.Copy()
	pcfg.BaseEndpoint = aws.String(url)
	// The SDK's attempts stay as they are (3); its backoff is cut to
	// milliseconds and its retry quota turned off, so that an outage costs
	// invocations, not wall-clock seconds, and the suite stays deterministic.
	pcfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxBackoff = 20 * time.Millisecond
			o.RateLimiter = ratelimit.None
		})
	}
	env["ZOHO_SECRET_ID"], env["JOBS_TABLE"], env["DEAD_LETTER_QUEUE_URL"], env["TOKEN_KEY_ID"] = arn, tableName, r.dlqURL, key
	cc, sc := r.loadConfigs(env)
	r.dlq = &dlqRecorder{next: sqsqueue.NewDeadLetter(sqs.NewFromConfig(pcfg), r.dlqURL)}
	// As functions/*/main.go wires them, on the proxy, one set per instance.
	shared := func() app.Shared {
		ddb := awstest.CheckExpressions(r.t, table.NewClient(pcfg))
		return app.Shared{
			Secret: secret.NewCache(secretstore.New(secretsmanager.NewFromConfig(pcfg), arn), secret.CacheConfig{}),
			Tokens: table.NewTokenStore(ddb, tableName, kmsseal.New(kms.NewFromConfig(pcfg), key)), Now: r.clock.Now, Out: r.out,
		}
	}
	r.build(cc, sc,
		func() app.ConvertDeps {
			return app.ConvertDeps{Shared: shared(), Jobs: table.NewJobStore(awstest.CheckExpressions(r.t, table.NewClient(pcfg)), tableName), DeadLetter: r.dlq}
		},
		func() app.StatusDeps {
			return app.StatusDeps{Shared: shared(), Jobs: table.NewJobStore(awstest.CheckExpressions(r.t, table.NewClient(pcfg)), tableName), Resend: r.resend, Wakes: r.resend}
		})
}

func (r *rig) build(cc config.Convert, sc config.Status, convertDeps func() app.ConvertDeps, statusDeps func() app.StatusDeps) {
	for range instances {
		fn, err := app.NewConvert(cc, convertDeps())
		if err != nil {
			r.t.Fatal(err)
		}
		r.converts = append(r.converts, fn)
		st, err := app.NewStatus(sc, statusDeps())
		if err != nil {
			r.t.Fatal(err)
		}
		r.statuses = append(r.statuses, st)
	}
}

// setFaultRates sets the background faults: seeded rates on every Zoho
// call, whatever else a round scripts.
func (r *rig) setFaultRates(generation uint64) {
	seed := int64(r.s.seed + generation*1000)
	for _, f := range []struct {
		ep   zohosim.Endpoint
		kind zohosim.FaultKind
		p    float64
	}{
		{zohosim.EndpointMassConvert, zohosim.TooManyRequests, 0.04},
		{zohosim.EndpointMassConvert, zohosim.TooManyRequestsLegacy, 0.04},
		{zohosim.EndpointMassConvert, zohosim.InternalError, 0.03},
		{zohosim.EndpointMassConvert, zohosim.DropAfterAccept, 0.015},
		{zohosim.EndpointMassConvert, zohosim.Drop, 0.01},
		{zohosim.EndpointMassConvert, zohosim.NonJSON, 0.005},
		{zohosim.EndpointStatus, zohosim.TooManyRequests, 0.05},
		{zohosim.EndpointStatus, zohosim.TooManyRequestsLegacy, 0.03},
		{zohosim.EndpointStatus, zohosim.InternalError, 0.05},
		{zohosim.EndpointStatus, zohosim.Drop, 0.02},
		{zohosim.EndpointToken, zohosim.InternalError, 0.05},
	} {
		r.sim.FaultRate(f.ep, f.kind, f.p, seed+int64(f.ep)*100)
	}
}

// makeMessages seeds the leads and writes the requests: valid ones of
// three option sets and 1 to 50 ids, a few leads asked for twice by the
// producer, unseeded ids Zoho refuses, leads whose conversion fails, and
// requests that can never succeed.
func (r *rig) makeMessages() {
	n := r.s.leads
	nInvalid, nRefused := max(2, n/50), max(4, n/100)
	valid := r.sim.SeedLeadRange(n - nInvalid)
	refusedLeads, valid := valid[:nRefused], valid[nRefused:]
	for _, id := range valid {
		r.seeded[id] = true
	}
	for _, id := range refusedLeads {
		r.seeded[id] = true
	}
	var all []string
	for i := range nInvalid {
		id := strconv.FormatInt(3652397000008000000+int64(i)*7919, 10)
		r.invalid[id] = true
		all = append(all, id)
	}
	for _, id := range valid {
		if r.rng.Float64() < 0.015 {
			r.failing[id] = true
			r.sim.FailLeads(id)
		}
		all = append(all, id)
	}
	r.rng.Shuffle(len(all), func(i, k int) { all[i], all[k] = all[k], all[i] })

	type req struct {
		ids []string
		opt int
	}
	var reqs []*req
	for len(all) > 0 {
		var size int
		switch p := r.rng.Float64(); {
		case p < 0.2:
			size = 1
		case p < 0.5:
			size = 2 + r.rng.IntN(4)
		case p < 0.8:
			size = 6 + r.rng.IntN(15)
		default:
			size = 21 + r.rng.IntN(30)
		}
		size = min(size, r.s.maxIDs, len(all))
		opt := 0
		switch p := r.rng.Float64(); {
		case p >= 0.8:
			opt = 2
		case p >= 0.5:
			opt = 1
		}
		reqs = append(reqs, &req{ids: all[:size:size], opt: opt})
		all = all[size:]
	}
	// The producer asks for some leads twice, in another request.
	for _, rq := range reqs {
		for _, id := range rq.ids {
			if r.rng.Float64() >= 0.03 {
				continue
			}
			other := reqs[r.rng.IntN(len(reqs))]
			if len(other.ids) < 50 && !slices.Contains(other.ids, id) {
				other.ids = append(other.ids, id)
			}
		}
	}
	for i, rq := range reqs {
		body := map[string]any{"ids": rq.ids}
		for k, v := range optionSets[rq.opt] {
			body[k] = v
		}
		r.addMessage(fmt.Sprintf("m%05d", i), validMsg, rq.ids, body)
	}
	// Requests that can never succeed, on leads of their own.
	for i, id := range refusedLeads {
		kind := msgKind(1 + i%3)
		var body any
		switch kind {
		case malformedMsg:
			body = json.RawMessage(`{"ids":["` + id + `"],`)
		case badDealMsg:
			body = map[string]any{"ids": []string{id}, "Deals": map[string]any{"Deal_Name": "No stage", "Closing_Date": "2026-12-31"}}
		default:
			body = map[string]any{"ids": []string{id}, "assign_to": map[string]any{"id": badOwnerID}}
		}
		r.addMessage(fmt.Sprintf("x%05d", i), kind, []string{id}, body)
	}
}

// badOwnerID names no Zoho user: Zoho refuses a request assigned to it.
const badOwnerID = "3652397000000999999"

// resendQueue is the conversion queue as the status function sees it: a
// lead Zoho did not convert comes back as a new message, delivered in the
// next round.
type resendQueue struct {
	r  *rig
	mu sync.Mutex
}

// Wake queues the safety net's wake-up as sqsqueue sends it: its body and
// its kind attribute. The rig's convert functions park no lead (they have
// no Queue), so the net finds nothing to wake unless a suite turns
// batching on; TestAccumulationSurvivesCrashes wakes through
// sqsbatch.MemoryQueue. A wake-up without the attribute, sent before
// wake-ups carried it, is sqsbatch's TestWakeupsAreToldByTheirKind's.
func (q *resendQueue) Wake(_ context.Context, w convert.Wakeup, _ time.Duration) error {
	return q.queue(convert.WakeBody(w), map[string]string{convert.KindAttribute: convert.KindWake})
}

func (q *resendQueue) Enqueue(_ context.Context, body, _ string) error { return q.queue(body, nil) }

func (q *resendQueue) queue(body string, attrs map[string]string) error {
	var req struct {
		IDs      []string `json:"ids"`
		AssignTo struct {
			ID string `json:"id"`
		} `json:"assign_to"`
	}
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		return fmt.Errorf("resend body: %w", err)
	}
	// A call in doubt keeps its request's options, a refused owner too.
	kind := validMsg
	if req.AssignTo.ID == badOwnerID {
		kind = badOwnerMsg
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.r.resentMsgs++
	q.r.q.msgs = append(q.r.q.msgs, &message{id: fmt.Sprintf("r%05d", q.r.resentMsgs), body: body, attrs: attrs, kind: kind,
		leads: req.IDs, arrive: q.r.roundNow + 1})
	return nil
}

func (r *rig) addMessage(id string, kind msgKind, leads []string, body any) {
	var b []byte
	if raw, ok := body.(json.RawMessage); ok {
		b = raw
	} else {
		var err error
		if b, err = json.Marshal(body); err != nil {
			r.t.Fatal(err)
		}
	}
	m := &message{id: id, body: string(b), kind: kind, leads: leads, arrive: 1 + r.rng.IntN(r.s.arrivals)}
	// SQS delivers at least once: some messages twice, some three times,
	// in the same round (concurrently) or up to eight rounds later.
	switch p := r.rng.Float64(); {
	case p < 0.06:
		m.ghosts = []int{m.arrive + r.rng.IntN(9), m.arrive + r.rng.IntN(9)}
	case p < 0.18:
		m.ghosts = []int{m.arrive + r.rng.IntN(9)}
	}
	r.q.msgs = append(r.q.msgs, m)
}

// bridgeToken returns the access token the bridge got by its last refresh.
func (r *rig) bridgeToken() string {
	toks := r.sim.IssuedTokens()
	for i := len(toks) - 1; i >= 0; i-- {
		if !r.myTokens[toks[i]] {
			return toks[i]
		}
	}
	return ""
}

// round delivers one round's messages with instances convert instances
// working through the batches, then runs two status instances at once.
func (r *rig) round(n int, timeout, statusTimeout time.Duration) {
	r.rounds++
	ds := r.q.due(n)
	batches := r.q.batches(ds, r.s.maxBatch)
	type job struct {
		batch      []delivery
		invocation int
	}
	work := make(chan job)
	var mu sync.Mutex
	var results []deliveryResult
	var wg sync.WaitGroup
	for i := range instances {
		fn := r.converts[i]
		wg.Go(func() {
			for j := range work {
				res := r.invoke(fn, j.batch, j.invocation, timeout)
				mu.Lock()
				results = append(results, res...)
				mu.Unlock()
			}
		})
	}
	for _, b := range batches {
		r.invocations++
		work <- job{batch: b, invocation: r.invocations}
	}
	close(work)
	wg.Wait()
	r.q.settle(results)
	r.checkAcks(n, results)
	r.statusRound(statusTimeout)
}

// invoke runs one batch through the convert function's Lambda handler.
func (r *rig) invoke(fn *app.Convert, batch []delivery, invocation int, timeout time.Duration) (out []deliveryResult) {
	defer func() {
		if p := recover(); p != nil {
			r.t.Errorf("invocation %d: the convert handler PANICKED: %v", invocation, p)
		}
	}()
	ctx, cancel := context.WithTimeout(withInvocation(context.Background(), invocation), timeout)
	defer cancel()
	res, err := fn.Invoke(ctx, event(batch))
	if err != nil {
		r.t.Errorf("invocation %d: the handler failed the whole batch: %v", invocation, err)
		return nil
	}
	answer, ok := res.(events.SQSEventResponse)
	if !ok {
		r.t.Errorf("invocation %d: answer %T, want events.SQSEventResponse", invocation, res)
		return nil
	}
	failed := map[string]bool{}
	for _, f := range answer.BatchItemFailures {
		failed[f.ItemIdentifier] = true
		if !slices.ContainsFunc(batch, func(d delivery) bool { return d.msg.id == f.ItemIdentifier }) {
			r.t.Errorf("invocation %d: batchItemFailures names %q, which is not in the batch", invocation, f.ItemIdentifier)
		}
	}
	letters := r.dlq.sentBy(invocation)
	out = make([]deliveryResult, len(batch))
	for i, d := range batch {
		out[i] = deliveryResult{msg: d.msg, verdict: acked}
		if l, ok := letters[d.msg.id]; ok {
			out[i].verdict, out[i].letter = deadLettered, l
		}
		if failed[d.msg.id] {
			// A dead letter that could not be sent is handed back instead.
			out[i].verdict = handedBack
		}
	}
	return out
}

// checkAcks checks, as soon as a round ends, that every lead of every
// message acknowledged as done is in a Zoho job or was refused by Zoho:
// later deliveries must not be able to hide a message dropped too early.
func (r *rig) checkAcks(round int, results []deliveryResult) {
	inJob := map[string]bool{}
	for _, j := range r.sim.Jobs() {
		for _, id := range j.IDs {
			inJob[id] = true
		}
	}
	_, _, refused := r.front.snapshot()
	type ack struct{ msg, lead string }
	var suspect []ack
	var ids []string
	for _, res := range results {
		if res.verdict != acked {
			continue
		}
		for _, id := range res.msg.leads {
			if !inJob[id] && refused[id] == 0 {
				suspect, ids = append(suspect, ack{res.msg.id, id}), append(ids, id)
			}
		}
	}
	if len(suspect) == 0 {
		return
	}
	// Also done: a lead held in doubt (the status function reads it back),
	// one Zoho did not convert that is being sent again, and one Zoho has no
	// record of, found by reading back the call of another lead it refused.
	claims, err := claimsByLead(context.Background(), r.store, jobs.Uniq(ids))
	if err != nil {
		r.t.Fatalf("reading claims: %v", err)
	}
	for _, a := range suspect {
		c, ok := claims[a.lead]
		if ok && (c.State == jobs.ClaimInDoubt || c.State == jobs.Retry || c.State == jobs.Rejected && !r.seeded[a.lead]) {
			continue
		}
		r.violations = append(r.violations, fmt.Sprintf(
			"round %d: message %s was acknowledged as done while its lead %s was in no Zoho job, not refused by Zoho, and not held (claim %+v)",
			round, a.msg, a.lead, c))
	}
}

// statusRound runs two status invocations at once, as two overlapping
// schedules would.
func (r *rig) statusRound(timeout time.Duration) {
	var wg sync.WaitGroup
	reports := make([]jobcheck.Report, len(r.statuses))
	for i, st := range r.statuses {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			res, err := st.Invoke(ctx, json.RawMessage(`{}`))
			if err != nil {
				r.t.Errorf("status invocation failed: %v", err)
				return
			}
			rep, ok := res.(jobcheck.Report)
			if !ok {
				r.t.Errorf("status answer %T, want jobcheck.Report", res)
				return
			}
			reports[i] = rep
		})
	}
	wg.Wait()
	r.statusRuns = append(r.statusRuns, reports...)
}

// claimsByLead reads the claims of ids, by lead.
func claimsByLead(ctx context.Context, s inspector, ids []string) (map[string]jobs.Claim, error) {
	cs, err := s.Claims(ctx, ids)
	out := make(map[string]jobs.Claim, len(cs))
	for _, c := range cs {
		out[c.LeadID] = c
	}
	return out, err
}
