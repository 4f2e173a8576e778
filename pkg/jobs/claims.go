package jobs

import (
	"fmt"
	"time"
)

// pendingGrace keeps a lapsed pending claim around a little for diagnosis
// before DynamoDB's TTL may remove it; correctness never depends on TTL.
const pendingGrace = time.Hour

func pendingExpiry(until time.Time) time.Time { return until.Add(pendingGrace) }

func errJobExists(id string) error { return fmt.Errorf("jobs: job %s is already recorded", id) }
