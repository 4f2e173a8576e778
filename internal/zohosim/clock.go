package zohosim

import (
	"sync"
	"time"
)

// A Clock tells the simulator what time it is. Token lifetimes, the refresh
// window, the Access Denied cool-down and job progress all follow it, so a
// test can cross an hour without waiting for one.
type Clock interface {
	Now() time.Time
}

// ManualClock is a Clock that moves only when told to.
// It is safe for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock stopped at t.
func NewManualClock(t time.Time) *ManualClock {
	return &ManualClock{now: t}
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t, which may lie in the past.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// SystemClock is the wall clock, for running the simulator as a stand-in
// server where jobs must progress on their own.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
