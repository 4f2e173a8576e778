// A billing meter for the DynamoDB stores on moto, whose ConsumedCapacity
// is a constant per request and ignores indexes: it sizes every item a
// request reads or writes, before and after, and bills it by DynamoDB's
// rules (readunits.go, writeunits.go), index writes included. The job
// lifetime lines of row 5 use it.

package main

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
)

// gsi is one global secondary index as DescribeTable gives it.
type gsi struct {
	name, hash, rng string
	keysOnly        bool
	include         []string // with INCLUDE
}

// entry is the item's entry in the index, or nil when the item lacks a
// key attribute of the index (a sparse index leaves it out).
func (g gsi) entry(it map[string]types.AttributeValue) map[string]types.AttributeValue {
	if it == nil || it[g.hash] == nil || g.rng != "" && it[g.rng] == nil {
		return nil
	}
	if !g.keysOnly && g.include == nil {
		return it // ALL
	}
	e := map[string]types.AttributeValue{"pk": it["pk"], g.hash: it[g.hash]}
	if g.rng != "" {
		e[g.rng] = it[g.rng]
	}
	for _, a := range g.include {
		if v, ok := it[a]; ok {
			e[a] = v
		}
	}
	return e
}

// indexEntryOverhead is what DynamoDB adds to the size of an index entry.
const indexEntryOverhead = 100

// writeUnits bills one index for an item going from before to after: a
// new entry is a put, a gone one a delete, a moved key a delete and a put,
// a changed projected attribute an update; each in 1 KB steps.
func (g gsi) writeUnits(before, after map[string]types.AttributeValue) int {
	b, a := g.entry(before), g.entry(after)
	size := func(e map[string]types.AttributeValue) int { return itemSize(e) + indexEntryOverhead }
	switch {
	case b == nil && a == nil:
		return 0
	case b == nil:
		return writeUnits(0, size(a))
	case a == nil:
		return writeUnits(size(b), 0)
	case !reflect.DeepEqual(b[g.hash], a[g.hash]) || !reflect.DeepEqual(b[g.rng], a[g.rng]):
		return writeUnits(size(b), 0) + writeUnits(0, size(a))
	case !reflect.DeepEqual(b, a):
		return writeUnits(size(b), size(a))
	}
	return 0
}

// billing is what the meter billed: write units by item kind (the pk's
// prefix, "index" for index writes), read units by request kind.
type billing struct {
	wcu      map[string]int
	rcu      map[string]float64
	requests map[string]int
}

func newBilling() billing {
	return billing{wcu: map[string]int{}, rcu: map[string]float64{}, requests: map[string]int{}}
}

func (b billing) clone() billing {
	return billing{wcu: maps.Clone(b.wcu), rcu: maps.Clone(b.rcu), requests: maps.Clone(b.requests)}
}

// minus is b less an earlier reading.
func (b billing) minus(earlier billing) billing {
	out := b.clone()
	for k, v := range earlier.wcu {
		out.wcu[k] -= v
	}
	for k, v := range earlier.rcu {
		out.rcu[k] -= v
	}
	for k, v := range earlier.requests {
		out.requests[k] -= v
	}
	return out
}

// jobWCU is the write units of the job's own items (JOB#, CHK#) and the
// index entries: the claims' writes are the same in every layout.
func (b billing) jobWCU() int {
	return b.wcu[table.JobPrefix] + b.wcu[table.CheckPrefix] + b.wcu["index"]
}

func (b billing) totalRCU() float64 {
	t := 0.0
	for _, v := range b.rcu {
		t += v
	}
	return t
}

// billingDDB is a table.API on moto that bills what it is asked to do.
// Only the indexes in bill are billed (a layout's own), whatever the table
// has. Its reads of items before and after a write are not billed.
type billingDDB struct {
	api     *dynamodb.Client
	table   string
	indexes []gsi

	mu sync.Mutex
	b  billing
}

