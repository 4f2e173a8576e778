# leadconvert: build, test and lint. `make` (or `make help`) lists the targets.
#
# Python tools (moto, cfn-lint, SAM CLI) live in .venv, pinned in requirements-dev.txt;
# Go tools (staticcheck, aws-lambda-rie) in .bin, pinned below. Both are installed on demand.

SHELL       := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-print-directory

GO          ?= go
PYTHON      ?= python3
ARCH        ?= arm64
GOTESTFLAGS ?= -race -count=1

FUNCTIONS   := convert status authorizer
VENV        := .venv
VENV_STAMP  := $(VENV)/.stamp
SAM         := $(CURDIR)/$(VENV)/bin/sam
CFN_LINT    := $(CURDIR)/$(VENV)/bin/cfn-lint
BIN         := $(CURDIR)/.bin
TEMPLATE    := template.yaml

STATICCHECK_VERSION := v0.8.2
RIE_VERSION         := v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_STAMP   := .bin/.staticcheck-$(STATICCHECK_VERSION)
RIE_STAMP           := .bin/.aws-lambda-rie-$(RIE_VERSION)

# The SAM CLI must not phone home. (`sam validate --lint` runs cfn-lint only: no AWS calls.)
export SAM_CLI_TELEMETRY := 0
LINT_REGION := us-east-1

# Static Linux binary for provided.al2023, named bootstrap. $(1): GOARCH.
GO_BUILD_LAMBDA = CGO_ENABLED=0 GOOS=linux GOARCH=$(1) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='

FORCE:

.PHONY: FORCE help venv tools test test-explore test-retried test-faults cover mutate lint build build-ConvertFunction build-StatusFunction build-AuthorizerFunction run run-emulated bench sam-build deploy deploy-emulated clean distclean

help: ## list the targets (default)
	@echo "Usage: make TARGET [ARCH=arm64|amd64] [GOTESTFLAGS='-race -count=1']"
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-22s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# ---- tools ----------------------------------------------------------------------------

venv: $(VENV_STAMP) ## create .venv with moto, cfn-lint, the SAM CLI and Zoho's Python SDK (again only when requirements-dev.txt changes)

$(VENV_STAMP): requirements-dev.txt
	@echo ">> $(VENV): installing requirements-dev.txt"
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

tools: $(STATICCHECK_STAMP) $(RIE_STAMP) ## install pinned Go tools into .bin (staticcheck, aws-lambda-rie)

# A stamp is remade when the pinned version changes (new stamp name) or the binary is gone.
$(STATICCHECK_STAMP): $(if $(wildcard .bin/staticcheck),,FORCE)
	@echo ">> .bin: staticcheck $(STATICCHECK_VERSION)"
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@touch $@

$(RIE_STAMP): $(if $(wildcard .bin/aws-lambda-rie),,FORCE)
	@echo ">> .bin: aws-lambda-rie $(RIE_VERSION)"
	GOBIN=$(BIN) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)
	@touch $@

# ---- test and lint ------------------------------------------------------------------

# One moto_server serves the whole run, and one moto serving a request at a time the tests
# that race writers (.ci/with-moto exports MOTO_ENDPOINT and MOTO_SERIAL_ENDPOINT and stops
# both afterwards, pass or fail). .bin is first on PATH so tests find aws-lambda-rie.
test: $(VENV_STAMP) $(RIE_STAMP) ## go test $(GOTESTFLAGS) ./... against one shared moto server
	PATH="$(BIN):$$PATH" .ci/with-moto $(GO) test $(GOTESTFLAGS) ./...

test-explore: $(VENV_STAMP) ## the schedule explorer with 200,000 random schedules (make test runs 20,000)
	PATH="$(BIN):$$PATH" .ci/with-moto $(GO) test -count=1 -v -timeout 30m -run . ./internal/explore/ -explore.seeds=200000

# Every test of the job store's packages again, with each DynamoDB write applied, its
# answer lost and sent again, as the SDK does (testkit.RetriedWrites).
RETRIED_PKGS = ./pkg/aws/table/ ./pkg/convert/ ./pkg/jobcheck/ ./pkg/sweep/ ./internal/faults/
test-retried: $(VENV_STAMP) ## the store packages' tests with every DynamoDB write retried after it applied
	PATH="$(BIN):$$PATH" TESTKIT_RETRIED_WRITES=1 .ci/with-moto $(GO) test $(GOTESTFLAGS) $(RETRIED_PKGS)

test-faults: $(VENV_STAMP) ## the fault suite alone, with its counts (also part of make test)
	PATH="$(BIN):$$PATH" .ci/with-moto $(GO) test -race -count=1 -v -run . ./internal/faults/ | grep -v '^=== '

cover: $(VENV_STAMP) $(RIE_STAMP) ## go test -cover per package into coverage.out, then the total
	PATH="$(BIN):$$PATH" .ci/with-moto $(GO) test -count=1 -covermode=atomic -coverprofile=coverage.out ./...
	@$(GO) tool cover -func=coverage.out | tail -n 1

# Each mutant of .ci/mutants.txt (a guard changed as a real bug would change it) is applied
# in turn through go test -overlay, never to the tree, and its packages' tests run against one
# shared moto; the table says which were KILLED. It takes minutes, so it is not in .ci/run.
MUTATEFLAGS ?=
mutate: $(VENV_STAMP) ## mutation test the guards listed in .ci/mutants.txt; MUTATEFLAGS="-run token -v"
	PATH="$(BIN):$$PATH" .ci/with-moto $(GO) run ./cmd/mutate $(MUTATEFLAGS)

