package zoho_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

func TestCOQL(t *testing.T) {
	var mu sync.Mutex
	var ops []string
	z := zohotest.StartWith(t, zohosim.Options{}, 1, func(c *zoho.Config) {
		c.Observe = func(_ context.Context, call zoho.Call) {
			mu.Lock()
			defer mu.Unlock()
			ops = append(ops, call.Op)
		}
	})
	ctx := context.Background()
	ids := z.Sim.SeedLeadRange(3)
	z.Sim.SetLeadFields(ids[1], map[string]any{"Lead_Status": "Qualified"})
	z.Sim.SetLeadFields(ids[2], map[string]any{"Lead_Status": "Qualified"})

	rows, more, err := z.Client.COQL(ctx, "select id, Lead_Status from Leads where Lead_Status = 'Qualified' order by id asc limit 1")
	if err != nil || !more || len(rows) != 1 || rows[0].ID != ids[1] || string(rows[0].Fields["Lead_Status"]) != `"Qualified"` {
		t.Fatalf("first page: %v %v %v", rows, more, err)
	}
	rows, more, err = z.Client.COQL(ctx, "select id from Leads where Lead_Status = 'Qualified' and id > "+ids[1]+" order by id asc limit 1")
	if err != nil || more || len(rows) != 1 || rows[0].ID != ids[2] {
		t.Fatalf("second page: %v %v %v", rows, more, err)
	}
	rows, more, err = z.Client.COQL(ctx, "select id from Leads where Lead_Status = 'Lost'")
	if err != nil || more || len(rows) != 0 {
		t.Fatalf("no match: %v %v %v", rows, more, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(ops, []string{"coql", "coql", "coql"}) {
		t.Errorf("observed %v, want three coql calls", ops)
	}
}

func TestCOQLErrors(t *testing.T) {
	ctx := context.Background()
	z := zohotest.Start(t, zohosim.Options{}, 2)
	z.Sim.SeedLeadRange(1)
	tests := []struct {
		query, code, clause string
	}{
		{"select id from Leads where Nope = 'x'", "INVALID_QUERY", "where"},
		{"select id from Leads where", "SYNTAX_ERROR", "where"},
		{"select id from Leads limit 5000", "LIMIT_EXCEEDED", "limit"},
	}
	for _, tt := range tests {
		_, _, err := z.Client.COQL(ctx, tt.query)
		apiErr, ok := errors.AsType[*zoho.APIError](err)
		if !ok || apiErr.Code != tt.code || apiErr.Class != zoho.Permanent || apiErr.Op != "coql" || apiErr.HTTPStatus != http.StatusBadRequest {
			t.Errorf("%s: %v, want a permanent %s", tt.query, err, tt.code)
			continue
		}
		if !strings.Contains(string(apiErr.Details), `"clause":"`+tt.clause+`"`) {
			t.Errorf("%s: details %s, want clause %s", tt.query, apiErr.Details, tt.clause)
		}
	}

	// A 500 is retried; a lost answer too, a select being harmless to repeat.
	z.Sim.Script(zohosim.EndpointCOQL, zohosim.Fault{Kind: zohosim.InternalError})
	if _, _, err := z.Client.COQL(ctx, "select id from Leads"); err != nil {
		t.Errorf("after one 500: %v", err)
	}
	z.Sim.Script(zohosim.EndpointCOQL, zohosim.Fault{Kind: zohosim.DropAfterAccept}, zohosim.Fault{Kind: zohosim.DropAfterAccept})
	_, _, err := z.Client.COQL(ctx, "select id from Leads")
	if apiErr, ok := errors.AsType[*zoho.APIError](err); !ok || apiErr.Ambiguous || !apiErr.Retryable() {
		t.Errorf("lost answers: %v, want a retryable error that is not ambiguous", err)
	}
	if got := z.Sim.Stats().Calls[zohosim.EndpointCOQL]; got != len(tests)+4 {
		t.Errorf("COQL calls %d, want %d (each lost answer retried once)", got, len(tests)+4)
	}

	noScope := zohotest.Start(t, zohosim.Options{Scopes: []string{"ZohoCRM.modules.leads.READ"}}, 2)
	_, _, err = noScope.Client.COQL(ctx, "select id from Leads")
	if apiErr, ok := errors.AsType[*zoho.APIError](err); !ok || apiErr.Code != "OAUTH_SCOPE_MISMATCH" || apiErr.Class != zoho.Permanent {
		t.Errorf("without the scope: %v", err)
	}
}

func TestLeadFields(t *testing.T) {
	z := zohotest.Start(t, zohosim.Options{}, 2)
	z.Sim.SetLeadFields(z.Sim.SeedLeadRange(1)[0], map[string]any{"Territory": "North"})
	names, err := z.Client.LeadFields(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Last_Name", "Lead_Status", "Lead_Source", "Territory"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s in %v", want, names)
		}
	}
	if n := z.Sim.Stats().Calls[zohosim.EndpointFields]; n != 1 {
		t.Errorf("%d Fields Metadata calls, want 1", n)
	}
}
