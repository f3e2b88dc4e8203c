# t5-vectors — every target the README names lives here.
#
# Installs run once: each install step leaves a stamp file in $(VENV) and reruns only when
# pyproject.toml changes (or after `make clean`), so `make test` reruns only the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMPS := $(VENV)/.stamps
# PyTorch, installed first unless $(VENV) already imports torch (your own build: kept as it is).
# TORCH_INDEX is the package index torch itself comes from: PyTorch's CPU-only index where
# nvidia-smi is not on PATH (no NVIDIA GPU), else empty: pip's default index (PyPI: on Linux
# x86_64, the CUDA build, whose nvidia-* libraries come with it). Set either on the command line:
# `make install TORCH_INDEX=https://download.pytorch.org/whl/cu128`, or `TORCH_INDEX=`.
# torch alone comes from TORCH_INDEX (--no-deps); its dependencies (sympy, jinja2, ..., and the
# nvidia-* ones of a CUDA build) come with the package's, from pip's default index.
TORCH_SPEC ?= torch==2.13.0
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
TORCH_INDEX ?= $(if $(shell command -v nvidia-smi 2>/dev/null),,$(TORCH_CPU_INDEX))

.PHONY: install install-dev test integration lint bench reliability clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade "pip>=25.1"

# The runtime packages exactly as `make install` resolves them for users are written to
# runtime-versions.txt; install-dev then prints every runtime package the dev group changed.
$(STAMPS)/install: pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || \
		$(BIN)/pip install --no-deps "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)")
	$(BIN)/pip install -e .
	mkdir -p $(STAMPS)
	$(BIN)/pip freeze --exclude-editable > $(STAMPS)/runtime-versions.txt
	touch $@

$(STAMPS)/install-dev: $(STAMPS)/install pyproject.toml
	$(BIN)/pip install --group dev -e ".[ray,serve]"
	$(BIN)/pip freeze --exclude-editable | $(BIN)/python -c "$$DEV_CHANGES" $(STAMPS)/runtime-versions.txt
	touch $@

define DEV_CHANGES
import sys
pins = lambda lines: dict(l.strip().split("==", 1) for l in lines if "==" in l)
runtime, now = pins(open(sys.argv[1])), pins(sys.stdin)
changed = [f"{n} {v} -> {now[n]}" for n, v in sorted(runtime.items()) if now.get(n, v) != v]
print("dev group changed runtime packages: " + ("; ".join(changed) or "none"))
endef
export DEV_CHANGES

## install: the package and its runtime dependencies; torch pinned (CPU build without a GPU)
install: $(STAMPS)/install

## install-dev: install + the dev group (tests, peers, linters) and the ray and serve extras;
## prints the runtime packages the dev group changed (see README)
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

$(STAMPS)/install-bench: $(STAMPS)/install-dev pyproject.toml
	$(BIN)/pip install --group bench -e ".[ray,serve]"
	touch $@

## bench: the encode, ingest and command-line benchmarks (tables on stdout; docs/benchmarks.md).
## Installs the bench group (langchain-huggingface, which holds huggingface_hub below 2).
bench: $(STAMPS)/install-bench
	$(BIN)/python benchmarks/encode.py
	$(BIN)/python benchmarks/budget.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/cli.py

## reliability: run the fault, crash, bad-input and security tests and write docs/reliability.md
reliability: $(STAMPS)/install-dev
	$(BIN)/python scripts/reliability_report.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
