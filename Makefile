# auditdetect: build, run and test (GNU make 4).
#
# Quick start:   make run     build the collector and run the demo on testdata/audit/
#                make test    vet + gofmt, race-enabled unit tests, then build the binary and check it end to end
#
# Only Go (and make, bash, coreutils) must be on the machine: every other tool is installed by the targets below,
# at a pinned version, into ./.tools/bin (git-ignored). CI (.ci/run) starts from a fresh machine and relies on that.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# A half-written binary must never look up to date.
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:

GO ?= go

# ---- pinned tools --------------------------------------------------------------------------------------------
# ocb must match the collector core that builder-config.yaml pins (v0.145.0 / v1.51.0): an ocb of another minor
# version generates code for another core and its strict version check refuses the build.
OCB_VERSION := v0.145.0
# golang.org/x/perf has no release tags; this pseudo-version is one the module proxy serves.
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da

# qemu-user runs the arm64 tests on this amd64 machine (test-arm64): Debian bookworm's 7.2, any of its security
# revisions (a pinned revision leaves the mirror when the next one comes out).
QEMU_USER_VERSION := 1:7.2+dfsg-7+deb12u*
QEMU_AARCH64 := /usr/bin/qemu-aarch64

TOOLS_BIN := $(CURDIR)/.tools/bin
# The version is part of each tool's file name: changing a version above installs the new tool on the next run
# (and, for ocb, rebuilds the binary), with no stale tool left in use.
OCB := $(TOOLS_BIN)/ocb-$(OCB_VERSION)
BENCHSTAT := $(TOOLS_BIN)/benchstat-$(BENCHSTAT_VERSION)

# ---- the distribution ----------------------------------------------------------------------------------------
DIST_NAME := otelcol-auditdetect
BUILDER_CONFIG ?= builder-config.yaml
# Must match dist.output_path in builder-config.yaml: ocb writes the generated sources and the binary there.
DIST_DIR := build/$(DIST_NAME)
# One binary per platform, bin/<GOOS>_<GOARCH>/otelcol-auditdetect, each with its own up-to-date check, so that a
# binary of one platform never passes for another's: `make bin/linux_arm64/otelcol-auditdetect` builds that one on any
# machine (cgo is off in the build, so no C cross-compiler is needed). The image (config/docker/Dockerfile) takes
# bin/linux_<arch>/. Other platform settings (GOAMD64, GOARM) are not part of the name: change one, delete the binary.
PLATFORM_BINARY = bin/$(1)/$(DIST_NAME)
# GOOS=<os> GOARCH=<arch> of a platform <os>_<arch>: for ocb, which passes them to go build, and for the `go list` of
# the binary's inputs (a file can be for some platforms only).
PLATFORM_ENV = GOOS=$(word 1,$(subst _, ,$(1))) GOARCH=$(word 2,$(subst _, ,$(1)))
# The machine's own binary, the one `make run` and `make test` execute: a hard link to its platform's binary.
BINARY := bin/$(DIST_NAME)
# GOOS, GOARCH, GOHOSTOS and GOHOSTARCH as go reads them (the environment, `go env -w`, else the machine). Targets
# name files from them, so make reads them with the makefile, every run: one `go env`, about 40 ms.
GO_PLATFORMS := $(shell $(GO) env GOOS GOARCH GOHOSTOS GOHOSTARCH)
TARGET_PLATFORM := $(word 1,$(GO_PLATFORMS))_$(word 2,$(GO_PLATFORMS))
HOST_PLATFORM := $(word 3,$(GO_PLATFORMS))_$(word 4,$(GO_PLATFORMS))
# The tools (ocb, benchstat) run on this machine: they are installed for it whatever GOOS and GOARCH say (a cross
# build, `GOOS=linux GOARCH=arm64 make build`, installs ocb first on a fresh clone, and with GOBIN set `go install`
# refuses a cross-compiled binary).
HOST_ENV := $(call PLATFORM_ENV,$(HOST_PLATFORM))
# What `make build` makes: the binary of GOOS/GOARCH (`GOOS=linux GOARCH=amd64 make build` on a Mac writes
# bin/linux_amd64/otelcol-auditdetect and leaves the Mac's alone), and BINARY too when that is this machine's platform.
BUILD_TARGETS := $(call PLATFORM_BINARY,$(TARGET_PLATFORM)) $(if $(filter $(HOST_PLATFORM),$(TARGET_PLATFORM)),$(BINARY))
DEMO_CONFIG ?= config/demo.yaml

