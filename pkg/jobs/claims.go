package jobs

import (
	"errors"
	"fmt"
	"time"
)

// pendingGrace keeps a lapsed pending claim around a little for diagnosis
// before DynamoDB's TTL may remove it; correctness never depends on TTL.
const pendingGrace = time.Hour

// PendingExpiry is when a pending claim that lapses at until may be deleted.
func PendingExpiry(until time.Time) time.Time { return until.Add(pendingGrace) }

// ErrJobExists is returned by RecordJob for a job id that is already stored.
var ErrJobExists = errors.New("jobs: the job is already recorded")

// JobExistsError wraps ErrJobExists with the job's id.
func JobExistsError(id string) error { return fmt.Errorf("job %s: %w", id, ErrJobExists) }
