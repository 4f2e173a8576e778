// Package faults is the fault suite of the bridge: a seeded run of
// thousands of leads through the real convert and status handlers while
// Zoho (the simulator) and AWS (moto, behind Proxy) misbehave, followed by
// a check, lead by lead and message by message, that nothing was lost or
// converted twice. The suite itself is in the package's tests; this file
// holds the fault-injecting reverse proxy it puts in front of moto.
package faults

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Refusal is how the proxy refuses a request it does not forward.
type Refusal int

const (
	Closed    Refusal = iota // the connection is closed without an answer
	Status500                // 500 InternalFailure
	Status503                // 503 ServiceUnavailable
	refusals
)

func (r Refusal) String() string {
	switch r {
	case Closed:
		return "connection closed"
	case Status500:
		return "HTTP 500"
	case Status503:
		return "HTTP 503"
	}
	return "Refusal(?)"
}

// ProxyStats counts what the proxy did.
type ProxyStats struct {
	Forwarded int
	Refused   map[Refusal]int
	// TargetErrors counts 5xx answers of the target itself.
	TargetErrors int
}

// TotalRefused is the number of requests refused, however.
func (s ProxyStats) TotalRefused() int {
	n := 0
	for _, v := range s.Refused {
		n += v
	}
	return n
}

// Proxy is a reverse proxy in front of one HTTP endpoint (moto's) that
// refuses requests on demand, as an unreachable or failing AWS would:
//
//   - down: every request is refused, by closing its connection or
//     answering 500 or 503 (chosen by a seeded generator);
//   - flaky(p): each request is refused with probability p, with a 500 or a
//     503 only, which the AWS SDK retries;
//   - tripped: the proxy goes down at the first request a predicate
//     matches (that request included) and stays down until told otherwise.
//
// A refused request never reaches the target, so a refusal never hides a
// write that happened. Proxy is safe for concurrent use.
//
// The proxy forwards DynamoDB requests one at a time: moto (5.2)
// deep-copies a whole table for each item of a TransactWriteItems without
// a lock, so a write running meanwhile makes it fail with a 500
// ("RuntimeError: dictionary changed size during iteration"), a fault of
// the stand-in that real DynamoDB does not have.
type Proxy struct {
	rp     *httputil.ReverseProxy
	serial sync.Mutex // held while a DynamoDB request is forwarded

	mu    sync.Mutex
	down  bool
	flaky float64
	trip  func(r *http.Request, body []byte) bool
	rng   *rand.Rand
	stats ProxyStats
}

// NewProxy returns a proxy to target (scheme://host:port) whose random
// choices are drawn from seed.
func NewProxy(target string, seed uint64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, errors.New("faults: proxy target needs a scheme and a host")
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
	}
	p := &Proxy{
		rp:    rp,
		rng:   rand.New(rand.NewPCG(seed, 0x70726f7879)),
		stats: ProxyStats{Refused: map[Refusal]int{}},
	}
	rp.ModifyResponse = func(res *http.Response) error {
		if res.StatusCode >= 500 {
			p.mu.Lock()
			p.stats.TargetErrors++
			p.mu.Unlock()
		}
		return nil
	}
	return p, nil
}

// SetDown takes the target out of reach (true) or brings it back (false,
// which also disarms TripOn).
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if !down {
		p.trip = nil
	}
}

// SetFlaky refuses each request with probability prob (0 turns it off).
func (p *Proxy) SetFlaky(prob float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flaky = prob
}

// TripOn makes the proxy go down at the first request for which match
// reports true. body is the request body, already read.
func (p *Proxy) TripOn(match func(r *http.Request, body []byte) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trip = match
}

// Down reports whether the proxy refuses everything now.
func (p *Proxy) Down() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// Stats returns a copy of the counters.
func (p *Proxy) Stats() ProxyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := ProxyStats{Forwarded: p.stats.Forwarded, Refused: make(map[Refusal]int, len(p.stats.Refused)),
		TargetErrors: p.stats.TargetErrors}
	for k, v := range p.stats.Refused {
		s.Refused[k] = v
	}
	return s
}

// decide reports how to refuse r, or ok to forward it.
func (p *Proxy) decide(r *http.Request, body []byte) (how Refusal, forward bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.down && p.trip != nil && p.trip(r, body) {
		p.down, p.trip = true, nil
	}
	switch {
	case p.down:
		how = Refusal(p.rng.IntN(int(refusals)))
	case p.flaky > 0 && p.rng.Float64() < p.flaky:
		how = Status500 + Refusal(p.rng.IntN(2))
	default:
		p.stats.Forwarded++
		return 0, true
	}
	p.stats.Refused[how]++
	return how, false
}

// maxBody bounds what the proxy buffers of a request.
const maxBody = 16 << 20

// ServeHTTP forwards r or refuses it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "proxy: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	how, forward := p.decide(r, body)
	if forward {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_") {
			p.serial.Lock()
			defer p.serial.Unlock()
		}
		p.rp.ServeHTTP(w, r)
		return
	}
	switch how {
	case Closed:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		conn.Close()
	case Status500:
		writeAWSError(w, http.StatusInternalServerError, "InternalFailure")
	default:
		writeAWSError(w, http.StatusServiceUnavailable, "ServiceUnavailable")
	}
}

// writeAWSError answers in the JSON error shape of the AWS JSON protocols.
func writeAWSError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"__type":"`+code+`","message":"injected by the fault proxy"}`)
}

// Start serves the proxy on a fresh loopback port. stop closes it and
// every connection.
func (p *Proxy) Start() (baseURL string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if srv.Shutdown(ctx) != nil {
				srv.Close()
			}
		})
	}
	return "http://" + ln.Addr().String(), stop, nil
}
