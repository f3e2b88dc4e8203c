# t5-vectors — every target the README names lives here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch. Users with a GPU install their own torch first (see README).
TORCH_SPEC ?= torch==2.13.0

.PHONY: install install-dev test integration lint bench reliability clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade "pip>=25.1"

## install: the package and its runtime dependencies, CPU torch pinned
install: $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install "$(TORCH_SPEC)"
	$(BIN)/pip install -e .

## install-dev: install + the dev group (tests, peers, linters)
install-dev: install
	$(BIN)/pip install --group dev -e ".[ray]"

## test: the offline unit test suite
test: install-dev
	$(BIN)/python -m pytest tests -q

## integration: the same tests against a real Qdrant server (docker compose, see README)
integration: install-dev
	docker compose up -d qdrant
	QDRANT_URL=$${QDRANT_URL:-http://localhost:6333} $(BIN)/python -m pytest integration_tests -q

## lint: ruff + mypy (strict) on the package
lint: install-dev
	$(BIN)/ruff check t5_vectors tests integration_tests benchmarks examples scripts
	$(BIN)/ruff format --check t5_vectors tests integration_tests benchmarks examples scripts
	$(BIN)/mypy

## bench: the encode and ingest benchmarks (tables on stdout; see docs/benchmarks.md)
bench: install-dev
	$(BIN)/python benchmarks/encode.py
	$(BIN)/python benchmarks/budget.py
	$(BIN)/python benchmarks/ingest.py

## reliability: run the fault, crash, bad-input and security tests and write docs/reliability.md
reliability: install-dev
	$(BIN)/python scripts/reliability_report.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
