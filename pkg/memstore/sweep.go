package memstore

import (
	"context"
	"maps"
	"slices"

	"github.com/zoho-bridge/leadconvert/pkg/sweep"
)

var (
	_ sweep.Store   = (*Store)(nil)
	_ sweep.Catalog = (*Store)(nil)
)

// sweepState is the sweeps and their runs, by name and by sweep and run id.
type sweepState struct {
	sweeps map[string]sweep.Sweep
	runs   map[[2]string]sweep.Run
}

func (m *Store) sweepsLocked() *sweepState {
	if m.sw == nil {
		m.sw = &sweepState{sweeps: map[string]sweep.Sweep{}, runs: map[[2]string]sweep.Run{}}
	}
	return m.sw
}

func (m *Store) PutSweep(_ context.Context, s sweep.Sweep) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.sweepsLocked()
	if old, ok := st.sweeps[s.Name]; ok {
		s.OpenRun, s.LastRun, s.RecentRuns, s.CreatedAt = old.OpenRun, old.LastRun, old.RecentRuns, old.CreatedAt
	} else {
		s.OpenRun, s.LastRun, s.RecentRuns = "", "", nil
	}
	s.Options = slices.Clone(s.Options)
	st.sweeps[s.Name] = s
	return nil
}

func (m *Store) Sweep(_ context.Context, name string) (sweep.Sweep, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sweepsLocked().sweeps[name]
	if !ok {
		return sweep.Sweep{}, sweep.ErrNotFound
	}
	s.Options, s.RecentRuns = slices.Clone(s.Options), slices.Clone(s.RecentRuns)
	return s, nil
}

func (m *Store) Sweeps(_ context.Context) ([]sweep.Sweep, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.sweepsLocked()
	var out []sweep.Sweep
	for _, name := range slices.Sorted(maps.Keys(st.sweeps)) {
		s := st.sweeps[name]
		s.Options, s.RecentRuns = slices.Clone(s.Options), slices.Clone(s.RecentRuns)
		out = append(out, s)
	}
	return out, nil
}

func (m *Store) SetEnabled(_ context.Context, name string, enabled bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.sweepsLocked()
	s, ok := st.sweeps[name]
	if !ok {
		return sweep.ErrNotFound
	}
	s.Enabled = enabled
	st.sweeps[name] = s
	return nil
}

func (m *Store) DeleteSweep(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.sweepsLocked()
	if _, ok := st.sweeps[name]; !ok {
		return sweep.ErrNotFound
	}
	delete(st.sweeps, name) // the runs stay, as the table's do until they expire
	return nil
}

func (m *Store) StartRun(_ context.Context, r sweep.Run) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.sweepsLocked()
	s, ok := st.sweeps[r.Sweep]
	if !ok {
		return sweep.ErrNotFound
	}
	key := [2]string{r.Sweep, r.ID}
	if _, exists := st.runs[key]; exists || s.OpenRun != "" {
		return sweep.ErrChanged
	}
	r.Version = 1
	st.runs[key] = r
	s.OpenRun, s.LastRun, s.RecentRuns = r.ID, r.ID, sweep.AddRecent(s.RecentRuns, r.ID)
	st.sweeps[r.Sweep] = s
	return nil
}

func (m *Store) SweepRun(_ context.Context, name, id string) (sweep.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.sweepsLocked().runs[[2]string{name, id}]
	if !ok {
		return sweep.Run{}, sweep.ErrNotFound
	}
	return r, nil
}

func (m *Store) SaveRun(_ context.Context, r sweep.Run) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.sweepsLocked()
	key := [2]string{r.Sweep, r.ID}
	old, ok := st.runs[key]
	if !ok || old.Version != r.Version {
		return sweep.ErrChanged
	}
	r.Version++
	st.runs[key] = r
	if s, ok := st.sweeps[r.Sweep]; ok && r.End != "" && s.OpenRun == r.ID {
		s.OpenRun = ""
		st.sweeps[r.Sweep] = s
	}
	return nil
}

var _ sweep.FieldStore = (*Store)(nil)

// LeadFields returns the fields last saved, or the zero value.
func (m *Store) LeadFields(context.Context) (sweep.LeadFields, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.fields
	f.Names = slices.Clone(f.Names)
	return f, nil
}

// SaveLeadFields replaces the fields saved.
func (m *Store) SaveLeadFields(_ context.Context, f sweep.LeadFields) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f.Names = slices.Clone(f.Names)
	m.fields = f
	return nil
}
