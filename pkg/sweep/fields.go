package sweep

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// LeadFields are the API names of the fields of Leads as a run last read
// them from Zoho (Fields Metadata), and when: what `sweep create` checks a
// condition's fields against, without a Zoho call of its own (the
// operator's command holds no Zoho token).
type LeadFields struct {
	Names  []string
	SeenAt time.Time // zero: no run has recorded them yet
}

// FieldsMaxAge is how old the recorded fields may be before a run reads
// them again: fields change when an admin adds one, rarely, and one call a
// day costs next to nothing.
const FieldsMaxAge = 24 * time.Hour

// FieldStore keeps the fields of Leads a run saw (one table item).
type FieldStore interface {
	// LeadFields returns the fields last saved, or the zero LeadFields.
	LeadFields(ctx context.Context) (LeadFields, error)
	// SaveLeadFields replaces them.
	SaveLeadFields(ctx context.Context, f LeadFields) error
}

// FieldLister reads the API names of the fields of Leads from Zoho
// (*zoho.Client).
type FieldLister interface {
	LeadFields(ctx context.Context) ([]string, error)
}

// UnknownFieldError is a condition naming a field the recorded fields of
// Leads do not hold: a run would end in Zoho's INVALID_QUERY.
type UnknownFieldError struct {
	Field  string
	SeenAt time.Time
	Known  int // how many fields were recorded
}

func (e *UnknownFieldError) Error() string {
	return fmt.Sprintf("sweep condition: %s is not a field of Leads (the %d fields a run saw at %s); "+
		"name a field by its API name; a field added since is known once a run, a day after that time, reads the fields again",
		e.Field, e.Known, e.SeenAt.UTC().Format(time.RFC3339))
}

// CheckFields checks that every field cond names is among known's. Names
// are compared without regard to case, so that a doubt never refuses a
// condition Zoho might take; id is every record's. Known fields not yet
// recorded (SeenAt zero) check nothing: the caller says so.
func CheckFields(cond string, known LeadFields) error {
	if known.SeenAt.IsZero() || cond == "" {
		return nil
	}
	names, err := ConditionFields(cond)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(known.Names)+1)
	have["id"] = true
	for _, n := range known.Names {
		have[strings.ToLower(n)] = true
	}
	for _, n := range names {
		if !have[strings.ToLower(n)] {
			return &UnknownFieldError{Field: n, SeenAt: known.SeenAt, Known: len(known.Names)}
		}
	}
	return nil
}

// refreshFields records the fields of Leads when those recorded are older
// than FieldsMaxAge, if the runner has a FieldStore and its Zoho can list
// them. It is best effort: the run goes on whatever happens, since its own
// query meets any unknown field as Zoho's INVALID_QUERY anyway; a failure
// is logged, and the next run tries again.
func (r *Runner) refreshFields(ctx context.Context) {
	lister, ok := r.cfg.Zoho.(FieldLister)
	if r.cfg.Fields == nil || !ok {
		return
	}
	now := r.cfg.Now()
	have, err := r.cfg.Fields.LeadFields(ctx)
	if err != nil {
		r.cfg.Logger.WarnContext(ctx, "sweep: reading the recorded fields of Leads failed", "error", err)
		return
	}
	if !have.SeenAt.IsZero() && now.Sub(have.SeenAt) < FieldsMaxAge {
		return
	}
	names, err := lister.LeadFields(ctx)
	if err != nil {
		r.cfg.Logger.WarnContext(ctx, "sweep: reading the fields of Leads from Zoho failed; sweep create cannot check conditions' fields until a run reads them",
			"error", public(err))
		return
	}
	if err := r.cfg.Fields.SaveLeadFields(ctx, LeadFields{Names: names, SeenAt: now}); err != nil {
		r.cfg.Logger.WarnContext(ctx, "sweep: recording the fields of Leads failed", "error", err)
	}
}
