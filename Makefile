# The README's two commands: `make demo` and `make test`. Both do all set-up on a fresh machine
# (Python 3.11, Java 17, Maven): a local .venv, the package with dev extras, a local Kafka, and
# (for `make test`) Debian's chromium + chromium-driver when they can be installed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
KAFKA := dev/kafka/kafka.sh
PYTEST_ARGS ?=

.PHONY: test demo install browser lint typecheck imports unit kafka-start kafka-stop kafka-status kafka-reset bench lock chart-check compose-check image-check clean

# Dependencies come from the hashed lock file (what the image installs, plus the dev tools), so
# the tests run against what ships; the package itself is installed without resolving anything.
$(BIN)/.installed: pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade 'pip>=24,<26'
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(BIN)/.installed

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

browser:
	dev/browser/install.sh

kafka-start:
	$(KAFKA) start

kafka-stop:
	$(KAFKA) stop

kafka-status:
	$(KAFKA) status

kafka-reset:
	$(KAFKA) reset

test: install browser lint typecheck imports kafka-start
	$(BIN)/pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

# The demo uses the broker kafka-start started (STREAMVANE_KAFKA_PORT moves both), unless
# STREAMVANE_KAFKA__BOOTSTRAP_SERVERS names another.
demo: install kafka-start
	STREAMVANE_KAFKA__BOOTSTRAP_SERVERS="$${STREAMVANE_KAFKA__BOOTSTRAP_SERVERS:-$$($(KAFKA) bootstrap)}" \
	  $(BIN)/streamvane demo $(DEMO_ARGS)

bench: install kafka-start
	$(BIN)/python -m bench.core_throughput
	$(BIN)/python -m bench.worker_throughput
	$(BIN)/python -m bench.dispatch_throughput
	$(BIN)/python -m bench.ingest_http
	$(BIN)/python -m bench.provisional_cost

# Regenerate the lock files after changing pyproject.toml's dependencies (needs PyPI).
lock: install
	$(BIN)/pip-compile -q --allow-unsafe --generate-hashes --strip-extras --extra dev \
	  -o requirements/dev.lock pyproject.toml
	$(BIN)/pip-compile -q --allow-unsafe --generate-hashes --strip-extras -c requirements/dev.lock \
	  -o requirements/runtime.lock pyproject.toml

# The chart, checked offline (dev/chart/check.py says what). helm is built once from the Go
# module proxy (about 2 minutes) and cached outside the repository.
HELM_VERSION := v3.22.0
HELM_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/streamvane/helm-$(HELM_VERSION)
HELM := $(HELM_DIR)/helm
$(HELM):
	GOBIN=$(HELM_DIR) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

chart-check: install $(HELM)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python dev/chart/check.py $(HELM)

# docker-compose.yml resolved by compose-go, docker compose's own parser (built once from the Go
# module proxy, cached outside the repository), and checked (dev/compose/check.py says what).
COMPOSE_CONFIG := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/streamvane/compose-config/$(shell cat dev/compose/config/go.sum dev/compose/config/main.go | sha256sum | cut -c1-12)/compose-config
$(COMPOSE_CONFIG):
	cd dev/compose/config && GOBIN=$(dir $(COMPOSE_CONFIG)) GOFLAGS=-mod=mod go install .

compose-check: install $(COMPOSE_CONFIG)
	$(BIN)/python dev/compose/check.py $(COMPOSE_CONFIG)

# What the Dockerfile installs, installed without Docker (dev/image/check.sh says what).
image-check:
	PYTHON=$(PYTHON) dev/image/check.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
