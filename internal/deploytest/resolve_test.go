package deploytest

import (
	"encoding/json"
	"reflect"
	"testing"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSubstitute: references to stood-in resources become their values,
// in Ref, GetAtt and Sub; others stay for CloudFormation.
func TestSubstitute(t *testing.T) {
	in := decode(t, `{"a": {"Ref": "Secret"}, "b": {"Fn::GetAtt": ["Alarm", "Arn"]}, "c": {"Ref": "Table"},
		"d": {"Fn::Sub": "x/${Api}/${Api.Arn}/${ApiStage}/${Table}"},
		"e": [{"Fn::Sub": ["${Api}-${v}", {"v": {"Ref": "Secret"}}]}]}`)
	got := substitute(in, map[string]string{"Secret": "arn:secret", "Alarm": "arn:alarm", "Api": "abc", "ApiStage": "$default"})
	want := decode(t, `{"a": "arn:secret", "b": "arn:alarm", "c": {"Ref": "Table"},
		"d": {"Fn::Sub": "x/abc/abc/$default/${Table}"},
		"e": [{"Fn::Sub": ["abc-${v}", {"v": "arn:secret"}]}]}`)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("substitute:\n got %v\nwant %v", got, want)
	}
}

// TestConditions: the template's conditions decided by the parameters and
// their defaults, as CloudFormation decides them.
func TestConditions(t *testing.T) {
	tmpl := decode(t, `{"Parameters": {"SecretArn": {"Default": ""}, "Email": {"Default": ""}, "Reserved": {"Default": 10}},
		"Conditions": {
			"CreateSecret": {"Fn::Equals": [{"Ref": "SecretArn"}, ""]},
			"HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Email"}, ""]}]},
			"Reserves": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Reserved"}, 0]}]},
			"Both": {"Fn::And": [{"Condition": "CreateSecret"}, {"Condition": "HasEmail"}]}}}`)
	got, err := conditions(tmpl, map[string]string{"Email": "ops@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"CreateSecret": true, "HasEmail": true, "Reserves": true, "Both": true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("conditions %v, want %v", got, want)
	}
	if got, _ := conditions(tmpl, map[string]string{"Reserved": "0"}); got["Reserves"] || got["Both"] {
		t.Fatalf("with Reserved 0 and no email: %v", got)
	}
}

// TestResolve: a stood-in resource's properties against a created stack;
// a reference to a resource that is neither created nor stood in for is
// an error, never an empty value.
func TestResolve(t *testing.T) {
	s := &Stack{Name: "st", Translated: decode(t, `{"Parameters": {"Schedule": {"Default": "rate(5 minutes)"}}}`),
		Created: map[string]Resource{
			"Fn":    {Type: "AWS::Lambda::Function", Physical: "st-Fn-X"},
			"Queue": {Type: "AWS::SQS::Queue", Physical: "https://sqs.us-east-1.amazonaws.com/123456789012/st-q"},
		},
		StoodIn: map[string]string{}, Conditions: map[string]bool{"HasEmail": false}}
	r := &resolver{s: s, region: "us-east-1"}
	got, err := r.resolve(decode(t, `{"Name": {"Fn::Sub": "${AWS::StackName}-status"}, "Expr": {"Ref": "Schedule"},
		"Target": {"Arn": {"Fn::GetAtt": ["Fn", "Arn"]}}, "Q": {"Fn::GetAtt": ["Queue", "QueueName"]},
		"Actions": {"Fn::If": ["HasEmail", ["x"], {"Ref": "AWS::NoValue"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := decode(t, `{"Name": "st-status", "Expr": "rate(5 minutes)",
		"Target": {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:st-Fn-X"}, "Q": "st-q"}`)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resolve:\n got %v\nwant %v", got, want)
	}
	if _, err := r.resolve(decode(t, `{"Dimensions": [{"Value": {"Ref": "Gone"}}]}`)); err == nil {
		t.Fatal("a reference to a missing resource resolved")
	}
}
