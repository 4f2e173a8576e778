package sqsqueue_test

import (
	"context"
	"strings"
	"testing"

	"github.com/zoho-bridge/leadconvert/pkg/aws/sqsqueue"
	"github.com/zoho-bridge/leadconvert/pkg/sqsbatch"
)

func TestDeadLetterWithoutQueueIsAnError(t *testing.T) {
	d := sqsqueue.NewDeadLetter(nil, "")
	if err := d.Send(context.Background(), "x", sqsbatch.Letter{}); err == nil || !strings.Contains(err.Error(), "DEAD_LETTER_QUEUE_URL") {
		t.Fatalf("err = %v", err)
	}
}
