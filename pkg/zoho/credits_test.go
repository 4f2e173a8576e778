package zoho_test

import (
	"context"
	"testing"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// TestCreditsReadsTheCatalogue: Credits reads Zoho's API catalogue and
// finds the cost of every call the bridge makes, for a client of either
// version (the catalogue is v8's).
func TestCreditsReadsTheCatalogue(t *testing.T) {
	for _, version := range []string{"v7", "v8"} {
		t.Run(version, func(t *testing.T) {
			z := zohotest.StartWith(t, zohosim.Options{Credits: map[zohosim.Endpoint]int{zohosim.EndpointMassConvert: 5, zohosim.EndpointCOQL: 3}}, 1,
				func(c *zoho.Config) { c.APIVersion = version })
			costs, err := z.Client.Credits(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"mass_convert": 5, "convert_status": 1, "get_leads": 1, "coql": 3, "lead_fields": 1}
			for _, call := range zoho.BridgeCalls {
				c, ok := zoho.CostOf(costs, call)
				if !ok || c.MinCredits != want[call.Op] || c.MaxCredits != want[call.Op] {
					t.Errorf("%s: %+v (listed %v), want %d credits", call.Op, c, ok, want[call.Op])
				}
			}
			if got := z.Sim.Stats().Calls[zohosim.EndpointAPIs]; got != 1 {
				t.Errorf("%d catalogue calls", got)
			}
		})
	}
}
