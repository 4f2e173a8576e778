package convert

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// A request the way producers send it (plain strings, no escapes, only the
// documented keys) is read in place by decodeFast, without encoding/json's
// reflection: about a tenth of the allocations. It gives up (ok false) at
// the first thing it does not expect, and DecodeJSON then takes the careful
// path, which names every problem. So the two agree on every body
// decodeFast accepts (FuzzDecodeFast checks it), and only a refused or
// unusual body pays for the careful path.

// Decoder decodes the JSON requests of one batch. Producers repeat the
// same Deals object in every message, so it reads each distinct one once
// and lets the requests share it: nothing modifies a decoded request.
// Decode each batch with a new Decoder; it is not safe for concurrent use.
type Decoder struct {
	APIVersion string // "v7" or "v8": the Zoho API version requests are validated for
	// DefaultOwner is the Zoho user id given as assign_to to a request
	// that names no owner (the deployment's DEFAULT_OWNER_ID). Empty: such
	// a request is refused (MANDATORY_NOT_FOUND at $.assign_to).
	DefaultOwner string
	deals        map[string]*zoho.Deal
}

// JSON is DecodeJSON for one more request of the batch.
func (d *Decoder) JSON(body []byte) (*zoho.ConvertRequest, error) {
	if d.deals == nil {
		d.deals = map[string]*zoho.Deal{}
	}
	if req, ok := decodeFast(body, d.APIVersion, d.DefaultOwner, d.deals); ok {
		return req, nil
	}
	return decodeCareful(body, d.APIVersion, d.DefaultOwner)
}

// decodeFast reads body in place; deals (may be nil) remembers the Deals
// objects it has read, by their bytes.
func decodeFast(body []byte, apiVersion, owner string, deals map[string]*zoho.Deal) (*zoho.ConvertRequest, bool) {
	if len(body) > MaxBodyBytes || !utf8.Valid(body) || !json.Valid(body) {
		return nil, false
	}
	req := &zoho.ConvertRequest{}
	s := keyScanner{b: body, deals: deals}
	ok := s.object(func(key []byte) bool {
		switch string(key) {
		case "ids":
			req.IDs = nil
			return s.null() || s.strings(&req.IDs)
		case "Deals":
			req.Deals = nil
			return s.null() || s.deal(&req.Deals)
		case "assign_to":
			return s.ref(&req.AssignTo)
		case "portal_user_type":
			return s.ref(&req.PortalUserType)
		case "related_modules":
			return s.modules(&req.RelatedModules)
		case "carry_over_tags":
			return s.modules(&req.CarryOverTags)
		case "move_attachments_to":
			req.MoveAttachmentsTo = nil
			return s.null() || s.module(&req.MoveAttachmentsTo)
		case "apply_assignment_threshold":
			return s.boolean(&req.ApplyAssignmentThreshold)
		}
		return false
	})
	s.space()
	if !ok || s.i != len(body) || len(req.IDs) > MaxIDs {
		return nil, false
	}
	withOwner(req, owner)
	var c reqChecker
	c.validate(req, apiVersion)
	if len(c.errs) > 0 {
		return nil, false
	}
	return req, true
}

// plain consumes a string without escapes and returns its text.
func (s *keyScanner) plain() (string, bool) {
	raw, escaped, ok := s.str()
	if !ok || escaped {
		return "", false
	}
	return string(raw), true
}

// plainOrNull is plain, with null read as "" (a missing value).
func (s *keyScanner) plainOrNull() (string, bool) {
	if s.null() {
		return "", true
	}
	return s.plain()
}

func (s *keyScanner) strings(out *[]string) bool {
	ids := make([]string, 0, 1)
	ok := s.array(func() bool {
		id, ok := s.plain()
		ids = append(ids, id)
		return ok
	})
	*out = ids
	return ok
}

