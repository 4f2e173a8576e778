package app_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestTemplateWhatMotoIgnores holds what make deploy-emulated cannot: moto's
// CloudFormation accepts these properties and does not apply them (see
// docs/architecture.md, "Deployed on moto"), so only the template says
// whether a real stack gets them. The table expires finished items by TTL
// and keeps point-in-time recovery; the functions run on arm64, the
// architecture the Makefile builds them for.
func TestTemplateWhatMotoIgnores(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Globals struct {
			Function struct {
				Architectures []string `yaml:"Architectures"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				Architectures           []string `yaml:"Architectures"`
				TimeToLiveSpecification struct {
					AttributeName string `yaml:"AttributeName"`
					Enabled       bool   `yaml:"Enabled"`
				} `yaml:"TimeToLiveSpecification"`
				PointInTimeRecoverySpecification struct {
					PointInTimeRecoveryEnabled bool `yaml:"PointInTimeRecoveryEnabled"`
				} `yaml:"PointInTimeRecoverySpecification"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	tables, functions := 0, 0
	for id, r := range doc.Resources {
		switch r.Type {
		case "AWS::DynamoDB::Table":
			tables++
			if ttl := r.Properties.TimeToLiveSpecification; !ttl.Enabled || ttl.AttributeName != "expires_at" {
				t.Errorf("table %s: TTL %+v, want enabled on expires_at (the stores write it)", id, ttl)
			}
			if !r.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled {
				t.Errorf("table %s: point-in-time recovery is off", id)
			}
		case "AWS::Serverless::Function":
			functions++
			arch := doc.Globals.Function.Architectures
			if r.Properties.Architectures != nil {
				arch = r.Properties.Architectures
			}
			if !slices.Equal(arch, []string{"arm64"}) {
				t.Errorf("function %s runs on %v, want [arm64]: the Makefile builds it for arm64", id, arch)
			}
		}
	}
	if tables != 1 || functions == 0 {
		t.Fatalf("%d tables, %d functions: the template is not read", tables, functions)
	}

	// The Makefile's sam build targets build each function for that
	// architecture.
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := regexp.MustCompile(`(?m)^build-(\w+Function):.*\n\t\$\(call GO_BUILD_LAMBDA,(\w+)\)`).FindAllSubmatch(mk, -1)
	if len(targets) != functions {
		t.Fatalf("%d build targets in the Makefile, %d functions in the template", len(targets), functions)
	}
	for _, m := range targets {
		if string(m[2]) != "arm64" {
			t.Errorf("make build-%s builds for %s, the template runs it on arm64", m[1], m[2])
		}
	}
}