# The package ocb imports from this module (see builder-config.yaml).
COMPONENT_PKG := ./processor/auditdetectprocessor
# What the binary is built from, within this repository: the Go files and //go:embed files (such as built-in rules)
# of every package of this module that the component imports. Tests, docs, configs and testdata are not among them,
# so editing those does not rebuild. `go list` finds them exactly (a new file or package counts too); the recipe of
# each platform's binary runs it, so only targets that need a binary pay for it.
GO_LIST_BINARY_INPUTS = $(GO) list -e -deps \
	-f '{{if and .Module .Module.Main}}{{$$d := .Dir}}{{range .GoFiles}}{{$$d}}/{{.}} {{end}}{{range .EmbedFiles}}{{$$d}}/{{.}} {{end}}{{end}}' \
	$(COMPONENT_PKG)

# How long `make run` lets the collector run. The filelog receiver tails its files forever, so the demo stops it
# after a while (the sample is read within a second of start-up); RUN_SECONDS=0 runs until Ctrl-C.
RUN_SECONDS ?= 10

# Per test binary, a guard against a hang: the race detector makes tests several times slower on these 2-core
# machines, and the processor package, about 2 minutes alone in CI, took 6.5 minutes while other work shared the CPUs.
GO_TEST_TIMEOUT ?= 20m

# ocb compiles with -trimpath, and Go caches a package compiled with -trimpath apart from one compiled without it.
# The module's other non-race builds (vet, the allocation tests, the rule tools) use it too, so the collector
# packages they share with the binary (about 700) are compiled once: from empty caches, the ocb build then takes
# about 5 min instead of 6 min 40 s on 2 cores. (-race builds are a variant of their own either way.)
TRIM := -trimpath

# Benchmarks: `make bench` runs the comparison benchmarks of bench/ (a module of its own, so that the transform
# processor and sigma-go it compares with stay out of the collector build and of `make test`; see
# docs/performance.md), then the whole-collector CPU profile. BENCH selects benchmarks (`make bench BENCH=Mix`);
# BENCH_PKGS adds packages of the main module (`BENCH_PKGS=./processor/...`). Copy $(BENCH_OUT) to $(BENCH_BASE) to
# keep a baseline, and the next `make bench` compares against it with benchstat.
BENCH ?= .
BENCH_PKGS ?=
BENCH_COUNT ?= 6
BENCH_OUT ?= out/bench.txt
BENCH_BASE ?= out/bench-base.txt

# `make gen`: the generated audit log (processor/auditgen), GEN_EVENTS events of seed GEN_SEED.
GEN_EVENTS ?= 100000
GEN_SEED ?= 1
GEN_OUT ?= out/audit-mix.log

# Go files checked by gofmt: everything tracked or not, except generated and downloaded code.
GOFMT_FILES = $(shell find . \( -path ./.git -o -path ./.tools -o -path ./build -o -path ./bin -o -path ./out \) -prune \
	-o -type f -name '*.go' -print)

# ---- targets -------------------------------------------------------------------------------------------------
.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: $(BUILD_TARGETS) ## build bin/<GOOS>_<GOARCH>/otelcol-auditdetect with ocb (only when its inputs changed), and bin/otelcol-auditdetect for this machine

# ocb regenerates build/otelcol-auditdetect/ (main.go, components.go, go.mod), runs go mod tidy there and compiles
# for the platform the file's folder names.
# A first build downloads ~1.6 GB of modules and compiles for several minutes; later builds reuse Go's caches.
# The recipe always runs (FORCE) and rebuilds only when one of the inputs above, builder-config.yaml, go.mod, go.sum
# or ocb itself (a version bump installs a new file) is newer than the binary: make's own timestamp check would need
# the `go list` on every make invocation, even `make help`.
# ocb creates only the last directory of output_path itself, hence the mkdir.
# -buildvcs=false: the generated module sits inside this git work tree, and VCS stamping fails in a repository
# without commits (or with a git that refuses the directory); the collector reports dist.version instead.
$(call PLATFORM_BINARY,%): $(OCB) FORCE
	@[[ "$*" =~ ^[a-z0-9]+_[a-z0-9]+$$ ]] || { echo "$@: the folder must be <GOOS>_<GOARCH>, such as linux_amd64"; exit 2; }; \
	inputs="$(OCB) $(BUILDER_CONFIG) go.mod go.sum $$($(call PLATFORM_ENV,$*) $(GO_LIST_BINARY_INPUTS))"; \
	if [ -f $@ ] && [ -z "$$(find $$inputs -newer $@ -print -quit)" ]; then echo ">> $@ is up to date"; exit 0; fi; \
	echo ">> ocb $(OCB_VERSION): building $(DIST_NAME) for $(subst _,/,$*) (the first build takes several minutes)"; \
	mkdir -p $(dir $(DIST_DIR)); \
	$(call PLATFORM_ENV,$*) GOFLAGS="$(GOFLAGS) -buildvcs=false" $(OCB) --config $(BUILDER_CONFIG); \
	mkdir -p $(@D); \
	cp $(DIST_DIR)/$(DIST_NAME) $@; \
	echo ">> built $@"