// newBillingDDB describes the table and bills writes to the indexes named.
func newBillingDDB(ctx context.Context, api *dynamodb.Client, table string, bill ...string) (*billingDDB, error) {
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", table, err)
	}
	m := &billingDDB{api: api, table: table, b: newBilling()}
	for _, d := range out.Table.GlobalSecondaryIndexes {
		name := aws.ToString(d.IndexName)
		if !strings.Contains(","+strings.Join(bill, ",")+",", ","+name+",") {
			continue
		}
		g := gsi{name: name}
		for _, k := range d.KeySchema {
			if k.KeyType == types.KeyTypeHash {
				g.hash = aws.ToString(k.AttributeName)
			} else {
				g.rng = aws.ToString(k.AttributeName)
			}
		}
		switch d.Projection.ProjectionType {
		case types.ProjectionTypeKeysOnly:
			g.keysOnly = true
		case types.ProjectionTypeInclude:
			g.include = append([]string{}, d.Projection.NonKeyAttributes...)
		}
		m.indexes = append(m.indexes, g)
	}
	if len(m.indexes) != len(bill) {
		return nil, fmt.Errorf("table %s has %d of the indexes %v", table, len(m.indexes), bill)
	}
	return m, nil
}

func (m *billingDDB) reading() billing {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.b.clone()
}

func prefixOf(pk string) string {
	if i := strings.IndexByte(pk, '#'); i >= 0 {
		return pk[:i+1]
	}
	return pk
}

// current reads an item whole, strongly consistent, without billing it.
func (m *billingDDB) current(ctx context.Context, key map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := m.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(m.table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("meter: reading %v: %w", key, err)
	}
	return out.Item, nil
}

// billWrite bills one item's write, factor 2 inside a transaction. A
// write whose condition failed leaves the item as it was and is billed
// on its size all the same.
func (m *billingDDB) billWrite(key map[string]types.AttributeValue, before, after map[string]types.AttributeValue, factor int) {
	pk := prefixOf(str(key["pk"]))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.b.wcu[pk] += factor * writeUnits(itemSize(before), itemSize(after))
	for _, g := range m.indexes {
		m.b.wcu["index"] += g.writeUnits(before, after)
	}
}

// write makes one write request on key and bills it.
func (m *billingDDB) write(ctx context.Context, kind string, key map[string]types.AttributeValue, do func() error) error {
	before, err := m.current(ctx, key)
	if err != nil {
		return err
	}
	werr := do()
	after, err := m.current(ctx, key)
	if err != nil {
		return err
	}
	m.billWrite(key, before, after, 1)
	m.count(kind)
	return werr
}

func (m *billingDDB) count(kind string) {
	m.mu.Lock()
	m.b.requests[kind]++
	m.mu.Unlock()
}

func (m *billingDDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	var out *dynamodb.PutItemOutput
	err := m.write(ctx, "PutItem", map[string]types.AttributeValue{"pk": in.Item["pk"]}, func() (err error) {
		out, err = m.api.PutItem(ctx, in, opts...)
		return err
	})
	return out, err
}

func (m *billingDDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	var out *dynamodb.UpdateItemOutput
	err := m.write(ctx, "UpdateItem", in.Key, func() (err error) {
		out, err = m.api.UpdateItem(ctx, in, opts...)
		return err
	})
	return out, err
}

func (m *billingDDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	var out *dynamodb.DeleteItemOutput
	err := m.write(ctx, "DeleteItem", in.Key, func() (err error) {
		out, err = m.api.DeleteItem(ctx, in, opts...)
		return err
	})
	return out, err
}

