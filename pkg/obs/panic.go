package obs

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Panicked logs a panic that was recovered, at ERROR, with its value and
// the stack of the goroutine that panicked, and counts it (metric Panics).
// Call it from the deferred function that recovered: the stack then still
// holds the frames that panicked. The value is logged, never answered.
func Panicked(ctx context.Context, log *slog.Logger, value any) {
	log.ErrorContext(ctx, "panic recovered", "panic", fmt.Sprint(value), "stack", string(debug.Stack()))
	MetricsFrom(ctx).Count("Panics", 1)
}
