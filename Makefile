# Two entry points (see README): `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-postgresql install system-deps bench bench-scale wheel-check imports

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/amsn-batch demo

# Tests use real servers and browsers: scripts/system-deps installs them (Debian packages) when missing.
system-deps:
	sh scripts/system-deps

# Then the wheel: built from the repository, installed in a fresh environment outside it, run on a tiny file.
# The suite runs twice: on SQLite (the default store), then on PostgreSQL (a throwaway server, scripts/test-postgresql).
test: install system-deps
	$(BIN)/pytest
	sh scripts/test-postgresql $(BIN)/pytest
	$(BIN)/python scripts/wheel-check

# The suite on PostgreSQL alone.
test-postgresql: install system-deps
	sh scripts/test-postgresql $(BIN)/pytest

bench: install
	$(BIN)/python bench/bench_traiter.py

# Files against stores of 0 and 1M employees (BENCH_SCALE="--grand" adds 10M), beside frictionless-py.
# BENCH_SCALE="--postgresql postgresql://amsn:amsn@localhost:5432/postgres": each file on PostgreSQL too, and 2 workers.
bench-scale: install
	$(BIN)/pip install -q -e '.[bench,postgresql]'
	$(BIN)/python bench/scale.py $(BENCH_SCALE)

wheel-check: install
	$(BIN)/python scripts/wheel-check

# Import contracts (pyproject.toml [tool.importlinter]) alone; `make test` checks them too (tests/test_architecture.py).
imports: install
	$(BIN)/lint-imports