// TransactWriteItems bills each item twice its write units; its index
// writes are billed as any other (one unit per KB).
func (m *billingDDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	keys := make([]map[string]types.AttributeValue, len(in.TransactItems))
	befores := make([]map[string]types.AttributeValue, len(in.TransactItems))
	for i, ti := range in.TransactItems {
		switch {
		case ti.Put != nil:
			keys[i] = map[string]types.AttributeValue{"pk": ti.Put.Item["pk"]}
		case ti.Update != nil:
			keys[i] = ti.Update.Key
		case ti.Delete != nil:
			keys[i] = ti.Delete.Key
		case ti.ConditionCheck != nil:
			keys[i] = ti.ConditionCheck.Key
		}
		var err error
		if befores[i], err = m.current(ctx, keys[i]); err != nil {
			return nil, err
		}
	}
	out, werr := m.api.TransactWriteItems(ctx, in, opts...)
	for i := range in.TransactItems {
		after, err := m.current(ctx, keys[i])
		if err != nil {
			return nil, err
		}
		m.billWrite(keys[i], befores[i], after, 2)
	}
	m.count("TransactWriteItems")
	return out, werr
}

func (m *billingDDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := m.api.GetItem(ctx, in, opts...)
	if err == nil {
		rcu := readUnits(itemSize(out.Item), aws.ToBool(in.ConsistentRead))
		m.mu.Lock()
		m.b.rcu["GetItem"] += rcu
		m.b.requests["GetItem"]++
		m.mu.Unlock()
	}
	return out, err
}

// BatchGetItem bills each key asked for: an item by its whole size
// (projection or not), a missing one the least a read costs.
func (m *billingDDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out, err := m.api.BatchGetItem(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	rcu := 0.0
	for _, ka := range in.RequestItems {
		for _, key := range ka.Keys {
			it, err := m.current(ctx, key)
			if err != nil {
				return out, err
			}
			rcu += readUnits(itemSize(it), aws.ToBool(ka.ConsistentRead))
		}
	}
	m.mu.Lock()
	m.b.rcu["BatchGetItem"] += rcu
	m.b.requests["BatchGetItem"]++
	m.mu.Unlock()
	return out, nil
}

// Query bills what the query evaluated: the same query without its
// filter and its Select, read again unbilled, sized as returned (index
// entries as projected).
func (m *billingDDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := m.api.Query(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	evaluated, err := m.api.Query(ctx, unfiltered(in))
	if err != nil {
		return out, fmt.Errorf("meter: the query without its filter: %w", err)
	}
	size := 0
	for _, it := range evaluated.Items {
		size += itemSize(it)
	}
	m.mu.Lock()
	m.b.rcu["Query"] += readUnits(size, aws.ToBool(in.ConsistentRead))
	m.b.requests["Query"]++
	m.mu.Unlock()
	return out, nil
}

// unfiltered is the query in without its filter and its Select: what
// DynamoDB reads, and bills, to answer it.
func unfiltered(in *dynamodb.QueryInput) *dynamodb.QueryInput {
	again := *in
	again.Select, again.FilterExpression = "", nil
	if in.FilterExpression == nil {
		return &again
	}
	// Keep only the names and values the key condition uses.
	again.ExpressionAttributeNames, again.ExpressionAttributeValues = nil, nil
	cond := aws.ToString(in.KeyConditionExpression)
	for k, v := range in.ExpressionAttributeNames {
		if strings.Contains(cond, k) {
			if again.ExpressionAttributeNames == nil {
				again.ExpressionAttributeNames = map[string]string{}
			}
			again.ExpressionAttributeNames[k] = v
		}
	}
	for k, v := range in.ExpressionAttributeValues {
		if strings.Contains(cond, k) {
			if again.ExpressionAttributeValues == nil {
				again.ExpressionAttributeValues = map[string]types.AttributeValue{}
			}
			again.ExpressionAttributeValues[k] = v
		}
	}
	return &again
}

// str reads a string attribute.
func str(v types.AttributeValue) string {
	if a, ok := v.(*types.AttributeValueMemberS); ok {
		return a.Value
	}
	return ""
}

// attrS, attrN and attrL make string, number and string-list attributes,
// for the items of the previous layout (lifetime_previous.go), which
// pkg/aws/table no longer builds.
func attrS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func attrN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func attrL(vs []string) types.AttributeValue {
	out := make([]types.AttributeValue, len(vs))
	for i, v := range vs {
		out[i] = attrS(v)
	}
	return &types.AttributeValueMemberL{Value: out}
}
