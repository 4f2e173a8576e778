package main

import (
	"cmp"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/pkg/convert"
)

// requestRules are the settings the convert function validates a request
// with: judging a request here with other settings than the deployment's
// would let through what the function dead-letters, or hold back what it
// takes.
type requestRules struct {
	APIVersion   string // ZOHO_API_VERSION: stack parameter ZohoApiVersion
	DefaultOwner string // DEFAULT_OWNER_ID: stack parameter DefaultOwnerId
}

// defaultAPIVersion is the template's default ZohoApiVersion.
const defaultAPIVersion = "v7"

func (r *requestRules) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&r.APIVersion, "api-version", "", "Zoho API version the function validates for, v7 or v8 (default: the stack's ZohoApiVersion, else "+defaultAPIVersion+")")
	f.StringVar(&r.DefaultOwner, "default-owner", "", "owner the function gives a request without assign_to (default: the stack's DefaultOwnerId)")
}

// decoder returns the convert function's own decoder with the deployment's
// settings: those of the flags, else the stack's parameters (params).
func (r *requestRules) decoder(params map[string]string) (*convert.Decoder, error) {
	r.APIVersion = cmp.Or(r.APIVersion, params["ZohoApiVersion"])
	r.DefaultOwner = cmp.Or(r.DefaultOwner, params["DefaultOwnerId"])
	r.APIVersion = cmp.Or(r.APIVersion, defaultAPIVersion)
	if r.APIVersion != "v7" && r.APIVersion != "v8" {
		return nil, usageError{fmt.Errorf("--api-version %q: want v7 or v8", r.APIVersion)}
	}
	return &convert.Decoder{APIVersion: r.APIVersion, DefaultOwner: r.DefaultOwner}, nil
}
