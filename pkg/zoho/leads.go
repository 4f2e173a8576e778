package zoho

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxIDsPerRead is how many leads one Get Records call reads: Zoho's v7
// limit for ids is unconfirmed, and one mass_convert job holds 50.
const MaxIDsPerRead = 50

// leadFields are the fields a read asks for: the conversion lookups. Zoho
// requires a fields list; what it fills for a converted lead is
// unconfirmed, so they are optional detail (zoho-crm-api.md section 6).
var leadFields = []string{"Converted_Contact", "Converted_Account", "Converted_Deal", "Lead_Conversion_Time"}

// Lead is what Zoho says of one lead.
type Lead struct {
	ID string
	// Found is false for an id Zoho has no lead for (deleted, or never one).
	Found bool
	// Converted is Zoho's $converted. Known is false when the answer
	// lacked it: then converted-or-not cannot be told.
	Converted, Known bool
	// The records the conversion made, when Zoho says.
	ContactID, AccountID, DealID string
	ConvertedAt                  time.Time
}

// GetLeads reads up to MaxIDsPerRead leads by id, converted or not, in one
// call (converted=both: converted leads are hidden by default). It returns
// one Lead per id, in order.
func (c *Client) GetLeads(ctx context.Context, ids []string) ([]Lead, error) {
	const op = "get_leads"
	if len(ids) == 0 || len(ids) > MaxIDsPerRead {
		return nil, &APIError{Op: op, Class: Permanent, IDIndex: -1,
			Message: fmt.Sprintf("a read takes 1 to %d ids, not %d", MaxIDsPerRead, len(ids))}
	}
	q := url.Values{"ids": {strings.Join(ids, ",")}, "fields": {strings.Join(leadFields, ",")}, "converted": {"both"}}
	resp, err := c.call(ctx, op, http.MethodGet, leadsPath, q, nil, nil)
	if err != nil {
		return nil, err
	}
	return readLeads(ids, resp.status, resp.body)
}

// readLeads matches a Get Records answer to the ids asked for: one Lead
// per id, in order. No content (204) means none was found.
func readLeads(ids []string, status int, body []byte) ([]Lead, error) {
	byID := map[string]Lead{}
	if status != http.StatusNoContent && len(bytes.TrimSpace(body)) > 0 {
		var env struct {
			Data []map[string]json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, &APIError{Op: "get_leads", HTTPStatus: status, Class: Retryable, IDIndex: -1,
				Message: describeUnreadable(body, err), Err: err}
		}
		for _, rec := range env.Data {
			l := readLead(rec)
			if l.ID != "" {
				byID[l.ID] = l
			}
		}
	}
	out := make([]Lead, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
		out[i].ID = id
	}
	return out, nil
}

// readLead reads one record leniently: every field but the id is optional.
func readLead(rec map[string]json.RawMessage) Lead {
	var l Lead
	l.ID = idString(rec["id"]) // a string, or a number from some views
	if l.ID == "" {
		return l
	}
	l.Found = true
	if raw, ok := rec["$converted"]; ok && json.Unmarshal(raw, &l.Converted) == nil {
		l.Known = true
	}
	ref := func(key string) string {
		var r struct {
			ID json.RawMessage `json:"id"`
		}
		if raw, ok := rec[key]; ok && json.Unmarshal(raw, &r) == nil {
			return idString(r.ID)
		}
		return ""
	}
	l.ContactID, l.AccountID, l.DealID = ref("Converted_Contact"), ref("Converted_Account"), ref("Converted_Deal")
	var at string
	if raw, ok := rec["Lead_Conversion_Time"]; ok && json.Unmarshal(raw, &at) == nil {
		if t, err := time.Parse(time.RFC3339, at); err == nil {
			l.ConvertedAt = t.UTC()
		}
	}
	return l
}
