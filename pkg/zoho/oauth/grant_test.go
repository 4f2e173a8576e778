package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// dataCentres starts one simulator per data centre, each with a client of
// its own, as Zoho registers a self-client in one data centre only.
func dataCentres(t *testing.T, dcs ...zoho.DataCenter) (map[zoho.DataCenter]*zohosim.Server, []AccountsServer) {
	t.Helper()
	return dataCentresWith(t, nil, dcs...)
}

// dataCentresWith is dataCentres with each data centre's client id given:
// several may share one, to stand for a Zoho whose answers cannot tell.
func dataCentresWith(t *testing.T, clients map[zoho.DataCenter]string, dcs ...zoho.DataCenter) (map[zoho.DataCenter]*zohosim.Server, []AccountsServer) {
	t.Helper()
	sims := map[zoho.DataCenter]*zohosim.Server{}
	var servers []AccountsServer
	for _, dc := range dcs {
		id, ok := clients[dc]
		if !ok {
			id = "1000." + strings.ToUpper(string(dc)) + "CLIENT"
		}
		sim := zohosim.New(zohosim.Options{ClientID: id, APIDomain: dc.APIURL(zoho.Production)})
		base, stop := sim.Start()
		t.Cleanup(stop)
		sims[dc] = sim
		servers = append(servers, AccountsServer{DataCenter: dc, URL: base})
	}
	return sims, servers
}

