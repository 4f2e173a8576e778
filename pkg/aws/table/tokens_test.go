package table_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/testkit"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

// countingSealer counts the calls that reach the key service.
type countingSealer struct {
	oauth.Sealer
	mu          sync.Mutex
	seals, opns int
}

func (c *countingSealer) Seal(ctx context.Context, p []byte, bind map[string]string) ([]byte, error) {
	c.mu.Lock()
	c.seals++
	c.mu.Unlock()
	return c.Sealer.Seal(ctx, p, bind)
}

func (c *countingSealer) Open(ctx context.Context, s []byte, bind map[string]string) ([]byte, error) {
	c.mu.Lock()
	c.opns++
	c.mu.Unlock()
	return c.Sealer.Open(ctx, s, bind)
}

func (c *countingSealer) counts() (seals, opens int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seals, c.opns
}

// tokenRig is one table and key on moto, and the stores of as many
// function instances as a test asks for.
type tokenRig struct {
	t     *testing.T
	cfg   aws.Config
	api   *dynamodb.Client
	table string
	key   string
}

func newTokenRig(t *testing.T) *tokenRig {
	t.Helper()
	cfg := awstest.Require(t)
	return &tokenRig{t: t, cfg: cfg, api: table.NewClient(cfg),
		table: awstest.CreateTableFromTemplate(t, cfg, "JobsTable"), key: awstest.CreateKey(t, cfg)}
}

// instance is one function instance's store, with its own cache, and the
// counter of its calls to KMS.
func (r *tokenRig) instance() (*table.TokenStore, *countingSealer) {
	c := &countingSealer{Sealer: kmsseal.New(kms.NewFromConfig(r.cfg), r.key)}
	return table.NewTokenStore(awstest.CheckExpressions(r.t, r.api), r.table, c), c
}

// save stores token as owner would after a refresh.
func (r *tokenRig) save(s *table.TokenStore, key, token string) {
	r.t.Helper()
	ctx := context.Background()
	rec, err := s.Load(ctx, key)
	if err != nil {
		r.t.Fatal(err)
	}
	now := time.Now()
	if ok, err := s.TryLease(ctx, key, "owner", rec.Version, now, now.Add(time.Minute)); err != nil || !ok {
		r.t.Fatalf("lease: %v %v", ok, err)
	}
	rec = oauth.Record{AccessToken: token, APIDomain: "https://www.zohoapis.eu", ExpiresAt: now.Add(time.Hour)}
	if ok, err := s.Save(ctx, key, "owner", rec); err != nil || !ok {
		r.t.Fatalf("save: %v %v", ok, err)
	}
}

func (r *tokenRig) item(key string) map[string]types.AttributeValue {
	r.t.Helper()
	out, err := r.api.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(r.table),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TOKEN#" + key}}})
	if err != nil {
		r.t.Fatal(err)
	}
	return out.Item
}

func (r *tokenRig) put(item map[string]types.AttributeValue) {
	r.t.Helper()
	if _, err := r.api.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(r.table), Item: item}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *tokenRig) load(s *table.TokenStore, key string) oauth.Record {
	r.t.Helper()
	rec, err := s.Load(context.Background(), key)
	if err != nil {
		r.t.Fatal(err)
	}
	return rec
}

const tokenA, tokenB = "1000.3f1c9a0e7d2b4c6a8e0f1a2b3c4d5e6f.0a1b2c3d4e5f60718293a4b5c6d7e8f9", "1000.b2.c3"

// TestTokenItemHoldsNoClearToken: what lies in the table (and so in its
// backups and exports) is the sealed token, never the token itself; another
// instance opens it.
func TestTokenItemHoldsNoClearToken(t *testing.T) {
	r := newTokenRig(t)
	a, _ := r.instance()
	r.save(a, "k", tokenA)
	it := r.item("k")
	if _, ok := it["sealed_token"].(*types.AttributeValueMemberB); !ok {
		t.Fatalf("no binary sealed_token in %v", it)
	}
	for name, v := range it {
		var raw []byte
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			raw = []byte(v.Value)
		case *types.AttributeValueMemberB:
			raw = v.Value
		}
		if bytes.Contains(raw, []byte(tokenA[5:])) {
			t.Errorf("attribute %s holds the token in clear", name)
		}
	}
	b, _ := r.instance()
	if got := r.load(b, "k"); got.AccessToken != tokenA || got.APIDomain != "https://www.zohoapis.eu" {
		t.Fatalf("another instance loaded %q at %q", got.AccessToken, got.APIDomain)
	}
}

