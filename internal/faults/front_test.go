package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
)

// zohoFront serves the simulator and watches what it answers, so that the
// checks know what the bridge cannot: which connection drops came after
// Zoho had scheduled a job (the job's id never reached the bridge), and
// which leads Zoho refused with INVALID_DATA.
type zohoFront struct {
	sim *zohosim.Server

	mu sync.Mutex
	// hijacked counts answers the simulator dropped (Drop, DropAfterAccept).
	hijacked int
	// ambiguousJobs are jobs scheduled by a mass_convert whose connection
	// was then dropped (DropAfterAccept that hit a successful schedule).
	ambiguousJobs map[string]bool
	// invalidData holds the leads Zoho refused with INVALID_DATA at $.ids[k].
	invalidData map[string]int
	// resent are leads sent to Zoho while a job that had not failed them
	// held them, with that job: the bridge's claim should have stopped
	// them unless the job's id was lost or its claims were released.
	resent []resend
}

type resend struct{ lead, job string }

func newZohoFront(sim *zohosim.Server) *zohoFront {
	return &zohoFront{sim: sim, ambiguousJobs: map[string]bool{}, invalidData: map[string]int{}}
}

// watchWriter sees what the simulator answers before the client does, so
// that every observation happens before the caller can act on the answer.
type watchWriter struct {
	http.ResponseWriter
	f       *zohoFront
	convert bool   // a mass_convert POST
	req     []byte // its body
	before  int    // jobs scheduled before it arrived
	status  int
}

func (w *watchWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *watchWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.convert && w.status == http.StatusBadRequest {
		if id := invalidLead(w.req, b); id != "" {
			w.f.mu.Lock()
			w.f.invalidData[id]++
			w.f.mu.Unlock()
		}
	}
	return w.ResponseWriter.Write(b)
}

// Hijack is how the simulator drops a connection (Drop, DropAfterAccept).
func (w *watchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	var scheduled []string
	if w.convert {
		// Only this request can have scheduled a job with exactly its body:
		// the simulator schedules all of a call's ids or none, and no other
		// call in flight holds the same leads.
		jobs := w.f.sim.Jobs()
		for _, j := range jobs[min(w.before, len(jobs)):] {
			if bytes.Equal(j.Body, w.req) {
				scheduled = append(scheduled, j.ID)
			}
		}
	}
	w.f.mu.Lock()
	w.f.hijacked++
	for _, id := range scheduled {
		w.f.ambiguousJobs[id] = true
	}
	w.f.mu.Unlock()
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (f *zohoFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ww := &watchWriter{ResponseWriter: w, f: f}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Leads/actions/mass_convert") {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ww.convert, ww.req, ww.before = true, body, f.sim.Stats().JobsScheduled
		f.noteResends(body)
	}
	f.sim.ServeHTTP(ww, r)
}

// noteResends records the leads of a mass_convert that a job holds.
func (f *zohoFront) noteResends(body []byte) {
	var q struct {
		IDs []string `json:"ids"`
	}
	if json.Unmarshal(body, &q) != nil {
		return
	}
	held := map[string]string{}
	for _, j := range f.sim.Jobs() {
		for _, id := range j.IDs {
			if !slices.Contains(j.FailedIDs, id) {
				held[id] = j.ID
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range q.IDs {
		if job, ok := held[id]; ok {
			f.resent = append(f.resent, resend{lead: id, job: job})
		}
	}
}

var idsPath = regexp.MustCompile(`^\$\.ids\[(\d+)\]$`)

// invalidLead returns the lead an INVALID_DATA answer points at, if any.
func invalidLead(req, answer []byte) string {
	var a struct {
		Code    string `json:"code"`
		Details struct {
			JSONPath string `json:"json_path"`
		} `json:"details"`
	}
	var q struct {
		IDs []string `json:"ids"`
	}
	if json.Unmarshal(answer, &a) != nil || a.Code != "INVALID_DATA" || json.Unmarshal(req, &q) != nil {
		return ""
	}
	m := idsPath.FindStringSubmatch(a.Details.JSONPath)
	if m == nil {
		return ""
	}
	k, err := strconv.Atoi(m[1])
	if err != nil || k >= len(q.IDs) {
		return ""
	}
	return q.IDs[k]
}

func (f *zohoFront) resends() []resend {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.resent)
}

func (f *zohoFront) snapshot() (hijacked int, ambiguous map[string]bool, invalid map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ambiguous = make(map[string]bool, len(f.ambiguousJobs))
	for k := range f.ambiguousJobs {
		ambiguous[k] = true
	}
	invalid = make(map[string]int, len(f.invalidData))
	for k, v := range f.invalidData {
		invalid[k] = v
	}
	return f.hijacked, ambiguous, invalid
}
