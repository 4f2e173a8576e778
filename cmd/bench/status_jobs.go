// The due jobs row 5 runs over, built as the convert function records them.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/jobs"
	"github.com/zoho-bridge/leadconvert/pkg/memstore"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// each, as the convert function records them, due one minute after they
// were scheduled, and the item the DynamoDB store writes for each.
type openJobs struct {
	sim   *zohosim.Server
	clock *zohosim.ManualClock
	jobs  []jobs.Job
	items []map[string]types.AttributeValue
	sizes map[string]itemSizes // by job id
}

// itemSizes are the sizes, DynamoDB's way, of a job's JOB# item, its CHK#
// item and its entry in the open-checks index.
type itemSizes struct{ item, check, entry int }

// seedOpenJobs builds n open jobs with a deal: the first through the real
// convert handler (an SQS batch of single-lead messages), the others
// scheduled in the simulator with the same options and recorded as copies
// of the first with their own job id, leads and message ids. The DynamoDB
// store's own RecordJob, on a client that only captures what it is asked
// to write, gives each job's two items. The simulator runs with opts (its
// clock set here).
func seedOpenJobs(ctx context.Context, n int, opts zohosim.Options) (*openJobs, error) {
	o := &openJobs{clock: newClock(), sizes: make(map[string]itemSizes, n)}
	opts.Clock = o.clock
	o.sim = zohosim.New(opts)
	leads := o.sim.SeedLeadRange(n * zoho.MaxIDsPerCall)

	mem := memstore.New()
	fn, err := newFunction(o.sim, o.clock, 0, oauth.NewMemoryStore(), mem)
	if err != nil {
		return nil, err
	}
	msgs := make([]message, zoho.MaxIDsPerCall)
	for i, id := range leads[:zoho.MaxIDsPerCall] {
		req := optionSet(1)
		req.IDs = []string{id}
		body, err := json.Marshal(req)
		if err != nil {
			return nil, err
		}
		msgs[i] = message{id: messageID(0, i), body: string(body)}
	}
	bs, err := batches(msgs)
	if err != nil {
		return nil, err
	}
	if back, err := invoke(ctx, fn, bs[0]); err != nil || len(back) > 0 || len(fn.dead.Letters()) > 0 {
		return nil, fmt.Errorf("the first job through the convert function: %v, %d messages handed back, %d dead-lettered", err, len(back), len(fn.dead.Letters()))
	}
	sjobs := o.sim.Jobs()
	if len(sjobs) != 1 {
		return nil, fmt.Errorf("the convert function made %d jobs of %d leads, want 1", len(sjobs), zoho.MaxIDsPerCall)
	}
	first, err := mem.Job(ctx, sjobs[0].ID)
	if err != nil {
		return nil, err
	}

	client, _, err := newZohoClient(o.sim, o.clock, oauth.NewMemoryStore(), zoho.RetryPolicy{Attempts: 1})
	if err != nil {
		return nil, err
	}
	for k := range n {
		j := first
		if k > 0 {
			req := optionSet(1)
			req.IDs = leads[k*zoho.MaxIDsPerCall : (k+1)*zoho.MaxIDsPerCall]
			if j.ID, err = client.MassConvert(ctx, &req); err != nil {
				return nil, fmt.Errorf("scheduling job %d: %w", k+1, err)
			}
			j.LeadIDs = req.IDs
			j.Sources = make([]string, len(req.IDs))
			for i := range j.Sources {
				j.Sources[i] = messageID(k, i)
			}
		}
		it, chk := table.JobItems(j, o.clock.Now().Add(30*24*time.Hour))
		o.jobs = append(o.jobs, j)
		o.items = append(o.items, it, chk)
		o.sizes[j.ID] = itemSizes{item: itemSize(it), check: itemSize(chk), entry: itemSize(map[string]types.AttributeValue{
			"pk": chk["pk"], "open_shard": chk["open_shard"], "due_at": chk["due_at"]})}
	}
	o.clock.Advance(time.Minute) // every job is due
	return o, nil
}

func messageID(job, i int) string {
	return fmt.Sprintf("5b7f2c1e-8a4d-%04x-%04x-%012d", job>>16&0xffff, job&0xffff, i)
}
