package convert

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// DecodeForm decodes and validates a request sent as
// application/x-www-form-urlencoded, the encoding of Zoho workflow webhooks:
//
//	ids=<id>,<id>,...                  the lead ids, comma-separated; the key may repeat,
//	                                   its values joined in order
//	id=<id>                            the same as ids, for a webhook that sends one lead
//	Deals.<API name>=<value>           a Deals field: Deals.Deal_Name, Deals.Stage,
//	                                   Deals.Closing_Date (YYYY-MM-DD), Deals.Pipeline,
//	                                   Deals.Amount or any custom field; any Deals. key
//	                                   asks for a deal, so Deal_Name, Stage and
//	                                   Closing_Date are then required
//	assign_to=<user id>                owner of the converted records; required
//	                                   unless the Decoder has a DefaultOwner
//	portal_user_type=<id>
//	related_modules=<module>:<module id>,...    Tasks, Events, Calls; e.g. Tasks:111,Calls:222
//	carry_over_tags=<module>:<module id>,...    Contacts, Deals, Accounts; e.g. Contacts:333
//	move_attachments_to=<module>:<module id>    one of Contacts, Deals, Accounts; e.g. Deals:444
//	apply_assignment_threshold=true|false       Zoho v8 only
//
// Spaces around ids and list items are ignored, since Zoho renders a list
// merge field as "1, 2"; Deals values are kept exactly. Every form value is a
// string: a Deals field reaches Zoho as a JSON string, whereas a JSON body
// keeps its types (numbers, booleans, lookup objects), so use JSON when a
// field needs one. An empty value of an optional key counts as absent, and an
// empty Deals field is left out. ids, related_modules and carry_over_tags may
// repeat; any other key may appear once (DUPLICATE_DATA).
//
// The request is then validated like a JSON one, and problems are reported at
// the JSON paths the same request would have in JSON ($.ids[3],
// $.Deals.Closing_Date, $.related_modules[1].id). An unknown key or a
// malformed value is INVALID_DATA at $.<key>; a body that is not form
// encoding (a bad %-escape, a ';' separator, not UTF-8) is INVALID_REQUEST.
func DecodeForm(body []byte, apiVersion string) (*zoho.ConvertRequest, error) {
	return (&Decoder{APIVersion: apiVersion}).Form(body)
}

// Form is DecodeForm with the Decoder's APIVersion and DefaultOwner.
func (d *Decoder) Form(body []byte) (*zoho.ConvertRequest, error) {
	var c reqChecker
	if !c.body(body) {
		return nil, c.err()
	}
	pairs, err := formPairs(body)
	if err != nil {
		c.add(reqBadRequest, "$", "the body is not form encoding: %v", err)
		return nil, c.err()
	}
	req := new(zoho.ConvertRequest)
	once := map[string]bool{}
	for _, p := range pairs {
		path := "$." + reqFragment(p.key)
		value := strings.TrimSpace(p.value)
		f, suffix, known := formField(p.key)
		if once[p.key] && !(known && f.repeats) {
			c.add(reqDuplicate, path, "the key may appear only once")
			continue
		}
		once[p.key] = true
		switch {
		case !known:
			c.add(reqInvalid, path, "unknown key; allowed: %s", formKeys)
		case value == "" && !f.repeats && !f.prefixed():
			// An empty optional key is absent: merge fields render blank.
		default:
			f.form(&c, path, suffix, value, p.value, req)
		}
	}
	withOwner(req, d.DefaultOwner)
	c.validate(req, d.APIVersion)
	if err := c.err(); err != nil {
		return nil, err
	}
	return req, nil
}

type formPair struct{ key, value string }

// formPairs splits a body into its pairs in order, which url.ParseQuery
// would lose across keys.
func formPairs(body []byte) ([]formPair, error) {
	var pairs []formPair
	n := 0
	for part := range strings.SplitSeq(string(bytes.TrimSpace(body)), "&") {
		n++
		if part == "" {
			continue
		}
		// Like url.ParseQuery: a ';' that some parsers split on and others
		// do not would let two readers of one body see different requests.
		if strings.Contains(part, ";") {
			return nil, fmt.Errorf("pair %d holds a ';'; escape it as %%3B", n)
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		switch {
		case err1 != nil || err2 != nil:
			return nil, fmt.Errorf("pair %d holds a bad %%-escape", n)
		case !utf8.ValidString(key) || !utf8.ValidString(value):
			return nil, fmt.Errorf("pair %d is not UTF-8 once unescaped", n)
		}
		pairs = append(pairs, formPair{key, value})
	}
	return pairs, nil
}

// formList splits a comma-separated value, dropping blanks around and
// between items.
func formList(value string) []string {
	var items []string
	for item := range strings.SplitSeq(value, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// formModules appends the <module>:<module id> items of value to refs. A
// malformed item is reported at its index and kept as a blank placeholder,
// so that later items keep the index they would have in JSON.
func (c *reqChecker) formModules(path string, refs []zoho.ModuleRef, value string) []zoho.ModuleRef {
	for _, item := range formList(value) {
		name, id, ok := strings.Cut(item, ":")
		if !ok {
			c.add(reqInvalid, reqIndex(path, len(refs)), "%s is not <module>:<module id>, as in Tasks:111", reqQuote(item))
		}
		refs = append(refs, zoho.ModuleRef{APIName: strings.TrimSpace(name), ID: strings.TrimSpace(id)})
	}
	return refs
}
