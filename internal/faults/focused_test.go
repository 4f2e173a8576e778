package faults

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/secret"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// smallRig is one convert function on the embedded stores, for the
// focused tests.
type smallRig struct {
	clock *zohosim.ManualClock
	sim   *zohosim.Server
	url   string
	mem   *memstore.Store
	dlq   *sqsbatch.MemoryDeadLetter
	fn    *app.Convert
	out   *collector
}

func newSmallRig(t *testing.T, tokens oauth.Store) *smallRig {
	t.Helper()
	r := &smallRig{clock: zohosim.NewManualClock(t0), mem: memstore.New(), dlq: &sqsbatch.MemoryDeadLetter{}, out: newCollector()}
	r.sim = zohosim.New(zohosim.Options{Clock: r.clock})
	srv := httptest.NewServer(r.sim)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	env := map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded", "ZOHO_ACCOUNTS_URL": srv.URL, "ZOHO_API_URL": srv.URL}
	cfg, err := config.LoadConvert(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if tokens == nil {
		tokens = oauth.NewMemoryStore()
	}
	r.fn, err = app.NewConvert(cfg, app.ConvertDeps{
		Shared: app.Shared{Secret: secret.Static(simSecret()), Tokens: tokens, Now: r.clock.Now, Out: r.out},
		Jobs:   r.mem, DeadLetter: r.dlq})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *smallRig) invoke(t *testing.T, msgs ...*message) events.SQSEventResponse {
	t.Helper()
	batch := make([]delivery, len(msgs))
	for i, m := range msgs {
		m.receives++
		batch[i] = delivery{msg: m}
	}
	ctx, cancel := context.WithTimeout(context.Background(), convertTimeout)
	defer cancel()
	res, err := r.fn.Invoke(ctx, event(batch))
	if err != nil {
		t.Fatal(err)
	}
	return res.(events.SQSEventResponse)
}

func jsonMessage(t *testing.T, id string, body map[string]any) *message {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return &message{id: id, body: string(b)}
}

// TestRefusedOptionsDoNotDeadLetterAnotherRequest: when two requests of
// one batch ask for the same lead with different options, and Zoho refuses
// the options of the first (here an assign_to naming no user), the second,
// valid request must not be dead-lettered with the first one's reason: its
// lead must be converted with its own options, or the message handed back.
//
// The suite found this failing: a lead goes to the first group that asks for
// it and the other submissions share its outcome, so the refusal of the first
// group's options dead-lettered the valid message with a reason not its own.
// Now such a submission is handed back and its lead sent with its own options.
func TestRefusedOptionsDoNotDeadLetterAnotherRequest(t *testing.T) {
	r := newSmallRig(t, nil)
	leads := r.sim.SeedLeadRange(2)
	bad := jsonMessage(t, "bad", map[string]any{"ids": []string{leads[0]}, "assign_to": map[string]any{"id": "3652397000000999999"}})
	good := jsonMessage(t, "good", map[string]any{"ids": leads, "assign_to": owner})
	answer := r.invoke(t, bad, good)

	for _, l := range r.dlq.Letters() {
		if l.MessageID == "good" {
			t.Errorf("the valid message was dead-lettered: %s: %s", l.Code, l.Reason)
		}
	}
	handedBack := slices.ContainsFunc(answer.BatchItemFailures, func(f events.SQSBatchItemFailure) bool { return f.ItemIdentifier == "good" })
	converted := slices.ContainsFunc(r.sim.Jobs(), func(j zohosim.JobInfo) bool { return slices.Contains(j.IDs, leads[0]) })
	if !handedBack && !converted {
		t.Errorf("lead %s of the valid message was neither converted nor handed back for a retry", leads[0])
	}
}

// gatedStore holds Drop until released, to open the window between the
// moment oauth.Source forgets a refused token and the moment the shared
// record forgets it.
type gatedStore struct {
	*oauth.MemoryStore
	dropping chan struct{} // closed when Drop starts
	release  chan struct{} // Drop returns once closed
}

func (g *gatedStore) Drop(ctx context.Context, key, accessToken string) error {
	close(g.dropping)
	<-g.release
	return g.MemoryStore.Drop(ctx, key, accessToken)
}

// TestInvalidatedTokenIsNotAdoptedAgain: once Invalidate(tok) has returned,
// Token must not hand out tok again.
//
// The suite found this failing: Invalidate cleared the in-process copy before
// the shared record dropped the token, and a concurrent Token call read the
// record and adopted the refused token again, costing the chunk a second
// 401 and its messages a receive. Now the source remembers the refused token
// and treats a record that still holds it as empty.
func TestInvalidatedTokenIsNotAdoptedAgain(t *testing.T) {
	clock := zohosim.NewManualClock(t0)
	sim := zohosim.New(zohosim.Options{Clock: clock})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	store := &gatedStore{MemoryStore: oauth.NewMemoryStore(), dropping: make(chan struct{}), release: make(chan struct{})}
	src, err := oauth.NewSource(oauth.Config{Secret: secret.Static(simSecret()), Store: store, AccountsURL: srv.URL, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sim.InvalidateToken(old.AccessToken) // Zoho refuses it from now on (the 16th-token rule)

	invalidated := make(chan error, 1)
	go func() { invalidated <- src.Invalidate(ctx, old) }()
	<-store.dropping
	// Another chunk of the same invocation wants a token meanwhile.
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	close(store.release)
	if err := <-invalidated; err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == old.AccessToken {
		t.Fatal("Token returned the access token that Invalidate was told Zoho refused")
	}
}

// TestStoreOutageAfterZohoAccepted: when DynamoDB becomes unreachable
// after Zoho scheduled a job and before it is recorded, the job is not
// tracked. The ERROR line names the job and every one of its leads (what
// an operator needs to record it by hand), JobsNotRecorded counts it, and
// the message is handed back, so that its leads are followed anyway: the
// redelivery once the store is back schedules nothing twice (Zoho refuses
// the leads its job holds) and leaves every lead followed (held in doubt
// for the status function, or found converted).
func TestStoreOutageAfterZohoAccepted(t *testing.T) {
	r := newRig(t, suite{name: "moto", leads: 40, seed: seed + 2, arrivals: 1, maxBatch: 1, maxIDs: 40})
	r.sim.ClearFaults()
	ctx := context.Background()

	// One message with 40 leads; moto goes away at the first job record.
	var m *message
	for _, x := range r.q.msgs {
		if x.kind == validMsg && (m == nil || len(x.leads) > len(m.leads)) {
			m = x
		}
	}
	r.q.msgs = []*message{m}
	m.arrive, m.ghosts = 1, nil
	r.proxy.TripOn(func(req *http.Request, body []byte) bool {
		return strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".TransactWriteItems") && strings.Contains(string(body), `"JOB#`)
	})
	r.round(1, convertTimeout, statusTimeout)
	r.proxy.SetDown(false)
	if m.ended(acked) {
		t.Fatalf("the message ended %v, want handed back: nothing follows its leads yet", m.verdicts)
	}
	notRecorded := r.out.jobsNotRecorded()
	zjobs := r.sim.Jobs()
	if len(zjobs) != 1 || len(notRecorded) != 1 || !slices.Equal(notRecorded[zjobs[0].ID], zjobs[0].IDs) {
		t.Fatalf("Zoho has jobs %v; the ERROR lines name %v", zjobs, notRecorded)
	}
	if n := r.out.metric("JobsNotRecorded"); n != 1 {
		t.Errorf("JobsNotRecorded = %d, want 1", n)
	}

	// The message comes again after the pending claims lapsed.
	r.clock.Advance(visibilityTimeout)
	m.ghosts = []int{2}
	r.round(2, convertTimeout, statusTimeout)
	if len(r.sim.Jobs()) != 1 {
		t.Fatalf("the redelivery scheduled %d more jobs", len(r.sim.Jobs())-1)
	}
	claims, err := claimsByLead(ctx, r.store, m.leads)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range m.leads {
		c := claims[id]
		followed := c.State == jobs.ClaimInDoubt || c.State == jobs.ClaimScheduled ||
			c.State == jobs.Rejected && strings.HasPrefix(c.Reason, convert.ConvertedElsewhere)
		if !followed {
			t.Errorf("lead %s after the redelivery: claim %+v, want it followed (in doubt, or found converted)", id, c)
		}
	}
	t.Logf("job %s with %d leads: not recorded, logged at ERROR with its leads; the redelivery made %d INVALID_DATA calls",
		zjobs[0].ID, len(zjobs[0].IDs), r.sim.Stats().Calls[zohosim.EndpointMassConvert]-1)
}