# A hard link: one file, two names, nothing copied, and the same modification time as the platform's binary.
$(BINARY): $(call PLATFORM_BINARY,$(HOST_PLATFORM))
	@ln -f $< $@

.PHONY: FORCE
FORCE:

.PHONY: run
run: $(BINARY) ## build if needed, then run the demo config on testdata/audit/ (RUN_SECONDS=0: until Ctrl-C)
	scripts/run-demo.sh $(BINARY) $(DEMO_CONFIG) $(RUN_SECONDS)

.PHONY: test
test: lint test-unit test-arm64 test-bench rule-test rule-lint test-binary ## lint, race-enabled unit tests, the arm64 event tests under qemu, the bench module's checks, then build the binary and check it (what CI runs)

.PHONY: test-unit
test-unit: ## go test -race on every package (the fast loop: no binary build), then the allocation tests
	$(GO) test -race -count=1 -timeout $(GO_TEST_TIMEOUT) ./...
	@# Allocation counts are only meaningful without the race detector (sync.Pool drops objects under -race):
	@# the files that measure them build with !race and run here.
	$(GO) test $(TRIM) -count=1 -timeout $(GO_TEST_TIMEOUT) -run 'Alloc' ./processor/...

# The event package reads every body: its scanning (on arm64 eight bytes at a time, where amd64 has an SSE2 search;
# unsafe slices) and the prefetch, which is assembly per architecture (PRFM on arm64, the platform of the released
# image besides amd64). Its tests run as an
# arm64 binary under qemu-user, the only arm64 this machine has: they check answers, not speed (about 90 s). go test
# -exec runs the binary in the package's folder, as go test does: run from the module root it would not find
# testdata/fuzz, and the fuzz targets' 340 seed inputs would pass unrun. An arm64 host (Apple silicon, Graviton) runs
# them natively; its test-unit already did.
.PHONY: test-arm64
test-arm64: $(if $(filter arm64,$(word 4,$(GO_PLATFORMS))),,| $(QEMU_AARCH64)) ## run the event package's tests as an arm64 binary under qemu-user
	GOARCH=arm64 $(GO) vet ./processor/event/
	@if [ "$(word 4,$(GO_PLATFORMS))" = arm64 ]; then \
	  echo "test-arm64: this host is arm64; test-unit ran the arm64 tests"; \
	elif [ ! -x $(QEMU_AARCH64) ]; then \
	  echo "SKIP: test-arm64: no $(QEMU_AARCH64); the arm64 tests did not run" >&2; \
	else set -x; GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) test -count=1 -timeout $(GO_TEST_TIMEOUT) \
	  -exec $(QEMU_AARCH64) ./processor/event/; fi

# Installs qemu-user as root on Debian (CI). Elsewhere it says how; outside CI test-arm64 then skips (as the corpus
# tests do), under CI it fails. The lock timeout waits out a fresh VM's unattended-upgrades instead of failing.
$(QEMU_AARCH64):
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "test-arm64 needs $@: as root on Debian, apt-get install 'qemu-user=$(QEMU_USER_VERSION)'" >&2; \
	  case "$${CI:-}" in ""|false|0) exit 0;; *) exit 1;; esac; \
	fi; \
	apt="apt-get -o DPkg::Lock::Timeout=300"; set -x; \
	DEBIAN_FRONTEND=noninteractive $$apt install -y --no-install-recommends 'qemu-user=$(QEMU_USER_VERSION)' || \
	  { $$apt update && DEBIAN_FRONTEND=noninteractive $$apt install -y --no-install-recommends 'qemu-user=$(QEMU_USER_VERSION)'; }

