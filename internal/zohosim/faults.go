package zohosim

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// A FaultKind is a way for a call to go wrong on purpose.
type FaultKind int

const (
	NoFault               FaultKind = iota // the call goes through
	TooManyRequests                        // 429, flat TOO_MANY_REQUESTS body
	TooManyRequestsLegacy                  // 429, {"code":429,"error":"TOO_MANY_REQUESTS",...}
	InternalError                          // 500 INTERNAL_ERROR
	Unauthorized                           // 401 INVALID_TOKEN
	ScopeMismatch                          // 401 OAUTH_SCOPE_MISMATCH
	NoPermission                           // 403 NO_PERMISSION
	AccessDenied                           // the Accounts throttle body, with Options.AccessDeniedStatus
	Slow                                   // answer normally after Fault.Delay of real time
	Drop                                   // close the connection unanswered; the call is not processed
	DropAfterAccept                        // process the call, then close the connection unanswered
	NonJSON                                // 200 with an HTML page; the call is not processed
	Truncated                              // process the call, then answer 200 with the first half of its JSON
)

var faultNames = [...]string{
	NoFault:               "NoFault",
	TooManyRequests:       "TooManyRequests",
	TooManyRequestsLegacy: "TooManyRequestsLegacy",
	InternalError:         "InternalError",
	Unauthorized:          "Unauthorized",
	ScopeMismatch:         "ScopeMismatch",
	NoPermission:          "NoPermission",
	AccessDenied:          "AccessDenied",
	Slow:                  "Slow",
	Drop:                  "Drop",
	DropAfterAccept:       "DropAfterAccept",
	NonJSON:               "NonJSON",
	Truncated:             "Truncated",
}

func (k FaultKind) String() string {
	if k >= 0 && int(k) < len(faultNames) {
		return faultNames[k]
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// DefaultSlowDelay is how long a Slow fault without a Delay holds a call:
// longer than any sensible client timeout.
const DefaultSlowDelay = 30 * time.Second

// A Fault is one injected failure. The zero Fault lets its call through,
// so a script can interleave normal calls.
type Fault struct {
	Kind  FaultKind
	Delay time.Duration // for Slow; zero means DefaultSlowDelay
}

func (f Fault) delay() time.Duration {
	if f.Delay > 0 {
		return f.Delay
	}
	return DefaultSlowDelay
}

type rateFault struct {
	kind FaultKind
	p    float64
	rng  *rand.Rand
}

// Script queues faults for the next calls to ep, one call each, in order,
// after any faults already queued. A scripted fault takes precedence over
// FaultRate.
func (s *Server) Script(ep Endpoint, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[ep] = append(s.script[ep], faults...)
}

// FaultRate makes each call to ep fail with kind with probability p, drawn
// from a generator seeded by seed so that a run can be replayed. Rates of
// different kinds combine; p <= 0 removes kind's rate.
func (s *Server) FaultRate(ep Endpoint, kind FaultKind, p float64, seed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rates := s.rates[ep][:0:0]
	for _, r := range s.rates[ep] {
		if r.kind != kind {
			rates = append(rates, r)
		}
	}
	if p > 0 {
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(kind)))
		rates = append(rates, &rateFault{kind: kind, p: p, rng: rng})
	}
	s.rates[ep] = rates
}

// ClearFaults drops every scripted fault and fault rate.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.script)
	clear(s.rates)
}

// FaultsInjected counts the faults injected so far, by kind.
func (s *Server) FaultsInjected() map[FaultKind]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[FaultKind]int, len(s.faults))
	for k, v := range s.faults {
		m[k] = v
	}
	return m
}

func (s *Server) nextFaultLocked(ep Endpoint) Fault {
	if q := s.script[ep]; len(q) > 0 {
		s.script[ep] = q[1:]
		return q[0]
	}
	f := Fault{}
	// Every generator draws on every call, so that one kind's sequence does
	// not depend on whether another kind fired.
	for _, r := range s.rates[ep] {
		if r.rng.Float64() < r.p && f.Kind == NoFault {
			f.Kind = r.kind
		}
	}
	return f
}

// faultReply is the answer of a fault that replaces the call's own answer.
func (s *Server) faultReply(k FaultKind) (int, any) {
	switch k {
	case TooManyRequests:
		return errTooManyRequests.reply()
	case TooManyRequestsLegacy:
		return http.StatusTooManyRequests, obj{"code": 429, "error": "TOO_MANY_REQUESTS", "message": "Too many requests"}
	case InternalError:
		return errInternal.reply()
	case Unauthorized:
		return errInvalidToken.reply()
	case ScopeMismatch:
		return errScopeMismatch.reply()
	case NoPermission:
		return errNoPermission.reply()
	case AccessDenied:
		s.mu.Lock()
		s.stats.AccessDenied++
		s.mu.Unlock()
		return s.opts.AccessDeniedStatus, accessDeniedBody
	}
	panic("zohosim: no reply for fault " + k.String())
}

const maintenancePage = `<!DOCTYPE html>
<html><head><title>Zoho CRM</title></head>
<body><h1>We'll be back shortly</h1><p>Zoho CRM is undergoing maintenance.</p></body></html>
`
