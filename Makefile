# The README's two commands: `make demo` and `make test`. Both do all set-up on a fresh machine
# (Python 3.11, Java 17, Maven): a local .venv, the package with dev extras, a local Kafka, and
# (for `make test`) Debian's chromium + chromium-driver when they can be installed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
KAFKA := dev/kafka/kafka.sh
PYTEST_ARGS ?=

.PHONY: test demo install browser lint typecheck imports unit kafka-start kafka-stop kafka-status kafka-reset bench helm-lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
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

demo: install kafka-start
	$(BIN)/streamvane demo $(DEMO_ARGS)

bench: install kafka-start
	$(BIN)/python -m bench.core_throughput
	$(BIN)/python -m bench.worker_throughput
	$(BIN)/python -m bench.dispatch_throughput

# Not part of `make test`: builds helm from the Go module proxy (about 2 minutes) on first use.
HELM := $(HOME)/go/bin/helm
$(HELM):
	go install helm.sh/helm/v3/cmd/helm@v3.22.0

helm-lint: $(HELM)
	$(HELM) lint helm/streamvane
	$(HELM) template streamvane helm/streamvane > /dev/null

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