// TestTokenSealIsBoundToItsItem: a sealed token copied to another item, or
// an altered one, reads as no token (so the next caller refreshes), never
// as an error that would stop every instance.
func TestTokenSealIsBoundToItsItem(t *testing.T) {
	r := newTokenRig(t)
	a, _ := r.instance()
	r.save(a, "k", tokenA)
	sealed := r.item("k")["sealed_token"].(*types.AttributeValueMemberB).Value
	altered := bytes.Clone(sealed)
	altered[len(altered)-1] ^= 1
	tests := []struct {
		name, key string
		sealed    []byte
	}{
		{"copied to another item", "other", sealed},
		{"altered in place", "k", altered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.put(map[string]types.AttributeValue{
				"pk":               &types.AttributeValueMemberS{Value: "TOKEN#" + tt.key},
				"sealed_token":     &types.AttributeValueMemberB{Value: tt.sealed},
				"token_expires_ms": &types.AttributeValueMemberN{Value: "99999999999999"},
				"version":          &types.AttributeValueMemberN{Value: "7"},
			})
			b, _ := r.instance()
			got := r.load(b, tt.key)
			if got.AccessToken != "" || got.Version != 7 {
				t.Fatalf("loaded %q at version %d, want no token at version 7", got.AccessToken, got.Version)
			}
		})
	}
}

// TestTokenOpenedOncePerToken: KMS is called once per refresh to seal and
// once per instance and new token to open, however often the item is read.
func TestTokenOpenedOncePerToken(t *testing.T) {
	r := newTokenRig(t)
	a, aKMS := r.instance()
	b, bKMS := r.instance()
	steps := []struct {
		name         string
		do           func()
		aSeal, aOpen int
		bSeal, bOpen int
	}{
		{"a refreshes", func() { r.save(a, "k", tokenA) }, 1, 0, 0, 0},
		{"both read three times", func() {
			for range 3 {
				if r.load(a, "k").AccessToken != tokenA || r.load(b, "k").AccessToken != tokenA {
					t.Fatal("not token A")
				}
			}
		}, 1, 0, 0, 1},
		{"b refreshes", func() { r.save(b, "k", tokenB) }, 1, 0, 1, 1},
		{"both read twice", func() {
			for range 2 {
				if r.load(a, "k").AccessToken != tokenB || r.load(b, "k").AccessToken != tokenB {
					t.Fatal("not token B")
				}
			}
		}, 1, 1, 1, 1},
	}
	for _, s := range steps {
		s.do()
		as, ao := aKMS.counts()
		bs, bo := bKMS.counts()
		if as != s.aSeal || ao != s.aOpen || bs != s.bSeal || bo != s.bOpen {
			t.Fatalf("after %s: a sealed %d opened %d, b sealed %d opened %d; want %d %d %d %d",
				s.name, as, ao, bs, bo, s.aSeal, s.aOpen, s.bSeal, s.bOpen)
		}
	}
}

// TestTokenStoredInClearBeforeUpgrade: an item written by a version before
// sealing reads as no token, so the first caller after a deploy refreshes;
// its Save removes the clear token. A clear token written beside a sealed
// one (an older instance saving during a deploy or after a rollback) makes
// the sealed one stale: no token either.
func TestTokenStoredInClearBeforeUpgrade(t *testing.T) {
	r := newTokenRig(t)
	a, _ := r.instance()
	r.save(a, "mixed", tokenA)
	mixed := r.item("mixed")
	mixed["access_token"] = &types.AttributeValueMemberS{Value: tokenB}
	r.put(mixed)
	r.put(map[string]types.AttributeValue{
		"pk":               &types.AttributeValueMemberS{Value: "TOKEN#old"},
		"access_token":     &types.AttributeValueMemberS{Value: tokenB},
		"api_domain":       &types.AttributeValueMemberS{Value: "https://www.zohoapis.eu"},
		"token_expires_ms": &types.AttributeValueMemberN{Value: "99999999999999"},
		"version":          &types.AttributeValueMemberN{Value: "3"},
	})
	for _, key := range []string{"old", "mixed"} {
		t.Run(key, func(t *testing.T) {
			b, _ := r.instance()
			if got := r.load(b, key); got.AccessToken != "" || got.Version == 0 {
				t.Fatalf("loaded %q at version %d, want no token at the item's version", got.AccessToken, got.Version)
			}
			r.save(b, key, tokenA)
			if _, clear := r.item(key)["access_token"]; clear {
				t.Fatal("the clear token outlived the save")
			}
			c, _ := r.instance()
			if got := r.load(c, key); got.AccessToken != tokenA {
				t.Fatalf("after the save: %q", got.AccessToken)
			}
		})
	}
}

