# Casedesk — one entry point for people and CI. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST := $(UV) run --frozen pytest
UNIT_PATHS := $(wildcard libs/*/tests services/*/tests tools/*/tests replay/tests deploy/helm/tests)

.PHONY: help setup proto up down status test test-unit fuzz alert-test k8s-test test-integration test-outage-long chaos lint bench images

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: ## install everything a fresh machine needs (OS packages, uv, Python deps, generated code)
	bash tools/infra/bootstrap.sh

proto: ## compile proto/ into the casedesk package and lint the contracts
	$(UV) run --frozen python tools/gen_proto.py
	cd proto && ../.venv/bin/buf lint

up: setup ## run the whole system locally (Kafka, topics, mail and SMS sinks, every service)
	bash tools/devstack/up.sh

down: ## stop everything `make up` started
	bash tools/devstack/down.sh

status: ## what `make up` runs, the broker, and the outbox relay's lag
	bash tools/devstack/status.sh

test: setup lint test-unit alert-test k8s-test test-integration ## the full suite CI runs

# Then the short fuzzing run (tests/fuzz; about half a minute): its FUZZ lines end the output.
test-unit: proto ## unit and component tests (no external servers), and a short fuzzing run
	$(PYTEST) $(UNIT_PATHS) -q
	$(PYTEST) tests/fuzz -q

# Every RPC through the real servers, every Kafka consumer's decoding, the e-mail parser:
# FUZZ_EXAMPLES inputs per target (test-unit's short run: 20), `FUZZ <target> inputs=<n>
# failures=<n> ...` lines, also written to .run/fuzz/report.txt. Bugs already reported
# (tests/fuzz/fuzzkit/known_bugs.py) are counted, not failed, unless CASEDESK_FUZZ_STRICT=1.
FUZZ_EXAMPLES ?= 500
fuzz: proto ## fuzz every RPC, Kafka decoder and the e-mail parser at length (~8 min)
	CASEDESK_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) CASEDESK_FUZZ_REPORT=.run/fuzz/report.txt \
		$(PYTEST) tests/fuzz -q --timeout=3600

# promtool built from the Go module proxy (tools/prometheus/build.sh; cached after the first build):
# the rule file the chart's PrometheusRule carries, checked, then its unit tests.
alert-test: ## promtool check rules and test rules on the chart's alerts
	promtool="$$(bash tools/prometheus/build.sh promtool)" && \
		"$$promtool" check rules deploy/helm/casedesk/files/alerts.yaml && \
		"$$promtool" test rules deploy/helm/tests/alerts/alerts_test.yaml

# etcd, kube-apiserver and kube-controller-manager on loopback, no kubelet (tests/k8s). The
# binaries are built from the Go module proxy before pytest starts, outside its per-test timeout:
# 10-17 min on two cores the first time, then cached under ~/.cache/casedesk/bin.
k8s-test: ## the chart installed, upgraded, rolled back and uninstalled on a real kube-apiserver
	bash tools/k8s/build.sh etcd kube-apiserver kube-controller-manager kubectl >/dev/null
	bash tools/helm.sh >/dev/null
	$(PYTEST) tests/k8s -q

# In CI the infrastructure must be the real containers: a fallback would hide a broken install.
test-integration: proto ## whole-system tests on real Kafka and PostgreSQL
	bash tools/infra/docker-engine.sh ensure
	bash tools/infra/images/build-infra-images.sh
	$(if $(CI),CASEDESK_TEST_INFRA=docker) $(PYTEST) tests/integration -q

# The 1- and 5-minute outages run in test-integration; this adds the 15-minute one (~20 min).
test-outage-long: proto ## the system through a 15-minute Kafka outage under load
	bash tools/infra/docker-engine.sh ensure
	bash tools/infra/images/build-infra-images.sh
	CASEDESK_TEST_OUTAGES_S=900 $(if $(CI),CASEDESK_TEST_INFRA=docker) \
		$(PYTEST) tests/integration/test_relay_outage.py -q

# Every service on three Kafka JVMs and PostgreSQL (a local process unless CASEDESK_TEST_INFRA
# says otherwise) under load through kills, a database restart, every broker away for 5 minutes
# and a minute of SMTP refusals; then `CHAOS <metric> <value>` lines and the time taken
# (tests/chaos/README.md).
chaos: proto ## the chaos run: faults on a schedule under load, nothing lost or doubled (~20 min)
	CASEDESK_TEST_INFRA=$${CASEDESK_TEST_INFRA:-local} $(UV) run --frozen python tests/chaos/run.py

lint: proto ## ruff, formatting, import contracts (.importlinter), types of the sources (mypy)
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports
	$(UV) run --frozen mypy services/*/src libs/*/src replay/src

bench: setup ## every benchmark; each figure printed as `BENCH <metric> <value> <unit>`
	bash tools/bench.sh

images: setup ## container images of the infrastructure and of every service
	bash tools/infra/images/build-infra-images.sh
	bash tools/build-service-images.sh
