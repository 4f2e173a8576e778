package sweep_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

func TestCheckCondition(t *testing.T) {
	many := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "Lead_Status != 'x'"
		}
		return strings.Join(parts, " and ")
	}
	tests := []struct {
		cond string
		want string // "" accepted; else a fragment of the error
	}{
		{"Lead_Status = 'Qualified'", ""},
		{"Lead_Status = 'Qualified' and Lead_Source = 'Web'", ""},
		{"lead_status = 'Qualified' AND (Lead_Source = 'Web' OR Lead_Source = 'Fair')", ""},
		{"Lead_Status != 'Junk'", ""},
		{"Email like '%@example.com'", ""},
		{"Email not like '%@example.com'", ""},
		{"Lead_Source in ('Web', 'Fair')", ""},
		{"Lead_Source not in ('Web')", ""},
		{"Email is null or Phone is not null", ""},
		{"Annual_Revenue = 1000 and Rating = -1.5", ""},
		{"Last_Name = 'O\\'Brien'", ""},
		{"((Lead_Status = 'Qualified'))", ""},
		{"Email_Opt_Out = 'true'", ""},
		{many(sweep.MaxCriteria), ""},

		{"", "empty"},
		{"   ", "empty"},
		{"Lead_Status = 'Qualified';", "semicolon"},
		{"Lead_Status = 'x'; delete from Leads", "semicolon"},
		{"Lead_Status = \"Qualified\"", "double quote"},
		{"Lead_Status = 'Qualified", "closing quote"},
		{"Lead_Status = 'Qual\nified'", "line break"},
		{"Lead_Status == 'x'", "a value"},
		{"Lead_Status > 'x'", "comparisons"},
		{"id > 5", "comparisons"},
		{"Lead_Status = 'x' order by id", "order by"},
		{"Lead_Status = 'x' limit 10", "a limit clause"},
		{"select id from Leads where Lead_Status = 'x'", "select clause"},
		{"Lead_Status = 'x' -- all", "comment"},
		{"Lead_Status = 'x' /* */", "comment"},
		{"Lead-Status = 'x'", "unexpected character '-'"},
		{"Lead.Status = 'x'", "unexpected character"},
		{"Owner.id = '1'", "unexpected character"},
		{"Lead_Status = 'x' and", "a field name at the end"},
		{"Lead_Status = 'x' or or Lead_Source = 'y'", "a field name"},
		{"(Lead_Status = 'x'", "closing parenthesis"},
		{"Lead_Status = 'x')", "closing parenthesis without"},
		{"Lead_Status in 'x'", "parenthesised list"},
		{"Lead_Status in ()", "a value"},
		{"Lead_Status is 'x'", "null after is"},
		{"Lead_Status not = 'x'", "in or like after not"},
		{"Lead_Status 'x'", "an operator"},
		{"Lead_Status = Lead_Source", "a value"},
		{"and = 'x'", "a field name"},
		{"1abc = 'x'", "start with a letter"},
		{"Lead_Status = 'x' and Lead_Status = 'y' Lead_Source = 'z'", "expected and, or"},
		{many(sweep.MaxCriteria + 1), "criteria"},
		{strings.Repeat("(", 17) + "a = 1" + strings.Repeat(")", 17), "nested"},
		{strings.Repeat("a", sweep.MaxConditionBytes+1), "bytes"},
	}
	for _, tt := range tests {
		err := sweep.CheckCondition(tt.cond)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q: %v, want accepted", tt.cond, err)
			}
			continue
		}
		var ce *sweep.ConditionError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want a ConditionError saying %q", tt.cond, err, tt.want)
			continue
		}
		if ce.Offset < 0 || ce.Offset > len(tt.cond) {
			t.Errorf("%q: offset %d outside the condition", tt.cond, ce.Offset)
		}
	}
}

// FuzzCheckCondition: the validator never panics, names a place inside
// the condition, and whatever it accepts is safe to paste into the run's
// query: one clause (no ;), quotes balanced, and still accepted when
// grouped, as the run groups it ("where (<condition>) and id > ...").
func FuzzCheckCondition(f *testing.F) {
	for _, s := range []string{"Lead_Status = 'Qualified'", "a = 1 and (b in ('x','y') or c is not null)",
		"x like '%\\'%'", "a = 'b'; drop", "(((", "a not like 'q'", "Last_Name = 'O\\'Brien'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cond string) {
		err := sweep.CheckCondition(cond)
		if err != nil {
			var ce *sweep.ConditionError
			if !errors.As(err, &ce) || ce.Offset < 0 || ce.Offset > max(len(cond), sweep.MaxConditionBytes) {
				t.Fatalf("%q: %v", cond, err)
			}
			return
		}
		if strings.Contains(outsideStrings(cond), ";") {
			t.Fatalf("%q accepted with a semicolon outside a string", cond)
		}
		if strings.Count(outsideStrings(cond), "'")%2 != 0 {
			t.Fatalf("%q accepted with an unbalanced quote", cond)
		}
		if strings.Count(cond, "(") > 16 {
			return // grouping adds a level the validator may refuse
		}
		if err := sweep.CheckCondition("(" + cond + ") and Lead_Status is not null"); err != nil && !strings.Contains(err.Error(), "criteria") {
			t.Fatalf("%q accepted but not once grouped: %v", cond, err)
		}
	})
}

// outsideStrings is cond with the inside of its string literals removed
// (quotes kept), as the validator reads them.
func outsideStrings(cond string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(cond); i++ {
		c := cond[i]
		switch {
		case in && c == '\\':
			i++
		case c == '\'':
			in = !in
			b.WriteByte(c)
		case !in:
			b.WriteByte(c)
		}
	}
	return b.String()
}
