# kubectl-sdc. `make demo` runs the main job on a local sandbox; `make test` runs every test.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
MODULE := github.com/kubectl-sdc/kubectl-sdc

COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
VERSION ?= $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || echo v0.0.0-$(COMMIT))
# The commit's own date, not the wall clock, so a rebuild of the same commit is the same binary.
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(MODULE)/pkg/version.Version=$(VERSION) -X $(MODULE)/pkg/version.Commit=$(COMMIT) -X $(MODULE)/pkg/version.Date=$(DATE)

BIN := $(CURDIR)/bin
SANDBOX_DIR ?= $(CURDIR)/.sandbox
PREFIX ?= $(shell $(GO) env GOPATH)
BINDIR ?= $(PREFIX)/bin
TEST_FLAGS ?=

export CGO_ENABLED ?= 0

.PHONY: all build sandbox-bin install test unit e2e lint vet fmt-check tidy-check staticcheck demo sandbox-up sandbox-down clean oracle-deps oracle workload-deps cfnspec-deps ack-crds

all: build

## build: the plugin and the sandbox into bin/
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/kubectl-sdc ./cmd/kubectl-sdc
	$(GO) build -o $(BIN)/sdc-sandbox ./cmd/sdc-sandbox

## sandbox-bin: etcd, kube-apiserver and kube-controller-manager at the pinned versions, built from source
sandbox-bin:
	hack/sandbox-bin.sh $(BIN)

## install: kubectl-sdc and kubectl_complete-sdc into $(BINDIR)
install:
	mkdir -p $(BINDIR)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINDIR)/kubectl-sdc ./cmd/kubectl-sdc
	install -m 0755 hack/kubectl_complete-sdc $(BINDIR)/kubectl_complete-sdc

## dist: release archives for every krew platform and checksums.txt into $(DIST) (make dist VERSION=vX.Y.Z)
## krew-manifest: .krew.yaml rendered for the archives in $(DIST) into $(DIST)/sdc.yaml
## krew-tools: krew (as kubectl-krew) and validate-krew-manifest into bin/, from hack/tools/krew
DIST ?= $(CURDIR)/dist
.PHONY: dist krew-manifest krew-tools
dist:
	VERSION='$(VERSION)' LDFLAGS='$(LDFLAGS)' DIST='$(DIST)' GO='$(GO)' hack/dist.sh
krew-manifest:
	$(GO) run ./hack/krewrender -template .krew.yaml -tag '$(VERSION)' -dist '$(DIST)' -o '$(DIST)/sdc.yaml'
krew-tools:
	cd hack/tools/krew && $(GO) build -o $(BIN)/kubectl-krew sigs.k8s.io/krew/cmd/krew
	cd hack/tools/krew && $(GO) build -o $(BIN)/validate-krew-manifest sigs.k8s.io/krew/cmd/validate-krew-manifest

## bench: bind, doctor and start-up measured on the sandbox beside the aws CLI/kubectl baselines; prints one
##        table and writes bench/results.json (more runs: make bench BENCH_FLAGS="-runs 5 -naive-subset 100")
## bench-smoke: the same harness at a tiny size, without latency, once (fails on harness errors, never on times)
BENCH_FLAGS ?=
.PHONY: bench bench-smoke
bench: sandbox-bin build
	SDC_SANDBOX_BIN=$(BIN) $(GO) run ./bench -plugin $(BIN)/kubectl-sdc -out bench/results.json $(BENCH_FLAGS)
bench-smoke: sandbox-bin build
	SDC_SANDBOX_BIN=$(BIN) $(GO) run ./bench -smoke -plugin $(BIN)/kubectl-sdc $(BENCH_FLAGS)

## docs: the command reference in docs/commands/, generated from the cobra commands (hack/gendocs); its test
##       (go test ./hack/gendocs) fails when the committed pages are stale
.PHONY: docs
docs:
	$(GO) run ./hack/gendocs -dir docs/commands

## lint: go vet, gofmt, a tidy go.mod and staticcheck (built into bin/ from hack/tools/lint)
lint: vet fmt-check tidy-check staticcheck
vet:
	$(GO) vet ./...
tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
STATICCHECK_VERSION := $(shell awk '$$1 == "honnef.co/go/tools" {print $$2}' hack/tools/lint/go.mod)
staticcheck:
	@[[ "$$($(BIN)/staticcheck -version 2>/dev/null)" == *"($(STATICCHECK_VERSION:v%=%))"* ]] || \
		(cd hack/tools/lint && $(GO) build -o $(BIN)/staticcheck honnef.co/go/tools/cmd/staticcheck)
	$(BIN)/staticcheck ./...
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## test: every test, unit and end-to-end (the e2e tests start their own sandboxes)
test: lint sandbox-bin oracle-deps workload-deps cfnspec-deps ack-crds
	SDC_SANDBOX_BIN=$(BIN) $(GO) test -count=1 -timeout 60m $(TEST_FLAGS) ./...

## oracle-deps: the test-only IAM oracles (npm packages pinned by test/oracle/testdata/package-lock.json)
##              into test/oracle/testdata/node_modules; npm ci runs only when node_modules differs from the lockfile
ORACLE_DIR := test/oracle/testdata
# npm-deps DIR,WHAT: npm ci in DIR unless its node_modules already matches its package-lock.json
define npm-deps
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || \
		{ echo "the $(2) tests need node and npm (Debian: apt-get install nodejs npm)"; exit 1; }
	@cd $(1) && if env -u NODE_OPTIONS node $(CURDIR)/hack/npm-installed.js; then echo "$(2)-deps: node_modules matches package-lock.json"; \
		else env -u NODE_OPTIONS npm ci --no-audit --no-fund; fi
endef
oracle-deps:
	$(call npm-deps,$(ORACLE_DIR),oracle)

## workload-deps: the AWS SDK for JavaScript v3 that test/workload runs in a bound pod's seat (npm packages pinned
##                by test/workload/testdata/package-lock.json) into test/workload/testdata/node_modules; npm ci
##                runs only when node_modules differs from the lockfile
WORKLOAD_DIR := test/workload/testdata
workload-deps:
	$(call npm-deps,$(WORKLOAD_DIR),workload)

## cfnspec-deps: the CloudFormation resource schemas of @aws-cdk/aws-service-spec (pinned by
##               test/cfnspec/testdata/package-lock.json) that the e2e tests validate bind -o cloudformation against
CFNSPEC_DIR := test/cfnspec/testdata
cfnspec-deps:
	$(call npm-deps,$(CFNSPEC_DIR),cfnspec)

## ack-crds: the ACK iam-controller module (its CRDs under config/crd/bases) into the Go module cache, for the e2e
##           tests that server-side dry-run bind -o ack (the eks-controller is not on the module proxy: its
##           PodIdentityAssociation CRD is in test/e2e/testdata/ack)
ACK_IAM_MODULE := github.com/aws-controllers-k8s/iam-controller@v1.9.1
ack-crds:
	cd "$$(mktemp -d)" && GOFLAGS=-mod=mod $(GO) mod download -json $(ACK_IAM_MODULE) >/dev/null

## oracle: the oracle tests alone (ORACLE_SEED=N or random, ORACLE_CASES=N change the generated cases)
oracle: oracle-deps
	$(GO) test -count=1 -run Oracle ./pkg/iampolicy ./pkg/catalog ./pkg/bind ./pkg/doctor ./test/oracle

## unit: the tests that need no sandbox
unit:
	$(GO) test -short -count=1 ./...

## demo: build everything, start the sandbox, and run the main job on it
demo: sandbox-bin build
	SDC_SANDBOX_BIN=$(BIN) SANDBOX_DIR=$(SANDBOX_DIR) hack/demo.sh

## sandbox-up: run the sandbox in the foreground in $(SANDBOX_DIR) (Ctrl-C stops it)
sandbox-up: sandbox-bin build
	$(BIN)/sdc-sandbox up --dir $(SANDBOX_DIR) --bin-dir $(BIN)

sandbox-down:
	$(BIN)/sdc-sandbox down --dir $(SANDBOX_DIR)

clean:
	rm -rf dist $(BIN)/kubectl-sdc $(BIN)/sdc-sandbox