// TestTokenDropOnlyTheRefusedToken: Drop removes the sealed token only if
// it is still the refused one, without opening it again.
func TestTokenDropOnlyTheRefusedToken(t *testing.T) {
	r := newTokenRig(t)
	a, aKMS := r.instance()
	r.save(a, "k", tokenA)
	ctx := context.Background()
	if err := a.Drop(ctx, "k", tokenB); err != nil {
		t.Fatal(err)
	}
	if r.load(a, "k").AccessToken != tokenA {
		t.Fatal("dropped a token that was not the refused one")
	}
	before := r.load(a, "k").Version
	if err := a.Drop(ctx, "k", tokenA); err != nil {
		t.Fatal(err)
	}
	got := r.load(a, "k")
	if got.AccessToken != "" || got.Version != before+1 {
		t.Fatalf("after the drop: %q at version %d, want none at %d", got.AccessToken, got.Version, before+1)
	}
	if _, ok := r.item("k")["sealed_token"]; ok {
		t.Fatal("the sealed token is still in the item")
	}
	if _, opens := aKMS.counts(); opens != 0 {
		t.Fatalf("opened %d times its own token", opens)
	}
}

// TestTokenLoadFailsWhileKMSFails: a key service that does not answer is an
// error (the caller retries later), not an absent token, which would spend
// a refresh per instance and lock the integration out.
func TestTokenLoadFailsWhileKMSFails(t *testing.T) {
	r := newTokenRig(t)
	a, _ := r.instance()
	r.save(a, "k", tokenA)
	down := r.cfg.Copy()
	down.BaseEndpoint, down.RetryMaxAttempts = aws.String("http://127.0.0.1:1"), 1
	b := table.NewTokenStore(awstest.CheckExpressions(t, r.api), r.table, kmsseal.New(kms.NewFromConfig(down), r.key))
	if rec, err := b.Load(context.Background(), "k"); !errors.Is(err, oauth.ErrSealing) || !strings.Contains(err.Error(), "opening the shared token") {
		t.Fatalf("Load = %q, %v; want an error of the key service (oauth.ErrSealing)", rec.AccessToken, err)
	}
	// A save it cannot seal fails before its write, as an ErrSealing, and
	// leaves the lease to its holder, who releases it with a pause.
	ctx, now := context.Background(), time.Now()
	rec := r.load(a, "k")
	if ok, err := b.TryLease(ctx, "k", "b", rec.Version, now, now.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if saved, err := b.Save(ctx, "k", "b", oauth.Record{AccessToken: tokenB, ExpiresAt: now.Add(time.Hour)}); saved || !errors.Is(err, oauth.ErrSealing) {
		t.Fatalf("Save = %v, %v; want an error of the key service", saved, err)
	}
	if err := b.Release(ctx, "k", "b", now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := r.load(a, "k"); got.AccessToken != tokenA || got.LeaseOwner != "" || !got.BlockedUntil.After(now) {
		t.Fatalf("after the failed save and release: %+v; want token A kept, no lease, a pause", got)
	}
}

// TestTokenWritesBearTheSDKRetry: a lease, save and release the SDK sends
// again after it lost their answers (testkit.RetriedWrites) succeed: the
// save removes the lease its condition asks for, and must not read its own
// retry as the lease lost to another instance.
func TestTokenWritesBearTheSDKRetry(t *testing.T) {
	r := newTokenRig(t)
	s := table.NewTokenStore(testkit.RetriedWrites(awstest.CheckExpressions(t, r.api)), r.table,
		kmsseal.New(kms.NewFromConfig(r.cfg), r.key))
	r.save(s, "retried", tokenA) // fails the test unless the lease and the save both report success
	if got := r.load(s, "retried"); got.AccessToken != tokenA {
		t.Fatalf("token %q after a retried save, want tokenA", got.AccessToken)
	}
	ctx := context.Background()
	now := time.Now()
	rec := r.load(s, "retried")
	if ok, err := s.TryLease(ctx, "retried", "owner", rec.Version, now, now.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if err := s.Release(ctx, "retried", "owner", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if it := r.item("retried"); it["lease_owner"] != nil {
		t.Fatalf("lease still held after a retried release: %v", it["lease_owner"])
	}
}
