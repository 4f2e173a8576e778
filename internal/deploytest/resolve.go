package deploytest

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// noValue is what AWS::NoValue resolves to: the property goes.
var noValue = &struct{}{}

// conditions decides the template's conditions for the parameters (the
// others at their defaults), as CloudFormation does before it creates
// anything.
func conditions(tmpl map[string]any, params map[string]string) (map[string]bool, error) {
	r := &resolver{params: paramValues(tmpl, params)}
	defs, _ := tmpl["Conditions"].(map[string]any)
	out := map[string]bool{}
	for name := range defs {
		v, err := r.condition(defs, name, 0)
		if err != nil {
			return nil, fmt.Errorf("deploytest: condition %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// paramValues are the stack's parameters, the template's defaults for the
// others.
func paramValues(tmpl map[string]any, params map[string]string) map[string]string {
	out := map[string]string{}
	defs, _ := tmpl["Parameters"].(map[string]any)
	for name, d := range defs {
		if def, ok := d.(map[string]any)["Default"]; ok {
			out[name] = scalar(def)
		}
	}
	for k, v := range params {
		out[k] = v
	}
	return out
}

func scalar(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// resolver resolves the intrinsic functions of a stood-in resource's
// properties against the created stack, as CloudFormation would have.
type resolver struct {
	s      *Stack
	region string
	params map[string]string
}

func (r *resolver) condition(defs map[string]any, name string, depth int) (bool, error) {
	if depth > 10 {
		return false, errors.New("conditions nest too deep")
	}
	def, ok := defs[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	return r.boolean(defs, def, depth)
}

func (r *resolver) boolean(defs map[string]any, v any, depth int) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("not a condition: %v", v)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Condition":
			return r.condition(defs, fmt.Sprint(arg), depth+1)
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals takes 2 values")
			}
			a, err := r.value(args[0])
			if err != nil {
				return false, err
			}
			b, err := r.value(args[1])
			if err != nil {
				return false, err
			}
			return scalar(a) == scalar(b), nil
		case "Fn::Not", "Fn::And", "Fn::Or":
			var vals []bool
			for _, a := range args {
				b, err := r.boolean(defs, a, depth+1)
				if err != nil {
					return false, err
				}
				vals = append(vals, b)
			}
			switch {
			case fn == "Fn::Not" && len(vals) == 1:
				return !vals[0], nil
			case fn == "Fn::And":
				for _, b := range vals {
					if !b {
						return false, nil
					}
				}
				return true, nil
			case fn == "Fn::Or":
				for _, b := range vals {
					if b {
						return true, nil
					}
				}
				return false, nil
			}
		}
		return false, fmt.Errorf("unknown condition function %s", fn)
	}
	return false, nil
}

// resolve resolves v's intrinsic functions; a property that resolves to
// AWS::NoValue goes.
func (r *resolver) resolve(v any) (any, error) {
	if r.params == nil && r.s != nil {
		r.params = paramValues(r.s.Translated, r.s.Parameters)
	}
	return r.value(v)
}

func (r *resolver) value(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				if fn == "Ref" || strings.HasPrefix(fn, "Fn::") {
					return r.intrinsic(fn, arg)
				}
			}
		}
		out := map[string]any{}
		for k, e := range v {
			x, err := r.value(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if x != noValue {
				out[k] = x
			}
		}
		return out, nil
	case []any:
		var out []any
		for _, e := range v {
			x, err := r.value(e)
			if err != nil {
				return nil, err
			}
			if x != noValue {
				out = append(out, x)
			}
		}
		return out, nil
	}
	return v, nil
}