// deal reads the Deals object; its values share the bytes of the body, as
// raw JSON, the way encoding/json would have copied them.
func (s *keyScanner) deal(out **zoho.Deal) bool {
	s.space()
	start := s.i
	if !s.skipValue() {
		return false
	}
	if d, ok := s.deals[string(s.b[start:s.i])]; ok {
		*out = d
		return true
	}
	end := s.i
	s.i = start
	d := make(zoho.Deal, 4)
	ok := s.object(func(key []byte) bool {
		s.space()
		start := s.i
		if !s.skipValue() {
			return false
		}
		d[dealKey(key)] = json.RawMessage(s.b[start:s.i:s.i])
		return true
	})
	*out = &d
	if ok && s.i == end && s.deals != nil {
		s.deals[string(s.b[start:end])] = &d
	}
	return ok && s.i == end
}

// dealKey returns key as a string, sharing the strings of the fields every
// deal has instead of allocating them again for each request.
func dealKey(key []byte) string {
	for _, k := range [...]string{zoho.DealName, zoho.DealStage, zoho.DealClosingDate} {
		if string(key) == k {
			return k
		}
	}
	return string(key)
}

func (s *keyScanner) ref(out **zoho.Ref) bool {
	*out = nil
	if s.null() {
		return true
	}
	r := &zoho.Ref{}
	*out = r
	return s.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "id":
			r.ID, ok = s.plainOrNull()
		case "name":
			r.Name, ok = s.plainOrNull()
		}
		return ok
	})
}

func (s *keyScanner) module(out **zoho.ModuleRef) bool {
	m := &zoho.ModuleRef{}
	*out = m
	return s.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "api_name":
			m.APIName, ok = s.plainOrNull()
		case "id":
			m.ID, ok = s.plainOrNull()
		}
		return ok
	})
}

func (s *keyScanner) modules(out *[]zoho.ModuleRef) bool {
	*out = nil
	if s.null() {
		return true
	}
	refs := []zoho.ModuleRef{}
	ok := s.array(func() bool {
		var m *zoho.ModuleRef
		if !s.module(&m) {
			return false
		}
		refs = append(refs, *m)
		return true
	})
	*out = refs
	return ok
}

func (s *keyScanner) boolean(out **bool) bool {
	*out = nil
	if s.null() {
		return true
	}
	for _, v := range [...]bool{true, false} {
		lit := strconv.FormatBool(v)
		if s.peek() == lit[0] && s.i+len(lit) <= len(s.b) && string(s.b[s.i:s.i+len(lit)]) == lit {
			s.i += len(lit)
			*out = &v
			return true
		}
	}
	return false
}

// keyScanner walks JSON that json.Valid has accepted. It refuses what it
// does not understand (an escaped key, say) rather than decode it.
type keyScanner struct {
	b     []byte
	i     int
	deals map[string]*zoho.Deal // see Decoder
}

func (s *keyScanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *keyScanner) peek() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// null consumes a null, if that is what comes next.
func (s *keyScanner) null() bool {
	if s.peek() == 'n' && s.i+4 <= len(s.b) && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// str consumes a string and returns its bytes between the quotes, or false
// for anything else; escaped reports a backslash inside.
func (s *keyScanner) str() (raw []byte, escaped, ok bool) {
	if s.peek() != '"' {
		return nil, false, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			s.i = j + 1
			return s.b[start:j], escaped, true
		}
	}
	return nil, false, false
}

// object consumes an object, calling member after each key (with the
// colon consumed) to consume its value.
func (s *keyScanner) object(member func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		key, escaped, ok := s.str()
		if !ok || escaped || s.peek() != ':' {
			return false
		}
		s.i++
		if !member(key) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array consumes an array, calling elem to consume each element.
func (s *keyScanner) array(elem func() bool) bool {
	if s.peek() != '[' {
		return false
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// skipValue consumes one value of any kind.
func (s *keyScanner) skipValue() bool {
	switch s.peek() {
	case '"':
		_, _, ok := s.str()
		return ok
	case '{':
		return s.object(func([]byte) bool { return s.skipValue() })
	case '[':
		return s.array(s.skipValue)
	case 0:
		return false
	}
	// A number, true, false or null: up to the next delimiter.
	start := s.i
	for s.i < len(s.b) && !isDelim(s.b[s.i]) {
		s.i++
	}
	return s.i > start
}

func isDelim(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}