// TestExchangeCode: the data centre is found with the client id alone, and
// the client secret and the grant code reach the client's own accounts
// server and no other, whatever the outcome; when the answers cannot tell
// the data centre, they reach none.
func TestExchangeCode(t *testing.T) {
	ctx := context.Background()
	hc := &http.Client{Timeout: 10 * time.Second}
	all := []zoho.DataCenter{zoho.US, zoho.EU, zoho.IN}
	for _, tt := range []struct {
		name    string
		client  string                     // client id, by data centre
		clients map[zoho.DataCenter]string // the simulators' client ids, when not their own
		code    func(sims map[zoho.DataCenter]*zohosim.Server) string
		secret  string
		servers func([]AccountsServer) []AccountsServer
		drop    zoho.DataCenter // a server that answers nothing
		failure GrantFailure
		stopAt  zoho.DataCenter // where the code went; "" for none
		tried   []zoho.DataCenter
		skipped []zoho.DataCenter
		calls   map[zoho.DataCenter]int // token calls each server got
	}{
		{name: "found at the second data centre", client: "1000.EUCLIENT",
			code:   func(s map[zoho.DataCenter]*zohosim.Server) string { return s[zoho.EU].GrantCode(3 * time.Minute) },
			stopAt: zoho.EU, tried: all, skipped: []zoho.DataCenter{zoho.US, zoho.IN},
			calls: map[zoho.DataCenter]int{zoho.US: 1, zoho.EU: 2, zoho.IN: 1}},
		{name: "named data centre", client: "1000.EUCLIENT",
			code:    func(s map[zoho.DataCenter]*zohosim.Server) string { return s[zoho.EU].GrantCode(3 * time.Minute) },
			servers: func(s []AccountsServer) []AccountsServer { return s[1:2] },
			stopAt:  zoho.EU, tried: []zoho.DataCenter{zoho.EU}, calls: map[zoho.DataCenter]int{zoho.US: 0, zoho.EU: 1, zoho.IN: 0}},
		{name: "another data centre gives no answer", client: "1000.EUCLIENT", drop: zoho.IN,
			code:   func(s map[zoho.DataCenter]*zohosim.Server) string { return s[zoho.EU].GrantCode(3 * time.Minute) },
			stopAt: zoho.EU, tried: all, skipped: []zoho.DataCenter{zoho.US},
			calls: map[zoho.DataCenter]int{zoho.US: 1, zoho.EU: 2, zoho.IN: 1}},
		{name: "unknown everywhere", client: "1000.NOBODY", failure: UnknownClient,
			code:   func(s map[zoho.DataCenter]*zohosim.Server) string { return s[zoho.EU].GrantCode(3 * time.Minute) },
			stopAt: zoho.IN, tried: all, calls: map[zoho.DataCenter]int{zoho.US: 1, zoho.EU: 1, zoho.IN: 1}},
		{name: "every data centre knows the client", client: "1000.EUCLIENT", failure: DataCenterUnknown,
			clients: map[zoho.DataCenter]string{zoho.US: "1000.EUCLIENT", zoho.IN: "1000.EUCLIENT"},
			code:    func(s map[zoho.DataCenter]*zohosim.Server) string { return s[zoho.EU].GrantCode(3 * time.Minute) },
			tried:   all, calls: map[zoho.DataCenter]int{zoho.US: 1, zoho.EU: 1, zoho.IN: 1}},
		{name: "the client's own gives no answer", client: "1000.EUCLIENT", drop: zoho.EU, failure: DataCenterUnknown,
			code:  func(s map[zoho.DataCenter]*zohosim.Server) string { return s[zoho.EU].GrantCode(3 * time.Minute) },
			tried: all, calls: map[zoho.DataCenter]int{zoho.US: 1, zoho.EU: 1, zoho.IN: 1}},
		{name: "wrong secret", client: "1000.EUCLIENT", secret: "nope", failure: WrongClientSecret,
			code:   func(s map[zoho.DataCenter]*zohosim.Server) string { return s[zoho.EU].GrantCode(3 * time.Minute) },
			stopAt: zoho.EU, tried: all, calls: map[zoho.DataCenter]int{zoho.US: 1, zoho.EU: 2, zoho.IN: 1}},
		{name: "expired code", client: "1000.EUCLIENT", failure: CodeRefused,
			code: func(s map[zoho.DataCenter]*zohosim.Server) string {
				c := s[zoho.EU].GrantCode(3 * time.Minute)
				s[zoho.EU].Clock().(*zohosim.ManualClock).Advance(4 * time.Minute)
				return c
			},
			stopAt: zoho.EU, tried: all, calls: map[zoho.DataCenter]int{zoho.EU: 2, zoho.IN: 1}},
		{name: "code used before", client: "1000.EUCLIENT", failure: CodeUsed,
			code:   func(s map[zoho.DataCenter]*zohosim.Server) string { return s[zoho.EU].GrantCode(3 * time.Minute) },
			stopAt: zoho.EU, tried: all, calls: map[zoho.DataCenter]int{zoho.EU: 2, zoho.IN: 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sims, servers := dataCentresWith(t, tt.clients, all...)
			code := tt.code(sims)
			if tt.failure == CodeUsed {
				if _, err := ExchangeCode(ctx, hc, servers, tt.client, zohosim.DefaultClientSecret, code); err != nil {
					t.Fatalf("first exchange: %v", err)
				}
				for _, s := range sims {
					s.ResetStats()
				}
			}
			if tt.drop != "" {
				sims[tt.drop].Script(zohosim.EndpointToken, zohosim.Fault{Kind: zohosim.Drop})
			}
			if tt.servers != nil {
				servers = tt.servers(servers)
			}
			secret := zohosim.DefaultClientSecret
			if tt.secret != "" {
				secret = tt.secret
			}
			g, err := ExchangeCode(ctx, hc, servers, tt.client, secret, code)
			for dc, n := range tt.calls {
				if got := sims[dc].Stats().Calls[zohosim.EndpointToken]; got != n {
					t.Errorf("%s got %d token calls, want %d", dc, got, n)
				}
			}
			// The secret and the code reach the server the code went to,
			// and no other.
			for dc, sim := range sims {
				for _, r := range sim.TokenRequests() {
					for what, v := range map[string]string{"client secret": secret, "grant code": code} {
						if strings.Contains(r.Raw, v) && (dc != tt.stopAt || tt.failure == UnknownClient) {
							t.Errorf("%s received the %s", dc, what)
						}
					}
				}
			}
			if tt.failure == GrantFailed {
				if err != nil {
					t.Fatal(err)
				}
				if g.Server.DataCenter != tt.stopAt || g.RefreshToken != zohosim.DefaultRefreshToken || g.AccessToken == "" ||
					g.APIDomain != "https://www.zohoapis.eu" || !slices.Equal(g.Skipped, tt.skipped) {
					t.Fatalf("grant %+v at %s, skipped %v", g, g.Server.DataCenter, g.Skipped)
				}
				if s := g.String(); strings.Contains(s, g.RefreshToken) || strings.Contains(s, g.AccessToken) {
					t.Errorf("String() shows a token: %s", s)
				}
				return
			}
			var ge *GrantError
			if !errors.As(err, &ge) || ge.Failure != tt.failure || (tt.stopAt != "" && ge.Server.DataCenter != tt.stopAt) || !slices.Equal(ge.Tried, tt.tried) {
				t.Fatalf("error %v (%#v), want failure %d at %s after %v", err, ge, tt.failure, tt.stopAt, tt.tried)
			}
			msg := ge.Error() + " " + ge.Fix()
			for _, secret := range []string{code, secret, zohosim.DefaultRefreshToken} {
				if strings.Contains(msg, secret) {
					t.Errorf("the error shows a secret: %s", msg)
				}
			}
			if tt.failure == DataCenterUnknown && (!strings.Contains(msg, "--dc") || !strings.Contains(msg, "sent to none")) {
				t.Errorf("message %q does not say the code was kept and to name the data centre", msg)
			}
			if ge.Fix() == "" {
				t.Error("no fix")
			}
		})
	}
}

// TestExchangeCodeNoAnswer: a named server that does not answer ends the
// exchange, since the code may have reached it.
func TestExchangeCodeNoAnswer(t *testing.T) {
	sims, servers := dataCentres(t, zoho.EU)
	sims[zoho.EU].Script(zohosim.EndpointToken, zohosim.Fault{Kind: zohosim.Drop})
	_, err := ExchangeCode(context.Background(), &http.Client{}, servers, "1000.EUCLIENT",
		zohosim.DefaultClientSecret, sims[zoho.EU].GrantCode(time.Minute))
	var ge *GrantError
	if !errors.As(err, &ge) || ge.Failure != NoAnswer || len(ge.Tried) != 1 {
		t.Fatalf("error %v, want NoAnswer after one server", err)
	}
	if n := sims[zoho.EU].Stats().Calls[zohosim.EndpointToken]; n != 1 {
		t.Fatalf("%d token calls, want 1: no retry of a code that may be spent", n)
	}
}