# bench/ is a module of its own (the transform processor and sigma-go are its dependencies only), so ./... above does
# not reach it: vet every benchmark, and test how the whole-collector profile's CPU is split between the pipeline's
# parts, which decides the processor's share that issue #7 sets a target for. The benchmarks themselves run in
# `make bench`.
.PHONY: test-bench
test-bench: ## vet bench/, test its profile attribution and that its evaluations are new events (the benchmarks run in make bench)
	cd bench && $(GO) vet ./... && $(GO) test -count=1 -run 'TestCPUSharesAttribution|TestEvaluateRoundsAreNewEvents' .

# The issue's acceptance check: the binary builds, contains the processor, validates the demo config, and the demo
# run over the sample audit log writes risk events.
.PHONY: test-binary
test-binary: $(BINARY) ## build, then validate config/demo.yaml with the binary and run the demo as a smoke test
	$(BINARY) components | grep -Eq '^[[:space:]]*- name: auditdetect$$' \
		|| { echo "auditdetect is not among the binary's processors"; exit 1; }
	$(BINARY) validate --config $(DEMO_CONFIG)
	@echo ">> $(DEMO_CONFIG) is valid"
	@# The scale-out example (docs/stateful.md): agents route by key, gateways hold the state. The token is a
	@# placeholder: validate reads the config, it sends nothing.
	@mkdir -p $(DEPLOY_STORAGE)
	$(BINARY) validate --config config/scale-out/agent.yaml --set=$(DEPLOY_STORAGE_SET)
	SPLUNK_HEC_TOKEN=validate-only $(BINARY) validate --config config/scale-out/gateway.yaml --set=$(DEPLOY_STORAGE_SET)
	@echo ">> config/scale-out/{agent,gateway}.yaml are valid"
	@# The deployment configs (docs/operations.md): the merged Helm agent config is written by the Go test that
	@# checks it; file_storage's directory is pointed into out/, the rest is validated as deployed.
	@mkdir -p $(DEPLOY_STORAGE)
	AUDITDETECT_HELM_MERGED=$(CURDIR)/$(HELM_MERGED) AUDITDETECT_HELM_ENV=$(CURDIR)/$(HELM_ENV) \
	  $(GO) test $(TRIM) -count=1 -run '^TestHelmValues$$' ./config/
	@# With the environment of the chart's agent container and nothing else (env -i): what the pod sets, the
	@# override's extraEnvs included, is all the merged config may read.
	env -i $$(cat $(HELM_ENV)) $(BINARY) validate --config $(HELM_MERGED) --set=$(DEPLOY_STORAGE_SET)
	$(DEPLOY_ENV) $(BINARY) validate --config config/standalone.yaml --set=$(DEPLOY_STORAGE_SET)
	$(DEPLOY_ENV) $(BINARY) validate --config config/splunk.yaml --set=$(DEPLOY_STORAGE_SET)
	@echo ">> $(HELM_MERGED) (chart 0.145.0 + config/helm/values-auditdetect.yaml), config/standalone.yaml and config/splunk.yaml are valid"
	@# The per-source examples, the EKS, AKS and GKE receivers included (docs/sources.md).
	@for f in config/sources/filelog.yaml config/sources/webhook.yaml config/sources/eks-awscloudwatch.yaml \
	  config/sources/aks-azureeventhub.yaml config/sources/gke-googlecloudpubsub.yaml; do \
	  $(SOURCES_ENV) STORAGE_DIR=$(CURDIR)/$(DEPLOY_STORAGE) $(BINARY) validate --config $$f || exit 1; done
	@echo ">> config/sources/*.yaml are valid"
	REQUIRE_RISK_EVENTS=1 scripts/run-demo.sh $(BINARY) $(DEMO_CONFIG) $(RUN_SECONDS)

.PHONY: smoke-scale-out
smoke-scale-out: $(BINARY) ## run the scale-out example on loopback: 1 agent, 2 gateways; each key on one gateway
	scripts/scale-out-smoke.sh $(BINARY)

