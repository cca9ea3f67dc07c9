# newsmill developer commands. `make up` and `make test` work on a fresh clone
# with only Python 3.11: they create .venv and install newsmill into it.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
PYTEST_ARGS ?=

.PHONY: up test test-reliability lint bench bench-quality install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

up: install  ## Run the embedded pipeline (SQLite, filesystem broker) on ./data
	$(BIN)/newsmill up --data-dir $(DATA_DIR)

test: install  ## Unit, integration and end-to-end tests (Redis/Postgres tests skip if absent; CI=true fails instead)
	$(BIN)/pytest $(PYTEST_ARGS)

test-reliability: install  ## The long fault-injection scenarios
	NEWSMILL_RELIABILITY_SCALE=5 $(BIN)/pytest tests/reliability $(PYTEST_ARGS)

lint: install  ## ruff (check + format), mypy and the import contracts (import-linter, pyproject.toml)
	$(BIN)/ruff check shared services tests bench
	$(BIN)/ruff format --check shared services tests bench
	$(BIN)/mypy shared/newsmill_schema services/ingest/newsmill_ingest services/worker/newsmill_worker bench
	$(BIN)/lint-imports

# Benchmarks run from the checkout (`python -m bench.<name>`) and are not shipped in the wheel.
bench: install  ## Throughput, latency and memory of the running stack (about 8 minutes; not part of `make test`)
	$(BIN)/python -m bench.throughput

bench-quality: install  ## Extraction, deduplication and feed-suite quality (needs ../shared/data)
	$(BIN)/python -m bench.extraction --rounds 5
	$(BIN)/python -m bench.dedup_quality --per-edit 150
	$(BIN)/python -m bench.feedparser_suite

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
