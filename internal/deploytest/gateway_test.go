package deploytest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// gateway stands in for the stack's HTTP API on 127.0.0.1, as its template
// describes it: a request without X-Webhook-Key is refused with 401, the
// authorizer function decides the others (403), and admitted ones reach the
// convert function as HTTP API (payload 2.0) events. The authorizer's
// answers are not cached; API Gateway's throttling is not played.
type gateway struct {
	t             *testing.T
	apiID, region string
	fns           map[string]*function // read at each request: a test may restart one
	URL           string
}

func (d *deployment) gateway(t *testing.T, apiID string, fns map[string]*function) *gateway {
	t.Helper()
	g := &gateway{t: t, apiID: apiID, region: d.cfg.Region, fns: fns}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	g.URL = "http://" + l.Addr().String()
	return g
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	headers := map[string]string{}
	for k, v := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	domain := g.apiID + ".execute-api." + g.region + ".amazonaws.com"
	headers["host"] = domain
	routeKey := r.Method + " " + r.URL.Path
	ctx := events.APIGatewayV2HTTPRequestContext{AccountID: Account, APIID: g.apiID, DomainName: domain,
		DomainPrefix: g.apiID, RequestID: rand.Text(), RouteKey: routeKey, Stage: "$default",
		TimeEpoch: time.Now().UnixMilli(),
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path,
			Protocol: r.Proto, SourceIP: "127.0.0.1", UserAgent: r.UserAgent()}}

	key := r.Header.Get("X-Webhook-Key")
	if key == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return
	}
	var admitted struct {
		IsAuthorized bool `json:"isAuthorized"`
	}
	if !g.invoke(w, "AuthorizerFunction", events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST",
		RouteArn:       "arn:aws:execute-api:" + g.region + ":" + Account + ":" + g.apiID + "/$default/" + r.Method + r.URL.Path,
		IdentitySource: []string{key}, RouteKey: routeKey, RawPath: r.URL.Path, RawQueryString: r.URL.RawQuery,
		Headers: headers, RequestContext: ctx}, &admitted) {
		return
	}
	if !admitted.IsAuthorized {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Forbidden"})
		return
	}

	var resp events.APIGatewayV2HTTPResponse
	if !g.invoke(w, "ConvertFunction", events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: routeKey, RawPath: r.URL.Path,
		RawQueryString: r.URL.RawQuery, Headers: headers, RequestContext: ctx,
		Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true}, &resp) {
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	out := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if out, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(out)
}

// invoke calls the function id with the event and decodes its answer into
// v; a failure fails the test (from the server's goroutine: t.Error) and
// answers 500, as API Gateway answers a failed integration.
func (g *gateway) invoke(w http.ResponseWriter, id string, event, v any) bool {
	payload, err := json.Marshal(event)
	if err == nil {
		var out []byte
		if out, err = g.fns[id].Call(payload); err == nil {
			err = json.Unmarshal(out, v)
		}
	}
	if err != nil {
		g.t.Errorf("gateway: %s: %v", id, err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
