// Package layers holds the test that keeps the import rules of
// docs/architecture.md true: the core is free of AWS, adapters live under
// pkg/aws, nothing shipped imports the test rigs, and each function links
// only the AWS services it calls.
package layers

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/zoho-bridge/leadconvert/"

// deps returns, for every package matching patterns, all the packages it
// depends on, directly or not (tests excluded: they may use adapters and rigs).
func deps(t *testing.T, patterns ...string) map[string][]string {
	t.Helper()
	args := append([]string{"list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

func isAWSSDK(p string) bool {
	return strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2") || strings.HasPrefix(p, "github.com/aws/smithy-go")
}

// TestCoreImportsNoAWS: every package under pkg/ but pkg/aws/... is core;
// it sees AWS only through the small interfaces it defines.
func TestCoreImportsNoAWS(t *testing.T) {
	for pkg, ds := range deps(t, "./pkg/...") {
		if strings.HasPrefix(pkg, module+"pkg/aws/") {
			continue
		}
		for _, d := range ds {
			if isAWSSDK(d) {
				t.Errorf("core package %s depends on %s; put AWS code in an adapter under pkg/aws", strings.TrimPrefix(pkg, module), d)
				break
			}
		}
	}
}

// TestShippedCodeImportsNoRigs: the functions and pkg/ never link the
// simulator or the test rigs of internal/.
func TestShippedCodeImportsNoRigs(t *testing.T) {
	for pkg, ds := range deps(t, "./pkg/...", "./functions/...") {
		for _, d := range ds {
			if strings.HasPrefix(d, module+"internal/") {
				t.Errorf("%s depends on %s, which is test or local-run scaffolding", strings.TrimPrefix(pkg, module), strings.TrimPrefix(d, module))
			}
		}
	}
}

// TestFunctionsLinkOnlyWhatTheyUse: the convert function never announces;
// the authorizer reads the secret and calls no other AWS service. (The
// status function links SQS: it sends the leads Zoho did not convert, and a
// sweep's leads, to the conversion queue.) Both link pkg/app, which builds
// either; that costs a few hundred kilobytes of core code, not an AWS client.
func TestFunctionsLinkOnlyWhatTheyUse(t *testing.T) {
	all := deps(t, "./functions/...")
	for fn, refuse := range map[string]func(dep string) bool{
		"functions/convert": func(d string) bool {
			return d == "github.com/aws/aws-sdk-go-v2/service/eventbridge" || d == module+"pkg/aws/eventbus"
		},
		"functions/authorizer": func(d string) bool {
			if strings.HasPrefix(d, module+"pkg/aws/") {
				return d != module+"pkg/aws/secretstore"
			}
			service, ok := strings.CutPrefix(d, "github.com/aws/aws-sdk-go-v2/service/")
			// The SDK's default credential chain brings sts, sso, ssooidc
			// and signin along; they fetch credentials, not data.
			ok = ok && !slices.Contains([]string{"secretsmanager", "internal", "sts", "sso", "ssooidc", "signin"}, strings.Split(service, "/")[0])
			return ok
		},
	} {
		ds, ok := all[module+fn]
		if !ok {
			t.Fatalf("%s: not listed", fn)
		}
		for _, d := range ds {
			if refuse(d) {
				t.Errorf("%s links %s, which it never uses", fn, d)
			}
		}
	}
}

// TestWritersWrapTheSDKsHTTPClient: each program that writes to AWS builds
// its config with pkg/aws/httpclient, without which the SDK now and then
// loses the answer of a write that went through and sends it again
// (aws-sdk-go-v2#2737). The authorizer only reads a secret.
func TestWritersWrapTheSDKsHTTPClient(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`,
		"./functions/convert", "./functions/status", "./cmd/leadconvert", "./cmd/bench", "./internal/awstest")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 && !slices.Contains(f[1:], module+"pkg/aws/httpclient") {
			t.Errorf("%s builds its AWS config without pkg/aws/httpclient", strings.TrimPrefix(f[0], module))
		}
	}
}