# What the deployment configs read from their environment, with placeholders: validate sends nothing. (The Helm
# agent's environment is the chart's pod's, written by config/deploy_test.go to $(HELM_ENV).)
HELM_MERGED := out/helm/agent-relay.yaml
HELM_ENV := out/helm/agent.env
DEPLOY_STORAGE := out/deploy-storage
DEPLOY_STORAGE_SET := extensions::file_storage::directory=$(CURDIR)/$(DEPLOY_STORAGE)
DEPLOY_ENV := SPLUNK_PLATFORM_HEC_TOKEN=00000000-0000-0000-0000-000000000000 \
	K8S_NODE_NAME=node-1 K8S_POD_NAME=agent-0 K8S_POD_UID=00000000-0000-0000-0000-000000000001 K8S_NAMESPACE=default \
	K8S_POD_IP=127.0.0.1 \
	SPLUNK_HEC_URL=https://127.0.0.1:8088/services/collector SPLUNK_HEC_TOKEN=validate-only \
	SPLUNK_RISK_HEC_URL=https://127.0.0.1:8088/services/collector SPLUNK_RISK_HEC_TOKEN=validate-only
# What the per-source examples (config/sources/) read from the environment, placeholders for `validate`, which
# reads the config and connects to nothing.
SOURCES_ENV := $(DEPLOY_ENV) AWS_REGION=eu-west-1 GCP_PROJECT=validate-only PUBSUB_SUBSCRIPTION=validate-only \
	EVENTHUB_CONNECTION='Endpoint=sb://validate-only.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=validate-only;EntityPath=audit' \
	TLS_CERT=/dev/null TLS_KEY=/dev/null CLIENT_CA=/dev/null

# ---- rule sets: coverage catalog, rule tests, scans, rule cost (cmd/auditdetect; no collector binary needed) ---
# RULES takes what the processor's `rules:` setting takes: files, directories, globs, or builtin.
RULES ?= builtin
COVERAGE_FORMAT ?= markdown
# Side-car test cases (<dir>/<rule file name>/cases.yaml): the built-in pack keeps its cases there.
RULE_TEST_CASES ?= $(if $(filter builtin,$(RULES)),processor/builtin/testdata)
# More flags for rule-test, e.g. -data-dir DIR (local copies of ESCU attack data) or -window 30m.
RULE_TEST_FLAGS ?=

.PHONY: coverage
coverage: ## print the coverage catalog of RULES (default builtin); COVERAGE_FORMAT=json for tools
	@$(GO) run $(TRIM) ./cmd/auditdetect coverage -format $(COVERAGE_FORMAT) $(RULES)

.PHONY: rule-test
rule-test: ## run the tests of RULES (default builtin and its cases) offline; fails when one fails
	$(GO) run $(TRIM) ./cmd/auditdetect rule-test $(if $(RULE_TEST_CASES),-cases $(RULE_TEST_CASES)) $(RULE_TEST_FLAGS) $(RULES)

# More flags for rule-lint, e.g. -on-rule-error skip (list rules that do not load as errors too) or -format json.
RULE_LINT_FLAGS ?=

.PHONY: rule-lint
rule-lint: ## list the rules of RULES (default builtin) that load but cannot work as written; fails on an error
	$(GO) run $(TRIM) ./cmd/auditdetect lint $(RULE_LINT_FLAGS) $(RULES)

# An audit log for scan and rule-cost (one event per line, gzip read as such). rule-cost without one measures
# generated events of a typical cluster.
AUDIT_LOG ?=
# More flags, e.g. -on-rule-error skip, -format json, -geoip-database FILE (scan), -passes 10 or -limit 50000 (rule-cost).
SCAN_FLAGS ?=
RULE_COST_FLAGS ?=

.PHONY: scan
scan: ## run RULES over AUDIT_LOG offline and print the risk records the collector would write
	@test -n "$(AUDIT_LOG)" || { echo "make scan needs AUDIT_LOG=<audit log file>"; exit 2; }
	@$(GO) run $(TRIM) ./cmd/auditdetect scan -events $(AUDIT_LOG) $(SCAN_FLAGS) $(RULES)

.PHONY: rule-cost
rule-cost: ## measure what each rule of RULES adds to the time per event on AUDIT_LOG (default: generated events)
	@$(GO) run $(TRIM) ./cmd/auditdetect rule-cost $(if $(AUDIT_LOG),-events $(AUDIT_LOG)) $(RULE_COST_FLAGS) $(RULES)

