package convert

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// sizedBody is a valid request whose Deals carry a custom field of n bytes
// made of unit (one character).
func sizedBody(unit string, n int) []byte {
	return fmt.Appendf(nil, `{"ids":["3652397000000001001"],"assign_to":{"id":%q},"Deals":{"Deal_Name":"Big deal","Stage":"Qualification","Closing_Date":"2026-03-31","Notes__c":"%s"}}`,
		reqTestOwner, strings.Repeat(unit, n/len(unit)))
}

// TestOptionsAreNotHTMLEscaped: <, > and & stay one byte each in the stored
// options and in the queued request, as the client sent them.
func TestOptionsAreNotHTMLEscaped(t *testing.T) {
	req, err := DecodeJSON([]byte(`{"ids":["3652397000000001001"],"assign_to":{"id":"`+reqTestOwner+`"},"Deals":{"Deal_Name":"<b>R&D</b>","Stage":"Qualification","Closing_Date":"2026-03-31"}}`), "v7")
	if err != nil {
		t.Fatal(err)
	}
	queued, err := Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"options": Options(req), "queued": queued} {
		if !strings.Contains(string(b), `"<b>R&D</b>"`) {
			t.Errorf("%s: %s; want the deal's name as sent", name, b)
		}
	}
}

// TestStoredFormsFit: a request is refused, naming the field, exactly when
// its options as stored would pass MaxOptionsBytes, whatever its body's
// size: a body under MaxBodyBytes whose options grow past the limit (U+2028
// is stored as six bytes) is refused too.
func TestStoredFormsFit(t *testing.T) {
	base := len(Options(mustDecode(t, sizedBody("x", 0))))
	for _, tc := range []struct {
		name string
		body []byte
		ok   bool
	}{
		{"options exactly at the limit", sizedBody("x", MaxOptionsBytes-base), true},
		{"one byte over", sizedBody("x", MaxOptionsBytes-base+1), false},
		{"HTML characters do not grow", sizedBody("<", MaxOptionsBytes-base), true},
		{"a small body whose options outgrow it", sizedBody("\u2028", 3*(MaxOptionsBytes/6+1)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.body) > MaxBodyBytes {
				t.Fatalf("the body has %d bytes, over MaxBodyBytes: the case does not test the options", len(tc.body))
			}
			_, err := DecodeJSON(tc.body, "v7")
			var ve *ValidationError
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && !errors.As(err, &ve):
				t.Fatalf("accepted (%v); want a *ValidationError", err)
			case !tc.ok && (ve.Errors[0].Code != reqLimit || ve.Errors[0].JSONPath != "$.Deals.Notes__c"):
				t.Fatalf("refused with %+v; want LIMIT_EXCEEDED at $.Deals.Notes__c", ve.Errors[0])
			}
		})
	}
}

func mustDecode(t *testing.T, body []byte) *zoho.ConvertRequest {
	t.Helper()
	req, err := DecodeJSON(body, "v7")
	if err != nil {
		t.Fatal(err)
	}
	return req
}
