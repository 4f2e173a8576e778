package zohosim

import (
	"net/http"
	"net/http/httptest"
)

// Transport returns an http.RoundTripper that serves every request with
// ServeHTTP in the calling goroutine: no sockets, no ports, nothing but the
// handler's work (benchmarks). The latency option still applies. Faults that
// close the connection (Drop, DropAfterAccept) need a real listener: Start.
func (s *Server) Transport() http.RoundTripper { return inProcess{s} }

type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if r.Body != nil {
		r.Body.Close()
	}
	if err := r.Context().Err(); err != nil {
		return nil, err // the simulator gave up waiting and wrote nothing
	}
	res := rec.Result()
	res.Request = r
	return res, nil
}
