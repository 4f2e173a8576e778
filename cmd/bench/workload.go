// The lead workloads rows 1 and 3 send, and the check that Zoho saw every
// lead exactly once.

package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// A cell is one workload of row 1's matrix.
type cell struct {
	idsPerMsg  int // ids in every message
	dupPercent int // share of the ids that repeat an id sent elsewhere
	optionSets int // distinct option sets, see optionSet
}

var matrix = func() []cell {
	var cs []cell
	for _, per := range []int{1, 5, 50} {
		for _, dup := range []int{0, 10} {
			for _, sets := range []int{1, 3} {
				cs = append(cs, cell{per, dup, sets})
			}
		}
	}
	return cs
}()

func (c cell) key() string {
	return fmt.Sprintf("%did-%ddup-%dset", c.idsPerMsg, c.dupPercent, c.optionSets)
}

func (c cell) String() string {
	sets := "1 option set"
	if c.optionSets > 1 {
		sets = fmt.Sprintf("%d option sets", c.optionSets)
	}
	return fmt.Sprintf("%d id/msg, %d%% dup, %s", c.idsPerMsg, c.dupPercent, sets)
}

// owner is the assign_to of every request the bench sends: the simulated
// org's user. Zoho's Mass Convert requires an owner.
func owner() *zoho.Ref { return &zoho.Ref{ID: zohosim.DefaultUserID} }

// owned returns a request for ids with owner() as assign_to.
func owned(ids ...string) *zoho.ConvertRequest {
	return &zoho.ConvertRequest{IDs: ids, AssignTo: owner()}
}

// optionSet returns request k of the three option sets, each with owner():
// no deal, a deal, a portal user type.
func optionSet(k int) zoho.ConvertRequest {
	switch k % 3 {
	case 1:
		deal := zoho.Deal{}
		deal.SetString(zoho.DealName, "Website enquiry")
		deal.SetString(zoho.DealStage, "Qualification")
		deal.SetString(zoho.DealClosingDate, "2026-12-31")
		return zoho.ConvertRequest{Deals: &deal, AssignTo: owner()}
	case 2:
		return zoho.ConvertRequest{AssignTo: owner(), PortalUserType: &zoho.Ref{ID: zohosim.DefaultPortalUserTypeID}}
	}
	return zoho.ConvertRequest{AssignTo: owner()}
}

// workload is a cell's messages, in the order they reach the queue.
type workload struct {
	msgs        []message
	ids         []string // every distinct lead, seeded in the simulator
	uniqueBySet []int
	duplicates  int // ids sent more than once, counted once per extra send
}

// floor is the fewest calls Zoho could take: ceil(unique/50) per option set.
func (w workload) floor() int {
	n := 0
	for _, u := range w.uniqueBySet {
		n += (u + zoho.MaxIDsPerCall - 1) / zoho.MaxIDsPerCall
	}
	return n
}

// newWorkload seeds the cell's distinct leads in sim and lays out leads ids
// (duplicates included) in messages. Lead i belongs to option set i mod
// optionSets; a duplicate repeats a random lead with its options; messages
// of all option sets arrive shuffled together.
func newWorkload(sim *zohosim.Server, c cell, leads int, rng *rand.Rand) (workload, error) {
	dups := leads * c.dupPercent / 100
	w := workload{ids: sim.SeedLeadRange(leads - dups), uniqueBySet: make([]int, c.optionSets), duplicates: dups}
	bySet := make([][]string, c.optionSets)
	for i, id := range w.ids {
		bySet[i%c.optionSets] = append(bySet[i%c.optionSets], id)
		w.uniqueBySet[i%c.optionSets]++
	}
	for _, i := range rng.Perm(len(w.ids))[:dups] {
		bySet[i%c.optionSets] = append(bySet[i%c.optionSets], w.ids[i])
	}
	var groups [][]byte // message bodies
	for k, ids := range bySet {
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, chunk := range cut(ids, c.idsPerMsg) {
			req := optionSet(k)
			req.IDs = chunk
			body, err := json.Marshal(req)
			if err != nil {
				return w, err
			}
			groups = append(groups, body)
		}
	}
	rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	for i, body := range groups {
		w.msgs = append(w.msgs, message{id: fmt.Sprintf("5b7f2c1e-8a4d-4e6f-9b3a-%012d", i), body: string(body)})
	}
	return w, nil
}

// cut splits ids into messages of per ids without repeating an id within
// a message (the function refuses such a message as DUPLICATE_DATA): a
// repeat is held back for a later message.
func cut(ids []string, per int) [][]string {
	var msgs [][]string
	var cur []string
	in := map[string]bool{}
	flush := func() {
		if len(cur) > 0 {
			msgs = append(msgs, cur)
		}
		cur = nil
		clear(in)
	}
	for len(ids) > 0 {
		var held []string
		for _, id := range ids {
			if in[id] {
				held = append(held, id)
				continue
			}
			cur = append(cur, id)
			in[id] = true
			if len(cur) == per {
				flush()
			}
		}
		if len(held) > 0 {
			flush()
		}
		ids = held
	}
	flush()
	return msgs
}

// scheduledOnce returns the leads that are not in exactly one of the
// simulator's jobs, and how many job entries name a lead not in ids.
func scheduledOnce(sim *zohosim.Server, ids []string) (notOnce []string, unknown int) {
	seen := make(map[string]int, len(ids))
	for _, id := range ids {
		seen[id] = 0
	}
	for _, j := range sim.Jobs() {
		for _, id := range j.IDs {
			if _, ok := seen[id]; !ok {
				unknown++
				continue
			}
			seen[id]++
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			notOnce = append(notOnce, id)
		}
	}
	return notOnce, unknown
}
