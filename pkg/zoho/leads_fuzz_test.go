package zoho

import (
	"net/http"
	"testing"
)

// FuzzReadLeads: whatever Zoho answers to Get Records, the decoder gives
// one lead per id asked for, in order, or an error; it never panics, and a
// lead is converted only when found and said so.
func FuzzReadLeads(f *testing.F) {
	f.Add(200, []byte(`{"data":[{"id":"1","$converted":true,"Converted_Contact":{"id":"2"},"Lead_Conversion_Time":"2026-03-01T09:05:00+05:30"}],"info":{"count":1}}`))
	f.Add(200, []byte(`{"data":[{"id":1,"$converted":"yes"},{"id":null},{}]}`))
	f.Add(204, []byte(``))
	f.Add(200, []byte(`{"data":null}`))
	f.Add(200, []byte(`[]`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		ids := []string{"1", "2", "3"}
		leads, err := readLeads(ids, status, body)
		if err != nil {
			if leads != nil {
				t.Fatal("leads and an error")
			}
			return
		}
		if len(leads) != len(ids) {
			t.Fatalf("%d leads for %d ids", len(leads), len(ids))
		}
		for i, l := range leads {
			if l.ID != ids[i] || l.Converted && (!l.Found || !l.Known) {
				t.Fatalf("lead %d = %+v", i, l)
			}
			if status == http.StatusNoContent && l.Found {
				t.Fatalf("found a lead in a 204 answer")
			}
		}
	})
}
