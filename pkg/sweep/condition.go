package sweep

import (
	"fmt"
	"slices"
	"strings"
)

// MaxCriteria is how many criteria a sweep's condition may hold: Zoho's
// COQL takes 25 a query (zoho-crm-api.md section 8), and a run adds one of
// its own (id > the cursor).
const MaxCriteria = 24

// MaxConditionBytes bounds a condition; a COQL query that selects leads
// by status and source is a few dozen bytes.
const MaxConditionBytes = 2000

// ConditionError is a condition refused before it is stored: what is
// wrong, and where (a byte offset into the condition).
type ConditionError struct {
	Offset int
	Reason string
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("sweep condition: at byte %d: %s", e.Offset, e.Reason)
}

// CheckCondition checks a sweep's selection: the where clause of a COQL
// query over Leads, in the subset of the grammar the simulator follows and
// sweeps need. Criteria are <field> <op> <value>, with op one of = !=
// like, not like, in (...), not in (...), is null, is not null; values
// are strings in single quotes or numbers; criteria are joined by and/or
// and grouped with parentheses. Fields are API names ([A-Za-z0-9_]).
// Nothing else passes: no second statement (;), no select, order by or
// limit (the run writes them), no comments. The condition is written by
// an operator, but a run pastes it into a query, so it is held to the
// grammar rather than trusted.
func CheckCondition(cond string) error {
	_, err := parseCondition(cond)
	return err
}

// ConditionFields checks cond as CheckCondition does and returns the
// fields it names, each once, in the order they first appear: what is
// checked against the fields of Leads (CheckFields).
func ConditionFields(cond string) ([]string, error) {
	p, err := parseCondition(cond)
	if err != nil {
		return nil, err
	}
	return p.fields, nil
}

func parseCondition(cond string) (*condParser, error) {
	if len(cond) > MaxConditionBytes {
		return nil, &ConditionError{MaxConditionBytes, fmt.Sprintf("the condition is %d bytes; at most %d", len(cond), MaxConditionBytes)}
	}
	toks, err := lexCondition(cond)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, &ConditionError{0, "the condition is empty: a sweep must select some leads, e.g. Lead_Status = 'Qualified'"}
	}
	p := &condParser{toks: toks, end: len(cond)}
	if err := p.or(0); err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		t := p.toks[p.pos]
		if t.kind == tokSymbol && t.text == ")" {
			return nil, &ConditionError{t.at, "a closing parenthesis without its opening one"}
		}
		if what := reserved[strings.ToLower(t.text)]; t.kind == tokWord && what != "" {
			return nil, &ConditionError{t.at, what + " clause: a sweep's condition is the where clause only; the run writes the rest of the query"}
		}
		return nil, &ConditionError{t.at, fmt.Sprintf("expected and, or or the end of the condition, found %s", t)}
	}
	if p.criteria > MaxCriteria {
		return nil, &ConditionError{0, fmt.Sprintf("%d criteria; at most %d (Zoho takes 25 a query and the run adds one)", p.criteria, MaxCriteria)}
	}
	return p, nil
}

type tokKind int

const (
	tokWord tokKind = iota
	tokString
	tokNumber
	tokSymbol
)

type condToken struct {
	kind tokKind
	text string
	at   int
}

