package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/config"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// poisonStore is the job store with a bug: the step named panics when it
// touches the poison lead.
type poisonStore struct {
	jobs.Store
	step   string // "claim" or "record"
	poison string
}

const poisonPanic = "poison lead touched"

func (s poisonStore) Claim(ctx context.Context, owner jobs.Owner, ids []string, now, until time.Time) ([]string, []jobs.Claim, error) {
	if s.step == "claim" && slices.Contains(ids, s.poison) {
		panic(poisonPanic)
	}
	return s.Store.Claim(ctx, owner, ids, now, until)
}

func (s poisonStore) RecordJob(ctx context.Context, j jobs.Job, exp time.Time) error {
	if s.step == "record" && slices.Contains(j.LeadIDs, s.poison) {
		panic(poisonPanic)
	}
	return s.Store.RecordJob(ctx, j, exp)
}

// TestPanicIsContained: a panic while handling one message or request
// fails only what it touched. The SQS batch answer hands back the messages
// not finished (the rest are acknowledged or dead-lettered as usual), the
// API answers 500 without detail, and the panic is logged with its stack.
//
// It failed before: a panic on the handler's goroutine left Invoke (the
// runtime fails the whole batch, or API Gateway answers 502), and one on a
// send's goroutine ended the process.
func TestPanicIsContained(t *testing.T) {
	for _, tc := range []struct {
		name string
		step string // where the store panics
		// event builds the invocation from the simulator's leads: the poison
		// one and two good ones.
		event func(poison, good1, good2 string) json.RawMessage
		// check judges the answer and says how many good leads must be in
		// a recorded job (-1: either way).
		check func(t *testing.T, res any) (scheduled int)
	}{
		{
			name: "SQS, on the handler's goroutine",
			step: "claim",
			event: func(poison, good1, good2 string) json.RawMessage {
				return testkit.SQSEvent(
					testkit.SQSMessage{ID: "invalid", Body: `{"ids":["not-a-lead-id"]}`},
					testkit.SQSMessage{ID: "good", Body: `{"ids":["` + good1 + `"]}`},
					testkit.SQSMessage{ID: "poison", Body: `{"ids":["` + poison + `"],"assign_to":{"id":"` + zohosim.DefaultUserID + `"}}`})
			},
			check: func(t *testing.T, res any) int {
				t.Helper()
				// The batch's conversion never answered: both of its messages
				// come again; the invalid one was dead-lettered before.
				if got := failures(t, res); !slices.Equal(got, []string{"good", "poison"}) {
					t.Errorf("handed back %v; want [good poison]", got)
				}
				return -1 // the good lead may or may not have gone before the panic
			},
		},
		{
			name: "SQS, on a send's goroutine",
			step: "record",
			event: func(poison, good1, good2 string) json.RawMessage {
				return testkit.SQSEvent(
					testkit.SQSMessage{ID: "good", Body: `{"ids":["` + good1 + `"]}`},
					// Options of its own, so that its call is not the good leads' call.
					testkit.SQSMessage{ID: "poison", Body: `{"ids":["` + poison + `"],"assign_to":{"id":"` + zohosim.DefaultUserID + `"},` +
						`"Deals":{"Deal_Name":"Poison","Stage":"Qualification","Closing_Date":"2026-12-31"}}`},
					testkit.SQSMessage{ID: "good-too", Body: `{"ids":["` + good2 + `"]}`})
			},
			check: func(t *testing.T, res any) int {
				t.Helper()
				if got := failures(t, res); !slices.Equal(got, []string{"poison"}) {
					t.Errorf("handed back %v; want [poison]", got)
				}
				return 2
			},
		},
		{
			name: "API, on the handler's goroutine",
			step: "claim",
			event: func(poison, good1, good2 string) json.RawMessage {
				return httpEvent("POST", "/conversions?wait=true", map[string]string{"authorization": "Bearer " + sampleWebhookKey,
					"content-type": "application/json"}, `{"ids":["`+good1+`","`+poison+`"]}`, false)
			},
			check: func(t *testing.T, res any) int {
				t.Helper()
				v2, ok := res.(events.APIGatewayV2HTTPResponse)
				if !ok {
					t.Fatalf("answer %T", res)
				}
				var body map[string]any
				if err := json.Unmarshal([]byte(v2.Body), &body); err != nil || v2.StatusCode != 500 || body["code"] != "INTERNAL_ERROR" {
					t.Errorf("answer %d %s; want 500 INTERNAL_ERROR", v2.StatusCode, v2.Body)
				}
				if strings.Contains(v2.Body, poisonPanic) || strings.Contains(v2.Body, "goroutine") {
					t.Errorf("the answer tells the panic: %s", v2.Body)
				}
				return 0
			},
		},
		{
			name: "API, on a send's goroutine",
			step: "record",
			event: func(poison, good1, good2 string) json.RawMessage {
				return httpEvent("POST", "/conversions?wait=true", map[string]string{"authorization": "Bearer " + sampleWebhookKey,
					"content-type": "application/json"}, `{"ids":["`+poison+`"]}`, false)
			},
			check: func(t *testing.T, res any) int {
				t.Helper()
				v2 := res.(events.APIGatewayV2HTTPResponse)
				// The lead is handed back as for any failure that a retry may mend.
				if v2.StatusCode != 503 || !strings.Contains(v2.Body, `"INTERNAL"`) || strings.Contains(v2.Body, poisonPanic) {
					t.Errorf("answer %d %s; want 503 INTERNAL, without the panic", v2.StatusCode, v2.Body)
				}
				return 0
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := zohosim.NewManualClock(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
			sim := zohosim.New(zohosim.Options{Clock: clock})
			leads := sim.SeedLeadRange(3)
			url, stop := sim.Start()
			t.Cleanup(stop)
			cfg, err := config.LoadConvert(func(k string) string {
				return map[string]string{"ZOHO_SECRET_ID": "embedded", "JOBS_TABLE": "embedded", "TOKEN_KEY_ID": "embedded",
					"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_URL": url, "DEFAULT_OWNER_ID": zohotest.Owner}[k]
			})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			emb := app.NewEmbedded(sampleSecret(), clock.Now, &syncWriter{w: &out})
			// No queue: every request is converted at once.
			deps := app.ConvertDeps{Shared: emb.Shared, Jobs: poisonStore{Store: emb.Jobs, step: tc.step, poison: leads[0]}, DeadLetter: emb.DeadLetters}
			fn, err := app.NewConvert(cfg, deps)
			if err != nil {
				t.Fatal(err)
			}
			res, err := fn.Invoke(context.Background(), tc.event(leads[0], leads[1], leads[2]))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if want := tc.check(t, res); want >= 0 {
				claims, err := emb.Jobs.Claims(context.Background(), leads[1:])
				if err != nil {
					t.Fatal(err)
				}
				scheduled := 0
				for _, c := range claims {
					if c.JobID != "" {
						scheduled++
					}
				}
				if scheduled != want {
					t.Errorf("%d good leads recorded in a job; want %d: %+v", scheduled, want, claims)
				}
			}
			logs := out.String()
			if !strings.Contains(logs, `"msg":"panic recovered"`) || !strings.Contains(logs, poisonPanic) || !strings.Contains(logs, "poisonStore") {
				t.Errorf("the panic is not logged with its value and stack:\n%s", logs)
			}
		})
	}
}

func failures(t *testing.T, res any) []string {
	t.Helper()
	resp, ok := res.(events.SQSEventResponse)
	if !ok {
		t.Fatalf("answer %T", res)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}
