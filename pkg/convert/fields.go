package convert

import (
	"encoding/json"
	"strings"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// A field is one key of a conversion request and all the bridge knows of
// it: how a JSON value and a form value set it, and what a valid value is.
// Both decoders, validation, the keys a refusal lists as allowed and the
// order problems are reported in follow from fields; the canonical options
// and the fingerprint follow from zoho.ConvertRequest itself (Options). So
// a new option is a field of zoho.ConvertRequest and one entry here.
type field struct {
	key string
	// formKeys name it in a form: key, unless it has aliases or, ending
	// in ".", is a prefix (Deals.<field>).
	formKeys []string
	// repeats: in a form the key may appear more than once.
	repeats bool
	json    func(c *reqChecker, raw json.RawMessage, req *zoho.ConvertRequest)
	// form sets it from one pair: suffix follows a prefix key, value is
	// trimmed, raw is as sent. An empty value of a key that neither
	// repeats nor is a prefix is an absent key (merge fields render
	// blank), and form is not called.
	form  func(c *reqChecker, path, suffix, value, raw string, req *zoho.ConvertRequest)
	check func(c *reqChecker, req *zoho.ConvertRequest, apiVersion string)
}

// fields are the request's keys in the order Zoho's Mass Convert page
// documents them, which is the order problems are reported in.
var fields = []field{
	{
		key: "ids", formKeys: []string{"ids", "id"}, repeats: true,
		json: func(c *reqChecker, raw json.RawMessage, req *zoho.ConvertRequest) { req.IDs = c.jsonIDs(raw) },
		form: func(_ *reqChecker, _, _, value, _ string, req *zoho.ConvertRequest) {
			req.IDs = append(req.IDs, formList(value)...)
		},
		check: func(c *reqChecker, req *zoho.ConvertRequest, _ string) { c.ids(req.IDs) },
	},
	{
		key: "Deals", formKeys: []string{"Deals."},
		json: func(c *reqChecker, raw json.RawMessage, req *zoho.ConvertRequest) { req.Deals = c.jsonDeal(raw) },
		form: func(c *reqChecker, _, name, _, raw string, req *zoho.ConvertRequest) {
			if req.Deals == nil {
				req.Deals = &zoho.Deal{}
			}
			if name == "" {
				c.add(reqInvalid, "$.Deals", "a Deals key needs a field's API name, as in Deals.Deal_Name")
			} else if raw != "" {
				req.Deals.SetString(name, raw)
			}
		},
		check: func(c *reqChecker, req *zoho.ConvertRequest, _ string) {
			if req.Deals != nil {
				c.deal(*req.Deals)
			}
		},
	},
	// Zoho's Mass Convert page marks assign_to mandatory: refused here, no
	// call is spent on a request Zoho may refuse whole.
	refField("assign_to", reqOwnerRule, func(r *zoho.ConvertRequest) **zoho.Ref { return &r.AssignTo }),
	refField("portal_user_type", "", func(r *zoho.ConvertRequest) **zoho.Ref { return &r.PortalUserType }),
	modulesField("related_modules", reqActivityModules, func(r *zoho.ConvertRequest) *[]zoho.ModuleRef { return &r.RelatedModules }),
	modulesField("carry_over_tags", reqRecordModules, func(r *zoho.ConvertRequest) *[]zoho.ModuleRef { return &r.CarryOverTags }),
	{
		key: "move_attachments_to",
		json: func(c *reqChecker, raw json.RawMessage, req *zoho.ConvertRequest) {
			req.MoveAttachmentsTo = c.jsonModule("$.move_attachments_to", raw)
		},
		form: func(c *reqChecker, path, _, value, _ string, req *zoho.ConvertRequest) {
			name, id, ok := strings.Cut(value, ":")
			if !ok || strings.Contains(value, ",") {
				c.add(reqInvalid, path, "%s is not one <module>:<module id>, as in Deals:444", reqQuote(value))
				return
			}
			req.MoveAttachmentsTo = &zoho.ModuleRef{APIName: strings.TrimSpace(name), ID: strings.TrimSpace(id)}
		},
		check: func(c *reqChecker, req *zoho.ConvertRequest, _ string) {
			if m := req.MoveAttachmentsTo; m != nil {
				c.module("$.move_attachments_to", *m, reqRecordModules)
			}
		},
	},
	{
		key: "apply_assignment_threshold",
		json: func(c *reqChecker, raw json.RawMessage, req *zoho.ConvertRequest) {
			req.ApplyAssignmentThreshold = c.jsonBool("$.apply_assignment_threshold", raw)
		},
		form: func(c *reqChecker, path, _, value, _ string, req *zoho.ConvertRequest) {
			b := strings.EqualFold(value, "true")
			if !b && !strings.EqualFold(value, "false") {
				c.add(reqInvalid, path, "%s is not a boolean; expected true or false", reqQuote(value))
				return
			}
			req.ApplyAssignmentThreshold = &b
		},
		check: func(c *reqChecker, req *zoho.ConvertRequest, apiVersion string) {
			if req.ApplyAssignmentThreshold != nil && apiVersion != "v8" {
				c.add(reqNotSupported, "$.apply_assignment_threshold",
					"exists in Zoho's v8 API only and the service calls %s; it needs ZOHO_API_VERSION=v8", reqFragment(apiVersion))
			}
		},
	},
}

// refField is a Zoho record named by its id ({"id", "name"}; a form gives
// the id alone), at the field of a request that at returns. required, if
// set, is the message for a request without one.
func refField(key, required string, at func(*zoho.ConvertRequest) **zoho.Ref) field {
	path := "$." + key
	return field{
		key:  key,
		json: func(c *reqChecker, raw json.RawMessage, req *zoho.ConvertRequest) { *at(req) = c.jsonRef(path, raw) },
		form: func(_ *reqChecker, _, _, value, _ string, req *zoho.ConvertRequest) { *at(req) = &zoho.Ref{ID: value} },
		check: func(c *reqChecker, req *zoho.ConvertRequest, _ string) {
			if *at(req) == nil && required != "" {
				c.add(reqMandatory, path, "%s", required)
			}
			c.ref(path, *at(req))
		},
	}
}

// modulesField is a list of {api_name, id} of the modules allowed, at the
// field of a request that list returns.
func modulesField(key, allowed string, list func(*zoho.ConvertRequest) *[]zoho.ModuleRef) field {
	path := "$." + key
	return field{
		key: key, repeats: true,
		json: func(c *reqChecker, raw json.RawMessage, req *zoho.ConvertRequest) {
			*list(req) = c.jsonModules(path, raw)
		},
		form: func(c *reqChecker, path, _, value, _ string, req *zoho.ConvertRequest) {
			*list(req) = c.formModules(path, *list(req), value)
		},
		check: func(c *reqChecker, req *zoho.ConvertRequest, _ string) { c.modules(path, *list(req), allowed) },
	}
}

// jsonKeys and formKeys list the keys a refusal names as allowed.
var jsonKeys, formKeys = func() (string, string) {
	var js, fs []string
	for _, f := range fields {
		js = append(js, f.key)
		for _, k := range f.names() {
			if strings.HasSuffix(k, ".") {
				k += "<field>"
			}
			fs = append(fs, k)
		}
	}
	return strings.Join(js, ", "), strings.Join(fs, ", ")
}()

func (f *field) names() []string {
	if f.formKeys == nil {
		return []string{f.key}
	}
	return f.formKeys
}

// prefixed reports a key that is a prefix in a form (Deals.<field>).
func (f *field) prefixed() bool {
	for _, k := range f.names() {
		if strings.HasSuffix(k, ".") {
			return true
		}
	}
	return false
}

// jsonField returns the field of a JSON key.
func jsonField(key string) (*field, bool) {
	for i := range fields {
		if fields[i].key == key {
			return &fields[i], true
		}
	}
	return nil, false
}

// formField returns the field of a form key and what follows a prefix key
// (the Deals field's name).
func formField(key string) (f *field, suffix string, ok bool) {
	for i := range fields {
		for _, k := range fields[i].names() {
			if strings.HasSuffix(k, ".") {
				if rest, ok := strings.CutPrefix(key, k); ok {
					return &fields[i], rest, true
				}
			} else if key == k {
				return &fields[i], "", true
			}
		}
	}
	return nil, "", false
}

// fieldRank orders a top-level key as fields do; unknown keys come last.
func fieldRank(key string) int {
	for i, f := range fields {
		if f.key == key {
			return i
		}
	}
	return len(fields)
}
