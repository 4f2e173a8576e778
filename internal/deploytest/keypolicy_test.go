package deploytest

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// policyAsString: moto answers GetKeyPolicy with the policy a stack gave as
// a JSON object; KMS answers a string.
var policyAsString = fixAnswer("PolicyAsString", func(answer map[string]any) {
	if p, ok := answer["Policy"].(map[string]any); ok {
		b, _ := json.Marshal(p)
		answer["Policy"] = string(b)
	}
})

// keyStatement is a statement of a key policy, as far as the token key's
// uses it.
type keyStatement struct {
	Sid       string
	Effect    string
	Principal struct{ AWS any }
	Action    any
	Condition map[string]map[string]any
}

// checkTokenKeyPolicy reads the created key's policy and shows what it
// lets each principal do: moto enforces no key policy (doctor opens the
// token on moto), so the policy the stack made is evaluated here, with the
// role ARNs and the table name it was given. The functions that keep the
// token may seal and open a TOKEN# item of this table, nothing else; the
// authorizer and an operator's role (an administrator's) may not open it,
// and the operator may still administer the key.
func checkTokenKeyPolicy(t *testing.T, d *deployment, s *Stack) {
	t.Helper()
	out, err := kms.NewFromConfig(d.cfg, func(o *kms.Options) { o.APIOptions = append(o.APIOptions, withFix(policyAsString)) }).
		GetKeyPolicy(t.Context(), &kms.GetKeyPolicyInput{KeyId: aws.String(s.Physical("TokenKey")), PolicyName: aws.String("default")})
	if err != nil {
		t.Fatal(err)
	}
	var policy struct{ Statement []keyStatement }
	if err := json.Unmarshal([]byte(aws.ToString(out.Policy)), &policy); err != nil {
		t.Fatal(err)
	}
	role := func(id string) string { return fmt.Sprintf("arn:aws:iam::%s:role/%s", Account, s.Physical(id)) }
	operator := fmt.Sprintf("arn:aws:iam::%s:role/Admin", Account)
	table := s.Outputs["JobsTableName"]
	token := map[string]string{"table": table, "item": "TOKEN#us"}
	for _, c := range []struct {
		principal, action string
		context           map[string]string
		want              bool
	}{
		{role("ConvertFunctionRole"), "kms:Decrypt", token, true},
		{role("StatusFunctionRole"), "kms:Encrypt", token, true},
		{role("ConvertFunctionRole"), "kms:Decrypt", map[string]string{"table": table, "item": "JOB#1"}, false},
		{role("StatusFunctionRole"), "kms:Decrypt", map[string]string{"table": "another-table", "item": "TOKEN#us"}, false},
		{role("AuthorizerFunctionRole"), "kms:Decrypt", token, false},
		{operator, "kms:Decrypt", token, false},
		{operator, "kms:Encrypt", token, false},
		{operator, "kms:DescribeKey", nil, true},
		{operator, "kms:ScheduleKeyDeletion", nil, true},
	} {
		got, err := allows(policy.Statement, c.principal, c.action, c.context)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("the token key's policy lets %s %s with context %v: %v, want %v", c.principal, c.action, c.context, got, c.want)
		}
	}
}

// allows evaluates the statements for a principal of the account whose own
// IAM policies allow everything (so the key policy alone decides): a Deny
// that applies wins, else an Allow that applies. A condition operator it
// does not know is an error, never a pass.
func allows(statements []keyStatement, principal, action string, context map[string]string) (bool, error) {
	allowed := false
	for _, st := range statements {
		if !slices.ContainsFunc(policyStrings(st.Action), func(a string) bool { m, _ := path.Match(a, action); return m }) {
			continue
		}
		if !slices.Contains(policyStrings(st.Principal.AWS), "arn:aws:iam::"+Account+":root") && !slices.Contains(policyStrings(st.Principal.AWS), principal) {
			continue
		}
		ok, err := conditionsHold(st.Condition, principal, context)
		if err != nil {
			return false, fmt.Errorf("statement %s: %w", st.Sid, err)
		}
		switch {
		case ok && st.Effect == "Deny":
			return false, nil
		case ok && st.Effect == "Allow":
			allowed = true
		}
	}
	return allowed, nil
}

func conditionsHold(cond map[string]map[string]any, principal string, context map[string]string) (bool, error) {
	for op, keys := range cond {
		for key, want := range keys {
			var have string
			switch {
			case key == "aws:PrincipalArn":
				have = principal
			case len(key) > len("kms:EncryptionContext:") && key[:len("kms:EncryptionContext:")] == "kms:EncryptionContext:":
				v, ok := context[key[len("kms:EncryptionContext:"):]]
				if !ok {
					return false, nil
				}
				have = v
			default:
				return false, fmt.Errorf("condition key %s is not evaluated here", key)
			}
			match := false
			for _, w := range policyStrings(want) {
				switch op {
				case "ArnEquals", "StringEquals":
					match = match || have == w
				case "StringLike", "ArnLike":
					m, _ := path.Match(w, have)
					match = match || m
				default:
					return false, fmt.Errorf("condition operator %s is not evaluated here", op)
				}
			}
			if !match {
				return false, nil
			}
		}
	}
	return true, nil
}

// policyStrings is a policy value that is a string or a list of them.
func policyStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}
