package kmsseal_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/kmsseal"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestSealBindsToItsItem: a sealed token holds no clear text and opens only
// with the bind it was sealed with; a ciphertext that is at fault is
// ErrUnsealable, a key service that cannot answer is not.
func TestSealBindsToItsItem(t *testing.T) {
	cfg := awstest.Require(t)
	key := awstest.CreateKey(t, cfg)
	s := kmsseal.New(kms.NewFromConfig(cfg), key)
	ctx := context.Background()
	token := []byte("1000.0123456789abcdef.fedcba9876543210")
	bind := map[string]string{"table": "jobs", "item": "TOKEN#a"}
	sealed, err := s.Seal(ctx, token, bind)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, token) || bytes.Contains(sealed, token[5:]) {
		t.Fatal("the sealed token contains the token")
	}
	altered := bytes.Clone(sealed)
	altered[len(altered)-1] ^= 1
	unreachable := cfg.Copy()
	unreachable.BaseEndpoint = aws.String("http://127.0.0.1:1")
	unreachable.RetryMaxAttempts = 1

	tests := []struct {
		name       string
		sealer     *kmsseal.Sealer
		ciphertext []byte
		bind       map[string]string
		unsealable bool // else opens, or fails for another reason
		fails      bool
	}{
		{"its own item", s, sealed, bind, false, false},
		{"another item", s, sealed, map[string]string{"table": "jobs", "item": "TOKEN#b"}, true, true},
		{"another table", s, sealed, map[string]string{"table": "restored", "item": "TOKEN#a"}, true, true},
		{"no bind", s, sealed, nil, true, true},
		{"altered", s, altered, bind, true, true},
		{"key service unreachable", kmsseal.New(kms.NewFromConfig(unreachable), key), sealed, bind, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(ctx, tt.ciphertext, tt.bind)
			if tt.fails != (err != nil) || errors.Is(err, oauth.ErrUnsealable) != tt.unsealable {
				t.Fatalf("Open: %v, want failure %v, unsealable %v", err, tt.fails, tt.unsealable)
			}
			if !tt.fails && !bytes.Equal(got, token) {
				t.Fatalf("Open = %q, want the token", got)
			}
		})
	}
}

// TestSealIsFreshEachTime: two seals of one token differ, so a ciphertext
// names one write of the item and a Store can condition on it.
func TestSealIsFreshEachTime(t *testing.T) {
	cfg := awstest.Require(t)
	s := kmsseal.New(kms.NewFromConfig(cfg), awstest.CreateKey(t, cfg))
	bind := map[string]string{"table": "jobs", "item": "TOKEN#a"}
	a, err := s.Seal(context.Background(), []byte("1000.x"), bind)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Seal(context.Background(), []byte("1000.x"), bind)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one token are equal")
	}
}
