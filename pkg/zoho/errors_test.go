package zoho_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// TestAPIErrorPublic: Error keeps the underlying error for the log; Public,
// what callers and dead letters get, leaves it out unless it is Zoho's own
// answer (an *APIError).
func TestAPIErrorPublic(t *testing.T) {
	store := errors.New("operation error DynamoDB: GetItem, api error AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/x")
	for _, tc := range []struct {
		name       string
		err        *zoho.APIError
		public     string
		errorAlone string // what Error adds after Public
	}{
		{
			name:   "Zoho's answer",
			err:    &zoho.APIError{Op: "mass_convert", HTTPStatus: 400, Code: "MANDATORY_NOT_FOUND", Message: "required field not found", IDIndex: -1},
			public: "zoho mass_convert: HTTP 400 MANDATORY_NOT_FOUND: required field not found",
		},
		{
			name:   "a rejected lead",
			err:    &zoho.APIError{Op: "mass_convert", HTTPStatus: 400, Code: "INVALID_DATA", Message: "invalid data", Class: zoho.InvalidID, IDIndex: 3, ID: "42"},
			public: `zoho mass_convert: HTTP 400 INVALID_DATA: invalid data (ids[3] = "42")`,
		},
		{
			name:       "a store behind the token source",
			err:        &zoho.APIError{Op: "mass_convert", Message: "no access token", IDIndex: -1, Err: &zoho.APIError{Op: "token", Message: "reading the shared token", IDIndex: -1, Err: store}},
			public:     "zoho mass_convert: no access token: zoho token: reading the shared token",
			errorAlone: ": " + store.Error(),
		},
		{
			name:       "a refused refresh",
			err:        &zoho.APIError{Op: "mass_convert", Message: "no access token", IDIndex: -1, Err: &zoho.APIError{Op: "token", HTTPStatus: 200, Code: "invalid_client", IDIndex: -1}},
			public:     "zoho mass_convert: no access token: zoho token: HTTP 200 invalid_client",
			errorAlone: "",
		},
		{
			name:       "no answer",
			err:        &zoho.APIError{Op: "convert_status", Message: "no answer", IDIndex: -1, Err: errors.New(`Get "https://www.zohoapis.com/crm/v8/...": connection reset`)},
			public:     "zoho convert_status: no answer",
			errorAlone: `: Get "https://www.zohoapis.com/crm/v8/...": connection reset`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Public(); got != tc.public {
				t.Errorf("Public() = %q\nwant       %q", got, tc.public)
			}
			if got, want := tc.err.Error(), tc.public+tc.errorAlone; got != want {
				t.Errorf("Error() = %q\nwant      %q", got, want)
			}
		})
	}
}

func TestRefusedForGood(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"no answer", fmt.Errorf("get_leads: %w", context.DeadlineExceeded), false},
		{"busy", &zoho.APIError{Class: zoho.Retryable, Code: "INTERNAL_ERROR"}, false},
		{"token refused after a refresh", fmt.Errorf("read: %w", &zoho.APIError{Class: zoho.Auth, Code: "INVALID_TOKEN"}), false},
		{"scope missing", &zoho.APIError{Class: zoho.Permanent, Code: "OAUTH_SCOPE_MISMATCH"}, true},
		{"a lead id refused", &zoho.APIError{Class: zoho.InvalidID, Code: "INVALID_DATA"}, true},
	} {
		if got := zoho.RefusedForGood(tc.err); got != tc.want {
			t.Errorf("%s: RefusedForGood = %t; want %t", tc.name, got, tc.want)
		}
	}
}
