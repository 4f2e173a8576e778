package zohosim

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Get Records of Leads by ids (zoho-crm-api.md section 6): converted leads
// are hidden unless converted asks for them, fields is mandatory, and no
// match is 204 with an empty body.

// maxGetIDs is the ids one Get Records call takes here: Zoho's v7 limit is
// unconfirmed, and the bridge sends at most one job's worth (50).
const maxGetIDs = 100

// noContent marks a 204 answer, which has no body at all.
type noContent struct{}

func (s *Server) getLeads(q url.Values) (int, any) {
	fieldsParam := strings.TrimSpace(q.Get("fields"))
	if fieldsParam == "" {
		return (&apiError{http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
			obj{"param": "fields"}}).reply()
	}
	fields := strings.Split(fieldsParam, ",")
	if len(fields) > 50 {
		return limitExceeded(50, "fields", "fields").reply()
	}
	var ids []string
	for id := range strings.SplitSeq(q.Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			if !isLong(id) {
				return (&apiError{http.StatusBadRequest, "INVALID_DATA", "invalid data", obj{"param": "ids"}}).reply()
			}
			ids = append(ids, id)
		}
	}
	if len(ids) > maxGetIDs {
		return limitExceeded(maxGetIDs, "ids", "ids").reply()
	}
	converted := q.Get("converted")
	switch converted {
	case "":
		converted = "false"
	case "true", "false", "both":
	default:
		return (&apiError{http.StatusBadRequest, "INVALID_DATA", "invalid data", obj{"param": "converted"}}).reply()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	var data []obj
	for _, id := range ids {
		rec, isConverted, ok := s.leadLocked(id, fields)
		if !ok || converted == "true" && !isConverted || converted == "false" && isConverted {
			continue
		}
		data = append(data, rec)
	}
	if len(data) == 0 {
		return http.StatusNoContent, noContent{}
	}
	return http.StatusOK, obj{"data": data, "info": obj{"per_page": len(data), "count": len(data), "page": 1, "more_records": false}}
}

// leadLocked is one lead as Get Records shows it; ok is false for an id
// that was never a lead. A lead is converted once the job that took it has
// ended without failing it.
func (s *Server) leadLocked(id string, fields []string) (rec obj, converted, ok bool) {
	var j *job
	if jobID, taken := s.taken[id]; taken {
		j = s.jobs[jobID]
	}
	deal, single := s.converted[id]
	if !s.leads[id] && j == nil && !single {
		return nil, false, false
	}
	converted = single || j != nil && j.done && !slices.Contains(j.failedIDs, id)
	rec = obj{"id": id, "$converted": converted, "$converted_detail": obj{}}
	for _, f := range fields {
		if f = strings.TrimSpace(f); f != "" && f != "id" {
			rec[f] = nil // filled below for a converted lead; the simulator keeps no other field
		}
	}
	if converted {
		n, _ := strconv.ParseInt(id, 10, 64)
		ref := func(offset int64) obj { return obj{"id": strconv.FormatInt(n+offset, 10)} }
		set := func(f string, v any) {
			if _, asked := rec[f]; asked {
				rec[f] = v
			}
		}
		set("Converted_Contact", ref(1_000_000_000))
		set("Converted_Account", ref(2_000_000_000))
		if single && deal || j != nil && len(j.deals) > 0 {
			set("Converted_Deal", ref(3_000_000_000))
		}
		if j != nil {
			set("Lead_Conversion_Time", j.ends.UTC().Format(time.RFC3339))
		}
	}
	return rec, converted, true
}
