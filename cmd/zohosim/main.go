// Command zohosim serves the Zoho CRM and Accounts simulator on a loopback
// address, on the wall clock, for local runs against a stand-in Zoho.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8089", "listen address; loopback hosts only")
	leads := flag.Int("leads", 100, "number of leads to seed")
	latency := flag.Duration("latency", 0, "delay added to every call")
	legacy := flag.Bool("legacy-token", false, "answer refreshes with expires_in_sec and expires_in in milliseconds")
	apiDomain := flag.String("api-domain", zohosim.DefaultAPIDomain,
		"api_domain in token answers; give the simulator's own URL for clients that follow it, such as Zoho's SDK")
	flag.Parse()

	s := zohosim.New(zohosim.Options{
		Clock:               zohosim.SystemClock{},
		Latency:             *latency,
		LegacyTokenResponse: *legacy,
		APIDomain:           *apiDomain,
	})
	ids := s.SeedLeadRange(*leads)
	base, stop, err := s.Listen(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer stop()

	o := s.Options()
	fmt.Printf("zohosim serving Accounts and CRM at %s\n", base)
	fmt.Printf("  api_domain=%s\n", o.APIDomain)
	fmt.Printf("  client_id=%s client_secret=%s refresh_token=%s\n", o.ClientID, o.ClientSecret, o.RefreshToken)
	fmt.Printf("  %d leads seeded", len(ids))
	if len(ids) > 0 {
		fmt.Printf(", first %v", ids[:min(len(ids), 5)])
	}
	fmt.Println()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	<-ctx.Done()
}
