# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install clean conformance

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/deconfliction demo

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	@# PostgreSQL tests start their own server; installing it here keeps apt out of test timeouts.
	@bash scripts/postgres.sh install || echo "no PostgreSQL: its tests skip (and fail under CI)"
	$(BIN)/pytest -q

# InterUSS's DSS prober (its scd tests) against /dss/v1 on 127.0.0.1, in .venv-prober
# (Python 3.13); `make conformance ARGS=--postgres` runs it on PostgreSQL.
conformance: $(STAMP)
	bash scripts/conformance.sh $(ARGS)

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/strategic.py
	$(BIN)/python bench/tactical.py

clean:
	rm -rf $(VENV) .venv-prober .pytest_cache .mypy_cache .ruff_cache
