package jobcheck

import (
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/jobs"
)

// The source and detail type of the event announcing a finished job, for
// EventBridge rules to match:
//
//	{"source": ["zoho-lead-convert"], "detail-type": ["Mass Convert Job Finished"]}
const (
	EventSource     = "zoho-lead-convert"
	EventDetailType = "Mass Convert Job Finished"
)

// Event is the detail of the event announcing a job that reached a terminal
// state. LeadIDs are all the leads of the job; they were read back from Zoho
// when it ended: ConvertedIDs are never sent again, NotConvertedIDs were
// sent again while they had attempts left (ClaimsReleased says some were
// released). A call in doubt that was read back is announced too, with
// status SETTLED and its own id.
type Event struct {
	JobID          string     `json:"job_id"`
	Status         jobs.State `json:"status"`                // COMPLETED, FAILED, UNKNOWN, STALE or SETTLED
	ZohoStatus     string     `json:"zoho_status,omitempty"` // as Zoho spelled it
	Total          int        `json:"total"`
	Converted      int        `json:"converted"`
	NotConverted   int        `json:"not_converted"`
	Failed         int        `json:"failed"`
	LeadIDs        []string   `json:"lead_ids"`
	Sources        []string   `json:"sources,omitempty"` // the requests that asked for the leads
	Reason         string     `json:"reason,omitempty"`  // why UNKNOWN or STALE
	ClaimsReleased bool       `json:"claims_released"`
	// Left out when the leads could not be read back (no scope for it):
	// then every lead of a job that failed some was released.
	ConvertedIDs    []string  `json:"converted_ids,omitempty"`
	NotConvertedIDs []string  `json:"not_converted_ids,omitempty"`
	Checks          int       `json:"checks"`
	CreatedAt       time.Time `json:"created_at"`
	FinishedAt      time.Time `json:"finished_at"`
}

// NewEvent describes a job that has just ended.
func NewEvent(j jobs.Job, claimsReleased bool, converted, notConverted []string) Event {
	return Event{JobID: j.ID, Status: j.State, ZohoStatus: j.ZohoStatus, Total: j.Total,
		Converted: j.Converted, NotConverted: j.NotConvertedFigure(), Failed: j.FailedCount,
		LeadIDs: j.LeadIDs, Sources: j.Sources, Reason: j.Reason, ClaimsReleased: claimsReleased,
		Checks: j.Checks, CreatedAt: j.CreatedAt.UTC(), FinishedAt: j.CheckedAt.UTC(),
		ConvertedIDs: converted, NotConvertedIDs: notConverted}
}
