package zoho_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

func TestGetLeads(t *testing.T) {
	const a, b, c = "3652397000001000001", "3652397000001000002", "3652397000001000003"
	at := time.Date(2026, 3, 1, 9, 5, 0, 0, time.UTC)
	tests := []struct {
		name string
		body string
		want []zoho.Lead
	}{
		{"none found", "", []zoho.Lead{{ID: a}, {ID: b}, {ID: c}}},
		{"converted, in another order",
			`{"data":[{"id":"` + c + `","$converted":false,"Converted_Contact":null},` +
				`{"id":"` + a + `","$converted":true,"$converted_detail":{},"Converted_Contact":{"id":"11"},` +
				`"Converted_Account":{"id":"12","name":"Acme"},"Converted_Deal":null,"Lead_Conversion_Time":"2026-03-01T09:05:00+00:00"}],` +
				`"info":{"count":2}}`,
			[]zoho.Lead{
				{ID: a, Found: true, Converted: true, Known: true, ContactID: "11", AccountID: "12", ConvertedAt: at},
				{ID: b},
				{ID: c, Found: true, Known: true},
			}},
		{"numeric id, $converted missing",
			`{"data":[{"id":3652397000001000002,"Converted_Contact":{"id":21}}]}`,
			[]zoho.Lead{{ID: a}, {ID: b, Found: true, ContactID: "21"}, {ID: c}}},
		{"unreadable detail is left out",
			`{"data":[{"id":"` + a + `","$converted":"yes","Converted_Contact":"x","Lead_Conversion_Time":"soon"}]}`,
			[]zoho.Lead{{ID: a, Found: true}, {ID: b}, {ID: c}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := 200
			if tt.body == "" {
				status = 204
			}
			h := &scripted{answers: []answer{{status, tt.body}}}
			cl, _ := newClient(t, h, "")
			got, err := cl.GetLeads(context.Background(), []string{a, b, c})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d leads, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("lead %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
			q, _ := url.ParseQuery(h.queries[0])
			if q.Get("converted") != "both" || q.Get("ids") != a+","+b+","+c || q.Get("fields") == "" {
				t.Errorf("query %q: converted leads are hidden unless converted=both, and fields is mandatory", h.queries[0])
			}
		})
	}
}

func TestGetLeadsErrors(t *testing.T) {
	tests := []struct {
		name   string
		ids    int
		answer answer
		calls  int
		class  zoho.Class
	}{
		{"no ids", 0, answer{204, ""}, 0, zoho.Permanent},
		{"more than a read takes", zoho.MaxIDsPerRead + 1, answer{204, ""}, 0, zoho.Permanent},
		{"error body with 200", 1, answer{200, `{"code":"NO_PERMISSION","details":{},"message":"permission denied","status":"error"}`}, 1, zoho.Permanent},
		{"required param", 1, answer{400, `{"code":"REQUIRED_PARAM_MISSING","details":{"param":"fields"},"message":"missing","status":"error"}`}, 1, zoho.Permanent},
		{"truncated", 1, answer{200, `{"data":[{"id":"1`}, 1, zoho.Retryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &scripted{answers: []answer{tt.answer}}
			cl, _ := newClient(t, h, "")
			_, err := cl.GetLeads(context.Background(), ids(tt.ids))
			var apiErr *zoho.APIError
			if !errors.As(err, &apiErr) || apiErr.Class != tt.class || apiErr.Op != "get_leads" {
				t.Fatalf("err = %v; want a get_leads error of class %v", err, tt.class)
			}
			if h.calls != tt.calls {
				t.Errorf("%d calls, want %d", h.calls, tt.calls)
			}
		})
	}
}

// Against the simulator: a lead reads as converted once its job has run.
func TestGetLeadsAfterConversion(t *testing.T) {
	z := zohotest.Start(t, zohosim.Options{}, 1)
	ctx := context.Background()
	ids := z.Sim.SeedLeadRange(3)
	z.Sim.FailLeads(ids[1])
	if _, err := z.Client.MassConvert(ctx, zohotest.Request(ids...)); err != nil {
		t.Fatal(err)
	}
	z.Clock.Advance(time.Hour)
	got, err := z.Client.GetLeads(ctx, append(ids, "3652397999999999999"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ found, converted bool }{{true, true}, {true, false}, {true, true}, {false, false}}
	for i, w := range want {
		if got[i].Found != w.found || got[i].Converted != w.converted || got[i].Known != w.found ||
			(got[i].ContactID != "") != w.converted || got[i].ConvertedAt.IsZero() == w.converted {
			t.Errorf("lead %d = %+v, want found %v converted %v", i, got[i], w.found, w.converted)
		}
	}
}
