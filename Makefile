# t5-vectors — every target the README names lives here.
#
# Installs run once: each install step leaves a stamp file in $(VENV) and reruns only when
# pyproject.toml changes (or after `make clean`), so `make test` reruns only the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMPS := $(VENV)/.stamps
# The CPU build of PyTorch. Users with a GPU install their own torch first (see README).
TORCH_SPEC ?= torch==2.13.0

.PHONY: install install-dev test integration lint bench reliability clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade "pip>=25.1"

# The runtime packages exactly as `make install` resolves them for users; the dev group is
# installed under these constraints, so the tests run on the versions users get.
$(STAMPS)/install: pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install "$(TORCH_SPEC)"
	$(BIN)/pip install -e .
	mkdir -p $(STAMPS)
	$(BIN)/pip freeze --exclude-editable > $(STAMPS)/runtime-constraints.txt
	touch $@

$(STAMPS)/install-dev: $(STAMPS)/install pyproject.toml
	$(BIN)/pip install -c $(STAMPS)/runtime-constraints.txt --group dev -e ".[ray]"
	touch $@

## install: the package and its runtime dependencies, CPU torch pinned
install: $(STAMPS)/install

## install-dev: install + the dev group (tests, peers, linters) and the ray extra, on the
## runtime versions install chose
install-dev: $(STAMPS)/install-dev

## test: the offline unit test suite
test: $(STAMPS)/install-dev
	$(BIN)/python -m pytest tests -q

## integration: the same tests against a real Qdrant server (docker compose, see README)
integration: $(STAMPS)/install-dev
	docker compose up -d qdrant
	QDRANT_URL=$${QDRANT_URL:-http://localhost:6333} $(BIN)/python -m pytest integration_tests -q

## lint: ruff + mypy (strict) on the package
lint: $(STAMPS)/install-dev
	$(BIN)/ruff check t5_vectors tests integration_tests benchmarks examples scripts
	$(BIN)/ruff format --check t5_vectors tests integration_tests benchmarks examples scripts
	$(BIN)/mypy

## bench: the encode, ingest and command-line benchmarks (tables on stdout; docs/benchmarks.md)
bench: $(STAMPS)/install-dev
	$(BIN)/python benchmarks/encode.py
	$(BIN)/python benchmarks/budget.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/cli.py

## reliability: run the fault, crash, bad-input and security tests and write docs/reliability.md
reliability: $(STAMPS)/install-dev
	$(BIN)/python scripts/reliability_report.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