# Every check runs; lint fails at the end if any of them failed.
lint: $(VENV_STAMP) $(STATICCHECK_STAMP) ## gofmt, go vet, staticcheck; cfn-lint and sam validate --lint on template.yaml
	@failed=; \
	 echo ">> gofmt -l"; \
	 files=$$(find . -path './.*' -prune -o -path ./bin -prune -o -type f -name '*.go' -print); \
	 unformatted=$$(gofmt -l $$files) || failed+=" gofmt"; \
	 if [[ -n $$unformatted ]]; then echo "gofmt: needs gofmt -w:"; echo "$$unformatted"; failed+=" gofmt"; fi; \
	 echo ">> go vet ./..."; \
	 $(GO) vet ./... || failed+=" vet"; \
	 echo ">> staticcheck ./..."; \
	 $(BIN)/staticcheck ./... || failed+=" staticcheck"; \
	 if [[ -f $(TEMPLATE) ]]; then \
	   echo ">> cfn-lint $(TEMPLATE)"; \
	   $(CFN_LINT) $(TEMPLATE) || failed+=" cfn-lint"; \
	   echo ">> sam validate --lint"; \
	   AWS_DEFAULT_REGION=$(LINT_REGION) $(SAM) validate --lint --template $(TEMPLATE) --region $(LINT_REGION) || failed+=" sam-validate"; \
	 else echo ">> no $(TEMPLATE): cfn-lint and sam validate skipped"; fi; \
	 if [[ -n $$failed ]]; then echo "lint FAILED:$$failed"; exit 1; fi; \
	 echo "lint OK"

# ---- build and run ------------------------------------------------------------------

build: ## build functions/{convert,status,authorizer} into bin/<name>/bootstrap for linux/$(ARCH) (ARCH ?= arm64)
	@for f in $(FUNCTIONS); do \
	   echo ">> bin/$$f/bootstrap (linux/$(ARCH))"; \
	   $(call GO_BUILD_LAMBDA,$(ARCH)) -o bin/$$f/bootstrap ./functions/$$f; \
	 done

# For `sam build` (Metadata: BuildMethod: makefile, CodeUri: the repository root): SAM sets
# ARTIFACTS_DIR. The functions run on arm64.
build-ConvertFunction: ## (sam build) functions/convert -> $(ARTIFACTS_DIR)/bootstrap, linux/arm64
	$(call GO_BUILD_LAMBDA,arm64) -o $(ARTIFACTS_DIR)/bootstrap ./functions/convert

build-StatusFunction: ## (sam build) functions/status -> $(ARTIFACTS_DIR)/bootstrap, linux/arm64
	$(call GO_BUILD_LAMBDA,arm64) -o $(ARTIFACTS_DIR)/bootstrap ./functions/status

build-AuthorizerFunction: ## (sam build) functions/authorizer -> $(ARTIFACTS_DIR)/bootstrap, linux/arm64
	$(call GO_BUILD_LAMBDA,arm64) -o $(ARTIFACTS_DIR)/bootstrap ./functions/authorizer

run: ## the whole flow on embedded defaults: Zoho simulator, in-memory stores, the sample events
	$(GO) run ./cmd/leadconvert run

run-emulated: $(VENV_STAMP) $(RIE_STAMP) ## the same through the built bootstraps under the Lambda RIE, with moto for AWS
	$(GO) run ./cmd/leadconvert run --emulated

# Rows 5 and 6 need moto and the emulator: installed on demand as for `make test`, so a fresh
# clone prints every row. One moto_server serves the run (.ci/with-moto, as for test).
BENCHFLAGS ?=
bench: $(VENV_STAMP) $(RIE_STAMP) ## the benchmark table (docs/performance.md); BENCHFLAGS="-latency 300ms -reps 3 -rows 1,2"
	PATH="$(BIN):$$PATH" .ci/with-moto $(GO) run ./cmd/bench $(BENCHFLAGS)

sam-build: $(VENV_STAMP) ## sam build into .aws-sam/ (the artifacts sam deploy uploads)
	$(SAM) build --build-in-source --template $(TEMPLATE)

# The deploy as a user runs it, on moto: sam build's template translated offline by the SAM
# translator the pinned SAM CLI ships, the stack created on moto's CloudFormation with the
# built code in moto's S3, what moto cannot create stood in for (docs/architecture.md), then
# the functions run under the RIE with the environment the stack gave them, and the
# operator's commands run with --stack. Nothing leaves 127.0.0.1.
DEPLOYFLAGS ?=
deploy-emulated: $(VENV_STAMP) $(RIE_STAMP) sam-build ## sam build, then create the stacks on moto and use them (internal/deploytest); DEPLOYFLAGS="-run Upgrade"
	PATH="$(BIN):$$PATH" LEADCONVERT_DEPLOY_BUILD=$(CURDIR)/.aws-sam/build $(GO) test -count=1 -v -timeout 15m $(DEPLOYFLAGS) ./internal/deploytest/

deploy: sam-build ## sam build, then sam deploy (--guided until samconfig.toml names a stack); talks to REAL AWS
	@if [[ -f samconfig.toml ]] && grep -Eq '^[[:space:]]*stack_name[[:space:]]*=' samconfig.toml; then \
	   echo ">> sam deploy"; $(SAM) deploy; \
	 else \
	   echo ">> sam deploy --guided (first deploy: answers are saved to samconfig.toml)"; $(SAM) deploy --guided; \
	 fi

clean: ## remove build and coverage outputs (bin/, .aws-sam/, coverage*.out)
	rm -rf bin .aws-sam coverage*.out

distclean: clean ## clean, and remove .venv and .bin too
	rm -rf $(VENV) .bin
