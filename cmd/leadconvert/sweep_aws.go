package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

// schedulerAPI is what the sweep commands ask of EventBridge Scheduler
// (*scheduler.Client).
type schedulerAPI interface {
	CreateSchedule(context.Context, *scheduler.CreateScheduleInput, ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	UpdateSchedule(context.Context, *scheduler.UpdateScheduleInput, ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error)
	GetSchedule(context.Context, *scheduler.GetScheduleInput, ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error)
	DeleteSchedule(context.Context, *scheduler.DeleteScheduleInput, ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
}

// schedules keeps each sweep's schedule in the stack's schedule group,
// named after the sweep, targeting the status function as the stack's
// scheduler role.
type schedules struct {
	api            schedulerAPI
	group          string // stack output SweepScheduleGroupName
	function, role string // StatusFunctionArn, SweepSchedulerRoleArn
}

// Retries of a tick: each carries the tick's time as its run id, so a
// retry after an invocation that did run is the same run and queues
// nothing twice; an hour covers a throttled or briefly failing function
// without letting a stale tick start long after its time.
const (
	scheduleRetries   = 3
	scheduleEventAgeS = 3600
)

// put creates the sweep's schedule, or replaces it whole (UpdateSchedule
// takes every field): expression, time zone, target, and the state,
// ENABLED for an enabled sweep and DISABLED for a paused one.
func (s *schedules) put(ctx context.Context, sw sweep.Sweep) error {
	state := schedtypes.ScheduleStateEnabled
	if !sw.Enabled {
		state = schedtypes.ScheduleStateDisabled
	}
	target := &schedtypes.Target{Arn: aws.String(s.function), RoleArn: aws.String(s.role),
		Input: aws.String(sweep.ScheduleInput(sw.Name)),
		RetryPolicy: &schedtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(scheduleRetries),
			MaximumEventAgeInSeconds: aws.Int32(scheduleEventAgeS)}}
	// Off: a sweep's tick is its run's id, and a flexible window would
	// move the run away from the time the operator chose.
	window := &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff}
	desc := aws.String("leadconvert sweep " + sw.Name)
	_, err := s.api.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{Name: aws.String(sw.Name), GroupName: aws.String(s.group),
		ScheduleExpression: aws.String(sw.Schedule), ScheduleExpressionTimezone: aws.String(sw.TimeZone),
		FlexibleTimeWindow: window, Target: target, State: state, Description: desc})
	if _, missing := errors.AsType[*schedtypes.ResourceNotFoundException](err); missing {
		_, err = s.api.CreateSchedule(ctx, &scheduler.CreateScheduleInput{Name: aws.String(sw.Name), GroupName: aws.String(s.group),
			ScheduleExpression: aws.String(sw.Schedule), ScheduleExpressionTimezone: aws.String(sw.TimeZone),
			FlexibleTimeWindow: window, Target: target, State: state, Description: desc})
	}
	if err != nil {
		return fmt.Errorf("schedule %s in group %s: %w", sw.Name, s.group, err)
	}
	return nil
}

// scheduleView is a schedule as show prints it.
type scheduleView struct {
	Found      bool   `json:"found"`
	State      string `json:"state,omitempty"`
	Expression string `json:"expression,omitempty"`
	TimeZone   string `json:"time_zone,omitempty"`
	Group      string `json:"group"`
}

func (s *schedules) get(ctx context.Context, name string) (scheduleView, error) {
	out, err := s.api.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(s.group)})
	if _, missing := errors.AsType[*schedtypes.ResourceNotFoundException](err); missing {
		return scheduleView{Group: s.group}, nil
	}
	if err != nil {
		return scheduleView{}, fmt.Errorf("schedule %s in group %s: %w", name, s.group, err)
	}
	return scheduleView{Found: true, State: string(out.State), Expression: aws.ToString(out.ScheduleExpression),
		TimeZone: aws.ToString(out.ScheduleExpressionTimezone), Group: s.group}, nil
}

// remove deletes the sweep's schedule; found is false if there was none.
func (s *schedules) remove(ctx context.Context, name string) (found bool, err error) {
	_, err = s.api.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(s.group)})
	if _, missing := errors.AsType[*schedtypes.ResourceNotFoundException](err); missing {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("deleting schedule %s in group %s: %w", name, s.group, err)
	}
	return true, nil
}

// lambdaAPI is what `sweep run` asks of Lambda (*lambda.Client).
type lambdaAPI interface {
	Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// FunctionError is the status function's own failure, as Lambda reports it
// (X-Amz-Function-Error): the function ran and refused, e.g. a paused sweep.
type FunctionError struct{ Message string }

func (e *FunctionError) Error() string { return "the status function refused: " + e.Message }

// invokeSweep invokes the status function with a sweep's event and waits
// for its report.
func invokeSweep(ctx context.Context, api lambdaAPI, function string, ev sweepEvent) (sweep.Report, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return sweep.Report{}, err
	}
	out, err := api.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(function), Payload: payload,
		InvocationType: lambdatypes.InvocationTypeRequestResponse})
	if err != nil {
		return sweep.Report{}, fmt.Errorf("invoking the status function %s: %w", function, err)
	}
	if out.FunctionError != nil {
		var fe struct {
			Message string `json:"errorMessage"`
		}
		if json.Unmarshal(out.Payload, &fe) != nil || fe.Message == "" {
			fe.Message = aws.ToString(out.FunctionError)
		}
		return sweep.Report{}, &FunctionError{Message: fe.Message}
	}
	var rep sweep.Report
	if err := json.Unmarshal(out.Payload, &rep); err != nil {
		return sweep.Report{}, fmt.Errorf("the status function's answer is not a sweep's report: %w", err)
	}
	return rep, nil
}

// sweepEvent is the status function's sweep event (sweep.ParseEvent).
type sweepEvent struct {
	Sweep  string `json:"sweep"`
	DryRun bool   `json:"dry_run,omitempty"`
	Run    string `json:"run,omitempty"`
}
