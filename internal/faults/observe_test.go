package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
)

// collector is the functions' stdout: it sums the EMF metrics and keeps the
// ERROR log lines, without holding the whole output.
type collector struct {
	mu      sync.Mutex
	partial []byte
	metrics map[string]float64 // by metric name, and "name/dimension value"
	errors  map[string]int     // ERROR lines by message
	// notRecorded are the jobs the convert function logged as scheduled by
	// Zoho but not recorded, with their leads.
	notRecorded map[string][]string
	// retryCodes are the codes of the messages handed back, by message id.
	retryCodes map[string][]string
	samples    []string // the first ERROR lines of each message, with their error
}

func newCollector() *collector {
	return &collector{metrics: map[string]float64{}, errors: map[string]int{}, notRecorded: map[string][]string{}, retryCodes: map[string][]string{}}
}

const msgNotRecorded = "zoho scheduled a job that could not be recorded; record it by hand"

func (c *collector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(c.partial[:i])
		c.partial = c.partial[i+1:]
	}
	if len(c.partial) == 0 {
		c.partial = nil
	}
	return len(p), nil
}

func (c *collector) line(b []byte) {
	var doc map[string]any
	if json.Unmarshal(b, &doc) != nil {
		c.errors["(a line that is not JSON)"]++
		return
	}
	if _, ok := doc["_aws"]; ok {
		c.emf(b)
		return
	}
	msg, _ := doc["msg"].(string)
	if msg == "message handed back for a retry" {
		id, _ := doc["message_id"].(string)
		code, _ := doc["code"].(string)
		c.retryCodes[id] = append(c.retryCodes[id], code)
	}
	if os.Getenv("FAULTS_DEBUG") == "all" || doc["level"] == "WARN" && os.Getenv("FAULTS_DEBUG") != "" {
		fmt.Fprintln(os.Stderr, string(b))
	}
	if doc["level"] != "ERROR" {
		return
	}
	c.errors[msg]++
	if e, ok := doc["error"].(string); ok && c.errors[msg] <= 3 {
		c.samples = append(c.samples, msg+": "+e)
	}
	if msg == msgNotRecorded {
		id, _ := doc["job_id"].(string)
		var leads []string
		if l, ok := doc["lead_ids"].([]any); ok {
			for _, v := range l {
				s, _ := v.(string)
				leads = append(leads, s)
			}
		}
		c.notRecorded[id] = leads
	}
}

// emf adds the counters of an EMF line to the sums; a malformed one counts
// as an error line.
func (c *collector) emf(b []byte) {
	e, _, err := testkit.ParseEMF(b)
	if err != nil {
		c.errors["(an EMF line that does not parse)"]++
		c.samples = append(c.samples, "EMF: "+err.Error())
		return
	}
	e.AddTo(c.metrics, "Count")
}

// metric returns a counter summed over every invocation.
func (c *collector) metric(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.metrics[name])
}

// metricsWithPrefix returns the counters whose name starts with prefix+"/".
func (c *collector) metricsWithPrefix(prefix string) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.metrics {
		if len(k) > len(prefix) && k[:len(prefix)+1] == prefix+"/" {
			out[k[len(prefix)+1:]] = int(v)
		}
	}
	return out
}

func (c *collector) errorLines() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.errors))
	for k, v := range c.errors {
		out[k] = v
	}
	return out
}

func (c *collector) jobsNotRecorded() map[string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]string, len(c.notRecorded))
	for k, v := range c.notRecorded {
		out[k] = slices.Clone(v)
	}
	return out
}

func (c *collector) retriesOf(messageID string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.retryCodes[messageID])
}

// invocationKey carries the number of an invocation in its context, so
// that a dead letter can be traced to the delivery that sent it.
type invocationKey struct{}

func withInvocation(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, invocationKey{}, n)
}

// letter is one dead letter that reached the dead-letter queue.
type letter struct {
	invocation int
	sqsbatch.Letter
}

// dlqRecorder is the functions' dead-letter queue: it records each letter
// the real queue accepted, with the invocation that sent it.
type dlqRecorder struct {
	next sqsbatch.DeadLetter

	mu      sync.Mutex
	letters []letter
}

func (d *dlqRecorder) Send(ctx context.Context, body string, l sqsbatch.Letter) error {
	if err := d.next.Send(ctx, body, l); err != nil {
		return err
	}
	n, _ := ctx.Value(invocationKey{}).(int)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.letters = append(d.letters, letter{invocation: n, Letter: l})
	return nil
}

// sentBy returns the letters one invocation sent, by message id.
func (d *dlqRecorder) sentBy(invocation int) map[string]sqsbatch.Letter {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]sqsbatch.Letter{}
	for _, l := range d.letters {
		if l.invocation == invocation {
			out[l.MessageID] = l.Letter
		}
	}
	return out
}

func (d *dlqRecorder) all() []letter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.letters)
}
