package zohosim

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The directory entries every simulator starts with.
const (
	DefaultUserID           = "3652397000000186017"
	DefaultPortalUserTypeID = "3652397000000431001"
)

// Bases of generated ids: 19 digits, like the org's real record ids.
const (
	leadIDBase = 3652397000001000000
	jobIDBase  = 3652397000009835000
)

// AddUser adds a user that assign_to may name.
func (s *Server) AddUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[id] = true
}

// AddPortalUserType adds a portal user type that portal_user_type may name.
func (s *Server) AddPortalUserType(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.portalTypes[id] = true
}

// SeedLeads adds leads that may be converted. Seeding a lead that a job
// has taken makes it a fresh lead again.
func (s *Server) SeedLeads(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.leads[id] = true
		delete(s.taken, id)
		delete(s.converted, id)
	}
	s.sorted = nil
}

// SeedConvertedLeads adds leads that are already converted, as leads
// converted in Zoho's UI before a run: Get Records shows them converted,
// COQL returns them (unless Options.COQLHidesConverted) and both convert
// APIs refuse them.
func (s *Server) SeedConvertedLeads(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.leads, id)
		delete(s.taken, id)
		s.converted[id] = false
	}
	s.sorted = nil
}

// SeedLeadRange adds n leads with fresh 19-digit ids and returns the ids.
func (s *Server) SeedLeadRange(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, n)
	for i := range ids {
		s.leadSeq++
		ids[i] = strconv.FormatInt(leadIDBase+s.leadSeq, 10)
		s.leads[ids[i]] = true
	}
	s.sorted = nil
	return ids
}

// HasLead reports whether id may be submitted now: seeded, and not held by
// a job, or failed by the job that held it.
func (s *Server) HasLead(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	return s.leads[id]
}

// LeadCount reports how many leads may be submitted now.
func (s *Server) LeadCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	return len(s.leads)
}

// FailLeads makes the conversion of these leads fail whenever a job runs
// them, as a lead with bad data would, until UnfailLeads.
func (s *Server) FailLeads(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.failing[id] = true
	}
}

// UnfailLeads undoes FailLeads, as fixing the lead's data would.
func (s *Server) UnfailLeads(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.failing, id)
	}
}

// A JobState is the state of a mass convert job, independent of the casing
// the API reports it in.
type JobState string

const (
	JobScheduled  JobState = "scheduled"
	JobInProgress JobState = "in progress"
	JobCompleted  JobState = "completed"
	JobFailed     JobState = "failed"
)

// JobInfo describes a job as the simulator knows it.
type JobInfo struct {
	ID           string
	Version      string // "v7" or "v8"
	IDs          []string
	State        JobState
	Status       string // State as the status API spells it for this job
	Total        int
	Converted    int
	NotConverted int // still waiting to be processed
	Failed       int
	FailedIDs    []string // set once the job has ended
	ScheduledAt  time.Time
	Deals        map[string]any  // the request's Deals object, numbers as json.Number
	Body         json.RawMessage // the request body as received
}

type job struct {
	seq       int
	id        string
	version   string
	ids       []string
	body      []byte
	deals     map[string]any
	at, ends  time.Time
	casing    casing
	done      bool
	failedIDs []string
}

// scheduleLocked takes every id out of the lead store into a new job, or
// reports the first id that cannot be taken and takes none.
func (s *Server) scheduleLocked(ids []string, body []byte, dealsRaw json.RawMessage, v8 bool) (*job, *apiError) {
	seen := make(map[string]bool, len(ids))
	for k, id := range ids {
		if !s.leads[id] || seen[id] {
			return nil, invalid(field("ids", "$.ids["+strconv.Itoa(k)+"]"))
		}
		seen[id] = true
	}
	now := s.opts.Clock.Now()
	n := len(s.order)
	j := &job{
		seq:     n,
		id:      strconv.FormatInt(jobIDBase+int64(n)+1, 10),
		version: "v7",
		ids:     slices.Clone(ids),
		body:    slices.Clone(body),
		at:      now,
		ends:    now.Add(s.opts.ScheduledFor + s.opts.InProgressFor),
		casing:  s.casings[n%len(s.casings)],
	}
	if v8 {
		j.version = "v8"
	}
	if !absent(dealsRaw) {
		d := json.NewDecoder(bytes.NewReader(dealsRaw))
		d.UseNumber()
		d.Decode(&j.deals) // already validated as an object
	}
	for _, id := range ids {
		delete(s.leads, id)
		s.taken[id] = j.id
	}
	s.jobs[j.id] = j
	s.order = append(s.order, j)
	heap.Push(&s.pending, j)
	s.stats.JobsScheduled++
	s.stats.IDsSubmitted += len(ids)
	return j, nil
}