func (r *resolver) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		return r.ref(fmt.Sprint(arg))
	case "Fn::GetAtt":
		a, _ := arg.([]any)
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt %v", arg)
		}
		return r.getAtt(fmt.Sprint(a[0]), fmt.Sprint(a[1]))
	case "Fn::If":
		a, _ := arg.([]any)
		if len(a) != 3 || r.s == nil {
			return nil, fmt.Errorf("Fn::If %v", arg)
		}
		if r.s.Conditions[fmt.Sprint(a[0])] {
			return r.value(a[1])
		}
		return r.value(a[2])
	case "Fn::Sub":
		str, vars := "", map[string]any{}
		switch a := arg.(type) {
		case string:
			str = a
		case []any:
			if len(a) != 2 {
				return nil, fmt.Errorf("Fn::Sub %v", arg)
			}
			str = fmt.Sprint(a[0])
			vars, _ = a[1].(map[string]any)
		}
		return r.sub(str, vars)
	case "Fn::Join":
		a, _ := arg.([]any)
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Join %v", arg)
		}
		list, err := r.value(a[1])
		if err != nil {
			return nil, err
		}
		var parts []string
		for _, p := range list.([]any) {
			parts = append(parts, scalar(p))
		}
		return strings.Join(parts, fmt.Sprint(a[0])), nil
	}
	return nil, fmt.Errorf("deploytest cannot resolve %s", fn)
}

var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

func (r *resolver) sub(str string, vars map[string]any) (string, error) {
	var errs []error
	out := subVar.ReplaceAllStringFunc(str, func(m string) string {
		name := m[2 : len(m)-1]
		var v any
		var err error
		if x, ok := vars[name]; ok {
			v, err = r.value(x)
		} else if id, att, ok := strings.Cut(name, "."); ok {
			v, err = r.getAtt(id, att)
		} else {
			v, err = r.ref(name)
		}
		if err != nil {
			errs = append(errs, err)
			return m
		}
		return scalar(v)
	})
	return out, errors.Join(errs...)
}

func (r *resolver) ref(name string) (any, error) {
	switch name {
	case "AWS::StackName":
		return r.s.Name, nil
	case "AWS::Region":
		return r.region, nil
	case "AWS::AccountId":
		return Account, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::NoValue":
		return noValue, nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	if r.s != nil {
		if res, ok := r.s.Created[name]; ok {
			return res.Physical, nil
		}
		if v, ok := r.s.StoodIn[name]; ok {
			return v, nil
		}
	}
	return nil, fmt.Errorf("a Ref to %s: neither a parameter nor a created or stood-in resource", name)
}

func (r *resolver) getAtt(id, att string) (any, error) {
	if v, ok := r.s.StoodIn[id]; ok && att == "Arn" {
		return v, nil
	}
	res, ok := r.s.Created[id]
	if !ok {
		return nil, fmt.Errorf("GetAtt %s.%s: %s is neither created nor stood in for", id, att, id)
	}
	p := res.Physical
	last := p[strings.LastIndex(p, "/")+1:]
	switch res.Type + "." + att {
	case "AWS::Lambda::Function.Arn":
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", r.region, Account, p), nil
	case "AWS::IAM::Role.Arn":
		return fmt.Sprintf("arn:aws:iam::%s:role/%s", Account, p), nil
	case "AWS::SQS::Queue.Arn":
		return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", r.region, Account, last), nil
	case "AWS::SQS::Queue.QueueName":
		return last, nil
	case "AWS::Logs::LogGroup.Arn":
		return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", r.region, Account, p), nil
	case "AWS::DynamoDB::Table.Arn":
		return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", r.region, Account, p), nil
	case "AWS::KMS::Key.Arn":
		return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", r.region, Account, p), nil
	}
	return nil, fmt.Errorf("deploytest cannot resolve GetAtt %s.%s (%s)", id, att, res.Type)
}

// checkAlarm: an alarm's properties resolved (every reference to a created
// or stood-in resource, which resolve checked), it names a metric or
// metric math, and each dimension a value.
func (r *resolver) checkAlarm(p map[string]any) error {
	metrics, _ := p["Metrics"].([]any)
	if p["MetricName"] == nil && len(metrics) == 0 {
		return errors.New("neither MetricName nor Metrics")
	}
	var dims []any
	if d, ok := p["Dimensions"].([]any); ok {
		dims = append(dims, d...)
	}
	for _, m := range metrics {
		stat, _ := m.(map[string]any)["MetricStat"].(map[string]any)
		metric, _ := stat["Metric"].(map[string]any)
		if d, ok := metric["Dimensions"].([]any); ok {
			dims = append(dims, d...)
		}
	}
	for _, d := range dims {
		if v, _ := d.(map[string]any)["Value"].(string); v == "" {
			return fmt.Errorf("dimension %v has no value", d)
		}
	}
	return nil
}