func (t condToken) String() string {
	switch t.kind {
	case tokString:
		return "a string"
	case tokNumber:
		return "the number " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

// reserved are the words of a query a condition may not use as a field.
var reserved = map[string]string{
	"select": "a select", "from": "a from", "where": "a where", "order": "an order by", "by": "an order by",
	"limit": "a limit", "offset": "an offset", "group": "a group by", "having": "a having",
	"and": "", "or": "", "not": "", "like": "", "in": "", "is": "", "null": "",
}

func lexCondition(s string) ([]condToken, error) {
	var toks []condToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == ';':
			return nil, &ConditionError{i, "a semicolon: a condition is one clause of one query, not statements"}
		case c == '\'':
			j := i + 1
			for ; j < len(s) && s[j] != '\''; j++ {
				switch s[j] {
				case '\\':
					j++ // \' and \\ stand for themselves
				case '\n', '\r':
					return nil, &ConditionError{j, "a line break inside a string"}
				}
			}
			if j >= len(s) {
				return nil, &ConditionError{i, "a string without its closing quote (')"}
			}
			toks = append(toks, condToken{tokString, s[i : j+1], i})
			i = j + 1
		case c == '"':
			return nil, &ConditionError{i, `a double quote: strings are quoted with ' (Lead_Status = 'Qualified')`}
		case c == '(' || c == ')' || c == ',' || c == '=':
			toks = append(toks, condToken{tokSymbol, string(c), i})
			i++
		case c == '!':
			if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, condToken{tokSymbol, "!=", i})
				i += 2
				continue
			}
			return nil, &ConditionError{i, "'!' without '='"}
		case c == '<' || c == '>':
			return nil, &ConditionError{i, "comparisons (< >) are not among a sweep's operators: = != like, not like, in, not in, is null, is not null"}
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '/' && i+1 < len(s) && s[i+1] == '*':
			return nil, &ConditionError{i, "a comment"}
		case c == '-' && (i+1 >= len(s) || s[i+1] < '0' || s[i+1] > '9'):
			return nil, &ConditionError{i, "unexpected character '-': field names are letters, digits and _"}
		case c == '-' || '0' <= c && c <= '9':
			j := i + 1
			for j < len(s) && ('0' <= s[j] && s[j] <= '9' || s[j] == '.') {
				j++
			}
			if j < len(s) && isIdentByte(s[j]) {
				return nil, &ConditionError{i, "a field name must start with a letter"}
			}
			if s[i:j] == "-" || strings.Count(s[i:j], ".") > 1 {
				return nil, &ConditionError{i, fmt.Sprintf("%q is not a number", s[i:j])}
			}
			toks = append(toks, condToken{tokNumber, s[i:j], i})
			i = j
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			toks = append(toks, condToken{tokWord, s[i:j], i})
			i = j
		default:
			return nil, &ConditionError{i, fmt.Sprintf("unexpected character %q: field names are letters, digits and _", string(rune(c)))}
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

type condParser struct {
	toks     []condToken
	pos      int
	end      int
	criteria int
	fields   []string // the fields named, each once, in order
}

// maxDepth bounds nested parentheses, so a hostile condition cannot
// exhaust the stack.
const maxDepth = 16

func (p *condParser) peek() (condToken, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return condToken{at: p.end}, false
}

func (p *condParser) word(w string) bool {
	t, ok := p.peek()
	if ok && t.kind == tokWord && strings.EqualFold(t.text, w) {
		p.pos++
		return true
	}
	return false
}

func (p *condParser) symbol(s string) bool {
	t, ok := p.peek()
	if ok && t.kind == tokSymbol && t.text == s {
		p.pos++
		return true
	}
	return false
}

func (p *condParser) expected(what string) error {
	t, ok := p.peek()
	if !ok {
		return &ConditionError{t.at, "expected " + what + " at the end of the condition"}
	}
	return &ConditionError{t.at, fmt.Sprintf("expected %s, found %s", what, t)}
}

func (p *condParser) or(depth int) error {
	for {
		if err := p.and(depth); err != nil {
			return err
		}
		if !p.word("or") {
			return nil
		}
	}
}

func (p *condParser) and(depth int) error {
	for {
		if err := p.factor(depth); err != nil {
			return err
		}
		if !p.word("and") {
			return nil
		}
	}
}

func (p *condParser) factor(depth int) error {
	if t, ok := p.peek(); ok && p.symbol("(") {
		if depth >= maxDepth {
			return &ConditionError{t.at, fmt.Sprintf("parentheses nested deeper than %d", maxDepth)}
		}
		if err := p.or(depth + 1); err != nil {
			return err
		}
		if !p.symbol(")") {
			return p.expected("a closing parenthesis")
		}
		return nil
	}
	t, ok := p.peek()
	if !ok || t.kind != tokWord {
		return p.expected("a field name")
	}
	if what, isReserved := reserved[strings.ToLower(t.text)]; isReserved {
		if what != "" {
			return &ConditionError{t.at, fmt.Sprintf("%s clause: a sweep's condition is the where clause only; the run writes the rest of the query", what)}
		}
		return p.expected("a field name")
	}
	p.pos++
	p.criteria++
	if !slices.Contains(p.fields, t.text) {
		p.fields = append(p.fields, t.text)
	}
	switch {
	case p.word("is"):
		p.word("not")
		if !p.word("null") {
			return p.expected("null after is")
		}
		return nil
	case p.word("not"):
		switch {
		case p.word("in"):
			return p.list()
		case p.word("like"):
			return p.value()
		}
		return p.expected("in or like after not")
	case p.word("in"):
		return p.list()
	case p.word("like"), p.symbol("="), p.symbol("!="):
		return p.value()
	}
	return p.expected("an operator (= != like, not like, in, not in, is null, is not null)")
}

func (p *condParser) value() error {
	t, ok := p.peek()
	if !ok || t.kind != tokString && t.kind != tokNumber {
		return p.expected("a value: a string in single quotes or a number")
	}
	p.pos++
	return nil
}

func (p *condParser) list() error {
	if !p.symbol("(") {
		return p.expected("a parenthesised list of values")
	}
	for {
		if err := p.value(); err != nil {
			return err
		}
		if !p.symbol(",") {
			break
		}
	}
	if !p.symbol(")") {
		return p.expected("a closing parenthesis after the list")
	}
	return nil
}