# Fuzzing: every fuzz target of the module (a func FuzzXxx in a _test.go file under processor/, found by name, so a
# new front end's target is picked up without an edit here) runs for FUZZ_TIME, one after the other; the run fails at
# the end if any of them failed. A crasher is written to the package's testdata/fuzz/<Target>/: commit it, and every
# `go test` replays it. CI runs each briefly, for a number of executions rather than a time: with a time budget, Go
# up to 1.26 can fail a target with a bare "context deadline exceeded" when the budget ends while a worker is busy
# (golang/go#75804, fixed in Go 1.27), which a count budget never does.
FUZZ_TIME ?= 60s

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZ_TIME each (default 60s; CI: FUZZ_TIME=100000x, a count of executions)
	@targets="$$(grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' processor \
		| sed -E 's|^(.*)/[^/]+_test\.go:func (Fuzz.*)$$|./\1 \2|' | sort -u)"; \
	[ -n "$$targets" ] || { echo "no fuzz targets found"; exit 1; }; \
	failed=""; \
	while read -r pkg name; do \
		echo ">> fuzz $$pkg $$name for $(FUZZ_TIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZ_TIME) "$$pkg" || failed="$$failed $$pkg:$$name"; \
	done <<< "$$targets"; \
	[ -z "$$failed" ] || { echo "fuzzing failed:$$failed (crashers are in each package's testdata/fuzz/)"; exit 1; }

.PHONY: fuzz-corpus
fuzz-corpus: ## regenerate the committed seed corpora (testdata/fuzz/*/seed-*) from the test data
	$(GO) run ./scripts/fuzzcorpus

.PHONY: bench
bench: $(BENCHSTAT) ## run the comparison benchmarks into out/bench.txt, summarise them with benchstat, profile a collector
	@mkdir -p $(dir $(BENCH_OUT))
	cd bench && $(GO) vet ./...
	{ $(if $(BENCH_PKGS),$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCH_COUNT) $(BENCH_PKGS);) \
	  cd bench && $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCH_COUNT) -timeout 60m . ; } \
	  | tee $(BENCH_OUT)
	@if [ -f $(BENCH_BASE) ]; then $(BENCHSTAT) $(BENCH_BASE) $(BENCH_OUT); \
	else $(BENCHSTAT) $(BENCH_OUT); echo "(no $(BENCH_BASE): cp $(BENCH_OUT) $(BENCH_BASE) to make this run the baseline)"; fi
	cd bench && $(GO) test -run TestCollectorProfile -count 1 -v . | grep -v '^=== RUN'

.PHONY: bench-plot
bench-plot: ## draw docs/performance-growth.svg from the last `make bench` (out/bench.txt)
	@mkdir -p out
	cd bench && $(GO) vet ./plot && $(GO) run ./plot ../$(BENCH_OUT) > ../out/growth.svg.tmp
	mv out/growth.svg.tmp docs/performance-growth.svg

.PHONY: gen
gen: ## write the generated audit log to out/audit-mix.log (GEN_EVENTS, GEN_SEED)
	@mkdir -p $(dir $(GEN_OUT))
	$(GO) run $(TRIM) ./processor/auditgen/cmd/auditgen -n $(GEN_EVENTS) -seed $(GEN_SEED) -o $(GEN_OUT)

.PHONY: fmt
fmt: ## gofmt -w every Go file
	@$(if $(GOFMT_FILES),gofmt -w $(GOFMT_FILES))

.PHONY: lint
lint: ## gofmt must have nothing to change, and go vet must pass
	@unformatted="$(if $(GOFMT_FILES),$$(gofmt -l $(GOFMT_FILES)))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change (run make fmt):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(TRIM) ./...

.PHONY: tools
tools: $(OCB) $(BENCHSTAT) ## install the pinned tools into .tools/bin

$(OCB):
	@mkdir -p $(@D)
	$(HOST_ENV) GOBIN=$(@D) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	mv $(@D)/builder $@

$(BENCHSTAT):
	@mkdir -p $(@D)
	$(HOST_ENV) GOBIN=$(@D) $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)
	mv $(@D)/benchstat $@

.PHONY: clean
clean: ## remove build outputs (build/, bin/, out/); keeps the installed tools
	rm -rf build bin out

.PHONY: distclean
distclean: clean ## also remove the installed tools (.tools/)
	rm -rf .tools