// advanceLocked ends every job whose time is up. Jobs progress lazily, on
// observation, which with a manual clock is indistinguishable from a
// background worker and needs no goroutine.
func (s *Server) advanceLocked() {
	now := s.opts.Clock.Now()
	for len(s.pending) > 0 && !now.Before(s.pending[0].ends) {
		j := heap.Pop(&s.pending).(*job)
		for _, id := range j.ids {
			if s.failing[id] {
				// Not converted, so the lead is back where it was.
				j.failedIDs = append(j.failedIDs, id)
				s.leads[id] = true
				delete(s.taken, id)
			}
		}
		j.done = true
	}
}

func (s *Server) infoLocked(j *job) JobInfo {
	info := JobInfo{
		ID:          j.id,
		Version:     j.version,
		IDs:         slices.Clone(j.ids),
		Total:       len(j.ids),
		ScheduledAt: j.at,
		Deals:       maps.Clone(j.deals),
		Body:        slices.Clone(j.body),
	}
	now := s.opts.Clock.Now()
	start := j.at.Add(s.opts.ScheduledFor)
	switch {
	case j.done:
		info.FailedIDs = slices.Clone(j.failedIDs)
		info.Failed = len(j.failedIDs)
		info.Converted = info.Total - info.Failed
		info.State = JobCompleted
		if info.Failed == info.Total {
			info.State = JobFailed
		}
	case now.Before(start):
		info.State = JobScheduled
		info.NotConverted = info.Total
	default:
		// Leads are processed in submission order, at an even pace.
		info.State = JobInProgress
		done := info.Total
		if s.opts.InProgressFor > 0 {
			done = int(float64(info.Total) * float64(now.Sub(start)) / float64(s.opts.InProgressFor))
			done = min(done, info.Total)
		}
		for _, id := range j.ids[:done] {
			if s.failing[id] {
				info.Failed++
			}
		}
		info.Converted = done - info.Failed
		info.NotConverted = info.Total - done
	}
	info.Status = j.casing.format(info.State)
	return info
}

// Job returns what the simulator knows of a job.
func (s *Server) Job(jobID string) (JobInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	j, ok := s.jobs[jobID]
	if !ok {
		return JobInfo{}, false
	}
	return s.infoLocked(j), true
}

// Jobs returns every job, in the order they were scheduled.
func (s *Server) Jobs() []JobInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	infos := make([]JobInfo, len(s.order))
	for i, j := range s.order {
		infos[i] = s.infoLocked(j)
	}
	return infos
}

// jobQueue orders unfinished jobs by end time. A heap rather than a FIFO,
// because ManualClock.Set may move time backwards between schedulings.
type jobQueue []*job

func (q jobQueue) Len() int { return len(q) }
func (q jobQueue) Less(i, k int) bool {
	if !q[i].ends.Equal(q[k].ends) {
		return q[i].ends.Before(q[k].ends)
	}
	return q[i].seq < q[k].seq
}
func (q jobQueue) Swap(i, k int) { q[i], q[k] = q[k], q[i] }
func (q *jobQueue) Push(x any)   { *q = append(*q, x.(*job)) }
func (q *jobQueue) Pop() any {
	old := *q
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return j
}

// A casing is one of the spellings of job status found in Zoho's material.
type casing int

const (
	upperCase casing = iota
	upperUnderscoreCase
	titleCase
	lowerCase
	underscoreCase
)

var casingNames = map[string]casing{
	"upper":            upperCase,
	"upper_underscore": upperUnderscoreCase,
	"title":            titleCase,
	"lower":            lowerCase,
	"underscore":       underscoreCase,
}

func (c casing) format(st JobState) string {
	v := string(st)
	switch c {
	case upperCase:
		return strings.ToUpper(v)
	case upperUnderscoreCase:
		return strings.ToUpper(strings.ReplaceAll(v, " ", "_"))
	case titleCase:
		return strings.ToUpper(v[:1]) + v[1:]
	case underscoreCase:
		return strings.ReplaceAll(v, " ", "_")
	}
	return v
}
